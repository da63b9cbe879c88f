-- Load an export file (plain or .gz) with clickhouse-local or chDB, its path given as the parameter `path`
-- (clickhouse-local --param_path=trail.jsonl.gz --queries-file insert.sql). With clickhouse-client against a
-- server, send the lines on standard input instead (README.md in this folder). Each view takes only the lines
-- of its own format, so running both statements on any export file loads it once.

-- name: audit_lines
INSERT INTO audit_lines SELECT line FROM file({path:String}, 'LineAsString', 'line String');

-- name: ecs_lines
INSERT INTO audit_ecs_lines SELECT line FROM file({path:String}, 'LineAsString', 'line String');
