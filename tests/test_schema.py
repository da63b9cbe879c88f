"""The shipped JSON Schemas: valid draft 2020-12, printed by `audit schema`, met by what the tool writes (the
conftest holds every in-process export to them; here the installed script's), and by the minimal lines another
producer writes by hand, which import."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from audit_cli import schemas
from schema_check import check_lines, problems, validator

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).parent / "audit"
HASH = "ab" * 32

HAND_WRITTEN = [
    {"action": "login", "timestamp": "2026-11-20T10:00:00Z", "collection": "users", "item": "alice"},
    {"action": "create", "timestamp": "2026-11-20 10:01", "collection": "articles", "item": 7,
     "revision": {"data": {"title": "Hello"}}},
    {"action": "update", "timestamp": "2026-11-20T10:02:00+01:00", "collection": "articles", "item": "7",
     "revision": {"delta": [{"op": "replace", "path": "/title", "value": "Hi"}]}},
    {"action": "comment", "timestamp": "2026-11-21", "collection": "articles", "item": "7", "comment": "ok by me"},
    {"schema": "audit/1", "action": "entry.update", "timestamp": "2026-11-21T09:00:00.123Z", "collection": "pages",
     "item": "1", "user": "bob", "details": {"from": "a script"}, "revision": None, "key": "importer:1"},
]

BROKEN = {
    "no action": {"timestamp": "2026-11-20T10:00:00Z", "collection": "c", "item": "1"},
    "a capital in the action": {"action": "Update", "timestamp": "2026-11-20", "collection": "c", "item": "1"},
    "a relative time": {"action": "update", "timestamp": "2d", "collection": "c", "item": "1"},
    "epoch milliseconds": {"action": "update", "timestamp": 1790000000000, "collection": "c", "item": "1"},
    "a comment without text": {"action": "comment", "timestamp": "2026-11-20", "collection": "c", "item": "1"},
    "data that is no object": {"action": "create", "timestamp": "2026-11-20", "collection": "c", "item": "1",
                               "revision": {"data": [1, 2]}},
    "a revision with neither": {"action": "create", "timestamp": "2026-11-20", "collection": "c", "item": "1",
                                "revision": {}},
    "a patch op without value": {"action": "update", "timestamp": "2026-11-20", "collection": "c", "item": "1",
                                 "revision": {"delta": [{"op": "replace", "path": "/t"}]}},
    "hash without prev_hash": {"action": "update", "timestamp": "2026-11-20", "collection": "c", "item": "1",
                               "hash": HASH},
    "a short hash": {"action": "update", "timestamp": "2026-11-20", "collection": "c", "item": "1",
                     "hash": "ab", "prev_hash": HASH},
    "another schema": {"schema": "audit/2", "action": "update", "timestamp": "2026-11-20", "collection": "c",
                       "item": "1"},
    "a member the format lacks": {"action": "update", "timestamp": "2026-11-20", "collection": "c", "item": "1",
                                  "colection": "d"},
}


@pytest.mark.parametrize("name", schemas.NAMES)
def test_the_schemas_are_valid_draft_2020_12(name):
    schema = schemas.load(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    validator(name)  # check_schema raises on an invalid schema


@pytest.mark.parametrize("line", HAND_WRITTEN, ids=lambda line: line["action"])
def test_hand_written_lines_validate(line):
    assert problems("line", line) == []


def test_hand_written_lines_import(cli, tmp_path):
    trail = tmp_path / "hand.jsonl"
    trail.write_text("".join(json.dumps(one) + "\n" for one in HAND_WRITTEN))
    cli("import", trail)
    assert len(cli.json("log", "--limit", "100")) == len(HAND_WRITTEN)


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_lines_break_the_schema(case):
    assert problems("line", BROKEN[case]), case


def test_the_suite_check_catches_a_bad_exported_line(cli, tmp_path):
    cli("record", "create", "-c", "articles", "-i", "1", "--data", '{"t": 1}')
    line, trailer = (json.loads(text) for text in cli("export").stdout.splitlines())
    check_lines(json.dumps(line).encode())
    check_lines(json.dumps(trailer).encode())  # the trailer is a line of the schema too
    line["hash"] = "not a hash"
    with pytest.raises(AssertionError, match="audit/1 schema"):
        check_lines(json.dumps(line).encode())


def test_audit_schema_prints_the_shipped_files(cli):
    for name in schemas.NAMES:
        assert json.loads(cli("schema", name).stdout) == schemas.load(name)
        assert Path(cli("schema", name, "--path").stdout.strip()) == schemas.path(name)
    assert json.loads(cli("schema").stdout)["title"] == "audit/1 line"
    assert "'line', 'anchor'" in cli.fails("schema", "trailer", code=2)


@pytest.mark.skipif(not SCRIPT.exists(), reason=f"no console script at {SCRIPT}: install the package")
def test_the_installed_script_writes_lines_and_anchors_that_validate(tmp_path):
    db = tmp_path / "sample.db"

    def audit(*args: str) -> str:
        return subprocess.run([str(SCRIPT), "--db", str(db), *args], capture_output=True, text=True, check=True,
                              timeout=60).stdout

    audit("import", str(ROOT / "fixtures" / "sample.jsonl"))
    exported = audit("export")
    assert exported.count("\n") == 27 + 1  # and the trailer
    check_lines(exported.encode())
    assert problems("anchor", json.loads(audit("checkpoint"))) == []
    assert json.loads(audit("schema", "anchor")) == schemas.load("anchor")


def test_docs_name_every_member_of_the_schemas():
    text = (ROOT / "docs" / "format.md").read_text()
    def members(schema):
        if "properties" in schema:
            yield from schema["properties"]
        for kind in ("activity", "trailer"):  # a line is an activity or the trailer
            part = schema.get("$defs", {}).get(kind, {})
            yield from part.get("properties", {})
            yield from part.get("properties", {}).get("trailer", {}).get("properties", {})

    for name in schemas.NAMES:
        for member in set(members(schemas.load(name))):
            assert re.search(rf"`{member}`", text), f"docs/format.md does not describe {name} member {member!r}"
