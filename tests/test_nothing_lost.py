"""Issue 14, "Nothing lost where features meet": each workflow where two features meet keeps everything, through the
CLI on real store files (prune and archive, import and prune, scope and record, revert and prune, cursor exports,
a failed command on a new store)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from conftest import Cli


def lines(path: Path) -> list[dict]:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return [json.loads(line) for line in raw.splitlines()]


# A failed command leaves no new file; a delete takes no --data


def test_a_failed_import_into_a_new_store_leaves_no_file_and_no_folder(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"action": "login", "timestamp": "2026-11-20T10:00:00Z", "collection": "u", "item": "a"}\n'
                   '{"action": "login"}\n')
    new = Cli(tmp_path / "new" / "deeper" / "audit.db")
    stderr = new.fails("import", bad, code=1)
    assert "line 2: missing required field 'timestamp'" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]


@pytest.mark.parametrize("args, code", [
    (("record", "update", "-c", "a", "-i", "1", "--data", '{"x": 1}'), 1),
    (("comment", "edit", "3", "text"), 1),
    (("revert", "a", "1", "--to", "0"), 1),
])
def test_a_failed_write_to_a_new_store_leaves_no_file(tmp_path, args, code):
    new = Cli(tmp_path / "audit.db")
    new.fails(*args, code=code)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_command_keeps_a_store_that_was_there(cli, db_path):
    cli("record", "login", "-c", "u", "-i", "a")
    cli.fails("record", "update", "-c", "a", "-i", "1", "--data", '{"x": 1}', code=1)
    assert db_path.exists() and len(cli.json("log")) == 1


def test_a_delete_refuses_data_it_would_ignore(cli):
    cli("record", "create", "a", "1", "--data", '{"t": "x"}')
    stderr = cli.fails("record", "delete", "a", "1", "--data", '{"t": "y"}', code=2)
    assert stderr == ("audit: error: --data goes with create, update and soft-delete, not delete: a delete keeps "
                      "the item's last state as it is (record an update first to change it)\n")
    assert [row["action"] for row in cli.json("log")] == ["create"]
