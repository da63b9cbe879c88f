"""Helpers for the reliability suite: real `audit` subprocesses, raw looks at the store file, error-shape checks.

Everything here reads the store through plain sqlite3 (read-only) or through the installed console script, never
through the code under test's own reading paths, so that a bug there cannot hide a bug in what was written.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

AUDIT = Path(sys.executable).parent / "audit"
PYTHON = sys.executable
HERE = Path(__file__).parent
WORKER = HERE / "_worker.py"
SQL = "'; DROP TABLE activity; --"

needs_script = pytest.mark.skipif(not AUDIT.exists(), reason=f"no console script at {AUDIT}: install the package")


def audit_env(db: Path | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUDIT_", "XDG_"))}
    env.update(AUDIT_USER="rel-bot", NO_COLOR="1", COLUMNS="200")
    if db is not None:
        env["AUDIT_DB"] = str(db)
    env.update(extra)
    return env


def run(db: Path, *args: Any, input: bytes | str | None = None, timeout: float = 120, env: dict | None = None,
        stdin=None, preexec_fn=None) -> subprocess.CompletedProcess:
    """`audit --db DB ARGS...` as a real process; stdout and stderr as bytes."""
    if isinstance(input, str):
        input = input.encode()
    return subprocess.run([str(AUDIT), "--db", str(db), *map(str, args)], input=input, stdin=stdin,
                          capture_output=True, timeout=timeout, env=env or audit_env(), preexec_fn=preexec_fn)


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"{proc.args[3:]} exited {proc.returncode}: {proc.stderr.decode(errors='replace')}"
    assert b"Traceback" not in proc.stderr
    return proc


def error_line(stderr: bytes | str) -> str:
    """The one error line an `audit` failure must end with: printable, no traceback; returned for message checks."""
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    assert "Traceback" not in text, text[-3000:]
    lines = text.strip().splitlines()
    assert lines, "no error message on stderr"
    last = lines[-1]
    assert last.startswith(("audit: error: ", "Error: ")), text[-3000:]
    if last.startswith("audit: error: "):
        # The error is the whole of stderr (Typer's usage line may precede only its own "Error:" lines).
        assert len(lines) == 1, f"the error takes {len(lines)} lines:\n{text[-3000:]}"
    assert last.isprintable(), f"the error line holds unprintable characters: {last[:300]!r}"
    return last


def fails(proc: subprocess.CompletedProcess, code: int) -> str:
    assert proc.returncode == code, (
        f"expected exit {code}, got {proc.returncode}: {proc.stderr.decode(errors='replace')[-3000:]}")
    return error_line(proc.stderr)


def refused(result, code: int) -> str:
    """A CliRunner result that failed cleanly: the exit code, no exception escaped, one error line."""
    assert result.exit_code == code, f"exit {result.exit_code}, expected {code}:\n{result.output[-2000:]}"
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return error_line(result.stderr)


def connect_ro(db: Path) -> sqlite3.Connection:
    # Read-only, but not immutable: a WAL left behind by a killed writer must be read (and recovered).
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db, timeout=30)  # read-write: recovering a hot WAL needs it
    try:
        return "; ".join(row[0] for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def count(db: Path) -> int:
    conn = connect_ro(db)
    try:
        return conn.execute("SELECT count(*) FROM activity").fetchone()[0]
    finally:
        conn.close()


def rows(db: Path) -> list[dict[str, Any]]:
    conn = connect_ro(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM activity ORDER BY id")]
    finally:
        conn.close()


def markers(db: Path) -> list[str]:
    """The `marker` of every activity's details, in id order (None where there is none)."""
    found = []
    for row in rows(db):
        details = json.loads(row["details"]) if row["details"] else None
        found.append(details.get("marker") if isinstance(details, dict) else None)
    return found


def verifies(db: Path, *extra: str) -> str:
    proc = run(db, "verify", *extra)
    assert proc.returncode == 0, f"verify exited {proc.returncode}: {proc.stdout.decode()} {proc.stderr.decode()}"
    assert proc.stdout.startswith(b"OK"), proc.stdout
    return proc.stdout.decode().strip()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def store_files(db: Path) -> dict[str, str]:
    """The digests of the store and its -wal/-shm companions, to prove an operation left them alone."""
    return {p.name: digest(p) for p in sorted(db.parent.glob(db.name + "*")) if p.is_file()}


def canonical(value: Any) -> str:
    """Strict JSON identity: keys sorted, but 1, 1.0 and true kept apart, and integers exact."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def make_store(db: Path, lines: int = 50, *, collection: str = "posts") -> Path:
    """A small real store (creates and updates with revisions, logins), built through the CLI's import."""
    source = db.parent / f"{db.stem}-seed.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in seed_lines(lines, collection=collection)))
    ok(run(db, "import", source))
    return db


def seed_lines(n: int, *, collection: str = "posts", prefix: str = "seed", items: int = 10,
               year: int = 2026) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        action = "create" if i < items else ("update" if i % 3 else "login")
        line: dict[str, Any] = {
            "schema": "audit/1", "action": action, "collection": collection, "item": str(i % items),
            "timestamp": f"{year}-01-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1_000_000:06d}Z",
            "user": f"user{i % 7}", "details": {"marker": f"{prefix}-{i}"},
        }
        if action != "login":
            line["revision"] = {"data": {"title": f"title {i}", "n": i, "body": "lorem ipsum " * 15}}
        out.append(line)
    return out


# Dropping privileges: as root, file modes do not stop writes. Running the child without CAP_DAC_OVERRIDE (and its
# read/owner cousins) makes the kernel apply the modes to it, while it stays uid 0 and can still run this Python.
_PR_CAPBSET_DROP = 24
_DAC_CAPS = (1, 2, 3)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER


def _drop_dac() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in _DAC_CAPS:
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def as_unprivileged():
    """A preexec_fn that makes file modes bind the child even when the tests run as root (None when not root)."""
    return _drop_dac if os.geteuid() == 0 else None


def can_drop_privileges() -> bool:
    if os.geteuid() != 0:
        return True
    try:
        subprocess.run(["true"], preexec_fn=_drop_dac, check=True)
    except (OSError, subprocess.SubprocessError):
        return False
    return True
