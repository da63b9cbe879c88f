"""Hostile store files: not an audit store, corrupt, read-only, on a full disk; and the modes of what audit creates.

Each refusal is one clear line that says which (exit 1), and the file is left as it was, byte for byte.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from audit_cli.store import AuditStore

from .helpers import (AUDIT, as_unprivileged, audit_env, can_drop_privileges, count, digest, error_line, fails, integrity, make_store,
                      needs_script, ok, refused, run, store_files, verifies)

pytestmark = needs_script

READS = (["log", "-n", "3"], ["verify"], ["info"], ["export", "-o", "-"], ["snapshot", "posts", "1"],
         ["history", "posts", "1"], ["stats"])
WRITES = (["record", "login", "-c", "c", "-i", "1"], ["comment", "add", "posts", "1", "hello"],
          ["record", "update", "-c", "posts", "-i", "1", "--data", '{"t": 1}'], ["retention", "set", "--activity", "30d"],
          ["prune", "--older-than", "1d", "--yes"], ["scope", "set", "posts", "--keep-revisions", "2"])


@pytest.fixture(scope="module")
def real_store(tmp_path_factory) -> Path:
    """A checkpointed store of 300 activities with revisions, copied by each test that damages one."""
    db = tmp_path_factory.mktemp("real") / "audit.db"
    make_store(db, 300)
    return db


def copy_of(real: Path, folder: Path, name: str = "audit.db") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    shutil.copy2(real, target)
    return target


# not an audit store

def in_process(cli, path: Path):
    """The in-process CLI on another store path: the same code paths as the script, at a fraction of the cost."""
    return type(cli)(path)


def test_files_that_are_not_audit_stores_are_refused_untouched(tmp_path, real_store, cli):
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE activity (id INTEGER PRIMARY KEY, note TEXT)")
    conn.execute("INSERT INTO activity (note) VALUES ('mine')")
    conn.commit()
    conn.close()
    foreign_id = tmp_path / "foreign-id.db"
    conn = sqlite3.connect(foreign_id)
    conn.execute("PRAGMA application_id = 1234")
    conn.commit()
    conn.close()
    newer = copy_of(real_store, tmp_path / "newer")
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    text = tmp_path / "notes.txt"
    text.write_text("hello, I am a text file\n" * 100)
    binary = tmp_path / "random.bin"
    binary.write_bytes(os.urandom(10_000))
    gz = tmp_path / "trail.jsonl.gz"
    gz.write_bytes(b"\x1f\x8b" + os.urandom(500))
    cases = {other: "not an audit store", foreign_id: "not an audit store", newer: "newer audit", text: "not an audit store",
             binary: "not an audit store", gz: "not an audit store"}
    for path, says in cases.items():
        before = store_files(path)
        audit = in_process(cli, path)
        for args in READS + WRITES + (["import", str(text)],):
            line = refused(audit(*args, ok=False), 1)
            assert says in line and path.name in line, (path.name, args, line)
        line = fails(run(path, *WRITES[0]), 1)  # and the real script says the same
        assert says in line, line
        assert store_files(path) == before, f"{path.name} was changed"
    folder = tmp_path / "a-folder"
    folder.mkdir()
    assert "directory" in fails(run(folder, "log"), 2)


# corrupt

def _truncate(path: Path, size: int) -> None:
    with open(path, "r+b") as f:
        f.truncate(size)


def _scribble(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


CORRUPTIONS = {
    "truncated to half": lambda p: _truncate(p, p.stat().st_size // 2),
    "truncated to 100 bytes": lambda p: _truncate(p, 100),
    "truncated to one page": lambda p: _truncate(p, 4096),
    "header scribbled": lambda p: _scribble(p, 0, b"\xff" * 16),
    "page size scribbled": lambda p: _scribble(p, 16, b"\x00\x07"),
    "schema page scribbled": lambda p: _scribble(p, 100, bytes(range(256)) * 12),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_a_corrupt_store_is_named_as_corrupt_and_left_alone(tmp_path, real_store, corruption, cli):
    db = copy_of(real_store, tmp_path)
    CORRUPTIONS[corruption](db)
    before = store_files(db)
    (tmp_path / "nothing.jsonl").write_text("")
    audit = in_process(cli, db)
    for args in READS + WRITES + (["import", str(tmp_path / "nothing.jsonl")],):
        line = refused(audit(*args, ok=False), 1)
        assert "corrupt" in line or "not an audit store" in line, (corruption, args, line)
    line = fails(run(db, *WRITES[0]), 1)
    assert "corrupt" in line or "not an audit store" in line, line
    assert store_files(db) == before, f"{corruption}: the store was changed"


def _as_text(db: Path) -> int:
    """One revision's delta (a change of /title) stored as JSON text again, as a store before schema 5 keeps every
    delta (this release packs them against their snapshot: store/codec.py), and checkpointed into the file; its
    activity."""
    with AuditStore.open(db) as store:
        for activity, base, data, delta in store.conn.execute(
                "SELECT activity, base, data, delta FROM revisions WHERE typeof(delta) = 'blob' ORDER BY activity"):
            text = store.snapshots.delta(base, data, delta)
            if text.startswith('[{"op":"replace","path":"/title"'):
                break
        else:
            raise AssertionError("no packed delta of a title change")
    conn = sqlite3.connect(db)  # read-write: closing it removes the -wal and -shm a read makes
    try:
        conn.execute("UPDATE revisions SET delta = ? WHERE activity = ?", [text, activity])
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return activity


def _first_delta_offset(db: Path) -> int:
    _as_text(db)
    raw = db.read_bytes()
    at = raw.find(b'"op":"replace","path":"/title"')
    assert at > 0
    return at


def test_scribbled_rows_are_caught_by_verify(tmp_path, real_store):
    """Bytes changed inside a row's text (valid UTF-8, the page intact): SQLite cannot tell; verify must."""
    db = copy_of(real_store, tmp_path)
    at = _first_delta_offset(db)
    assert verifies(db)  # a delta stored as text reads as the packed one did
    _scribble(db, at + 20, b"X")  # "/title" -> "/tXtle" in one revision's delta
    assert integrity(db) == "ok"
    proc = run(db, "verify")
    assert proc.returncode == 3, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout.startswith(b"TAMPERED")


