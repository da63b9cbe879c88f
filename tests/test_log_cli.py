"""`audit log`, `show`, `stats`, `info`, help and --version through CliRunner on real store files."""

from __future__ import annotations

import csv
import functools
import io
import json
import re
import shlex
import sqlite3
from datetime import datetime, timedelta, timezone
from importlib.metadata import version as dist_version

import pytest
import typer
import typer.testing
from typer.testing import CliRunner

import audit_cli
from audit_cli.cli import app
from audit_cli.store import SCHEMA_VERSION
from audit_cli.timeparse import format_ts

EVIL = "'; DROP TABLE activity; --"


# Typer's CliRunner rebuilds the click command tree from `app` on every call (about 50 ms); these tests build it once.
_command_once = functools.lru_cache(maxsize=None)(typer.testing._get_command)


@pytest.fixture(autouse=True)
def _build_the_command_once(monkeypatch):
    monkeypatch.setattr(typer.testing, "_get_command", _command_once)


def fails(cli, *args, code: int, input: str | None = None) -> str:
    """The one stderr line of a command that must fail with `code`, checked to be no crash."""
    result = cli(*args, ok=False, input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == code, f"expected exit {code}, got {result.exit_code}:\n{result.output}"
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith(("audit: error: ", "Error: ")), result.stderr
    if lines[-1].startswith("audit: error: "):
        assert len(lines) == 1, result.stderr
    return lines[-1]


def ids(cli, *args, input: str | None = None) -> list[int]:
    return [row["id"] for row in cli.json("log", *args, input=input)]


def count(db_path) -> int:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT count(*) FROM activity").fetchone()[0]


@pytest.fixture
def seeded(cli, record):
    """Six activities at fixed times:

    1 login   alice  directus_users/alice  2026-11-01  ip 10.0.0.1, details {"reason": "password"}
    2 create  bob    articles/1            2026-11-02
    3 update  alice  articles/1            2026-11-03  comment "Fixed Typo", details {"ticket": "JIRA-42"}
    4 create  carol  articles/2            2026-11-04
    5 update  bob    articles/2            2026-11-05  user_agent "Mozilla/5.0 (X11)"
    6 publish (none) articles/2            2026-11-06  origin "https://cms.example"
    """
    record("login", "directus_users", "alice", user="alice", ip="10.0.0.1", details={"reason": "password"},
           timestamp="2026-11-01T10:00:00.000000Z")
    record("create", "articles", "1", user="bob", data={"title": "Hello"}, timestamp="2026-11-02T10:00:00.000000Z")
    record("update", "articles", "1", user="alice", data={"title": "Hello!"}, comment="Fixed Typo",
           details={"ticket": "JIRA-42"}, timestamp="2026-11-03T10:00:00.000000Z")
    record("create", "articles", "2", user="carol", data={"title": "Two"}, timestamp="2026-11-04T10:00:00.000000Z")
    record("update", "articles", "2", user="bob", data={"title": "Two!"}, user_agent="Mozilla/5.0 (X11)",
           timestamp="2026-11-05T10:00:00.000000Z")
    record("publish", "articles", "2", user=None, origin="https://cms.example", timestamp="2026-11-06T10:00:00.000000Z")
    return cli


# --- log: the flag filters ---


def test_log_lists_newest_first(seeded):
    rows = seeded.json("log")
    assert [row["id"] for row in rows] == [6, 5, 4, 3, 2, 1]
    assert rows[3] == {
        "id": 3, "action": "update", "user": "alice", "timestamp": "2026-11-03T10:00:00.000000Z", "ip": None,
        "user_agent": None, "origin": None, "collection": "articles", "item": "1", "comment": "Fixed Typo",
        "details": {"ticket": "JIRA-42"}, "edited_on": None, "comment_deleted_on": None,
    }


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--action", "update"], [5, 3]),
        (["-a", "login"], [1]),
        (["--action", "login", "--action", "publish"], [6, 1]),
        (["--action", "login,publish"], [6, 1]),
        (["--action", "login, create", "--action", "publish"], [6, 4, 2, 1]),
        (["--action", "delete"], []),
        (["--user", "alice"], [3, 1]),
        (["-u", "alice", "-u", "carol"], [4, 3, 1]),
        (["-u", "alice,carol"], []),  # matched whole: no user is called that
        (["--user", "bob", "--user", "carol"], [5, 4, 2]),
        (["--collection", "articles"], [6, 5, 4, 3, 2]),
        (["-c", "directus_users"], [1]),
        (["--item", "2"], [6, 5, 4]),
        (["-i", "1", "-c", "articles"], [3, 2]),
        (["--item", "1", "--item", "alice"], [3, 2, 1]),
        (["--item", "1,alice"], []),
        (["--action", "update", "--user", "bob"], [5]),
        (["--collection", "articles", "--action", "create", "--item", "2"], [4]),
    ],
)
def test_log_flag_filters(seeded, args, expected):
    assert ids(seeded, *args) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--since", "2026-11-03"], [6, 5, 4, 3]),
        (["--since", "2026-11-03T10:00:00Z"], [6, 5, 4, 3]),
        (["--since", "2026-11-03T10:00:00.000001Z"], [6, 5, 4]),
        (["--since", "2026-11-03T12:00:00+02:00"], [6, 5, 4, 3]),
        (["--since", "2026-11-03T05:00:01-05:00"], [6, 5, 4]),
        (["--until", "2026-11-03T10:00:00Z"], [3, 2, 1]),
        (["--until", "2026-11-03"], [3, 2, 1]),  # a date as the end includes its whole day
        (["--since", "2026-11-03", "--until", "2026-11-03"], [3]),
        (["--until", "2026-11-03T10:00:00"], [3, 2, 1]),
        (["--until", "2026-11-03T15:30:00+05:30"], [3, 2, 1]),
        (["--since", "2026-11-02", "--until", "2026-11-04T10:00:00Z"], [4, 3, 2]),
        (["--since", "2026-11-05", "--until", "2026-11-04"], []),
        (["--until", "now"], [6, 5, 4, 3, 2, 1]),
        (["--since", "now"], []),
    ],
)
def test_log_since_until_absolute(seeded, args, expected):
    assert ids(seeded, *args) == expected


