"""Many processes writing one store at once, with readers and a prune running beside them.

Writers are separate processes (one store open each, through the library, as a long-running service would hold it)
plus `audit record` CLI processes; readers are `audit log`, `audit export` and `audit verify` processes in loops.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

from lines import activity_lines

from .helpers import (PYTHON, WORKER, audit_env, count, integrity, needs_script, ok, rows, run, seed_lines,
                      verifies)

pytestmark = needs_script

WORKERS = 8
PER_WORKER = 500
CLI_WRITERS = 2
PER_CLI_WRITER = 4
READER_PAUSE = 0.5  # between a reader's runs: readers are there to be concurrent, not to starve 2 CPUs


def start_workers(db: Path, go: Path, workers: int, per_worker: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([PYTHON, str(WORKER), "record", str(db), str(w), str(per_worker), str(go)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=audit_env())
            for w in range(workers)]


def finish_workers(procs: list[subprocess.Popen]) -> dict[str, int]:
    """Wait for the workers; every one must succeed. Returns marker -> id as each worker was told."""
    told: dict[str, int] = {}
    for proc in procs:
        out, err = proc.communicate(timeout=150)
        assert proc.returncode == 0, err.decode()[-3000:]
        assert err == b"", err.decode()[-3000:]
        for line in out.splitlines():
            entry = json.loads(line)
            assert entry["marker"] not in told
            told[entry["marker"]] = entry["id"]
    return told


class Loop(threading.Thread):
    """Runs `step(n)` again and again until stopped; keeps each result (and how long it took)."""

    def __init__(self, step, stop: threading.Event, limit: int | None = None, pause: float = 0.0):
        super().__init__(daemon=True)
        self.step, self.stop, self.limit, self.pause = step, stop, limit, pause
        self.results: list = []
        self.error: BaseException | None = None

    def run(self) -> None:
        n = 0
        try:
            while not self.stop.is_set() and (self.limit is None or n < self.limit):
                started = time.monotonic()
                outcome = self.step(n)
                self.results.append((time.monotonic() - started, outcome))
                n += 1
                self.stop.wait(self.pause)
        except BaseException as exc:  # surfaced by the test
            self.error = exc


def test_eight_writers_cli_writers_and_readers_lose_nothing(tmp_path, measure):
    db = tmp_path / "audit.db"
    go = tmp_path / "go"
    ok(run(db, "record", "create", "-c", "shared", "-i", "all", "--data", '{"origin": "setup"}'))
    procs = start_workers(db, go, WORKERS, PER_WORKER)
    stop = threading.Event()

    def cli_writer(k: int):
        def step(n: int):
            proc = run(db, "record", "login", "-c", "cli", "-i", str(k), "--user", f"cli{k}",
                       "--details", json.dumps({"marker": f"cli{k}-{n}"}))
            return proc.returncode, proc.stdout, proc.stderr
        return step

    def log_step(n: int):
        proc = run(db, "log", "--format", "jsonl", "--limit", "-1", "--sort", "id", "--fields", "id,timestamp")
        return proc.returncode, proc.stdout, proc.stderr

    def export_step(n: int):
        target = tmp_path / f"mid-{n}.jsonl"
        proc = run(db, "export", "-o", target)
        return proc.returncode, target, proc.stderr

    def verify_step(n: int):
        proc = run(db, "verify")
        return proc.returncode, proc.stdout, proc.stderr

    wal = Path(f"{db}-wal")
    wal_sizes = [0]

    def wal_step(n: int):
        wal_sizes.append(wal.stat().st_size if wal.exists() else 0)
        return 0, b"", b""

    def midway_step(n: int):
        # One export taken for certain while the workers write: once a third of their records are in.
        deadline = time.monotonic() + 120
        while count(db) < 1 + WORKERS * PER_WORKER // 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        return export_step(1000 + n)

    writers = [Loop(cli_writer(k), threading.Event(), limit=PER_CLI_WRITER) for k in range(CLI_WRITERS)]
    writers.append(Loop(midway_step, threading.Event(), limit=1))
    readers = [Loop(log_step, stop, pause=READER_PAUSE), Loop(export_step, stop, pause=READER_PAUSE),
               Loop(verify_step, stop, pause=READER_PAUSE), Loop(wal_step, stop, pause=0.05)]
    started = time.monotonic()
    go.touch()
    for thread in writers + readers:
        thread.start()
    told = finish_workers(procs)
    worker_time = time.monotonic() - started
    for thread in writers:
        thread.join(timeout=150)
    write_time = time.monotonic() - started
    stop.set()
    for thread in readers:
        thread.join(timeout=150)
    for thread in writers + readers:
        assert thread.error is None, thread.error

    # Every CLI write and every read succeeded, without a traceback or a lock error.
    for thread in writers + readers[:3]:
        for _, (code, _, err) in thread.results:
            assert code == 0, err.decode()[-2000:]
            assert b"Traceback" not in err and b"locked" not in err and b"busy" not in err

    # Count, uniqueness, order: nothing lost, nothing doubled.
    stored = rows(db)
    expected = 1 + WORKERS * PER_WORKER + CLI_WRITERS * PER_CLI_WRITER
    assert len(stored) == count(db) == expected
    ids = [r["id"] for r in stored]
    assert ids == list(range(1, expected + 1))
    stamps = [r["timestamp"] for r in stored]
    assert stamps == sorted(stamps), "a later id carries an earlier timestamp"
    by_marker: dict[str, int] = {}
    for r in stored:
        details = json.loads(r["details"]) if r["details"] else {}
        if "marker" in details:
            assert details["marker"] not in by_marker, f"{details['marker']} stored twice"
            by_marker[details["marker"]] = r["id"]
    for marker, activity_id in told.items():
        assert by_marker.get(marker) == activity_id, f"{marker}: worker was told {activity_id}"
    assert len(told) == WORKERS * PER_WORKER
    assert {m for m in by_marker if m.startswith("cli")} == {
        f"cli{k}-{n}" for k in range(CLI_WRITERS) for n in range(PER_CLI_WRITER)}

    # No lost update: every worker's last merge onto the shared item is in its final state, and every merge made
    # a revision.
    shared = json.loads(ok(run(db, "snapshot", "shared", "all")).stdout)
    last_shared = max(i for i in range(PER_WORKER) if i % 4 == 1)
    assert shared == {"origin": "setup", **{f"w{w}": last_shared for w in range(WORKERS)}}
    final_export = tmp_path / "final.jsonl"
    ok(run(db, "export", "-o", final_export))
    states: dict[tuple[str, str], list] = {}
    for entry in activity_lines(final_export.read_bytes()):
        if entry["revision"] is not None:
            states.setdefault((entry["collection"], entry["item"]), []).append(entry["revision"]["data"])
    assert len(states["shared", "all"]) == 1 + WORKERS * len([i for i in range(PER_WORKER) if i % 4 == 1])
    last_own = max(i for i in range(PER_WORKER) if i % 4 == 2)
    for w in range(WORKERS):
        assert states["own", f"w{w}"][-1] == {"worker": w, "seq": last_own}

    assert integrity(db) == "ok"
    verifies(db)

    # Readers always saw a consistent prefix: ids 1..n with no hole, exactly as finally stored.
    final = {r["id"]: r for r in stored}
    seen_sizes = []
    for _, (_, out, _) in readers[0].results:
        listed = [json.loads(line) for line in out.splitlines()]
        assert [r["id"] for r in listed] == list(range(1, len(listed) + 1))
        assert all(r["timestamp"] == final[r["id"]]["timestamp"] for r in listed)
        seen_sizes.append(len(listed))
    assert seen_sizes == sorted(seen_sizes), "a later log saw fewer activities than an earlier one"
    exports = []
    for _, (_, target, _) in readers[1].results + writers[-1].results:
        lines = activity_lines(target.read_bytes())
        assert [x["id"] for x in lines] == list(range(1, len(lines) + 1))
        assert all(x["hash"] == final[x["id"]]["hash"] for x in lines)
        exports.append((len(lines), target))
    for _, (_, out, _) in readers[2].results:
        assert out.startswith(b"OK")
    (_, (_, target, _)), = writers[-1].results
    size = len(activity_lines(target.read_bytes()))
    assert 1 < size < expected, f"the midway export saw {size} of {expected}"
    assert f"OK: {size} activities" in verifies(db, target)

    log_waits = [t for t, _ in readers[0].results]
    measure("writes", expected)
    measure("write_seconds", round(write_time, 2))
    measure("worker_records_per_second", round(WORKERS * PER_WORKER / worker_time))
    measure("reads", {"log": len(readers[0].results), "export": len(readers[1].results),
                              "verify": len(readers[2].results)})
    measure("slowest_log_seconds", round(max(log_waits), 2))
    measure("export_sizes_seen", sorted({e[0] for e in exports}))
    measure("midway_export_size", size)
    measure("max_wal_bytes", max(wal_sizes))
    measure("store_bytes", db.stat().st_size)
    assert max(log_waits) < 15, "a reader waited as long as the busy timeout"


def test_prune_during_writes_leaves_a_verifying_store(tmp_path, measure):
    db = tmp_path / "audit.db"
    go = tmp_path / "go"
    # Old activity for the prune to remove (logins of 2020, and an item with many old revisions).
    old = seed_lines(1200, collection="old", prefix="old", year=2020)
    source = tmp_path / "old.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in old))
    ok(run(db, "import", source))
    ok(run(db, "record", "create", "-c", "shared", "-i", "all", "--data", '{"origin": "setup"}'))
    before = count(db)
    procs = start_workers(db, go, 4, 300)
    go.touch()
    started = time.monotonic()
    pruned = []
    for args in (["--older-than", "365d"], ["--keep-revisions", "2", "-c", "shared"], ["--older-than", "365d"]):
        proc = run(db, "prune", *args, "--yes", "--format", "json")
        ok(proc)
        pruned.append(json.loads(proc.stdout))
    told = finish_workers(procs)
    elapsed = time.monotonic() - started

    assert integrity(db) == "ok"
    verifies(db)
    stored = rows(db)
    ids = [r["id"] for r in stored]
    assert ids == sorted(set(ids))
    kept = {}
    for r in stored:
        details = json.loads(r["details"]) if r["details"] else None
        if isinstance(details, dict) and "marker" in details:
            assert details["marker"] not in kept
            kept[details["marker"]] = r["id"]
    # Every new activity is there once, with the id its writer was told; the old logins are gone.
    assert all(kept.get(marker) == activity_id for marker, activity_id in told.items())
    old_kept = [m for m in kept if m.startswith("old-")]
    removed = sum(p["activities"] for p in pruned)
    prunes = sum(1 for r in stored if r["action"] == "prune")
    assert removed > 0 and prunes == sum(1 for p in pruned if p["activities"] or p["revisions"])
    assert len(stored) == before + len(told) - removed + prunes
    # What stays of the old trail is only each item's newest revision, which a prune never removes.
    assert len(old_kept) == 10
    measure("pruned_activities", removed)
    measure("pruned_revisions", sum(p["revisions"] for p in pruned))
    measure("concurrent_writes", len(told))
    measure("seconds", round(elapsed, 2))
