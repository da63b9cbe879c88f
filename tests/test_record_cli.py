"""`audit record` through CliRunner on real store files: every flag, its output, and its error paths."""

from __future__ import annotations

import functools
import json
import re
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import typer.testing
from typer.testing import CliRunner

from audit_cli.cli import app
from audit_cli.models import ACTIVITY_FIELDS, WELL_KNOWN_ACTIONS
from audit_cli.timeparse import format_ts

EVIL = "'; DROP TABLE activity; --"


# Typer's CliRunner rebuilds the click command tree from `app` on every call (about 50 ms); these tests build it once.
_command_once = functools.lru_cache(maxsize=None)(typer.testing._get_command)


@pytest.fixture(autouse=True)
def _build_the_command_once(monkeypatch):
    monkeypatch.setattr(typer.testing, "_get_command", _command_once)


def count(db_path: Path) -> int:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT count(*) FROM activity").fetchone()[0]


def stored(cli, activity_id: int) -> dict:
    return cli.json("show", str(activity_id))


def fails(cli, *args, code: int, input: str | None = None) -> str:
    """The stderr of a command that must fail with `code`, checked to be a handled error and not a crash."""
    result = cli(*args, ok=False, input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == code, f"expected exit {code}, got {result.exit_code}:\n{result.output}"
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1].startswith(("audit: error: ", "Error: ")), result.stderr
    return result.stderr


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("audit: error: "), stderr
    return lines[0]


# --- the happy paths ---


def test_prints_the_new_id(cli):
    assert cli("record", "login", "--collection", "directus_users", "--item", "alice").stdout == "1\n"
    assert cli("record", "logout", "-c", "directus_users", "-i", "alice").stdout == "2\n"
    assert [row["action"] for row in cli.json("log")] == ["logout", "login"]


def test_every_context_flag_is_stored(cli):
    cli("record", "login", "-c", "directus_users", "-i", "42", "--user", "alice", "--ip", "10.0.0.1",
        "--user-agent", "curl/8.5", "--origin", "https://app.example", "--comment", "first login",
        "--details", '{"reason": "sso", "attempt": 2}', "--at", "2026-11-20T10:00:00Z")
    activity = stored(cli, 1)
    assert {k: activity[k] for k in ACTIVITY_FIELDS} == {
        "id": 1, "action": "login", "user": "alice", "timestamp": "2026-11-20T10:00:00.000000Z",
        "ip": "10.0.0.1", "user_agent": "curl/8.5", "origin": "https://app.example",
        "collection": "directus_users", "item": "42", "comment": "first login",
        "details": {"reason": "sso", "attempt": 2}, "edited_on": None, "comment_deleted_on": None,
    }
    assert activity["revision"] is None


def test_unset_context_flags_are_null(cli):
    cli("record", "upload", "-c", "files", "-i", "7")
    activity = stored(cli, 1)
    assert [activity[k] for k in ("ip", "user_agent", "origin", "comment", "details")] == [None] * 5


def test_user_defaults_to_audit_user(cli):
    cli("record", "login", "-c", "u", "-i", "1")
    assert stored(cli, 1)["user"] == "tester"  # AUDIT_USER in the fixture
    cli("record", "login", "-c", "u", "-i", "1", "--user", "bob")
    assert stored(cli, 2)["user"] == "bob"


def test_user_defaults_to_the_login_name_without_audit_user(db_path):
    runner = CliRunner(env={"AUDIT_USER": None, "AUDIT_DB": None, "LOGNAME": "carol", "USER": "carol"})
    result = runner.invoke(app, ["--db", str(db_path), "record", "login", "-c", "u", "-i", "1"])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT user FROM activity").fetchone()[0] == "carol"


def test_item_is_kept_as_text(cli):
    cli("record", "create", "-c", "articles", "-i", "007", "--data", "{}")
    assert stored(cli, 1)["item"] == "007"