def test_a_scribbled_packed_delta_is_caught_by_verify_and_named_as_damage(tmp_path, real_store):
    """A byte changed inside a delta packed against its snapshot: verify reports the revision as modified, and a
    read of it says the store is damaged, in one line."""
    db = copy_of(real_store, tmp_path)
    conn = sqlite3.connect(db)
    try:
        activity, item, packed = conn.execute(
            "SELECT activity, item, delta FROM revisions WHERE typeof(delta) = 'blob' AND length(delta) > 20 "
            "ORDER BY activity LIMIT 1").fetchone()
    finally:
        conn.close()
    raw = db.read_bytes()
    at = raw.find(packed)
    assert at > 0 and raw.count(packed) == 1
    _scribble(db, at + 3, bytes([packed[3] ^ 0xFF]))
    proc = run(db, "verify")
    assert proc.returncode == 3, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout.startswith(f"TAMPERED: modified at activity {activity}: ".encode()), proc.stdout
    for args in (["show", str(activity)], ["history", "posts", item]):
        proc = run(db, *args)
        assert proc.returncode == 1, (args, proc.returncode, proc.stderr)
        assert "damaged" in error_line(proc.stderr), (args, proc.stderr)


def _damaged_row(db: Path) -> tuple[int, int, str]:
    """The offset of the first revision delta in the file, and the activity and item it belongs to."""
    at = _first_delta_offset(db)
    raw = db.read_bytes()
    delta = raw[at - 2:raw.index(b"]", at) + 1]
    assert delta.startswith(b'[{"op"')
    conn = sqlite3.connect(db)  # read-write: closing it removes the -wal and -shm a read makes
    try:
        activity, item = conn.execute("SELECT activity, item FROM revisions WHERE delta = ?",
                                      [delta.decode()]).fetchone()
    finally:
        conn.close()
    return at, activity, item


