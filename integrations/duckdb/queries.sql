-- The three questions an analyst asks first, over the views of audit.sql. Set the item for the second:
--   SET VARIABLE collection = 'articles'; SET VARIABLE item = '1';

-- name: actions_per_day (as audit stats --by day, and --by action, count them)
SELECT CAST(timestamp AS DATE) AS day, action, count(*) AS n
FROM audit WHERE listed
GROUP BY day, action ORDER BY day, action;

-- name: who_changed_item (as audit history C ITEM lists it: every revision of the item on main)
SELECT timestamp, user, action, ip, id
FROM audit
WHERE collection = getvariable('collection') AND item = getvariable('item')
  AND revision IS NOT NULL AND version IS NULL
ORDER BY timestamp, id;

-- name: failed_logins_by_ip
SELECT ip, count(*) AS attempts, count(DISTINCT item) AS accounts, min(timestamp) AS first, max(timestamp) AS last
FROM audit WHERE action = 'invalid-credentials'
GROUP BY ip ORDER BY attempts DESC, ip;