@pytest.mark.parametrize("how", ["inline", "file", "stdin"])
def test_details_inline_file_or_stdin(cli, tmp_path, how):
    details = {"request": {"body": [1, 2, {"é": None}]}, "correlation_id": "abc-123"}
    text = json.dumps(details)
    if how == "inline":
        cli("record", "publish", "-c", "articles", "-i", "1", "--details", text)
    elif how == "file":
        (tmp_path / "details.json").write_text(text, encoding="utf-8")
        cli("record", "publish", "-c", "articles", "-i", "1", "--details", f"@{tmp_path / 'details.json'}")
    else:
        cli("record", "publish", "-c", "articles", "-i", "1", "--details", "-", input=text)
    assert stored(cli, 1)["details"] == details


@pytest.mark.parametrize("value", ['"a reason"', "[1, 2]", "42", "true"])
def test_details_may_be_any_json(cli, value):
    cli("record", "publish", "-c", "articles", "-i", "1", "--details", value)
    assert stored(cli, 1)["details"] == json.loads(value)


@pytest.mark.parametrize("how", ["inline", "file", "stdin"])
def test_data_inline_file_or_stdin(cli, tmp_path, how):
    data = {"title": "Hello", "tags": ["a", "b"], "meta": {"n": 12345678901234567890}}
    text = json.dumps(data)
    args = ("record", "create", "-c", "articles", "-i", "42", "--data")
    if how == "inline":
        cli(*args, text)
    elif how == "file":
        (tmp_path / "data.json").write_text(text, encoding="utf-8")
        cli(*args, f"@{tmp_path / 'data.json'}")
    else:
        cli(*args, "-", input=text)
    revision = stored(cli, 1)["revision"]
    assert revision["data"] == data
    assert revision["data"]["meta"]["n"] == 12345678901234567890  # exact, not a float
    assert {op["path"] for op in revision["delta"]} == {"/title", "/tags", "/meta"}


def test_update_data_merges_onto_the_current_state(cli):
    cli("record", "create", "-c", "articles", "-i", "1", "-d", '{"title": "A", "status": "draft"}')
    cli("record", "update", "-c", "articles", "-i", "1", "-d", '{"status": "published", "body": null}')
    assert stored(cli, 2)["revision"]["data"] == {"title": "A", "status": "published", "body": None}


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2026-11-20", "2026-11-20T00:00:00.000000Z"),
        ("2026-11-20T10:00:00", "2026-11-20T10:00:00.000000Z"),
        ("2026-11-20T10:00:00.123456Z", "2026-11-20T10:00:00.123456Z"),
        ("2026-11-20T12:00:00+02:00", "2026-11-20T10:00:00.000000Z"),
        ("2026-11-20T05:00:00-05:00", "2026-11-20T10:00:00.000000Z"),
    ],
)
def test_at_absolute_times_are_stored_in_utc(cli, at, expected):
    cli("record", "login", "-c", "u", "-i", "1", "--at", at)
    assert stored(cli, 1)["timestamp"] == expected


def _between(before: datetime, stamp: str, after: datetime) -> bool:
    return format_ts(before) <= stamp <= format_ts(after)


@pytest.mark.parametrize(("at", "ago"), [("30s", timedelta(seconds=30)), ("15m", timedelta(minutes=15)),
                                         ("12h", timedelta(hours=12)), ("7d", timedelta(days=7)),
                                         ("2w", timedelta(weeks=2)), ("now", timedelta(0))])
def test_at_relative_times(cli, at, ago):
    before = datetime.now(timezone.utc)
    cli("record", "login", "-c", "u", "-i", "1", "--at", at)
    after = datetime.now(timezone.utc)
    assert _between(before - ago, stored(cli, 1)["timestamp"], after - ago)


def test_at_defaults_to_now(cli):
    before = datetime.now(timezone.utc)
    cli("record", "login", "-c", "u", "-i", "1")
    after = datetime.now(timezone.utc)
    stamp = stored(cli, 1)["timestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stamp)
    assert _between(before, stamp, after)


@pytest.mark.parametrize(("at", "days"), [("today", 0), ("yesterday", 1)])
def test_at_calendar_words(cli, at, days):
    before = datetime.now(timezone.utc)
    cli("record", "login", "-c", "u", "-i", "1", "--at", at)
    after = datetime.now(timezone.utc)
    midnights = {format_ts(moment.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days))
                 for moment in (before, after)}
    assert stored(cli, 1)["timestamp"] in midnights