def test_undecodable_bytes_in_a_row_give_one_clean_line_and_verify_reports_them(tmp_path, real_store):
    """Bytes that are not UTF-8 (with a newline and a terminal escape) scribbled into one revision's delta: every
    read that meets them says the store is corrupt and names the activity, in one line without the bytes; an
    export leaves no file; verify reports tampering at that activity."""
    db = copy_of(real_store, tmp_path)
    at, activity, item = _damaged_row(db)
    _scribble(db, at + 5, b"\xff\n\xfe\x1b[2J")
    before = store_files(db)
    exported = tmp_path / "x.jsonl"
    for args in (["show", str(activity)], ["history", "posts", item], ["blame", "posts", item],
                 ["export", "-o", str(exported)], ["export", "--format", "ecs"], ["log", "-p", "--limit", "-1"]):
        proc = run(db, *args)
        assert proc.returncode == 1, (args, proc.returncode)
        assert "\x1b" not in proc.stderr.decode("utf-8", "replace")
        line = error_line(proc.stderr)
        assert "corrupt" in line and f"activity {activity}" in line, (args, line)
    assert not exported.exists() and list(tmp_path.glob(".x.jsonl*")) == []
    proc = run(db, "verify")
    assert proc.returncode == 3, (proc.returncode, proc.stderr)
    assert proc.stdout.startswith(f"TAMPERED: modified at activity {activity}: ".encode()), proc.stdout
    assert store_files(db) == before


# read-only

needs_dac = pytest.mark.skipif(not can_drop_privileges(), reason="running as root without the right to drop "
                                                                   "CAP_DAC_OVERRIDE: file modes would not bind")


@needs_dac
def test_a_read_only_store_reads_and_refuses_writes_untouched(tmp_path, real_store):
    db = copy_of(real_store, tmp_path / "ro")
    os.chmod(db, 0o444)
    before = digest(db)
    drop = as_unprivileged()
    for args in READS[:4]:
        ok(run(db, *args, preexec_fn=drop))
    trail = tmp_path / "new.jsonl"
    trail.write_text(json.dumps({"action": "login", "timestamp": "2026-05-01T00:00:00Z", "collection": "n",
                                 "item": "1"}) + "\n")
    for args in WRITES[:4] + (["import", str(trail)],):
        line = fails(run(db, *args, preexec_fn=drop), 1)
        assert "read-only" in line or "readonly" in line, (args, line)
    assert digest(db) == before
    assert stat.S_IMODE(db.stat().st_mode) == 0o444


@needs_dac
def test_a_store_in_a_read_only_folder_reads_and_refuses_writes_untouched(tmp_path, real_store):
    """SQLite cannot make the -shm file a WAL reader needs in a read-only folder: readers open the store read-only
    and read what a writable folder would give; writes say why they cannot, and nothing is left behind."""
    folder = tmp_path / "ro-folder"
    db = copy_of(real_store, folder)
    same = copy_of(real_store, tmp_path / "rw-folder")
    os.chmod(folder, 0o555)
    try:
        before = store_files(db)
        drop = as_unprivileged()
        for args in READS:
            proc = ok(run(db, *args, preexec_fn=drop))
            if args[0] != "info":  # which names the path
                assert proc.stdout == ok(run(same, *args)).stdout, args
        for args in WRITES:
            line = fails(run(db, *args, preexec_fn=drop), 1)
            assert "read-only" in line or "readonly" in line, (args, line)
        dry = ["prune", "--older-than", "1d", "--dry-run", "--format", "json"]
        summary = lambda proc: {k: v for k, v in json.loads(proc.stdout).items() if k != "policy"}  # noqa: E731
        assert summary(ok(run(db, *dry, preexec_fn=drop))) == summary(ok(run(same, *dry)))
        new = fails(run(folder / "new.db", *WRITES[0], preexec_fn=drop), 1)
        assert "cannot create" in new and "Permission denied" in new
        assert store_files(db) == before and sorted(p.name for p in folder.iterdir()) == ["audit.db"]
    finally:
        os.chmod(folder, 0o755)


