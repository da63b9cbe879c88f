"""The settings table is outside the chain: each row in it is either held to the chain by verify (the store's
identity, the key check, an unfinished prune's marker) or decides nothing. Tried on a plain store, a keyed one, a
mirror fed pieces across prunes at its source, and a whole copy of a pruned store."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from .attack import KEY, audit, build, caught, tamper, verify
from .test_false_alarms import pieces_across_a_prune


def settings(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as db:
        rows = dict(db.execute("SELECT key, value FROM settings"))
    db.close()
    return rows


def mirror_across_prunes(tmp_path: Path) -> Path:
    return pieces_across_a_prune(tmp_path)[1]


def copy_of_pruned(tmp_path: Path) -> Path:
    source, copy, trail = tmp_path / "pruned.db", tmp_path / "copy.db", tmp_path / "trail.jsonl"
    build(source)
    assert audit("--db", source, "prune", "--keep-revisions", "1", "--yes").exit_code == 0
    assert audit("--db", source, "export", "-o", trail).exit_code == 0
    assert audit("--db", copy, "import", trail).exit_code == 0
    return copy


def seen(path: Path, key: str | None = None) -> tuple:
    """What the commands a user reads show of the store, and what verify says."""
    code, report = verify(path, key=key)
    shown = [audit("--db", path, *args, key=key).stdout for args in (["log", "--format", "json"],
                                                                        ["snapshot", "articles", "1"])]
    return code, report.get("ok"), shown


KINDS = {"plain": lambda tmp: (build(tmp / "plain.db"), tmp / "plain.db")[1],
         "mirror": mirror_across_prunes, "copy of a pruned store": copy_of_pruned}
# Rows of earlier releases' (links_kept said a store was a copy), or of no release: nothing reads them.
PLANTED = {"links_kept": "trail.jsonl", "replica": "1", "k": "v"}


@pytest.mark.parametrize("kind", KINDS)
def test_a_row_planted_in_or_removed_from_settings_decides_nothing_or_shows(kind, tmp_path):
    path = KINDS[kind](tmp_path)
    before = seen(path)
    assert before[0] == 0
    for name, value in PLANTED.items():
        changed = tmp_path / f"{name}.db"
        shutil.copy(path, changed)
        tamper(changed, ("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", [name, value]))
        assert seen(changed) == before, name
    changed = tmp_path / "pending.db"
    shutil.copy(path, changed)
    tamper(changed, "INSERT INTO settings (key, value) VALUES ('prune_pending', '{}')")
    caught(changed)
    # Whether a store is a copy is read from its chain: removing every row but its identity changes nothing.
    changed = tmp_path / "bare.db"
    shutil.copy(path, changed)
    tamper(changed, "DELETE FROM settings WHERE key != 'store_id'")
    assert seen(changed) == before


@pytest.mark.parametrize("key", [None, KEY], ids=["plain", "keyed"])
def test_the_store_s_identity_removed_or_changed_is_caught(key, tmp_path):
    path = tmp_path / "store.db"
    build(path, key)
    for change in ("DELETE FROM settings WHERE key = 'store_id'",
                   "UPDATE settings SET value = '00000000-0000-4000-8000-000000000000' WHERE key = 'store_id'"):
        changed = tmp_path / "changed.db"
        shutil.copy(path, changed)
        tamper(changed, change)
        caught(changed, key=key)
        line = audit("--db", changed, "record", "login", "-c", "users", "-i", "1", key=key).stderr
        assert "Traceback" not in line


def test_a_keyed_store_s_key_check_changed_is_caught_with_the_key(tmp_path):
    path = tmp_path / "keyed.db"
    build(path, KEY)
    tamper(path, "UPDATE settings SET value = 'not the check' WHERE key = 'chain_key_check'")
    assert "key check" in caught(path, key=KEY)["message"]
    assert verify(path, key="another key")[0] == 1  # a wrong key is still told apart: it makes no link
