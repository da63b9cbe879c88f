"""--format table|json|jsonl|csv: every listing prints the same records in each format, parsed back by real parsers."""

from __future__ import annotations

import csv
import functools
import io
import json

import pytest
import typer.testing

from audit_cli.models import ACTIVITY_FIELDS, DEFAULT_LIST_FIELDS

AWKWARD = 'has, comma "quotes"\nand a newline; ünïcödé ✓'
BIG = 12345678901234567890


# Typer's CliRunner rebuilds the click command tree from `app` on every call (about 50 ms); these tests build it once.
_command_once = functools.lru_cache(maxsize=None)(typer.testing._get_command)


@pytest.fixture(autouse=True)
def _build_the_command_once(monkeypatch):
    monkeypatch.setattr(typer.testing, "_get_command", _command_once)


@pytest.fixture
def seeded(cli, record):
    record("login", "directus_users", "alice", user="alice", ip="10.0.0.1", timestamp="2026-11-01T10:00:00.000000Z",
           details={"reason": "sso", "n": BIG})
    record("create", "articles", "1", user="bob", data={"title": "Hello"}, comment=AWKWARD,
           timestamp="2026-11-02T10:00:00.000000Z", user_agent="Mozilla/5.0 (X11; Linux x86_64) " + "x" * 80)
    record("publish", "articles", "1", user=None, timestamp="2026-11-03T10:00:00.000000Z", details=["a", 1, None])
    return cli


def as_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def as_jsonl(text: str) -> list:
    assert text == "" or text.endswith("\n")
    lines = text.split("\n")[:-1]
    assert all(line.strip() for line in lines), "no blank lines"
    return [json.loads(line) for line in lines]