# full disk

@contextmanager
def small_disk(folder: Path, size: str = "2m"):
    folder.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    if proc.returncode:
        pytest.skip(f"cannot mount a small tmpfs here ({proc.stderr.decode().strip()}): see the max_page_count test")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def test_a_full_disk_refuses_cleanly_and_keeps_the_store(tmp_path, real_store, measure):
    """On a 2 MB tmpfs: records until the disk is full, a document larger than the space, an import, an export."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs takes root: see the max_page_count test")
    with small_disk(tmp_path / "disk") as disk:
        db = copy_of(real_store, disk)
        base = count(db)
        big = tmp_path / "big.json"
        big.write_text(json.dumps({"blob": os.urandom(900_000).hex()}))
        line = fails(run(db, "record", "create", "-c", "docs", "-i", "1", "--data", f"@{big}"), 1)
        assert "full" in line, line
        assert integrity(db) == "ok" and count(db) == base
        verifies(db)
        pad = tmp_path / "pad.json"
        pad.write_text(json.dumps({"pad": os.urandom(150_000).hex()}))
        recorded = 0
        for n in range(100):
            proc = run(db, "record", "upload", "-c", "files", "-i", str(n), "--details", f"@{pad}")
            if proc.returncode:
                assert "full" in fails(proc, 1)
                break
            recorded += 1
        else:
            pytest.fail("the disk never filled")
        assert integrity(db) == "ok" and count(db) == base + recorded
        verifies(db)
        # An import that does not fit is refused whole.
        trail = tmp_path / "trail.jsonl"
        trail.write_text("".join(json.dumps({"action": "upload", "timestamp": "2026-01-01T00:00:00Z", "collection": "f",
                                             "item": str(i), "details": {"pad": "x" * 2000}}) + "\n" for i in range(2000)))
        assert "full" in fails(run(db, "import", trail), 1)
        assert count(db) == base + recorded
        assert sorted(p.name for p in disk.iterdir() if not p.name.startswith("audit.db")) == []
        measure("records_until_full", recorded)
        measure("pad_bytes", pad.stat().st_size)


def test_output_to_a_full_disk_is_a_clean_error(tmp_path, real_store):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    for args in (["export"], ["log", "--format", "json"], ["snapshot", "posts", "1"]):
        with open("/dev/full", "wb") as full:
            proc = subprocess.run([str(AUDIT), "--db", str(real_store), *args], stdout=full, stderr=subprocess.PIPE,
                                  env=audit_env(), timeout=60)
        assert proc.returncode == 1, args
        assert "No space left" in error_line(proc.stderr) or "full" in error_line(proc.stderr)
    if os.geteuid() == 0:
        with small_disk(tmp_path / "disk", "16k") as disk:  # the export is 220 KB, 39 KB gzipped
            for name in ("out.jsonl", "out.jsonl.gz"):
                line = fails(run(real_store, "export", "-o", disk / name), 1)
                assert name in line and "No space left" in line, line
                assert list(disk.iterdir()) == []


def test_a_full_store_by_max_page_count_refuses_cleanly(tmp_path, real_store, monkeypatch, cli):
    """The same without root: the store's page limit (PRAGMA max_page_count) set on every connection the CLI opens."""
    from audit_cli.store import connection

    db = copy_of(real_store, tmp_path)
    pages = sqlite3.connect(db).execute("PRAGMA page_count").fetchone()[0]
    prepare = connection._prepare

    def limited(conn, path, *upgrade):
        prepare(conn, path, *upgrade)
        conn.execute(f"PRAGMA max_page_count = {pages + 3}")

    monkeypatch.setattr(connection, "_prepare", limited)
    cli.db_path = db
    base = count(db)
    line = cli.fails("record", "create", "-c", "docs", "-i", "1", "--data", json.dumps({"b": os.urandom(60_000).hex()}),
                     code=1)
    assert "full" in line.strip().splitlines()[-1]
    trail = tmp_path / "trail.jsonl"
    trail.write_text("".join(json.dumps({"action": "upload", "timestamp": "2026-01-01T00:00:00Z", "collection": "f",
                                         "item": str(i), "details": {"pad": "x" * 500}}) + "\n" for i in range(500)))
    assert "full" in cli.fails("import", str(trail), code=1).strip().splitlines()[-1]
    assert count(db) == base
    assert integrity(db) == "ok"
    monkeypatch.setattr(connection, "_prepare", prepare)
    assert cli("verify").stdout.startswith("OK")