@pytest.fixture
def recent(cli, record):
    """Activity relative to the real clock: ids 1 now, 2 yesterday noon, 3 three days, 4 ten days, 5 three weeks ago."""
    now = datetime.now(timezone.utc)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    record("login", "u", "now", user="dave")
    for item, moment in (("yesterday-noon", midnight - timedelta(hours=12)), ("3d", now - timedelta(days=3)),
                         ("10d", now - timedelta(days=10)), ("3w", now - timedelta(weeks=3))):
        record("publish", "u", item, timestamp=format_ts(moment))
    return cli


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--since", "5m"], [1]),
        (["--since", "300s"], [1]),
        (["--since", "12h"], [1]),
        (["--since", "7d"], [1, 2, 3]),
        (["--since", "2w"], [1, 2, 3, 4]),
        (["--since", "1d12h"], [1, 2]),
        (["--until", "7d"], [4, 5]),
        (["--since", "2w", "--until", "1w"], [4]),
        (["--since", "today"], [1]),
        (["--since", "yesterday"], [1, 2]),
        (["--until", "yesterday"], [2, 3, 4, 5]),
        (["--until", "today"], [1, 2, 3, 4, 5]),
        (["--since", "yesterday", "--until", "yesterday"], [2]),
        (["--since", "yesterday", "--until", "today"], [1, 2]),
        (["--since", "YESTERDAY"], [1, 2]),
        (["--since", "30d", "--until", "now"], [1, 2, 3, 4, 5]),
    ],
)
def test_log_since_until_relative(recent, args, expected):
    assert ids(recent, *args) == expected


@pytest.mark.parametrize(
    ("needle", "expected"),
    [
        ("fixed typo", [3]),  # comment
        ("FIXED", [3]),
        ("jira-42", [3]),  # details
        ("PASSWORD", [1]),
        ("mozilla", [5]),  # user_agent
        ("CMS.EXAMPLE", [6]),  # origin
        ("10.0.0.1", [1]),  # ip
        ("ALICE", [3, 1]),  # user and item
        ("Publish", [6]),  # action
        ("_users", [1]),  # collection, _ is not a wildcard
        ("%", []),
        (EVIL, []),
    ],
)
def test_log_search_is_case_insensitive(seeded, needle, expected):
    assert ids(seeded, "-q", needle) == expected
    assert ids(seeded, "--search", needle) == expected


