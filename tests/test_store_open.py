"""Choosing and opening the store file: --db / AUDIT_DB / the default, missing, foreign and newer files, WAL, file mode,
migrations and the indexes behind the log filters."""

from __future__ import annotations

import functools
import json
import os
import re
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
import typer.testing
from typer.testing import CliRunner

from audit_cli import migrations
from audit_cli.cli import app
from audit_cli.models import Activity, LogQuery
from audit_cli.store import AuditStore
from audit_cli.store.connection import SCHEMA_VERSION
from audit_cli.timeparse import format_ts, normalize, utcnow

READERS = [["log"], ["show", "1"], ["stats"], ["stats", "--by", "day"], ["info"]]
SIDECARS = ("-wal", "-shm", "-journal")


# Typer's CliRunner rebuilds the click command tree from `app` on every call (about 50 ms); these tests build it once.
_command_once = functools.lru_cache(maxsize=None)(typer.testing._get_command)


@pytest.fixture(autouse=True)
def _build_the_command_once(monkeypatch):
    monkeypatch.setattr(typer.testing, "_get_command", _command_once)


def run(args, *, env: dict | None = None, input: str | None = None):
    base = {"AUDIT_USER": "tester", "NO_COLOR": "1", "AUDIT_DB": None}
    result = CliRunner(env={**base, **(env or {})}).invoke(app, [*map(str, args)], input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def error_line(result, code: int) -> str:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("audit: error: "), result.stderr
    return lines[0]


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


# --- which file ---


def test_db_flag_beats_audit_db_beats_default(tmp_path):
    xdg = tmp_path / "xdg"
    env = {"XDG_DATA_HOME": str(xdg), "AUDIT_DB": str(tmp_path / "env.db")}

    assert run(["--db", tmp_path / "flag.db", "record", "login", "-c", "u", "-i", "1"], env=env).exit_code == 0
    assert (tmp_path / "flag.db").exists()
    assert not (tmp_path / "env.db").exists() and not xdg.exists()

    assert run(["record", "login", "-c", "u", "-i", "2"], env=env).exit_code == 0
    assert (tmp_path / "env.db").exists() and not xdg.exists()

    assert run(["record", "login", "-c", "u", "-i", "3"], env={"XDG_DATA_HOME": str(xdg)}).exit_code == 0
    assert (xdg / "audit" / "audit.db").exists()

    def items(args, env):
        return [row["item"] for row in json.loads(run([*args, "log", "--format", "json"], env=env).stdout)]

    assert items(["--db", tmp_path / "flag.db"], env) == ["1"]
    assert items([], env) == ["2"]
    assert items([], {"XDG_DATA_HOME": str(xdg)}) == ["3"]


def test_info_shows_the_path_in_use(tmp_path):
    xdg = tmp_path / "xdg"
    run(["record", "login", "-c", "u", "-i", "1"], env={"XDG_DATA_HOME": str(xdg)})
    facts = json.loads(run(["info", "--format", "json"], env={"XDG_DATA_HOME": str(xdg)}).stdout)
    assert facts["path"] == str(xdg / "audit" / "audit.db")


def test_default_without_xdg_is_under_home(tmp_path):
    env = {"XDG_DATA_HOME": None, "HOME": str(tmp_path)}
    assert run(["record", "login", "-c", "u", "-i", "1"], env=env).exit_code == 0
    assert (tmp_path / ".local" / "share" / "audit" / "audit.db").exists()
    env = {"XDG_DATA_HOME": "", "HOME": str(tmp_path)}  # set but empty: ignored, as the XDG spec says
    assert json.loads(run(["info", "--format", "json"], env=env).stdout)["activities"] == 1


def test_default_location_is_documented_in_help():
    assert "XDG_DATA_HOME/audit/audit.db" in run(["--help"]).stdout
    assert "AUDIT_DB" in run(["--help"]).stdout


def test_db_expands_the_home_folder(tmp_path):
    result = run(["--db", "~/trail.db", "record", "login", "-c", "u", "-i", "1"], env={"HOME": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "trail.db").exists()


# --- missing, foreign, newer ---


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_reading_a_missing_store_creates_nothing(tmp_path, args):
    db = tmp_path / "sub" / "none.db"
    line = error_line(run(["--db", db, *args]), 1)
    assert str(db) in line and "no audit store" in line
    assert files_under(tmp_path) == set()


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_reading_a_missing_default_store_creates_nothing(tmp_path, args):
    line = error_line(run(args, env={"XDG_DATA_HOME": str(tmp_path / "xdg")}), 1)
    assert str(tmp_path / "xdg" / "audit" / "audit.db") in line
    assert files_under(tmp_path) == set()
    line = error_line(run(args, env={"AUDIT_DB": str(tmp_path / "env.db")}), 1)
    assert str(tmp_path / "env.db") in line
    assert files_under(tmp_path) == set()


@pytest.mark.parametrize("args", [["log"], ["record", "login", "-c", "u", "-i", "1"]], ids=" ".join)
def test_a_directory_is_refused(tmp_path, args):
    result = run(["--db", tmp_path, *args])
    assert result.exit_code == 2  # a bad --db value
    last = result.stderr.strip().splitlines()[-1]
    assert str(tmp_path) in last and "directory" in last
    assert files_under(tmp_path) == set()


def _foreign_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO users (name) VALUES ('alice')")
    conn.close()


def _other_application(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 305419896")  # another program's mark, no tables yet
    conn.execute("PRAGMA user_version = 1")
    conn.close()


def _not_sqlite(path: Path) -> None:
    path.write_bytes(b"this is a plain text file, not a database\n" * 200)


def _sqlite_header_garbage(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4080)


@pytest.mark.parametrize("make", [_not_sqlite, _sqlite_header_garbage, _foreign_sqlite, _other_application],
                         ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("args", [["record", "login", "-c", "u", "-i", "1"], ["log"], ["info"], ["stats"]], ids=" ".join)
def test_a_foreign_file_is_refused_and_left_unchanged(tmp_path, make, args):
    db = tmp_path / "other.db"
    make(db)
    before = db.read_bytes()
    line = error_line(run(["--db", db, *args]), 1)
    assert str(db) in line
    assert "not an audit store" in line
    assert db.read_bytes() == before
    assert files_under(tmp_path) == {"other.db"}


def test_a_store_from_a_newer_version_is_refused(tmp_path):
    db = tmp_path / "audit.db"
    assert run(["--db", db, "record", "login", "-c", "u", "-i", "1"]).exit_code == 0
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = db.read_bytes()
    for args in (["log"], ["info"], ["record", "login", "-c", "u", "-i", "2"]):
        line = error_line(run(["--db", db, *args]), 1)
        assert "newer" in line and f"schema {SCHEMA_VERSION + 1}" in line and str(SCHEMA_VERSION) in line
        assert "upgrade" in line
    assert db.read_bytes() == before
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM activity").fetchone()[0] == 1
    conn.close()


def test_a_damaged_store_is_one_line_and_exit_1(tmp_path):
    db = tmp_path / "audit.db"
    run(["--db", db, "record", "login", "-c", "u", "-i", "1"])
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE activity")  # still marked as an audit store, but no longer whole
    conn.close()
    line = error_line(run(["--db", db, "log"]), 1)
    assert "activity" in line


# --- the file itself ---


def test_wal_mode_is_on(tmp_path):
    db = tmp_path / "audit.db"
    run(["--db", db, "record", "login", "-c", "u", "-i", "1"])
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_store_file_is_owner_only_whatever_the_umask(tmp_path):
    db = tmp_path / "deep" / "audit.db"
    old = os.umask(0)
    try:
        assert run(["--db", db, "record", "login", "-c", "u", "-i", "1"]).exit_code == 0
        with AuditStore.open(db) as store:
            store.record(Activity("login", "u", "2", ""))
            for suffix in ("", *SIDECARS):
                sidecar = Path(f"{db}{suffix}")
                if sidecar.exists():
                    assert sidecar.stat().st_mode & 0o777 == 0o600, suffix
            assert Path(f"{db}-wal").exists()
    finally:
        os.umask(old)
    assert db.stat().st_mode & 0o777 == 0o600
    facts = json.loads(run(["--db", db, "info", "--format", "json"]).stdout)
    assert facts["mode"] == "0o600" and facts["readable_by_others"] is False


def test_info_warns_when_others_can_read(tmp_path):
    db = tmp_path / "audit.db"
    run(["--db", db, "record", "login", "-c", "u", "-i", "1"])
    db.chmod(0o644)
    result = run(["--db", db, "info"])
    assert result.exit_code == 0
    assert "readable by other users" in result.stderr and "chmod 600" in result.stderr


def test_schema_version_equals_the_number_of_migrations(tmp_path):
    source = Path(migrations.__file__).read_text()
    declared = re.findall(r"^@migrations\(name=\"(m\d+_\w+)\"\)", source, flags=re.M)
    assert len(declared) == SCHEMA_VERSION == migrations.count()
    assert len(set(declared)) == len(declared)
    assert [int(name[1:4]) for name in declared] == list(range(1, SCHEMA_VERSION + 1))  # append-only, in order
    with AuditStore.open(tmp_path / "audit.db", create=True) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        applied = [row[0] for row in store.conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
        assert applied == declared


def test_reopening_keeps_the_schema_and_the_data(tmp_path):
    db = tmp_path / "audit.db"
    run(["--db", db, "record", "login", "-c", "u", "-i", "1"])
    with AuditStore.open(db) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert len(store.log(LogQuery()).rows) == 1
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == SCHEMA_VERSION
    conn.close()


# --- indexes behind the filters ---


@pytest.fixture(scope="module")
def busy_store(tmp_path_factory):
    """A store with a realistic spread of actions, users, collections, items and times, analyzed."""
    db = tmp_path_factory.mktemp("plans") / "audit.db"
    now = utcnow()
    actions = ["login", "logout", "upload", "publish", "entry.update", "invalid-credentials"]
    with AuditStore.open(db, create=True) as store:
        with store.conn:
            store.conn.execute("BEGIN")
            for n in range(3000):
                store._insert_activity(Activity(
                    actions[n % len(actions)], f"coll{n % 7}", str(n % 97), format_ts(now - timedelta(minutes=43 * n)),
                    user=f"user{n % 13}",
                ))
        store.conn.execute("ANALYZE")
        yield store


def plan(store: AuditStore, q: LogQuery) -> list[str]:
    """EXPLAIN QUERY PLAN of the listing query the store runs for `q`."""
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    try:
        store.log(q)
    finally:
        store.conn.set_trace_callback(None)
    listing = [sql for sql in statements if "FROM activity" in sql and "ORDER BY" in sql]
    assert len(listing) == 1, statements
    return [row[3] for row in store.conn.execute(f"EXPLAIN QUERY PLAN {listing[0]}")]


SHAPES = {
    "newest": LogQuery(limit=50),
    "action since newest": LogQuery(actions=["entry.update"], since=normalize("7d"), limit=50),
    "action newest": LogQuery(actions=["login"], limit=50),
    "user since newest": LogQuery(users=["user3"], since=normalize("30d"), limit=50),
    "collection item newest": LogQuery(collections=["coll2"], items=["9"], limit=50),
    "collection item oldest": LogQuery(collections=["coll2"], items=["9"], sort=["timestamp"], limit=-1),
    "since newest": LogQuery(since=normalize("2d"), limit=50),
    "until newest": LogQuery(until=normalize("30d"), limit=50),
    "since oldest": LogQuery(since=normalize("2d"), sort=["timestamp"], limit=50),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_main_query_shapes_use_an_index_and_no_sort(busy_store, shape):
    details = plan(busy_store, SHAPES[shape])
    uses = [d for d in details if re.match(r"(SEARCH|SCAN) activity USING (COVERING )?INDEX activity_", d)]
    assert uses, details
    assert "SCAN activity" not in details, details  # no full table scan
    assert not any("TEMP B-TREE" in d for d in details), details  # the index gives the order


@pytest.mark.parametrize(
    ("shape", "constraints"),
    [
        ("action since newest", ("action=?", "timestamp>?")),  # the benchmark's query: one range of one index
        ("user since newest", ("user=?", "timestamp>?")),
        ("collection item newest", ("collection=?", "item=?")),
        ("since newest", ("timestamp>?",)),
        ("until newest", ("timestamp<?",)),
    ],
)
def test_filters_are_searched_in_the_index(busy_store, shape, constraints):
    searches = [d for d in plan(busy_store, SHAPES[shape]) if d.startswith("SEARCH activity USING")]
    assert any(all(c in d for c in constraints) for d in searches), searches


@pytest.mark.parametrize("q", [
    LogQuery(actions=["login", "logout"], since=normalize("7d")),
    LogQuery(users=["user1", "user2"]),
    LogQuery(collections=["coll1"]),
], ids=["actions", "users", "collection"])
def test_multi_value_filters_still_use_an_index(busy_store, q):
    details = plan(busy_store, q)
    # Either a search of the filter's index or a walk of the time index in order: never a full table scan.
    assert any(re.match(r"(SEARCH|SCAN) activity USING (COVERING )?INDEX activity_", d) for d in details), details
    assert "SCAN activity" not in details, details


def test_indexes_exist_for_every_filter(busy_store):
    indexed = {row[0] for row in busy_store.conn.execute(
        "SELECT ii.name FROM sqlite_master m, pragma_index_info(m.name) ii "
        "WHERE m.type = 'index' AND m.tbl_name = 'activity' AND ii.seqno = 0")}
    assert {"action", "user", "collection", "timestamp"} <= indexed


def test_plans_match_the_cli(busy_store):
    # The store the plans were taken on answers the same query through the CLI.
    result = run(["--db", busy_store.path, "log", "--action", "entry.update", "--since", "7d", "--limit", "50",
                  "--format", "json"])
    rows = json.loads(result.stdout)
    expected = busy_store.log(SHAPES["action since newest"]).rows
    assert [row["id"] for row in rows] == [row["id"] for row in expected]
    assert rows and all(row["action"] == "entry.update" for row in rows)


# a big load into a store this connection created: a rollback journal, then the WAL again


def _trail(n: int) -> list[tuple[int, bytes]]:
    line = '{{"action": "login", "timestamp": "2026-01-01T00:00:00Z", "collection": "directus_users", "item": "u{}"}}'
    return [(i, line.format(i).encode()) for i in range(1, n + 1)]


def test_an_import_into_a_store_it_created_loads_without_the_wal_and_leaves_it_in_wal(tmp_path):
    seen = []
    with AuditStore.open(tmp_path / "new.db", create=True) as store:
        progress = lambda *_: seen.append(store.conn.execute("PRAGMA journal_mode").fetchone()[0])  # noqa: E731
        assert store.import_lines(_trail(5000), source="t", progress=progress)["added"] == 5000
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert seen and set(seen) == {"delete"}
    with sqlite3.connect(tmp_path / "new.db") as conn:  # the file itself says WAL again
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM activity").fetchone()[0] == 5000
    assert not (tmp_path / "new.db-journal").exists()


def test_a_failed_load_rolls_back_and_leaves_the_wal(tmp_path):
    bad = _trail(3000) + [(3001, b'{"action": "login"}')]
    with AuditStore.open(tmp_path / "new.db", create=True) as store:
        with pytest.raises(Exception, match="line 3001"):
            store.import_lines(bad, source="t")
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("SELECT count(*) FROM activity").fetchone()[0] == 0


@pytest.mark.parametrize("why", ["someone else has it open", "it was there before"])
def test_an_import_keeps_the_wal_for_a_store_others_may_use(tmp_path, why):
    path = tmp_path / "shared.db"
    if why == "it was there before":
        AuditStore.open(path, create=True).close()
    seen = []
    with AuditStore.open(path, create=True) as store:
        other = sqlite3.connect(path)
        other.execute("SELECT count(*) FROM activity").fetchone()
        progress = lambda *_: seen.append(store.conn.execute("PRAGMA journal_mode").fetchone()[0])  # noqa: E731
        store.import_lines(_trail(5000), source="t", progress=progress)
        other.close()
    assert seen and set(seen) == {"wal"}