# modes

def _under_umask(mask: int):
    def apply():
        os.umask(mask)
    return apply


def test_files_audit_creates_are_owner_only_even_under_umask_0(tmp_path):
    db = tmp_path / "new" / "audit.db"
    loose = _under_umask(0)
    ok(run(db, "record", "create", "-c", "c", "-i", "1", "--data", '{"a": 1}', preexec_fn=loose))
    ok(run(db, "record", "login", "-c", "c", "-i", "1", "--at", "2020-01-01", preexec_fn=loose))
    outputs = [tmp_path / "export.jsonl", tmp_path / "export.jsonl.gz", tmp_path / "anchor.json",
               tmp_path / "archive.jsonl.gz"]
    existing = outputs[0]
    existing.write_text("old")
    os.chmod(existing, 0o644)
    ok(run(db, "export", "-o", outputs[0], preexec_fn=loose))
    ok(run(db, "export", "-o", outputs[1], preexec_fn=loose))
    ok(run(db, "checkpoint", "-o", outputs[2], preexec_fn=loose))
    ok(run(db, "prune", "--older-than", "365d", "--archive", outputs[3], "--yes", preexec_fn=loose))
    for path in [db, *outputs]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path.name}: {oct(path.stat().st_mode)}"
    # While a writer holds the store open its -wal and -shm exist: they are owner-only too.
    holder = subprocess.Popen([sys.executable, "-c", f"""
import sys, time
from audit_cli.store import AuditStore
from audit_cli.models import Activity
s = AuditStore.open({str(db)!r})
s.record(Activity("login", "c", "held", ""))
print("ready", flush=True)
sys.stdin.readline()
"""], stdin=subprocess.PIPE, stdout=subprocess.PIPE, preexec_fn=loose)
    try:
        assert holder.stdout.readline() == b"ready\n"
        for suffix in ("-wal", "-shm"):
            companion = Path(f"{db}{suffix}")
            assert companion.exists() and stat.S_IMODE(companion.stat().st_mode) == 0o600, suffix
    finally:
        holder.communicate(b"\n", timeout=30)


def test_info_warns_when_others_can_read_the_store(tmp_path, cli):
    db = tmp_path / "audit.db"
    ok(run(db, "record", "login", "-c", "c", "-i", "1"))
    assert "warning" not in cli("info").stderr
    for mode in (0o644, 0o640, 0o604, 0o666):
        os.chmod(db, mode)
        warned = cli("info")
        assert "warning" in warned.stderr and "chmod 600" in warned.stderr, (oct(mode), warned.stderr)
        facts = cli.json("info")
        assert facts["readable_by_others"] is True and facts["mode"] == oct(mode)
        assert stat.S_IMODE(db.stat().st_mode) == mode  # info only warns; it changes nothing
    real = ok(run(db, "info"))  # the script too, on stderr
    assert b"warning" in real.stderr and real.stderr.count(b"\n") == 1