def test_log_search_combines_with_flags(seeded):
    assert ids(seeded, "-q", "alice", "--action", "update") == [3]


# --- log --filter ---


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ({"user": {"_eq": "alice"}}, [3, 1]),
        ({"action": {"_neq": "update"}}, [6, 4, 2, 1]),
        ({"user": {"_in": ["bob", "carol"]}}, [5, 4, 2]),
        ({"action": {"_nin": ["update", "create"]}}, [6, 1]),
        ({"timestamp": {"_gt": "2026-11-04T10:00:00Z"}}, [6, 5]),
        ({"timestamp": {"_gte": "2026-11-04T10:00:00Z"}}, [6, 5, 4]),
        ({"timestamp": {"_lt": "2026-11-02T10:00:00Z"}}, [1]),
        ({"timestamp": {"_lte": "2026-11-02T10:00:00Z"}}, [2, 1]),
        ({"id": {"_gt": 4}}, [6, 5]),
        ({"id": {"_lte": 2}}, [2, 1]),
        ({"comment": {"_contains": "Typo"}}, [3]),
        ({"comment": {"_contains": "typo"}}, []),
        ({"comment": {"_icontains": "TYPO"}}, [3]),
        ({"collection": {"_starts_with": "direct"}}, [1]),
        ({"collection": {"_starts_with": "Direct"}}, []),
        ({"user": {"_null": True}}, [6]),
        ({"user": {"_nnull": True}}, [5, 4, 3, 2, 1]),
        ({"ip": {"_null": False}}, [1]),
        ({"timestamp": {"_between": ["2026-11-02", "2026-11-03T10:00:00Z"]}}, [3, 2]),
        ({"id": {"_between": [2, 4]}}, [4, 3, 2]),
        ({"details": {"ticket": {"_eq": "JIRA-42"}}}, [3]),
        ({"_and": [{"action": {"_eq": "update"}}, {"user": {"_eq": "bob"}}]}, [5]),
        ({"_or": [{"action": {"_eq": "publish"}}, {"user": {"_eq": "carol"}}]}, [6, 4]),
        ({"_or": [{"action": {"_eq": "login"}},
                  {"_and": [{"item": {"_eq": "2"}}, {"_or": [{"user": {"_eq": "bob"}}, {"user": {"_null": True}}]}]}]},
         [6, 5, 1]),
        ({"user": {"_eq": EVIL}}, []),
        ({"comment": {"_in": [EVIL, "Fixed Typo"]}}, [3]),
    ],
)
def test_log_filter_rules(seeded, rules, expected):
    assert ids(seeded, "--filter", json.dumps(rules)) == expected


def test_log_filter_from_file_or_stdin(seeded, tmp_path):
    rules = json.dumps({"user": {"_in": ["alice"]}})
    (tmp_path / "filter.json").write_text(rules)
    assert ids(seeded, "--filter", f"@{tmp_path / 'filter.json'}") == [3, 1]
    assert ids(seeded, "--filter", "-", input=rules) == [3, 1]


def test_log_filter_combines_with_flags(seeded):
    assert ids(seeded, "--action", "update", "--filter", '{"user": {"_eq": "alice"}}') == [3]


# --- log: sort, paging, fields, meta ---


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("timestamp", [1, 2, 3, 4, 5, 6]),
        ("-timestamp", [6, 5, 4, 3, 2, 1]),
        ("id", [1, 2, 3, 4, 5, 6]),
        ("-id", [6, 5, 4, 3, 2, 1]),
        ("action,timestamp", [2, 4, 1, 6, 3, 5]),
        ("action,-timestamp", [4, 2, 1, 6, 5, 3]),
        ("-action,id", [3, 5, 6, 1, 2, 4]),
        ("item, -id", [3, 2, 6, 5, 4, 1]),
    ],
)
def test_log_sort(seeded, sort, expected):
    assert ids(seeded, "--sort", sort, "--limit", "-1") == expected
    assert ids(seeded, "-s", sort) == expected


def test_log_sort_puts_missing_users_together(seeded):
    users = [row["user"] for row in seeded.json("log", "--sort", "user,-id")]
    assert users == [None, "alice", "alice", "bob", "bob", "carol"]


