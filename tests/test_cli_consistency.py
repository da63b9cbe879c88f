"""The command line says things one way: every usage error as one `audit: error:` line naming what was wrong and
what is accepted, counts spelled right, an item named as COLLECTION ITEM or -c/-i alike, and the same flags for the
same things across commands."""

from __future__ import annotations

import gzip
import json
import os
import sqlite3

import pytest

from audit_cli.cli import app
from audit_cli.models import Activity
from lines import activity_lines


def one_error(cli, *args, code: int = 2) -> str:
    result = cli(*args, ok=False)
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("audit: error: "), result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    return lines[0]


@pytest.mark.parametrize(("args", "words"), [
    (["log", "-f", "xml"], ["'xml'", "table", "jsonl", "csv"]),
    (["log", "--format", "yaml"], ["'yaml'", "table"]),
    (["diff", "a", "1", "-f", "html"], ["'html'", "patch"]),
    (["stats", "--by", "year"], ["'year'", "hour", "week", "month", "item"]),
    (["export", "-f", "xml"], ["'xml'", "ecs"]),
    (["log", "--limit", "many"], ["--limit", "many"]),
    (["log", "--nope"], ["--nope", "audit log -h"]),
    (["nope"], ["nope"]),
    (["show"], ["ID"]),
    (["--db", "", "log"], ["--db is empty"]),
])
def test_parser_errors_are_one_audit_error_line(cli, args, words):
    line = one_error(cli, *args)
    assert "Value error" not in line and "Error: " not in line.removeprefix("audit: error: ")
    for word in words:
        assert word in line, line


def test_db_that_is_a_directory_says_so(cli, tmp_path):
    result = cli.runner.invoke(app, ["--db", str(tmp_path), "log"])
    assert result.exit_code == 2
    assert result.stderr.startswith("audit: error: --db ") and "directory" in result.stderr
    assert "is a directory: give the path of a store file" in result.stderr


@pytest.mark.parametrize("text", ["{bad", "[1", '{"action": {"_eq": }}'])
def test_a_filter_json_error_shows_a_filter(cli, text):
    cli("record", "login", "-c", "u", "-i", "1")
    line = one_error(cli, "log", "--filter", text)
    assert '{"action": {"_eq": "update"}}' in line and '"title"' not in line


def test_a_patch_json_error_shows_a_patch(cli):
    line = one_error(cli, "record", "update", "-c", "a", "-i", "1", "--patch", "[{")
    assert '"op": "replace"' in line


@pytest.mark.parametrize(("patch", "words"), [
    ([{"op": "test", "path": "/title", "value": "nope"}], ['"Hello"', '"nope"', "operation 0"]),
    ([{"op": "test", "path": "/n", "value": 1}], ["true", "1"]),
    ([{"op": "test", "path": "/gone", "value": 1}], ["/gone", "does not exist"]),
    ([{"op": "replace", "path": "/n", "value": 2}, {"op": "move", "from": "/gone", "path": "/x"}],
     ["operation 1", "/gone"]),
    ([{"op": "copy", "from": "/tags/7", "path": "/x"}], ["/tags/7"]),
])
def test_a_failing_patch_says_so_in_its_own_words(cli, patch, words):
    cli("record", "create", "-c", "a", "-i", "1", "--data", '{"title": "Hello", "n": true, "tags": []}')
    line = one_error(cli, "record", "update", "-c", "a", "-i", "1", "--patch", json.dumps(patch), code=1)
    assert "patch does not apply" in line
    assert "class" not in line and "From file" not in line and "Error:" not in line.removeprefix("audit: error:")
    for word in words:
        assert word in line, line


def test_counts_are_spelled_right(cli, tmp_path):
    cli("record", "login", "-c", "u", "-i", "1")
    out = tmp_path / "one.jsonl"
    assert "exported 1 activity to" in cli("export", "-o", str(out)).stderr
    other = tmp_path / "other.db"
    result = cli.runner.invoke(app,
                               ["--db", str(other), "import", str(out)])
    assert "imported 1 activity from" in result.stderr
    again = cli.runner.invoke(app,
                              ["--db", str(other), "import", str(out)])
    assert "imported 0 activities" in again.stderr and "1 was already here" in again.stderr


def test_prune_counts_are_spelled_right(cli, store):
    store.record(Activity("create", "a", "1", "2026-01-01T00:00:00.000000Z"), data={"n": 0})
    store.record(Activity("update", "a", "1", ""), data={"n": 2})
    assert "would remove 1 activity and 1 revision" in cli("prune", "--older-than", "30d", "--dry-run").stdout


@pytest.mark.parametrize("text", ["99999999999d", "9999999999y", "99999999999999999999999w", "999999999 years",
                                  "999999d", "3000y", "2100 years"])
def test_huge_durations_say_how_far_back_time_goes(cli, text):
    cli("record", "login", "-c", "u", "-i", "1")
    for args in (["prune", "--older-than", text, "--dry-run"], ["log", "--since", text],
                 ["retention", "set", "--activity", text], ["retention", "set", "--revisions", text]):
        line = one_error(cli, *args)
        assert "64 bits" not in line and "year" in line, line