def cell(value) -> str:
    """What a csv cell holds for a value: text as is, JSON for the rest (null, true, numbers, objects, arrays)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --- log ---


def test_log_json(seeded):
    rows = json.loads(seeded("log", "--format", "json").stdout)
    assert [row["id"] for row in rows] == [3, 2, 1]
    assert all(list(row) == list(ACTIVITY_FIELDS) for row in rows)
    assert rows[1]["comment"] == AWKWARD
    assert rows[2]["details"] == {"reason": "sso", "n": BIG}
    assert rows[0]["details"] == ["a", 1, None]
    assert rows[0]["user"] is None


def test_log_jsonl_matches_json(seeded):
    lines = as_jsonl(seeded("log", "--format", "jsonl").stdout)
    assert lines == json.loads(seeded("log", "--format", "json").stdout)
    assert lines[2]["details"]["n"] == BIG  # exact, not a float


def test_log_csv_matches_json(seeded):
    text = seeded("log", "--format", "csv").stdout
    rows = as_csv(text)
    expected = json.loads(seeded("log", "--format", "json").stdout)
    assert list(rows[0]) == list(ACTIVITY_FIELDS)
    assert rows == [{name: cell(row[name]) for name in ACTIVITY_FIELDS} for row in expected]
    assert rows[1]["comment"] == AWKWARD  # commas, quotes and newlines survive quoting
    assert json.loads(rows[2]["details"]) == {"reason": "sso", "n": BIG}


def test_log_short_format_flag(seeded):
    assert as_jsonl(seeded("log", "-f", "jsonl").stdout) == as_jsonl(seeded("log", "--format", "jsonl").stdout)


def test_log_table(seeded):
    lines = seeded("log").stdout.splitlines()
    assert lines[0].split() == list(DEFAULT_LIST_FIELDS)
    assert set(lines[1]) <= {"-", " "}
    assert len(lines) == 2 + 3  # one line per activity, even with a newline in a comment
    assert lines[2].split()[:6] == ["3", "2026-11-03T10:00:00.000000Z", "publish", "null", "articles", "1"]
    assert "and a newline" in lines[3] and "\\n" in lines[3]
    assert "\x1b[" not in "\n".join(lines)  # NO_COLOR


def test_log_table_cuts_long_cells_but_other_formats_do_not(seeded):
    table = seeded("log", "--fields", "id,user_agent").stdout
    assert "…" in table and "x" * 80 not in table
    assert max(len(line) for line in table.splitlines()) < 100
    assert "x" * 80 in as_csv(seeded("log", "--fields", "id,user_agent", "--format", "csv").stdout)[1]["user_agent"]


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "table"])
def test_log_fields_in_every_format(seeded, fmt):
    out = seeded("log", "--fields", "item,id,details", "--format", fmt, "--limit", "2").stdout
    if fmt == "json":
        assert json.loads(out) == [{"item": "1", "id": 3, "details": ["a", 1, None]}, {"item": "1", "id": 2, "details": None}]
    elif fmt == "jsonl":
        assert as_jsonl(out) == [{"item": "1", "id": 3, "details": ["a", 1, None]}, {"item": "1", "id": 2, "details": None}]
    elif fmt == "csv":
        assert out.splitlines()[0] == "item,id,details"
        assert as_csv(out) == [{"item": "1", "id": "3", "details": '["a",1,null]'}, {"item": "1", "id": "2", "details": "null"}]
    else:
        lines = out.splitlines()
        assert lines[0].split() == ["item", "id", "details"]
        assert lines[2].split() == ["1", "3", '["a",1,null]']


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "table"])
def test_log_empty_result_in_every_format(seeded, fmt):
    out = seeded("log", "--user", "nobody", "--format", fmt).stdout
    if fmt == "json":
        assert json.loads(out) == []
    elif fmt == "jsonl":
        assert out == ""
    elif fmt == "csv":
        # A header still names the columns, as it does with --fields, so that csv readers see an empty table.
        assert out.splitlines() == [",".join(ACTIVITY_FIELDS)]
    else:
        assert out.strip() == "(no rows)"


def test_log_empty_csv_with_fields_has_a_header(seeded):
    assert seeded("log", "--user", "nobody", "--fields", "id,user", "--format", "csv").stdout == "id,user\n"


def test_log_meta_in_json(seeded):
    printed = json.loads(seeded("log", "--meta", "--format", "json", "--limit", "1").stdout)
    assert printed["meta"]["total_count"] == 3 and printed["meta"]["filter_count"] == 3
    assert [row["id"] for row in printed["data"]] == [3]


# --- show, stats, info ---


def test_show_in_every_format(seeded):
    shown = json.loads(seeded("show", "2", "--format", "json").stdout)
    assert shown["comment"] == AWKWARD
    assert shown["revision"]["data"] == {"title": "Hello"}
    assert as_jsonl(seeded("show", "2", "--format", "jsonl").stdout) == [shown]
    rows = as_csv(seeded("show", "2", "--format", "csv").stdout)
    assert len(rows) == 1
    assert rows[0]["comment"] == AWKWARD
    assert json.loads(rows[0]["revision"])["data"] == {"title": "Hello"}
    table = seeded("show", "2", "--format", "table").stdout
    assert "Hello" in table and "ünïcödé" in table


def test_stats_in_every_format(seeded):
    expected = [{"collection": "articles", "count": 2}, {"collection": "directus_users", "count": 1}]
    assert json.loads(seeded("stats", "--by", "collection", "--format", "json").stdout) == expected
    assert as_jsonl(seeded("stats", "--by", "collection", "--format", "jsonl").stdout) == expected
    assert as_csv(seeded("stats", "--by", "collection", "--format", "csv").stdout) == [
        {"collection": "articles", "count": "2"}, {"collection": "directus_users", "count": "1"}]
    table = seeded("stats", "--by", "collection").stdout.splitlines()
    assert table[2].split() == ["articles", "2", "█" * 30]
    assert table[3].split() == ["directus_users", "1", "█" * 15]


def test_stats_by_user_null_in_csv_and_table(seeded):
    rows = as_csv(seeded("stats", "--by", "user", "--format", "csv").stdout)
    assert {row["user"]: row["count"] for row in rows} == {"alice": "1", "bob": "1", "null": "1"}
    table = seeded("stats", "--by", "user").stdout
    assert len(table.splitlines()) == 2 + 3


def test_stats_by_day_in_csv(seeded):
    assert as_csv(seeded("stats", "--by", "day", "--format", "csv").stdout) == [
        {"day": f"2026-11-0{d}", "count": "1"} for d in (1, 2, 3)]


def test_stats_empty(seeded):
    assert json.loads(seeded("stats", "--user", "nobody", "--format", "json").stdout) == []
    assert seeded("stats", "--user", "nobody").stdout.strip() == "(no rows)"
    assert seeded("stats", "--user", "nobody", "--format", "csv").stdout == "action,count\n"


def test_info_in_every_format(seeded, db_path):
    facts = json.loads(seeded("info", "--format", "json").stdout)
    assert facts["activities"] == 3 and facts["path"] == str(db_path)
    assert as_jsonl(seeded("info", "--format", "jsonl").stdout)[0]["activities"] == 3
    rows = as_csv(seeded("info", "--format", "csv").stdout)
    assert rows[0]["activities"] == "3" and rows[0]["path"] == str(db_path)
    table = dict(line.split(None, 1) for line in seeded("info").stdout.splitlines() if len(line.split(None, 1)) == 2)
    assert table["activities"] == "3" and table["revisions"] == "1"


@pytest.mark.parametrize("args", [["log"], ["show", "1"], ["stats"], ["info"], ["record", "login", "-c", "u", "-i", "1"]],
                         ids=" ".join)
def test_unknown_format_is_usage_error(seeded, db_path, args):
    result = seeded(*args, "--format", "yaml", ok=False)
    assert result.exit_code == 2
    assert "yaml" in result.stderr and "table" in result.stderr and "csv" in result.stderr
    assert result.stdout == ""