def test_log_limit_defaults_to_100_and_minus_one_lists_all(cli, store, record):
    for n in range(105):
        record("login", "u", str(n), timestamp=f"2026-01-01T00:00:{n % 60:02d}.{n:06d}Z")
    assert len(cli.json("log")) == 100
    assert len(cli.json("log", "--limit", "-1")) == 105
    assert len(cli.json("log", "-n", "7")) == 7
    assert cli.json("log", "--limit", "0") == []
    assert len(cli("log", "--format", "jsonl").stdout.splitlines()) == 100
    assert len(cli("log", "--format", "jsonl", "--limit", "-1").stdout.splitlines()) == 105


def test_log_offset(seeded):
    assert ids(seeded, "--limit", "2", "--offset", "2") == [4, 3]
    assert ids(seeded, "--offset", "4") == [2, 1]
    assert ids(seeded, "--offset", "6") == []
    assert ids(seeded, "--offset", "1", "--sort", "id", "--limit", "1") == [2]


def test_log_fields(seeded):
    rows = seeded.json("log", "--fields", "id,action,user", "--limit", "2")
    assert rows == [{"id": 6, "action": "publish", "user": None}, {"id": 5, "action": "update", "user": "bob"}]
    rows = seeded.json("log", "--fields", "details , id", "--action", "login")
    assert rows == [{"details": {"reason": "password"}, "id": 1}]
    assert list(rows[0]) == ["details", "id"]  # in the order asked


def test_log_fields_in_the_table(seeded):
    out = seeded("log", "--fields", "item,user", "--limit", "1").stdout.splitlines()
    assert out[0].split() == ["item", "user"]
    assert out[2].split() == ["2", "null"]  # the publish has no user: null, as JSON says it, not an empty cell
    assert "timestamp" not in out[0]


def test_log_meta_json(seeded):
    printed = json.loads(seeded("log", "--meta", "--format", "json", "--action", "update", "--limit", "1").stdout)
    assert printed["meta"]["total_count"] == 6
    assert printed["meta"]["filter_count"] == 2
    assert [row["id"] for row in printed["data"]] == [5]


def test_log_meta_table(seeded):
    out = seeded("log", "--meta", "--user", "alice").stdout
    assert out.rstrip().splitlines()[-1] == "(2 shown; 2 match; 6 in the store)"


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_log_meta_keeps_streaming_formats_clean(seeded, fmt):
    result = seeded("log", "--meta", "--format", fmt, "--action", "create")
    assert "2 match" in result.stderr and "6 in the store" in result.stderr
    body = result.stdout.splitlines()
    if fmt == "jsonl":
        assert [json.loads(line)["id"] for line in body] == [4, 2]
    else:
        assert body[0].startswith("id,") and len(body) == 3


def test_log_on_an_empty_store(cli, store):
    assert cli.json("log") == []
    assert cli("log").stdout.strip() == "(no rows)"
    assert cli("log", "--format", "jsonl").stdout == ""
    printed = json.loads(cli("log", "--meta", "--format", "json").stdout)
    assert (printed["meta"]["total_count"], printed["meta"]["filter_count"], printed["data"]) == (0, 0, [])


# --- log: errors ---


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--sort", "nope"], "'nope'"),
        (["--sort", "-nope"], "'nope'"),
        (["--sort", "id,nope"], "'nope'"),
        (["--fields", "id,nope"], "'nope'"),
        (["--fields", ","], "--fields"),
        (["--filter", '{"nope": {"_eq": 1}}'], "'nope'"),
        (["--filter", '{"_or": [{"nope": {"_eq": 1}}]}'], "'nope'"),
        (["--filter", '{"user": {"_like": "a"}}'], "'_like'"),
        (["--filter", '{"user": {"_regex": "a"}}'], "'_regex'"),
        (["--filter", "{bad"], "--filter"),
        (["--filter", "[1]"], "--filter"),
        (["--filter", '{"user": "alice"}'], "user"),
        (["--filter", '{"timestamp": {"_gt": "soon"}}'], "'soon'"),
        (["--since", "garbage"], "'garbage'"),
        (["--since", "7x"], "'7x'"),
        (["--until", "2026-13-01"], "'2026-13-01'"),
        (["--until", "2026-11-20T10:00:00+25:00"], "'2026-11-20T10:00:00+25:00'"),
        (["--since", "-7d ago"], "'-7d ago'"),
        (["--action", "Update"], "'Update'"),
        (["--action", "login,Bad"], "'Bad'"),
        (["--limit", "-2"], "--limit"),
        (["--offset", "-1"], "--offset"),
    ],
)
def test_log_usage_errors(seeded, db_path, args, named):
    line = fails(seeded, "log", *args, code=2)
    assert line.startswith("audit: error: ")
    assert named in line
    assert count(db_path) == 6


