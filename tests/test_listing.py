"""What a listing prints: every row or a word that some were left out, cells a terminal cannot act on, columns that
line up in terminal cells, JSON-encoded values, patches in full, and the new stats groupings."""

from __future__ import annotations

import csv
import io
import json

import pytest

from audit_cli.models import Activity


@pytest.fixture
def many(store, cli):
    for n in range(130):
        store.record(Activity("login", "users", str(n), f"2026-11-20T10:{n // 60:02d}:{n % 60:02d}.000000Z",
                              user="alice"))
    store.record(Activity("logout", "users", "x", "2026-11-21T10:00:00.000000Z", user="bob"))
    return cli


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl", "csv"])
def test_a_cut_listing_says_so_on_stderr_in_every_format(many, fmt):
    result = many("log", "-a", "login", "--format", fmt)
    assert result.stderr.strip() == "100 of 130 shown; --limit -1 for all"
    if fmt == "jsonl":
        assert len(result.stdout.splitlines()) == 100  # stdout stays parseable
    elif fmt == "json":
        assert len(json.loads(result.stdout)) == 100
    elif fmt == "csv":
        assert len(list(csv.DictReader(io.StringIO(result.stdout)))) == 100


@pytest.mark.parametrize("args", [["--limit", "-1"], ["--limit", "130"], ["--limit", "131"], ["--limit", "200"]])
def test_a_whole_listing_says_nothing(many, args):
    assert many("log", *args, "-a", "login", "-f", "jsonl").stderr == ""


def test_the_note_counts_from_the_offset_and_with_thousands(many):
    assert many("log", "-n", "10", "--offset", "120", "-a", "login", "-f", "jsonl").stderr == ""
    assert many("log", "-n", "10", "--offset", "100", "-a", "login", "-f", "jsonl").stderr.strip() == \
        "101-110 of 130 shown; --limit -1 for all"
    assert many("log", "-n", "0", "-f", "csv").stderr.strip() == "0 of 131 shown; --limit -1 for all"


EVIL = "\x1b]0;pwned\x07\x1b[2K\x1b[1Arow\rsplit\x9b31m\u202eevil\x7f\x00"


@pytest.fixture
def evil(cli):
    cli("record", "create", "-c", "a\x1b[31m", "-i", "1", "--user", EVIL, "--user-agent", EVIL, "--comment", EVIL,
        "--data", json.dumps({"k\x1b[2J": EVIL}), "--details", json.dumps({"x": EVIL}))
    return cli


def _no_controls(text: str) -> None:
    bad = [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F or c == "\u202e"]
    assert not bad, bad


@pytest.mark.parametrize("args", [
    ["log"], ["log", "--fields", "user,user_agent,comment,collection,details"], ["log", "-p"], ["show", "1"],
    ["history", "a\x1b[31m", "1"], ["blame", "a\x1b[31m", "1"], ["diff", "a\x1b[31m", "1"], ["stats", "--by", "user"],
    ["stats", "--by", "item"], ["snapshot", "a\x1b[31m", "1"], ["log", "-f", "json"], ["log", "-f", "jsonl"],
    ["show", "1", "-f", "json"], ["diff", "a\x1b[31m", "1", "-f", "json"],
])
def test_no_recorded_control_character_reaches_the_terminal(evil, args):
    out = evil(*args).stdout
    _no_controls(out)
    if args[-1] not in ("json", "jsonl") and args[0] not in ("snapshot",) and "json" not in args:
        assert "^[" in out or "<U+202E>" in out or "^[[31m" in out  # shown visibly, as less and git do


def test_escaped_json_is_still_the_same_value(evil):
    row = json.loads(evil("log", "-f", "jsonl").stdout)
    assert row["user"] == EVIL and row["details"] == {"x": EVIL}
    assert json.loads(evil("snapshot", "a\x1b[31m", "1").stdout) == {"k\x1b[2J": EVIL}


def test_control_characters_show_in_caret_notation(evil):
    line = evil("log", "--fields", "user").stdout.splitlines()[2]
    assert line.startswith("^[]0;pwned^G^[[2K^[[1Arow\\rsplit<U+009B>31m<U+202E>evil^?^@")


def test_wide_characters_line_up_by_display_width(cli):
    cli("record", "login", "-c", "u", "-i", "1", "--user", "東京都の山田太郎")
    cli("record", "login", "-c", "u", "-i", "2", "--user", "bob")
    from wcwidth import wcswidth

    lines = cli("log", "--fields", "user,item").stdout.splitlines()
    ends = {wcswidth(line.rstrip()) for line in lines[2:]}
    assert len(ends) == 1, lines  # the item column starts in the same terminal column on every row


def test_long_wide_cells_are_cut_by_display_width(cli):
    cli("record", "login", "-c", "u", "-i", "1", "--user-agent", "中" * 100)
    from wcwidth import wcswidth

    line = cli("log", "--fields", "user_agent").stdout.splitlines()[2]
    assert line.endswith("…") and wcswidth(line) <= 60


