"""SIGKILL at random points: `audit import` (a few thousand lines), `audit record` (a large document), and a
long-running library writer. Afterwards the store opens, PRAGMA integrity_check is ok, `audit verify` passes, each
transaction is all or nothing, and a rerun of the same import completes it.

Kill points are spread over the measured length of the run, with jitter from a seeded RNG (RELIABILITY_SEED changes
it; the seed is in every failure message). Prune kills live in tests/test_prune_crash.py.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lines import activity_lines

from .helpers import (AUDIT, PYTHON, WORKER, audit_env, canonical, connect_ro, count, integrity, make_store,
                      needs_script, ok, rows, run, seed_lines, verifies)

pytestmark = needs_script

SEED = int(os.environ.get("RELIABILITY_SEED", "20261122"))
LINES = 2000
# Where in the run the kills land, as fractions of its measured length: most of an import is parsing and inserting,
# and its commit is at the very end, so the end is sampled more densely.
IMPORT_KILLS = (0.3, 0.55, 0.75, 0.9, 1.0)
RECORD_KILLS = (0.35, 0.55, 0.75, 0.9, 1.0)


def killed(args: list[str], delay: float, env: dict) -> int | None:
    """Start `audit ARGS`, SIGKILL it after `delay` seconds; its exit code if it finished first, else None."""
    proc = subprocess.Popen([str(AUDIT), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        return None
    finally:
        proc.stderr.close()
    return proc.returncode


def timed(args: list[str], env: dict) -> float:
    started = time.monotonic()
    proc = subprocess.run([str(AUDIT), *args], capture_output=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    return time.monotonic() - started


def copy_store(src: Path | None, folder: Path) -> Path:
    folder.mkdir(parents=True)
    db = folder / "audit.db"
    if src is not None:
        for path in src.parent.glob(src.name + "*"):
            shutil.copy2(path, folder / path.name.replace(src.name, "audit.db"))
    return db


def has_schema(db: Path) -> bool:
    conn = connect_ro(db)
    try:
        return conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'activity'").fetchone()[0] == 1
    finally:
        conn.close()


def after_a_crash(db: Path, allowed: set[int], why: str) -> int:
    """The checks every killed store must pass; returns its activity count."""
    if not db.exists() or db.stat().st_size == 0:  # killed before the store was made: nothing was written
        assert 0 in allowed, why
        return 0
    assert integrity(db) == "ok", why
    if not has_schema(db):  # killed while making the store, before its schema committed: an empty SQLite file
        assert 0 in allowed, why
        verifies(db)  # which the next command takes as a new store
        assert has_schema(db), why
        return 0
    found = count(db)
    assert found in allowed, f"{why}: {found} activities, expected one of {sorted(allowed)}"
    verifies(db)
    return found


@pytest.mark.parametrize("into", ["empty store", "existing store"])
def test_killed_import_is_all_or_nothing_and_a_rerun_completes_it(tmp_path, into, measure):
    rng = random.Random(f"{SEED}-import-{into}")
    env = audit_env()
    if into == "empty store":
        # A whole exported chain: into an empty store it keeps its ids and links.
        origin = tmp_path / "origin" / "audit.db"
        origin.parent.mkdir()
        make_store(origin, LINES)
        source = tmp_path / "trail.jsonl"
        ok(run(origin, "export", "-o", source))
        base = None
    else:
        lines = seed_lines(LINES, prefix="imp", collection="imported")
        source = tmp_path / "trail.jsonl"
        source.write_text("".join(json.dumps(line) + "\n" for line in lines))
        (tmp_path / "base").mkdir()
        base = make_store(tmp_path / "base" / "audit.db", 40)
    before = count(base) if base is not None else 0
    # Two kills run at once (2 CPUs); the length is measured alone, and stretched for that below.
    length = timed(["--db", str(copy_store(base, tmp_path / "time")), "import", str(source)], env) * 1.15

    def one(n: int, delay: float) -> str:
        db = copy_store(base, tmp_path / f"kill-{n}")
        why = f"seed {SEED}, kill {n} at {delay:.3f}s of {length:.3f}s"
        code = killed(["--db", str(db), "import", str(source)], delay, env)
        assert code in (None, 0), f"{why}: import exited {code}"
        found = after_a_crash(db, {before, before + LINES}, why)
        outcome = "finished" if code == 0 else ("all" if found == before + LINES else "none")
        # The rerun completes it; the store then holds the whole trail once.
        rerun = ok(run(db, "import", source))
        added = LINES if found == before else 0
        assert f"imported {added} activities".encode() in rerun.stderr, f"{why}: {rerun.stderr.decode()}"
        assert count(db) == before + LINES, why
        assert integrity(db) == "ok", why
        verifies(db)
        return outcome

    with ThreadPoolExecutor(2) as pool:
        delays = [length * fraction * rng.uniform(0.9, 1.1) for fraction in IMPORT_KILLS]  # drawn in order: reproducible
        outcomes = list(pool.map(one, range(len(delays)), delays))

    # Idempotent: once more adds nothing. And into an empty store the chain is the exported one, line for line.
    last = tmp_path / f"kill-{len(IMPORT_KILLS) - 1}" / "audit.db"
    again = ok(run(last, "import", source))
    assert b"imported 0 activities" in again.stderr
    assert count(last) == before + LINES
    if into == "empty store":
        exported = activity_lines(source.read_bytes())
        stored = rows(last)
        assert [(r["id"], r["hash"]) for r in stored] == [(x["id"], x["hash"]) for x in exported]
    measure("import_seconds", round(length, 2))
    measure("kills", len(outcomes))
    measure("outcomes", {k: outcomes.count(k) for k in ("none", "all", "finished")})


def test_killed_record_of_a_large_document_is_all_or_nothing(tmp_path, measure):
    rng = random.Random(f"{SEED}-record")
    env = audit_env()
    base = make_store(tmp_path / "base.db", 20)
    ok(run(base, "record", "create", "-c", "docs", "-i", "big", "--data", '{"v": 0}'))
    before = count(base)
    doc = {"v": 1, "rows": [{"id": i, "name": f"row {i}", "tags": ["a", "b"], "score": i / 7} for i in range(20_000)]}
    source = tmp_path / "doc.json"
    source.write_text(json.dumps(doc))
    args = ["record", "update", "-c", "docs", "-i", "big", "--data", f"@{source}"]
    length = timed(["--db", str(copy_store(base, tmp_path / "time")), *args], env) * 1.15

    def one(n: int, delay: float) -> str:
        db = copy_store(base, tmp_path / f"kill-{n}")
        why = f"seed {SEED}, kill {n} at {delay:.3f}s of {length:.3f}s"
        code = killed(["--db", str(db), *args], delay, env)
        assert code in (None, 0), why
        found = after_a_crash(db, {before, before + 1}, why)
        snapshot = json.loads(ok(run(db, "snapshot", "docs", "big")).stdout)
        if found == before + 1:
            assert canonical(snapshot) == canonical(doc), why
            return "finished" if code == 0 else "all"
        assert snapshot == {"v": 0}, why
        # Nothing half-written: the store takes the same record afterwards.
        ok(run(db, *args))
        verifies(db)
        return "none"

    with ThreadPoolExecutor(2) as pool:
        delays = [length * fraction * rng.uniform(0.9, 1.1) for fraction in RECORD_KILLS]
        outcomes = list(pool.map(one, range(len(delays)), delays))
    measure("record_seconds", round(length, 2))
    measure("document_bytes", source.stat().st_size)
    measure("outcomes", {k: outcomes.count(k) for k in ("none", "all", "finished")})


def test_killed_writer_loses_nothing_it_was_told_was_committed(tmp_path, measure):
    """A long-running writer (one store open, a record per transaction) killed mid-loop: every activity whose commit
    returned is there, with the id it was given, and at most the one in flight is beyond them."""
    rng = random.Random(f"{SEED}-loop")
    base = make_store(tmp_path / "base.db", 20)
    ok(run(base, "record", "create", "-c", "shared", "-i", "all", "--data", "{}"))
    before = count(base)
    kept = []
    for n in range(3):
        db = copy_store(base, tmp_path / f"loop-{n}")
        go = tmp_path / f"go-{n}"
        go.touch()
        written = tmp_path / f"told-{n}.jsonl"
        proc = subprocess.Popen([PYTHON, str(WORKER), "record", str(db), "0", "1000000", str(go), str(written)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=audit_env())
        time.sleep(rng.uniform(0.6, 1.5))
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        told = [json.loads(line) for line in written.read_bytes().splitlines() if line.endswith(b"}")]
        why = f"seed {SEED}, loop {n}: told {len(told)}"
        assert told, why
        found = after_a_crash(db, {before + len(told), before + len(told) + 1}, why)
        stored = {r["id"]: json.loads(r["details"]).get("marker") for r in rows(db) if r["details"]}
        assert all(stored.get(t["id"]) == t["marker"] for t in told), why
        kept.append(found - before)
    measure("committed_before_kill", kept)