@pytest.mark.parametrize("args", [["--limit", "many"], ["--offset", "x"], ["--format", "xml"], ["--nope"]])
def test_log_click_usage_errors(seeded, args):
    fails(seeded, "log", *args, code=2)


def test_log_unknown_field_names_what_is_accepted(seeded):
    line = fails(seeded, "log", "--sort", "nope", code=2)
    for accepted in ("id", "action", "user", "timestamp", "collection", "item"):
        assert accepted in line
    line = fails(seeded, "log", "--filter", '{"user": {"_like": "a"}}', code=2)
    for accepted in ("_eq", "_in", "_icontains", "_between"):
        assert accepted in line
    line = fails(seeded, "log", "--since", "soon", code=2)
    assert "7d" in line and "yesterday" in line and "ISO 8601" in line


def test_log_filter_file_missing_is_runtime_error(seeded, tmp_path):
    line = fails(seeded, "log", "--filter", f"@{tmp_path / 'none.json'}", code=1)
    assert "none.json" in line


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--action", EVIL], 2),
        (["--user", EVIL], 0),
        (["--collection", EVIL], 0),
        (["--item", EVIL], 0),
        (["-q", EVIL], 0),
        (["--filter", json.dumps({"user": {"_eq": EVIL}})], 0),
        (["--filter", json.dumps({"details": {EVIL: {"_eq": EVIL}}})], 0),
        (["--filter", json.dumps({EVIL: {"_eq": 1}})], 2),
        (["--filter", json.dumps({"user": {EVIL: 1}})], 2),
        (["--sort", EVIL], 2),
        (["--fields", EVIL], 2),
        (["--since", EVIL], 2),
        (["--until", EVIL], 2),
        (["--limit", EVIL], 2),
        (["--offset", EVIL], 2),
        (["--format", EVIL], 2),
    ],
)
def test_log_sql_looking_values_are_data(seeded, db_path, args, code):
    if code:
        fails(seeded, "log", *args, code=code)
    else:
        assert ids(seeded, *args) == []
    assert count(db_path) == 6
    assert ids(seeded) == [6, 5, 4, 3, 2, 1]


def test_stats_and_show_sql_looking_values(seeded, db_path):
    fails(seeded, "stats", "--by", EVIL, code=2)
    fails(seeded, "show", EVIL, code=2)
    assert seeded.json("stats", "--user", EVIL) == []
    assert count(db_path) == 6


# --- show ---


def test_show_json(seeded):
    shown = seeded.json("show", "3")
    assert shown["id"] == 3 and shown["action"] == "update" and shown["comment"] == "Fixed Typo"
    assert shown["details"] == {"ticket": "JIRA-42"}
    assert shown["revision"] == {"data": {"title": "Hello!"}, "delta": [{"op": "replace", "path": "/title", "value": "Hello!"}]}


def test_show_without_a_revision(seeded):
    shown = seeded.json("show", "1")
    assert shown["revision"] is None
    assert shown["ip"] == "10.0.0.1"


def test_show_table(seeded):
    out = seeded("show", "3").stdout
    lines = {line.split(None, 1)[0]: line.split(None, 1)[1:] for line in out.splitlines() if line and not line[0].isspace()}
    assert lines["id"] == ["3"]
    assert lines["action"] == ["update"]
    assert lines["comment"] == ["Fixed Typo"]
    assert '"JIRA-42"' in out and '"Hello!"' in out and '"replace"' in out


def test_show_jsonl_and_csv(seeded):
    assert json.loads(seeded("show", "2", "--format", "jsonl").stdout)["revision"]["data"] == {"title": "Hello"}
    rows = list(csv.DictReader(io.StringIO(seeded("show", "3", "--format", "csv").stdout)))
    assert len(rows) == 1 and rows[0]["id"] == "3" and json.loads(rows[0]["details"]) == {"ticket": "JIRA-42"}