def test_format_json_prints_the_activity(cli):
    cli("record", "create", "-c", "articles", "-i", "1", "-d", '{"title": "A"}')
    result = cli("record", "update", "-c", "articles", "-i", "1", "-d", '{"title": "B"}', "--user", "alice",
                 "--format", "json", "--at", "2026-11-20T10:00:00Z")
    printed = json.loads(result.stdout)
    assert printed["id"] == 2
    assert printed["action"] == "update"
    assert printed["user"] == "alice"
    assert printed["timestamp"] == "2026-11-20T10:00:00.000000Z"
    assert printed["revision"] == {"data": {"title": "B"}, "delta": [{"op": "replace", "path": "/title", "value": "B"}]}
    assert set(ACTIVITY_FIELDS) <= set(printed)
    assert printed == {**stored(cli, 2), **printed}


def test_format_jsonl_prints_one_line(cli):
    result = cli("record", "login", "-c", "u", "-i", "1", "--format", "jsonl")
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["id"] == 1
    assert json.loads(lines[0])["revision"] is None


def test_sql_looking_text_in_every_flag_is_data(cli, db_path):
    cli("record", "create", "-c", EVIL, "-i", EVIL, "--user", EVIL, "--ip", EVIL, "--user-agent", EVIL,
        "--origin", EVIL, "--comment", EVIL, "--details", json.dumps({EVIL: EVIL}), "--data", json.dumps({EVIL: EVIL}),
        "--at", "2026-11-20")
    activity = stored(cli, 1)
    for name in ("collection", "item", "user", "ip", "user_agent", "origin", "comment"):
        assert activity[name] == EVIL
    assert activity["details"] == {EVIL: EVIL}
    assert activity["revision"]["data"] == {EVIL: EVIL}
    assert count(db_path) == 1
    assert [row["id"] for row in cli.json("log", "--collection", EVIL, "--item", EVIL, "--user", EVIL)] == [1]


def test_well_known_actions_are_listed_in_help(cli):
    text = cli("record", "--help").stdout
    flat = re.sub(r"-\n\s+", "-", text)  # the help wraps long lines, also after a hyphen
    flat = re.sub(r"\s+", " ", flat)
    for action in WELL_KNOWN_ACTIONS:
        assert re.search(rf"[\s:,]{re.escape(action)}[,.\s]", flat), action
    assert "Example:" in text


@pytest.mark.parametrize("action", ["entry.update", "version_save", "a", "x9-y.z_w"])
def test_foreign_action_slugs_are_accepted(cli, action):
    cli("record", action, "-c", "c", "-i", "1")
    assert stored(cli, 1)["action"] == action


# --- errors: exit codes, one line, nothing written ---


@pytest.fixture
def seeded(cli, db_path):
    cli("record", "create", "-c", "articles", "-i", "1", "-d", '{"title": "A"}')
    assert count(db_path) == 1
    return cli


@pytest.mark.parametrize("action", ["Update", "UPDATE", "1abc", "bad action", "-x", "up/date", "é", EVIL])
def test_invalid_action_slug(seeded, db_path, action):
    line = one_line(fails(seeded, "record", "-c", "articles", "-i", "1", "--", action, code=2))
    assert "invalid action" in line and "[a-z][a-z0-9._-]*" in line
    assert count(db_path) == 1


@pytest.mark.parametrize("value", ["[1, 2]", '"text"', "1", "null", "true"])
def test_data_must_be_an_object(seeded, db_path, value):
    line = one_line(fails(seeded, "record", "update", "-c", "articles", "-i", "1", "--data", value, code=2))
    assert "--data must be a JSON object" in line
    assert count(db_path) == 1


@pytest.mark.parametrize("value", ["{bad", '{"a": 1,}', '{"a": 1}{"b": 2}', '{"a": NaN}', '{"a": 1, "a": 2}', "", "{'a': 1}"])
def test_bad_json_data_is_one_line_exit_2(seeded, db_path, value):
    line = one_line(fails(seeded, "record", "update", "-c", "articles", "-i", "1", "--data", value, code=2))
    assert "--data" in line and "JSON" in line
    assert count(db_path) == 1
    assert stored(seeded, 1)["revision"]["data"] == {"title": "A"}