def test_vacuum_reports_what_the_store_really_shrank_by(cli, store, db_path):
    store.record(Activity("create", "a", "1", "2026-01-01T00:00:00.000000Z"), data={"body": "x"})
    for n in range(1500):
        store.record(Activity("update", "a", "1", f"2026-01-02T00:00:00.{n:06d}Z"), data={"body": str(n) * 200})
    store.record(Activity("update", "a", "1", ""), data={"body": "z"})
    store.checkpoint_wal()
    before = os.path.getsize(db_path)
    summary = cli.json("prune", "--older-than", "30d", "--vacuum", "--yes")
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    after = os.path.getsize(db_path)
    # The prune itself adds a little before the vacuum measures: its record and attestations, and the digest and
    # link it keeps of each activity it removed (about 150 bytes each): within 5% besides those.
    with sqlite3.connect(db_path) as conn:
        kept = conn.execute("SELECT count(*) * 150 FROM pruned").fetchone()[0]
    assert abs(summary["bytes_freed"] - (before - after)) < 0.05 * before + kept, (summary["bytes_freed"], before, after)
    assert summary["bytes_freed"] < before * 1.05


# an item as COLLECTION ITEM or -c/-i


@pytest.fixture
def item(cli):
    cli("record", "create", "articles", "1", "--data", '{"title": "a"}')
    cli("record", "update", "-c", "articles", "-i", "1", "--data", '{"title": "b"}')
    return cli


@pytest.mark.parametrize("command", [["history"], ["snapshot"], ["diff"], ["blame"], ["snapshot", "--rev", "0"],
                                     ["revert", "--to", "0", "--dry-run"], ["version", "list"]])
def test_an_item_by_position_or_by_flag_is_the_same(item, command):
    by_position = item(*command[:1], *command[1:2] if command[0] == "version" else [], "articles", "1",
                       *command[2 if command[0] == "version" else 1:])
    flagged = [*command[:2]] if command[0] == "version" else command[:1]
    rest = command[2:] if command[0] == "version" else command[1:]
    for spelling in (["-c", "articles", "-i", "1"], ["--collection", "articles", "--item", "1"],
                     ["-c", "articles", "1"], ["-i", "1", "articles"]):
        assert item(*flagged, *spelling, *rest).stdout == by_position.stdout, spelling


def test_record_takes_the_item_by_position_too(item):
    rows = item.json("log", "-c", "articles", "-i", "1")
    assert [row["action"] for row in rows] == ["update", "create"]


@pytest.mark.parametrize("args", [["history"], ["history", "articles"], ["history", "-c", "articles"],
                                  ["history", "articles", "1", "2"], ["history", "-c", "a", "-i", "1", "x"],
                                  ["record", "update", "articles"], ["comment", "add", "articles", "1"],
                                  ["version", "create", "articles", "1"]])
def test_a_missing_or_extra_item_part_is_a_usage_error(item, args):
    line = one_error(item, *args)
    assert any(word in line for word in ("COLLECTION", "ITEM", "TEXT", "KEY", "unexpected extra argument")), line


def test_comments_and_versions_take_the_item_either_way(item):
    item("comment", "add", "-c", "articles", "-i", "1", "by flag")
    item("comment", "add", "articles", "1", "by position")
    comments = item.json("log", "-a", "comment", "--sort", "id")
    assert [(c["collection"], c["item"], c["comment"]) for c in comments] == [
        ("articles", "1", "by flag"), ("articles", "1", "by position")]
    item("version", "create", "-c", "articles", "-i", "1", "draft")
    item("version", "save", "articles", "1", "draft", "--data", '{"title": "c"}')
    assert item.json("version", "compare", "-c", "articles", "-i", "1", "draft")["patch"] != []
    item("version", "delete", "-i", "1", "-c", "articles", "draft")
    assert item.json("version", "list") == []


def test_comment_edit_and_delete_take_at(item):
    item("comment", "add", "articles", "1", "first", "--at", "2026-11-01")
    item("comment", "edit", "3", "second", "--at", "2026-11-02T10:00:00Z")
    shown = item.json("show", "3")
    assert shown["edited_on"] == "2026-11-02T10:00:00.000000Z"
    edit = item.json("log", "-a", "comment-edit")[0]
    assert edit["timestamp"] == "2026-11-02T10:00:00.000000Z"
    item("comment", "delete", "3", "--at", "2026-11-03")
    assert item.json("show", "3")["comment_deleted_on"] == "2026-11-03T00:00:00.000000Z"


def test_export_quiet_is_q_as_on_import_and_search_is_long_only(item, tmp_path):
    out = tmp_path / "q.jsonl"
    item("export", "-q", "-o", str(out))
    assert len(activity_lines(out.read_text())) == 2
    searched = tmp_path / "s.jsonl"
    item("export", "--search", "ARTICLES", "-u", "nobody", "-o", str(searched))
    assert activity_lines(searched.read_text()) == []
    item("export", "--search", "ARTICLES", "-o", str(searched))
    assert len(activity_lines(searched.read_text())) == 2
    assert "needle" in one_error(item, "export", "-q", "needle", "-o", str(tmp_path / "x.jsonl"))


@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_export_limit_writes_the_first_n_by_id(cli, tmp_path, n):
    for k in range(4):
        cli("record", "login", "-c", "u", "-i", str(k))
    out = tmp_path / "limited.jsonl.gz"
    cli("export", "--limit", str(n), "-o", str(out))
    lines = activity_lines(gzip.open(out, "rt").read())
    assert [line["item"] for line in lines] == [str(k) for k in range(min(n, 4))]


def test_export_limit_with_a_cursor_goes_on_in_batches(cli, tmp_path):
    for k in range(5):
        cli("record", "login", "-c", "u", "-i", str(k))
    cursor = tmp_path / "cursor"
    batches = []
    for run in range(3):
        out = tmp_path / f"part{run}.jsonl"
        cli("export", "--limit", "2", "--cursor-file", str(cursor), "-o", str(out))
        batches.append([line["item"] for line in activity_lines(out.read_text())])
    assert batches == [["0", "1"], ["2", "3"], ["4"]]
    assert one_error(cli, "export", "--limit", "-5").count("--limit") == 1