@pytest.mark.parametrize("activity_id", ["999", "0"])
def test_show_missing_is_runtime_error(seeded, activity_id):
    line = fails(seeded, "show", activity_id, code=1)
    assert f"no activity with id {activity_id}" in line


@pytest.mark.parametrize("activity_id", ["abc", "1.5", ""])
def test_show_bad_id_is_usage_error(seeded, activity_id):
    fails(seeded, "show", activity_id, code=2)


# --- stats ---


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], [{"action": "create", "count": 2}, {"action": "update", "count": 2},
              {"action": "login", "count": 1}, {"action": "publish", "count": 1}]),
        (["--by", "action"], [{"action": "create", "count": 2}, {"action": "update", "count": 2},
                              {"action": "login", "count": 1}, {"action": "publish", "count": 1}]),
        (["--by", "collection"], [{"collection": "articles", "count": 5}, {"collection": "directus_users", "count": 1}]),
        (["--by", "day"], [{"day": f"2026-11-0{d}", "count": 1} for d in range(1, 7)]),
        (["--by", "user", "--action", "update"], [{"user": "alice", "count": 1}, {"user": "bob", "count": 1}]),
        (["--by", "action", "--since", "2026-11-04"], [{"action": "create", "count": 1}, {"action": "publish", "count": 1},
                                                       {"action": "update", "count": 1}]),
        (["--by", "day", "--collection", "articles", "--until", "2026-11-03T10:00:00Z"],
         [{"day": "2026-11-02", "count": 1}, {"day": "2026-11-03", "count": 1}]),
        (["--by", "user", "-q", "typo"], [{"user": "alice", "count": 1}]),
        (["--by", "collection", "--filter", '{"item": {"_eq": "2"}}'], [{"collection": "articles", "count": 3}]),
        (["--item", "none"], []),
    ],
)
def test_stats_counts(seeded, args, expected):
    assert seeded.json("stats", *args) == expected


@pytest.mark.parametrize("by", ["action", "user", "collection", "day"])
@pytest.mark.parametrize("extra", [[], ["--include-deleted"], ["--since", "2026-11-04"], ["--action", "comment"]])
def test_stats_agree_with_the_log_when_comments_are_deleted(seeded, by, extra):
    """stats counts deleted comments apart from the rest (for speed): the totals must still be the log's."""
    for item, user in (("1", "alice"), ("2", "bob"), ("2", None), ("1", "carol")):
        seeded("comment", "add", "articles", item, f"note by {user}", *(["--user", user] if user else []))
    comments = [row["id"] for row in seeded.json("log", "--action", "comment")]
    seeded("comment", "delete", str(comments[0]))
    seeded("comment", "delete", str(comments[2]))
    rows = seeded.json("log", "--limit", "1000", *extra)
    key = {"day": lambda row: row["timestamp"][:10]}.get(by, lambda row: row[by])
    expected: dict = {}
    for row in rows:
        expected[key(row)] = expected.get(key(row), 0) + 1
    got = seeded.json("stats", "--by", by, *extra)
    assert {row[by]: row["count"] for row in got} == expected
    assert all(row["count"] > 0 for row in got)


def test_stats_by_user_counts_activity_without_a_user(seeded):
    rows = seeded.json("stats", "--by", "user")
    assert {row["user"]: row["count"] for row in rows} == {"alice": 2, "bob": 2, "carol": 1, None: 1}
    assert [row["count"] for row in rows] == [2, 2, 1, 1]


def test_stats_table_draws_bars(seeded):
    lines = seeded("stats", "--by", "collection").stdout.splitlines()
    assert lines[0].split() == ["collection", "count"]
    body = {line.split()[0]: line for line in lines[2:]}
    assert body["articles"].split()[1] == "5" and body["articles"].count("█") == 30
    assert body["directus_users"].split()[1] == "1" and body["directus_users"].count("█") == 6


def test_stats_bars_are_proportional(seeded):
    lines = seeded("stats", "--by", "action").stdout.splitlines()[2:]
    bars = {line.split()[0]: line.count("█") for line in lines}
    assert bars == {"create": 30, "update": 30, "login": 15, "publish": 15}


def test_stats_csv_and_jsonl(seeded):
    assert seeded("stats", "--by", "collection", "--format", "csv").stdout == "collection,count\narticles,5\ndirectus_users,1\n"
    lines = seeded("stats", "--by", "collection", "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line) for line in lines] == [{"collection": "articles", "count": 5},
                                                   {"collection": "directus_users", "count": 1}]


