"""A store written by the previous release (schema 3, chain format 2, a prune that kept no digests: made by
hand with that release and kept in fixtures/previous-release/ with an anchor taken then) opens, upgrades (verified
first), and verifies under this one: alone, against its anchor, after new records and a prune of this release, and
through an export and import. Tampering with it still shows."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from audit_cli.store.connection import SCHEMA_VERSION
from conftest import Cli
from lines import activity_lines

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "previous-release"


@pytest.fixture
def old(tmp_path) -> Cli:
    shutil.copy(FIXTURE / "store.db", tmp_path / "store.db")
    with sqlite3.connect(tmp_path / "store.db") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3  # as that release left it
    return Cli(tmp_path / "store.db")


def verified(cli: Cli, *args) -> dict:
    result = cli("verify", *args, "--format", "json", ok=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_it_upgrades_and_verifies_alone_and_against_the_anchor_taken_before(old):
    report = verified(old, "--anchor", FIXTURE / "anchor.json")
    assert report["head_id"] == 12 and "pruned" in report  # 11 and the upgrade's record (tests/security/test_upgrade.py)
    with sqlite3.connect(old.db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_it_goes_on_recording_and_pruning_and_still_extends_its_anchor(old):
    old("record", "update", "-c", "articles", "-i", "1", "--data", '{"n": 1}')
    old("prune", "--keep-revisions", "1", "--yes")
    assert verified(old, "--anchor", FIXTURE / "anchor.json")["head_id"] == 14


def test_its_export_verifies_and_imports_into_a_copy_with_the_same_head(old, tmp_path):
    trail = tmp_path / "trail.jsonl"
    old("export", "-o", trail)
    assert len(activity_lines(trail.read_text())) == 8
    assert Cli(tmp_path / "none.db")("verify", trail).stdout.startswith("OK")
    copy = Cli(tmp_path / "copy.db")
    copy("import", trail)
    assert verified(copy)["head"] == verified(old)["head"]


def test_a_change_to_it_is_still_caught(old):
    with sqlite3.connect(old.db_path) as conn:
        conn.execute("UPDATE activity SET user = 'mallory' WHERE id = (SELECT max(id) FROM activity WHERE "
                     "action = 'update')")
    assert old("verify", ok=False).exit_code == 3
