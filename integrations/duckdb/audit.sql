-- DuckDB views over audit/1 export files (audit export -o FILE[.jsonl|.jsonl.gz]), plain or gzipped.
-- Name the files first, a path, a glob or a list, then read this file:
--   SET VARIABLE audit_files = 'exports/*.jsonl.gz';
--   .read integrations/duckdb/audit.sql
-- Every column is typed here: DuckDB's own inference samples the first lines, so a key that first appears late
-- in a long trail, or a delta value that is text in one line and an object in the next, would break it.

CREATE OR REPLACE VIEW audit_lines AS
SELECT * FROM read_json(
    getvariable('audit_files'),
    format = 'newline_delimited',
    filename = true,
    columns = {
        'schema': 'VARCHAR', 'id': 'BIGINT', 'key': 'VARCHAR', 'action': 'VARCHAR', 'user': 'VARCHAR',
        -- audit/1 times are UTC (a trailing Z): TIMESTAMP holds them as UTC whatever the session's time zone.
        'timestamp': 'TIMESTAMP', 'ip': 'VARCHAR', 'user_agent': 'VARCHAR', 'origin': 'VARCHAR',
        'collection': 'VARCHAR', 'item': 'VARCHAR', 'comment': 'VARCHAR', 'original_comment': 'VARCHAR',
        'edited_on': 'TIMESTAMP', 'comment_deleted_on': 'TIMESTAMP',
        'details': 'JSON', 'revision': 'JSON',
        'hash': 'VARCHAR', 'prev_hash': 'VARCHAR', 'gap': 'BOOLEAN', 'keyed': 'BOOLEAN',
        'attested_revision': 'VARCHAR'
    })
-- Only activity lines: a file may hold other kinds of line, which have no action.
WHERE action IS NOT NULL;

-- `listed` is what audit log and audit stats count by default: not the chained comment-edit / comment-delete
-- records, and not a soft-deleted comment. A piece shipped before a comment was deleted still holds that comment
-- undeleted; the comment-delete record of a later piece names it (details.comment is its key).
CREATE OR REPLACE VIEW audit AS
SELECT a.*,
       a.action NOT IN ('comment-edit', 'comment-delete')
       AND NOT (a.action = 'comment' AND (a.comment_deleted_on IS NOT NULL OR d.comment IS NOT NULL)) AS listed,
       CAST(a.revision->'data' AS JSON) AS data,
       CAST(a.revision->'delta' AS JSON) AS delta,
       a.revision->>'version' AS version
FROM audit_lines a
LEFT JOIN (SELECT DISTINCT details->>'comment' AS comment FROM audit_lines WHERE action = 'comment-delete') d
       ON a.action = 'comment' AND d.comment = a.key;
