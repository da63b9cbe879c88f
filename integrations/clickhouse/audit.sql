-- ClickHouse (server, clickhouse-local or chDB) tables for audit/1 and ECS export lines.
-- Lines go in whole, as text, into audit_lines (audit/1) or audit_ecs_lines (ECS); a materialized view types each
-- into `audit`. No schema inference: a realistic trail's deltas and details hold text in one line and objects in
-- the next (`path 'value' has type 'Nullable(String)' and in some - 'Tuple(...)'`), so the free JSON is kept as
-- its JSON text, read with JSONExtract*(details, ...) and friends.

CREATE TABLE IF NOT EXISTS audit
(
    key                String,                       -- the activity's identity in every store (ECS event.id)
    id                 UInt64,                       -- its order in the store that exported it (event.sequence)
    action             LowCardinality(String),
    user               Nullable(String),
    timestamp          DateTime64(6, 'UTC'),
    ip                 Nullable(String),
    user_agent         Nullable(String),
    origin             Nullable(String),
    collection         LowCardinality(String),
    item               String,
    comment            Nullable(String),
    original_comment   Nullable(String),
    edited_on          Nullable(DateTime64(6, 'UTC')),
    comment_deleted_on Nullable(DateTime64(6, 'UTC')),
    details            Nullable(String),             -- JSON text
    data               Nullable(String),             -- JSON text: the item after the change
    delta              Nullable(String),             -- JSON text: the RFC 6902 patch from the state before
    version            Nullable(String),
    hash               String,
    prev_hash          String,
    gap                Bool,
    keyed              Bool,
    attested_revision  Nullable(String),
    line_format        LowCardinality(String)        -- audit/1 or ecs
)
-- A key is one activity: re-shipped lines collapse on merge, and FINAL counts each once before that.
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (collection, item, timestamp, key);

CREATE TABLE IF NOT EXISTS audit_lines (line String) ENGINE = Null;

CREATE TABLE IF NOT EXISTS audit_ecs_lines (line String) ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS audit_from_lines TO audit AS
SELECT
    JSONExtractString(line, 'key') AS key,
    JSONExtractUInt(line, 'id') AS id,
    JSONExtractString(line, 'action') AS action,
    JSONExtract(line, 'user', 'Nullable(String)') AS user,
    parseDateTime64BestEffort(JSONExtractString(line, 'timestamp'), 6, 'UTC') AS timestamp,
    JSONExtract(line, 'ip', 'Nullable(String)') AS ip,
    JSONExtract(line, 'user_agent', 'Nullable(String)') AS user_agent,
    JSONExtract(line, 'origin', 'Nullable(String)') AS origin,
    JSONExtractString(line, 'collection') AS collection,
    JSONExtractString(line, 'item') AS item,
    JSONExtract(line, 'comment', 'Nullable(String)') AS comment,
    JSONExtract(line, 'original_comment', 'Nullable(String)') AS original_comment,
    parseDateTime64BestEffortOrNull(JSONExtract(line, 'edited_on', 'Nullable(String)'), 6, 'UTC') AS edited_on,
    parseDateTime64BestEffortOrNull(JSONExtract(line, 'comment_deleted_on', 'Nullable(String)'), 6, 'UTC')
        AS comment_deleted_on,
    nullIf(nullIf(JSONExtractRaw(line, 'details'), 'null'), '') AS details,
    nullIf(JSONExtractRaw(line, 'revision', 'data'), '') AS data,
    nullIf(JSONExtractRaw(line, 'revision', 'delta'), '') AS delta,
    JSONExtract(line, 'revision', 'version', 'Nullable(String)') AS version,
    JSONExtractString(line, 'hash') AS hash,
    JSONExtractString(line, 'prev_hash') AS prev_hash,
    JSONExtractBool(line, 'gap') AS gap,
    JSONExtractBool(line, 'keyed') AS keyed,
    JSONExtract(line, 'attested_revision', 'Nullable(String)') AS attested_revision,
    'audit/1' AS line_format
FROM audit_lines
-- Only activity lines: a file may hold other kinds of line, which have no action.
WHERE JSONHas(line, 'action');

CREATE MATERIALIZED VIEW IF NOT EXISTS audit_from_ecs_lines TO audit AS
SELECT
    JSONExtractString(line, 'event', 'id') AS key,
    JSONExtractUInt(line, 'event', 'sequence') AS id,
    JSONExtractString(line, 'event', 'action') AS action,
    JSONExtract(line, 'user', 'name', 'Nullable(String)') AS user,
    parseDateTime64BestEffort(JSONExtractString(line, '@timestamp'), 6, 'UTC') AS timestamp,
    JSONExtract(line, 'source', 'address', 'Nullable(String)') AS ip,
    JSONExtract(line, 'user_agent', 'original', 'Nullable(String)') AS user_agent,
    JSONExtract(line, 'audit', 'origin', 'Nullable(String)') AS origin,
    JSONExtractString(line, 'audit', 'collection') AS collection,
    JSONExtractString(line, 'audit', 'item') AS item,
    JSONExtract(line, 'audit', 'comment', 'Nullable(String)') AS comment,
    CAST(NULL AS Nullable(String)) AS original_comment,
    parseDateTime64BestEffortOrNull(JSONExtract(line, 'audit', 'edited_on', 'Nullable(String)'), 6, 'UTC')
        AS edited_on,
    parseDateTime64BestEffortOrNull(JSONExtract(line, 'audit', 'comment_deleted_on', 'Nullable(String)'), 6, 'UTC')
        AS comment_deleted_on,
    -- audit.details when it is an object, else audit.details_json: its JSON text.
    coalesce(nullIf(JSONExtractRaw(line, 'audit', 'details'), ''),
             JSONExtract(line, 'audit', 'details_json', 'Nullable(String)')) AS details,
    nullIf(JSONExtractRaw(line, 'audit', 'revision', 'data'), '') AS data,
    nullIf(JSONExtractRaw(line, 'audit', 'revision', 'delta'), '') AS delta,
    JSONExtract(line, 'audit', 'revision', 'version', 'Nullable(String)') AS version,
    JSONExtractString(line, 'audit', 'hash') AS hash,
    JSONExtractString(line, 'audit', 'prev_hash') AS prev_hash,
    JSONExtractBool(line, 'audit', 'gap') AS gap,
    JSONExtractBool(line, 'audit', 'keyed') AS keyed,
    JSONExtract(line, 'audit', 'attested_revision', 'Nullable(String)') AS attested_revision,
    'ecs' AS line_format
FROM audit_ecs_lines
WHERE JSONHas(line, 'event', 'action');

-- What audit log and audit stats count by default: not the chained comment-edit / comment-delete records, and
-- not a soft-deleted comment (a piece shipped before the delete holds the comment undeleted: the comment-delete
-- record of a later piece names it, details.comment being its key).
CREATE VIEW IF NOT EXISTS audit_listed AS
SELECT * FROM audit FINAL
WHERE action NOT IN ('comment-edit', 'comment-delete')
  AND NOT (action = 'comment' AND (comment_deleted_on IS NOT NULL OR key IN (
      SELECT JSONExtractString(details, 'comment') FROM audit FINAL WHERE action = 'comment-delete')));
