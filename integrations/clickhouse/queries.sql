-- The three questions an analyst asks first, over audit.sql's tables. The second takes the parameters
-- `collection` and `item` (clickhouse-client --param_collection=articles --param_item=1).

-- name: actions_per_day (as audit stats --by day, and --by action, count them)
SELECT toDate(timestamp) AS day, action, count() AS n
FROM audit_listed
GROUP BY day, action ORDER BY day, action;

-- name: who_changed_item (as audit history C ITEM lists it: every revision of the item on main)
SELECT timestamp, user, action, ip, id
FROM audit FINAL
WHERE collection = {collection:String} AND item = {item:String} AND data IS NOT NULL AND version IS NULL
ORDER BY timestamp, id;

-- name: failed_logins_by_ip
SELECT ip, count() AS attempts, uniqExact(item) AS accounts, min(timestamp) AS first, max(timestamp) AS last
FROM audit FINAL
WHERE action = 'invalid-credentials'
GROUP BY ip ORDER BY attempts DESC, ip;