@pytest.mark.parametrize("by", ["nope", "items", "Day", "year", ""])
def test_stats_bad_by(seeded, by):
    line = fails(seeded, "stats", "--by", by, code=2)
    assert "--by" in line and "action" in line and "day" in line


def test_stats_bad_filter(seeded):
    fails(seeded, "stats", "--since", "nope", code=2)
    fails(seeded, "stats", "--filter", '{"nope": {"_eq": 1}}', code=2)


# --- info ---


def test_info_json(seeded, db_path):
    facts = seeded.json("info")
    assert facts["path"] == str(db_path)
    assert facts["schema_version"] == SCHEMA_VERSION
    assert facts["activities"] == 6
    assert facts["revisions"] == 4
    assert facts["items"] == 2
    assert facts["first_activity"] == "2026-11-01T10:00:00.000000Z"
    assert facts["last_activity"] == "2026-11-06T10:00:00.000000Z"
    assert facts["last_id"] == 6
    on_disk = sum(p.stat().st_size for p in (db_path, db_path.with_name(db_path.name + "-wal")) if p.exists())
    assert facts["size_bytes"] == on_disk > 0


def test_info_table(seeded, db_path):
    out = seeded("info").stdout
    facts = dict(line.split(None, 1) for line in out.splitlines() if len(line.split(None, 1)) == 2)
    assert facts["path"] == str(db_path)
    assert facts["schema_version"] == str(SCHEMA_VERSION)
    assert facts["activities"] == "6"
    assert int(facts["size_bytes"]) > 0


def test_info_on_an_empty_store(cli, store):
    facts = cli.json("info")
    assert (facts["activities"], facts["revisions"], facts["first_activity"], facts["last_id"]) == (0, 0, None, None)


# --- help and version ---


def _commands(command=None, path=()):
    command = command or typer.main.get_command(app)
    yield list(path), command
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        yield from _commands(sub, (*path, name))


ALL_COMMANDS = list(_commands())
LEAVES = [path for path, command in ALL_COMMANDS if not getattr(command, "commands", None)]


def test_the_tree_has_the_issue_commands():
    names = {" ".join(path) for path, _ in ALL_COMMANDS}
    assert {"record", "log", "show", "stats", "info"} <= names


@pytest.mark.parametrize("path", [path for path, _ in ALL_COMMANDS], ids=lambda p: " ".join(p) or "audit")
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_on_every_command(path, flag):
    result = CliRunner().invoke(app, [*path, flag])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Usage: audit {' '.join(path)}".rstrip())
    assert "Traceback" not in result.output


@pytest.mark.parametrize("path", LEAVES, ids=lambda p: " ".join(p))
def test_every_command_help_has_an_example(path):
    text = CliRunner().invoke(app, [*path, "--help"]).stdout
    assert "Example:" in text
    example = text.split("Example:", 1)[1]
    assert f"audit {path[0]}" in example  # the example runs this command


def _examples(name: str) -> list[list[str]]:
    text = CliRunner().invoke(app, [name, "--help"]).stdout
    block = text.split("Example:", 1)[1].split("\n\n", 1)[0]
    return [shlex.split(line.strip())[1:] for line in block.splitlines() if line.strip().startswith("audit ")]


@pytest.mark.parametrize("name", ["record", "log", "show", "stats", "info"])
def test_help_examples_are_valid_usage(name, seeded, db_path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    examples = _examples(name)
    assert examples
    for argv in examples:
        if argv[:1] == ["--db"]:  # an example naming its own store: use the test's
            argv = argv[2:]
        result = seeded(*argv, ok=False)
        assert result.exception is None or isinstance(result.exception, SystemExit), (argv, result.exception)
        assert result.exit_code in (0, 1), (argv, result.output)  # 1: e.g. `show 17` on a small store
        if name != "show":
            assert result.exit_code == 0, (argv, result.output)


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"audit {audit_cli.__version__}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", audit_cli.__version__)
    assert dist_version("audit-cli") == audit_cli.__version__


def test_no_command_shows_help():
    result = CliRunner().invoke(app, [])
    assert "Usage: audit" in result.output
    assert "record" in result.output and "log" in result.output