def test_cells_are_json_encoded_in_table_and_csv(cli, tmp_path):
    cli("record", "create", "-c", "a", "-i", "1", "--data", "{}")
    cli("version", "create", "a", "1", "v")
    table = cli("version", "list").stdout
    assert "false" in table and "False" not in table
    rows = list(csv.DictReader(io.StringIO(cli("version", "list", "-f", "csv").stdout)))
    assert rows[0]["outdated"] == "false" and rows[0]["name"] == "null" and json.loads(rows[0]["fields"]) == []
    info = list(csv.DictReader(io.StringIO(cli("info", "-f", "csv").stdout)))[0]
    assert info["chain_keyed"] == "false" and info["readable_by_others"] == "false"
    shown = dict(line.split(None, 1) for line in cli("info").stdout.splitlines() if len(line.split(None, 1)) == 2)
    assert shown["chain_keyed"] == "false"


@pytest.fixture
def edited(cli):
    cli("record", "create", "-c", "a", "-i", "1", "--data", json.dumps({"body": "x" * 300, "n": 1}))
    cli("record", "update", "-c", "a", "-i", "1", "--data", json.dumps({"body": "y" * 300, "n": 2}))
    cli("record", "login", "-c", "u", "-i", "1")
    return cli


def test_log_p_prints_each_patch_in_full_below_its_row(edited):
    lines = edited("log", "-p").stdout.splitlines()
    assert lines[0].split()[0] == "id" and "delta" not in lines[0]
    update = next(n for n, line in enumerate(lines) if line.split()[:1] == ["2"])
    assert lines[update + 1].strip() == "/body"
    assert lines[update + 2].strip() == "- " + json.dumps("x" * 300)  # not cut
    assert lines[update + 3].strip() == "+ " + json.dumps("y" * 300)
    assert lines[update + 4].strip() == "/n"
    login = next(n for n, line in enumerate(lines) if line.split()[:1] == ["3"])
    assert lines[login + 1].split()[:1] == ["2"]  # no change below a login: the next row follows


def test_log_p_colours_on_a_terminal_only(edited, monkeypatch):
    assert "\x1b[" not in edited("log", "-p").stdout  # NO_COLOR
    edited.runner.env["NO_COLOR"] = None
    edited.runner.env["FORCE_COLOR"] = "1"
    out = edited("log", "-p").stdout
    assert "\x1b[32m  + " in out and "\x1b[31m  - " in out


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_fields_may_name_delta_with_or_without_p(edited, fmt):
    for args in (["--fields", "id,delta"], ["--fields", "id,delta", "-p"], ["--fields", "delta"]):
        out = edited("log", *args, "-f", fmt).stdout
        if fmt == "csv":
            rows = list(csv.DictReader(io.StringIO(out)))
            deltas = [json.loads(row["delta"]) for row in rows]
            assert list(rows[0]) == [name for name in ("id", "delta") if name in args[1]]
        else:
            rows = json.loads(out) if fmt == "json" else [json.loads(line) for line in out.splitlines()]
            deltas = [row["delta"] for row in rows]
            assert list(rows[0]) == [name for name in ("id", "delta") if name in args[1]]
        assert deltas[0] is None and deltas[1][0]["path"] == "/body" and len(deltas[1][0]["value"]) == 300


@pytest.fixture
def spread(store, cli):
    for n, (stamp, item) in enumerate([("2026-11-16T09:10:00", "1"), ("2026-11-16T09:50:00", "2"),
                                       ("2026-11-16T10:00:00", "1"), ("2026-11-23T10:00:00", "1"),
                                       ("2026-12-01T00:00:00", "2,3")]):
        store.record(Activity("login", "a b" if item == "2,3" else "a", item, stamp + ".000000Z", user="u"))
    return cli


@pytest.mark.parametrize(("by", "expected"), [
    ("hour", [{"hour": "2026-11-16T09:00", "count": 2}, {"hour": "2026-11-16T10:00", "count": 1},
              {"hour": "2026-11-23T10:00", "count": 1}, {"hour": "2026-12-01T00:00", "count": 1}]),
    ("week", [{"week": "2026-W47", "count": 3}, {"week": "2026-W48", "count": 1}, {"week": "2026-W49", "count": 1}]),
    ("month", [{"month": "2026-11", "count": 4}, {"month": "2026-12", "count": 1}]),
    ("item", [{"collection": "a", "item": "1", "count": 3}, {"collection": "a", "item": "2", "count": 1},
              {"collection": "a b", "item": "2,3", "count": 1}]),
])
def test_stats_by_hour_week_month_and_item(spread, by, expected):
    assert spread.json("stats", "--by", by) == expected
    table = spread("stats", "--by", by).stdout.splitlines()
    assert table[0].split() == [*(["collection", "item"] if by == "item" else [by]), "count"]
    assert len(table) == 2 + len(expected)


def test_stats_by_item_takes_the_filters(spread):
    assert spread.json("stats", "--by", "item", "-c", "a b") == [{"collection": "a b", "item": "2,3", "count": 1}]


def test_notes_on_stderr_escape_recorded_names_too(cli):
    cli("record", "create", "-c", "a\x1b]0;x\x07", "-i", "1", "--data", '{"n": 1}')
    cli("record", "update", "-c", "a\x1b]0;x\x07", "-i", "1", "--data", '{"n": 2}')
    err = cli("revert", "a\x1b]0;x\x07", "1", "--to", "0", "--dry-run").stderr
    assert "\x1b" not in err and "\x07" not in err and "\\x1b" in err
