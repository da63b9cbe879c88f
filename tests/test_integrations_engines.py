"""integrations/duckdb/ and integrations/clickhouse/ as shipped, on a realistic export (tests/trail.py: thousands
of lines, nested deltas, mixed-type details): DuckDB and chDB (ClickHouse in-process) load it with exactly the
shipped files, and the three shipped queries answer what `audit stats`, `audit history` and `audit log` say on the
same store. README.md, "Into your pipeline", says how the engines' raw counts relate to `audit stats`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import chdb.session
import duckdb
import pytest

import trail
from conftest import Cli

ROOT = Path(__file__).resolve().parent.parent
INTEGRATIONS = ROOT / "integrations"


def named(path: Path) -> dict[str, str]:
    """The statements of a shipped .sql file by their `-- name:` comment."""
    parts = path.read_text().split("-- name: ")[1:]
    return {part.split(None, 1)[0]: part.split("\n", 1)[1].strip() for part in parts}


class Trail:
    """One generated store, its exports, and what the CLI says about it."""

    def __init__(self, folder: Path):
        self.db = folder / "trail.db"
        self.made = trail.build(self.db)
        self.cli = Cli(self.db)
        self.audit, self.ecs = folder / "trail.jsonl.gz", folder / "trail-ecs.jsonl.gz"
        self.cli("export", "-o", self.audit)
        self.cli("export", "--format", "ecs", "-o", self.ecs)
        self.lines = len(self.cli("export", "--no-trailer").stdout.splitlines())  # activities: not the trailer
        listed = json.loads(self.cli("log", "--limit", "-1", "--format", "json").stdout)
        self.per_day_action = Counter((row["timestamp"][:10], row["action"]) for row in listed)
        self.by_day = {row["day"]: row["count"] for row in self.json("stats", "--by", "day")}
        self.by_action = {row["action"]: row["count"] for row in self.json("stats", "--by", "action")}
        # The item with the longest history, and one that was deleted: who changed them.
        counts = Counter((row["collection"], row["item"]) for row in listed if row["action"] == "update")
        deleted = next(row for row in listed if row["action"] == "delete")
        self.items = [counts.most_common(1)[0][0], (deleted["collection"], deleted["item"])]
        self.histories = {item: [(row["activity"], row["user"], row["action"])
                                 for row in self.json("history", *item)] for item in self.items}
        failed = self.json("log", "--action", "invalid-credentials", "--limit", "-1")
        self.failed = Counter(row["ip"] for row in failed)
        self.failed_accounts = {ip: len({row["item"] for row in failed if row["ip"] == ip}) for ip in self.failed}

    def json(self, *args):
        return json.loads(self.cli(*args, "--format", "json").stdout)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Trail:
    return Trail(tmp_path_factory.mktemp("engines"))


def answers_match(exported: Trail, per_day, who_changed, failed) -> None:
    per_day = {(str(day), action): n for day, action, n in per_day}
    assert per_day == dict(exported.per_day_action)
    days, actions = Counter(), Counter()
    for (day, action), n in per_day.items():
        days[day] += n
        actions[action] += n
    assert dict(days) == exported.by_day and dict(actions) == exported.by_action
    for item in exported.items:
        assert [(int(row[4]), row[1], row[2]) for row in who_changed(item)] == exported.histories[item], item
    assert {row[0]: row[1] for row in failed} == dict(exported.failed)
    assert {row[0]: row[2] for row in failed} == exported.failed_accounts


def test_the_trail_is_a_realistic_one(exported):
    assert exported.lines > 3000 and exported.made["comment-delete"] > 20 and exported.made["comment-edit"] > 20
    assert len(exported.histories[exported.items[0]]) > 20 and len(exported.failed) >= 5
    # Engines count what the export holds; the CLI lists less, and README.md ("Into your pipeline") says how much.
    assert sum(exported.by_action.values()) < exported.lines
    every = exported.json("stats", "--include-deleted") + exported.json("stats", "--action",
                                                                        "comment-edit,comment-delete")
    assert sum(row["count"] for row in every) == exported.lines


def test_duckdb_views_and_queries_answer_as_the_cli_does(exported):
    con = duckdb.connect()
    con.execute("SET VARIABLE audit_files = ?", [str(exported.audit)])
    con.execute((INTEGRATIONS / "duckdb" / "audit.sql").read_text())
    queries = named(INTEGRATIONS / "duckdb" / "queries.sql")

    def who_changed(item):
        con.execute("SET VARIABLE collection = ?", [item[0]])
        con.execute("SET VARIABLE item = ?", [item[1]])
        return con.execute(queries["who_changed_item"]).fetchall()

    answers_match(exported, con.execute(queries["actions_per_day"]).fetchall(), who_changed,
                  con.execute(queries["failed_logins_by_ip"]).fetchall())
    total, listed = con.execute("SELECT count(*), count(*) FILTER (WHERE listed) FROM audit").fetchone()
    assert total == exported.lines and listed == sum(exported.by_action.values())
    late = con.execute("SELECT count(*) FROM audit WHERE (details->'late_key') IS NOT NULL").fetchone()[0]
    assert late > 0  # the key that only the trail's last lines hold is there, typed as the rest


@pytest.fixture
def clickhouse(tmp_path):
    session = chdb.session.Session(str(tmp_path / "ch"))
    session.query((INTEGRATIONS / "clickhouse" / "audit.sql").read_text())
    yield session
    session.close()


def rows(session, sql: str, **params) -> list[list]:
    return json.loads(session.query(sql, "JSONCompact", params=params).bytes())["data"]


@pytest.mark.parametrize("fmt", ["audit_lines", "ecs_lines"])
def test_clickhouse_table_and_queries_answer_as_the_cli_does(exported, clickhouse, fmt):
    path = exported.audit if fmt == "audit_lines" else exported.ecs
    clickhouse.query(named(INTEGRATIONS / "clickhouse" / "insert.sql")[fmt], params={"path": str(path)})
    queries = named(INTEGRATIONS / "clickhouse" / "queries.sql")
    answers_match(exported, rows(clickhouse, queries["actions_per_day"]),
                  lambda item: rows(clickhouse, queries["who_changed_item"], collection=item[0], item=item[1]),
                  rows(clickhouse, queries["failed_logins_by_ip"]))
    assert rows(clickhouse, "SELECT count() FROM audit") == [[exported.lines]]
    # insert.sql run whole: the other format's entry table takes none of these lines.
    other = "ecs_lines" if fmt == "audit_lines" else "audit_lines"
    clickhouse.query(named(INTEGRATIONS / "clickhouse" / "insert.sql")[other], params={"path": str(path)})
    assert rows(clickhouse, "SELECT count() FROM audit") == [[exported.lines]]


def test_clickhouse_types_audit_and_ecs_lines_alike_and_counts_each_activity_once(exported, clickhouse):
    inserts = named(INTEGRATIONS / "clickhouse" / "insert.sql")
    clickhouse.query(inserts["audit_lines"], params={"path": str(exported.audit)})
    clickhouse.query(inserts["ecs_lines"], params={"path": str(exported.ecs)})
    columns = "key, id, action, user, timestamp, ip, user_agent, origin, collection, item, comment, edited_on, " \
              "comment_deleted_on, hash, prev_hash, gap, keyed, version, details, data, delta"
    differ = rows(clickhouse, f"SELECT count() FROM (SELECT {columns} FROM audit WHERE line_format = 'audit/1' "
                              f"EXCEPT SELECT {columns} FROM audit WHERE line_format = 'ecs')")
    assert differ == [[0]]
    assert rows(clickhouse, "SELECT count() FROM audit") == [[2 * exported.lines]]
    assert rows(clickhouse, "SELECT count() FROM audit FINAL") == [[exported.lines]]
    # JSON text kept whole: numbers past 64 bits, and details that are not objects.
    assert rows(clickhouse, "SELECT count() FROM audit WHERE position(data, '1180591620717411303427') > 0")[0][0] > 0
    assert rows(clickhouse, "SELECT count() FROM audit WHERE details = '\"free text\"'")[0][0] > 0