def test_bad_json_from_a_file_or_stdin(seeded, db_path, tmp_path):
    (tmp_path / "bad.json").write_text("{bad", encoding="utf-8")
    one_line(fails(seeded, "record", "update", "-c", "articles", "-i", "1", "--data", f"@{tmp_path / 'bad.json'}", code=2))
    one_line(fails(seeded, "record", "update", "-c", "articles", "-i", "1", "--data", "-", input="[1]", code=2))
    (tmp_path / "latin1.json").write_bytes('{"a": "caf\xe9"}'.encode("latin-1"))
    line = one_line(fails(seeded, "record", "update", "-c", "articles", "-i", "1", "--data", f"@{tmp_path / 'latin1.json'}", code=2))
    assert "UTF-8" in line
    assert count(db_path) == 1


def test_bad_details_json(seeded, db_path):
    line = one_line(fails(seeded, "record", "login", "-c", "u", "-i", "1", "--details", "{nope", code=2))
    assert "--details" in line
    assert count(db_path) == 1


@pytest.mark.parametrize("flag", ["--data", "--details"])
def test_unreadable_file_is_exit_1(seeded, db_path, tmp_path, flag):
    missing = tmp_path / "missing.json"
    line = one_line(fails(seeded, "record", "update", "-c", "articles", "-i", "1", flag, f"@{missing}", code=1))
    assert str(missing) in line and flag in line
    line = one_line(fails(seeded, "record", "update", "-c", "articles", "-i", "1", flag, f"@{tmp_path}", code=1))
    assert str(tmp_path) in line
    assert count(db_path) == 1


@pytest.mark.parametrize("at", ["garbage", "7x", "2026-13-01", "2026-11-20T10:00:00+25:00", EVIL])
def test_bad_at_is_usage_error(seeded, db_path, at):
    line = one_line(fails(seeded, "record", "login", "-c", "u", "-i", "1", "--at", at, code=2))
    assert repr(at) in line and "yesterday" in line
    assert count(db_path) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["record", "login", "-c", "u", "-i", "1", "--data", "{}"], "--data and --patch go with the data actions"),
        (["record", "update", "-c", "articles", "-i", "1", "--data", "{}", "--patch", "[]"], "give --data or --patch"),
        (["record", "update", "-c", "articles", "-i", "1", "--replace"], "--replace goes with --data"),
        (["record", "comment", "-c", "articles", "-i", "1"], "needs its text"),
    ],
)
def test_contradictory_flags_are_usage_errors(seeded, db_path, args, message):
    assert message in one_line(fails(seeded, *args, code=2))
    assert count(db_path) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["record", "login", "-i", "1"],  # no --collection
        ["record", "login", "-c", "u"],  # no --item
        ["record", "-c", "u", "-i", "1"],  # no action
        ["record", "login", "-c", "u", "-i", "1", "--format", "xml"],
        ["record", "login", "-c", "u", "-i", "1", "--nope"],
    ],
)
def test_click_usage_errors(seeded, db_path, args):
    fails(seeded, *args, code=2)
    assert count(db_path) == 1


def test_runtime_errors_write_nothing(seeded, db_path):
    fails(seeded, "record", "update", "-c", "articles", "-i", "404", "-d", '{"a": 1}', code=1)
    fails(seeded, "record", "create", "-c", "articles", "-i", "1", "-d", '{"a": 1}', code=1)  # exists already
    assert count(db_path) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["record", "Bad", "-c", "u", "-i", "1"],
        ["record", "login", "-c", "u", "-i", "1", "--data", "{}"],
        ["record", "login", "-c", "u", "-i", "1", "--at", "garbage"],
        ["record", "create", "-c", "u", "-i", "1", "--data", "[1]"],
    ],
)
def test_usage_errors_on_a_missing_store_create_nothing(cli, db_path, args):
    fails(cli, *args, code=2)
    assert not db_path.exists()
