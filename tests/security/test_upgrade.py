"""An upgrade cannot launder tampering: a store of an earlier schema is verified, inside the migration's
transaction, before it is upgraded. One that does not verify (or cannot be checked) is left byte for byte as it
was, every command refuses it (exit 3, or 1 without the key of a keyed one), and `audit verify` reports why; one that
verifies gains a chained `upgrade` record carrying the head it verified at."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

import audit_cli
from audit_cli.store import AuditStore, integrity
from audit_cli.store.connection import SCHEMA_VERSION

from .attack import KEY, audit, build, tamper, verify

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "previous-release" / "store.db"


def schema_of(path: Path) -> int:
    with sqlite3.connect(path) as db:
        version = db.execute("PRAGMA user_version").fetchone()[0]
    db.close()
    return version


def head_of(path: Path) -> tuple[int, str]:
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT id, hash FROM activity ORDER BY id DESC LIMIT 1").fetchone()
    db.close()
    return row


def as_schema_3(path: Path) -> Path:
    """A store of this release taken back to schema 3 (before m004 kept what prunes remove), as the previous release
    left its stores: for the kinds of store the fixture is not (keyed, larger). Its deltas are JSON text again, as
    before m005 packed them."""
    with AuditStore.open(path, chain_key=KEY) as store:
        texts = [(store.snapshots.delta(base, data, delta), activity) for activity, base, data, delta in
                 store.conn.execute("SELECT activity, base, data, delta FROM revisions WHERE typeof(delta) = 'blob'")]
    assert texts  # a store of this release packs them
    with sqlite3.connect(path) as db:
        db.executemany("UPDATE revisions SET delta = ? WHERE activity = ?", texts)
    db.close()
    tamper(path, "DROP TABLE pruned", "DELETE FROM _sqlite_migrations WHERE name IN ('m004_pruned', "
           "'m005_packed_deltas')", "PRAGMA user_version = 3")
    assert schema_of(path) == 3
    return path


@pytest.fixture
def old(tmp_path) -> Path:
    path = tmp_path / "old.db"
    shutil.copy(FIXTURE, path)
    assert schema_of(path) == 3
    return path


def test_an_upgrade_is_a_chained_record_that_carries_the_head_it_verified(old):
    head_id, head = head_of(old)
    assert audit("--db", old, "log").exit_code == 0
    assert schema_of(old) == SCHEMA_VERSION
    with AuditStore.open(old) as store:
        last = store.conn.execute("SELECT action, collection, item, prev_hash, details FROM activity "
                                  "ORDER BY id DESC LIMIT 1").fetchone()
    assert last[:4] == ("upgrade", "*", "*", head)
    details = json.loads(last[4])
    assert details["schema"] == {"from": 3, "to": SCHEMA_VERSION}
    assert details["verified"]["head"] == {"id": head_id, "hash": head}
    assert audit("--db", old, "log").exit_code == 0  # upgraded once: no second record
    code, report = verify(old)
    assert code == 0 and report["head_id"] == head_id + 1
    # The record is history like any other: changing it shows.
    tamper(old, "UPDATE activity SET details = replace(details, '\"from\":3', '\"from\":2') WHERE action = 'upgrade'")
    assert verify(old)[0] == 3


TAMPERINGS = {
    "a field changed": "UPDATE activity SET user = 'mallory' WHERE id = (SELECT min(id) FROM activity "
                       "WHERE action = 'update')",
    "a row deleted": "DELETE FROM activity WHERE id = (SELECT min(id) FROM activity WHERE action = 'update')",
    "a revision changed": "UPDATE revisions SET delta = '[]' WHERE activity = (SELECT max(activity) "
                          "FROM revisions)",
    "a trigger planted": "CREATE TRIGGER hide AFTER INSERT ON activity BEGIN DELETE FROM activity WHERE "
                         "user = 'mallory'; END",
    "an edit mark on an update": "UPDATE activity SET edited_on = '2026-01-01T00:00:00.000000Z' WHERE id = "
                                 "(SELECT max(id) FROM activity WHERE action = 'update')",
    "a retention row planted": "INSERT INTO settings (key, value) VALUES ('retention', '{\"older_than\": \"1d\"}')",
}


@pytest.mark.parametrize("change", TAMPERINGS, ids=list(TAMPERINGS))
def test_a_tampered_store_of_an_earlier_schema_is_not_upgraded(old, change):
    tamper(old, TAMPERINGS[change])
    before = old.read_bytes()
    for args in (["log"], ["info"], ["record", "login", "-c", "users", "-i", "9"], ["prune", "--keep-revisions", "1", "--yes"]):
        result = audit("--db", old, *args)
        assert result.exit_code == 3, (args, result.output)
        line = result.stderr.strip()
        assert line.startswith("audit: error: ") and "\n" not in line
        assert "not upgraded from schema 3" in line and "does not verify" in line
    assert old.read_bytes() == before and schema_of(old) == 3
    code, report = verify(old)
    assert code == 3 and not report["ok"] and "not upgraded" in report["failure"]["message"]
    assert old.read_bytes() == before
    with pytest.raises(audit_cli.UpgradeRefused) as refused:
        audit_cli.open(old)
    assert refused.value.report["ok"] is False and refused.value.exit_code == 3


def test_a_keyed_store_upgrades_only_with_its_key(tmp_path):
    path = tmp_path / "keyed.db"
    build(path, KEY)
    as_schema_3(path)
    before = path.read_bytes()
    for key in (None, "not the key"):
        result = audit("--db", path, "log", key=key)
        assert result.exit_code == 1 and "not upgraded" in result.stderr and "AUDIT_CHAIN_KEY" in result.stderr
        assert path.read_bytes() == before
    # The attacker, without the key, changes a row of the old store: the upgrade with the key refuses it.
    changed = tmp_path / "changed.db"
    shutil.copy(path, changed)
    tamper(changed, "UPDATE activity SET ip = '10.6.6.6' WHERE ip IS NOT NULL")
    assert audit("--db", changed, "log", key=KEY).exit_code == 3 and schema_of(changed) == 3
    assert audit("--db", path, "log", key=KEY).exit_code == 0 and schema_of(path) == SCHEMA_VERSION
    assert verify(path, key=KEY)[0] == 0


def test_a_large_store_verifies_in_the_upgrading_process(tmp_path, monkeypatch):
    """A store past the size verify shares out among processes: they could not see the upgrade's uncommitted
    migration (and would wait for its lock), so the upgrade's verify stays in its own process."""
    path = tmp_path / "big.db"
    build(path)
    as_schema_3(path)
    monkeypatch.setattr(integrity, "_PARALLEL_ROWS", 2)
    with AuditStore.open(path) as store:
        assert store.conn.execute("SELECT count(*) FROM activity WHERE action = 'upgrade'").fetchone()[0] == 1
        assert store.verify()["ok"]  # and a verify of its own, in processes, once it is upgraded


def test_two_commands_opening_an_old_store_at_once_upgrade_it_once(old):
    runs = [subprocess.Popen(["audit", "--db", str(old), "log", "--limit", "1"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for run in runs:
        assert run.wait(timeout=60) == 0, run.stderr.read()
    with sqlite3.connect(old) as db:
        assert db.execute("SELECT count(*) FROM activity WHERE action = 'upgrade'").fetchone()[0] == 1
    db.close()
    assert verify(old)[0] == 0
