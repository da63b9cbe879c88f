"""How fast `audit prune --older-than 300d --yes` removes 25% of a 1,000,000-activity store, end to end.

The issue's target: pruning 25% of a 1,000,000-activity store by age in under 10 s, with WAL size and peak memory
reported, and `audit log` answering during the prune.

The store (built once, cached as bench/data/prune-<rows>.db with a .json sidecar; --rebuild to rebuild):
- 1,000,000 activities spread evenly over 400 days ending at the build moment: ~60% `update`s of items holding
  ~500 B JSON documents, 6% `create`s, 1% `delete`s, the rest login / logout / comment / publish; 20,000 items over 5
  collections (--items);
- revisions packed exactly as the store packs them (codec.pack against a base snapshot of the same item, re-based by
  codec.worth_rebasing), deltas from patches.diff;
- built fast: the real `AuditStore.open(create=True)` for the schema, executemany straight into `activity`,
  `revisions` and `bases` with the activity indexes dropped and rebuilt after, then the store's own
  `transfers.rechain(0, chain.GENESIS)` in one transaction, so every hash is the one the real insert path writes.

Each measured run works on a fresh copy of the cached store (bench/data/prune-run.db), page cache warm:
1. idle latency of `audit log --limit 5` (a subprocess, 5 runs);
2. `audit prune --older-than <the duration that is 300 days at build time> --yes --format json` as a subprocess,
   while one thread samples the -wal file's size every 5 ms and another runs `audit log --limit 5` back to back as
   its own subprocess; reports seconds, rows/s (activities removed), peak WAL, peak RSS of the prune process
   (its VmHWM, sampled from /proc), and the log latencies during the prune (max, median, count);
3. then `audit verify` on the pruned store (must pass; timed), and the same prune again on a fresh copy with no
   `audit log` probing alongside (on a small machine the prober's start-ups compete for the CPU; --no-quiet skips);
4. baselines on another fresh copy, each in its own subprocess: a bare `DELETE FROM activity WHERE timestamp < ?`
   (one transaction), and that plus the matching revisions (what a naive prune would do), with their peak WAL and
   RSS too.

Run:  /tmp/venv/bin/python bench/bench_prune.py                  # build if missing (~2-3 min), then measure
      /tmp/venv/bin/python bench/bench_prune.py --rows 100000    # quick check
      /tmp/venv/bin/python bench/bench_prune.py --rebuild --runs 3
Hand-run only; asserts nothing; prints its results (bench/RESULTS.md is edited by hand).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from audit_cli import chain, jsontext, patches, timeparse
from audit_cli.store import AuditStore, codec

DATA = Path(__file__).resolve().parent / "data"
AUDIT = [sys.executable, "-m", "audit_cli"]
TARGET_SECONDS = 10.0
SPAN_DAYS = 400
AGE_DAYS = 300  # older than this: the first 100 of 400 days, 25%
COLLECTIONS = ["articles", "pages", "products", "authors", "media"]
USERS = [f"user{n:02d}" for n in range(20)]
MIX = {"update": 60, "create": 6, "delete": 1, "login": 14, "logout": 7, "comment": 6, "publish": 6}
STATUSES = ["draft", "review", "published", "archived"]
WORDS = ("the a of and to in is for on with as by at from this that it be are was or an new data page user item "
         "review update release audit store history change draft edit version content team product price order "
         "customer report launch plan market design build test deploy server client request response query").split()
COLUMNS = ("id", "action", "user", "timestamp", "ip", "user_agent", "origin", "collection", "item", "comment",
           "details", "edited_on", "comment_deleted_on", "key", "prev_hash", "hash")


# building the store


def words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choices(WORDS, k=count))


def new_document(rng: random.Random, n: int, when: str) -> dict:
    title = words(rng, 6).title()
    return {"id": n, "status": "draft", "title": title, "slug": title.lower().replace(" ", "-"),
            "author": rng.choice(USERS), "body": ". ".join(words(rng, 12).capitalize() for _ in range(3)) + ".",
            "tags": rng.sample(["news", "guide", "release", "howto", "opinion", "product"], 3),
            "meta": {"views": 0, "featured": False}, "date_created": when, "date_updated": when}


def edit(rng: random.Random, doc: dict, when: str) -> dict:
    after = {**doc, "meta": dict(doc["meta"]), "date_updated": when}
    kind = rng.randrange(3)
    if kind == 0:
        after["status"] = rng.choice(STATUSES)
    elif kind == 1:
        after["meta"]["views"] += rng.randrange(1, 500)
    else:
        title = after["title"].split()
        title[rng.randrange(len(title))] = rng.choice(WORDS).title()
        after["title"] = " ".join(title)
    return after


def events(count: int, items: int, seed: int, end: datetime):
    """(fields, revision or None) in id order; revision is (data, delta)."""
    rng = random.Random(seed)
    start = end - timedelta(days=SPAN_DAYS)
    step = timedelta(days=SPAN_DAYS) / count
    names = list(MIX)
    actions = rng.choices(names, weights=[MIX[n] for n in names], k=count)
    pool = [(rng.choice(COLLECTIONS), str(n)) for n in range(1, items + 1)]
    state: dict[tuple[str, str], dict] = {}
    live: list[tuple[str, str]] = []
    created = 0
    for n in range(count):
        action = actions[n]
        when = timeparse.format_ts(start + step * n)
        user = rng.choice(USERS)
        fields = {"action": action, "user": user, "timestamp": when, "ip": f"10.0.{n % 200}.{n % 250 + 1}",
                  "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0", "origin": "https://cms.example.com"}
        if action in ("update", "delete", "comment", "publish") and len(live) < 50:
            action = "create"
        if action == "create" and created >= items:
            action = "update"
        fields["action"] = action
        if action == "create":
            target = pool[created]
            created += 1
            doc = new_document(rng, created, when)
            state[target] = doc
            live.append(target)
            fields.update(collection=target[0], item=target[1])
            yield fields, (doc, patches.diff({}, doc))
        elif action in ("update", "delete"):
            index = rng.randrange(len(live))
            target = live[index]
            fields.update(collection=target[0], item=target[1])
            before = state[target]
            if action == "delete":
                live[index] = live[-1]
                live.pop()
                del state[target]
                yield fields, (before, [])
            else:
                after = edit(rng, before, when)
                state[target] = after
                yield fields, (after, patches.diff(before, after))
        elif action in ("login", "logout"):
            fields.update(collection="directus_users", item=user)
            yield fields, None
        elif action == "comment":
            target = rng.choice(live)
            fields.update(collection=target[0], item=target[1], comment=f"Check paragraph {rng.randrange(1, 9)}.")
            yield fields, None
        else:
            target = rng.choice(live)
            fields.update(collection=target[0], item=target[1])
            yield fields, None


def build(path: Path, count: int, items: int) -> dict:
    for p in DATA.glob(path.name + "*"):
        p.unlink()
    tmp = path.with_suffix(".building")
    for p in DATA.glob(tmp.name + "*"):
        p.unlink()
    started = time.perf_counter()
    end = timeparse.utcnow()
    store = AuditStore.open(tmp, create=True)
    conn = store.conn
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'activity' "
                           "AND sql IS NOT NULL").fetchall()
    conn.execute("BEGIN IMMEDIATE")
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    bases: dict[tuple[str, str], tuple[int, bytes, int]] = {}
    next_base = 1
    activity, revisions, new_bases = [], [], []

    def flush():
        conn.executemany(f"INSERT INTO activity ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                         activity)
        conn.executemany("INSERT INTO bases (id, body) VALUES (?, ?)", new_bases)
        conn.executemany("INSERT INTO revisions (activity, collection, item, version, base, data, delta) "
                         "VALUES (?, ?, ?, NULL, ?, ?, ?)", revisions)
        activity.clear(), revisions.clear(), new_bases.clear()

    for n, (fields, revision) in enumerate(events(count, items, 20261122, end), 1):
        activity.append((n, *(fields.get(name) for name in COLUMNS[1:13]), None, "", ""))
        if revision is not None:
            data, delta = revision
            text = jsontext.dumps(data).encode()
            target = (fields["collection"], fields["item"])
            base = bases.get(target) if fields["action"] != "create" else None
            packed = codec.pack(text, base[1]) if base else None
            if base is None or codec.worth_rebasing(packed, base[2]):
                body = codec.pack_base(text)
                base = bases[target] = (next_base, text, len(body))
                new_bases.append((next_base, body))
                next_base += 1
                packed = codec.pack(text, text)
            revisions.append((n, fields["collection"], fields["item"], base[0], packed, jsontext.dumps(delta)))
        if len(activity) >= 50_000:
            flush()
    flush()
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("INSERT OR REPLACE INTO sqlite_sequence (name, seq) VALUES ('activity', ?)", [count])
    conn.execute("COMMIT")
    print(f"  inserted in {time.perf_counter() - started:.1f} s; rechaining...", flush=True)
    with store._writing():  # the hashes the real insert path would have written
        store.transfers.rechain(0, chain.GENESIS)
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    tmp.rename(path)
    meta = {"rows": count, "items": items, "end": timeparse.format_ts(end),
            "cutoff": timeparse.format_ts(end - timedelta(days=AGE_DAYS))}
    Path(f"{path}.json").write_text(json.dumps(meta))
    with sqlite3.connect(path) as check:
        revs, nbases = (check.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("revisions", "bases"))
    print(f"built {path.name}: {count:,} activities, {revs:,} revisions, {nbases:,} bases, "
          f"{path.stat().st_size / 1e6:.0f} MB, in {time.perf_counter() - started:.1f} s")
    return meta


# measuring


def fresh_copy(source: Path, name: str) -> Path:
    target = DATA / name
    for p in DATA.glob(name + "*"):
        p.unlink()
    shutil.copyfile(source, target)
    os.chmod(target, 0o600)
    # flush the copy now: otherwise the first checkpoint's fsync inside the measured run writes back the whole file
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return target


def env() -> dict[str, str]:
    values = dict(os.environ)
    values.pop("AUDIT_CHAIN_KEY", None)
    values.pop("PYTHONDONTWRITEBYTECODE", None)
    values["PYTHONPYCACHEPREFIX"] = str(DATA / "pycache")
    values["NO_COLOR"] = "1"
    return values


class WalSampler(threading.Thread):
    """Samples the -wal file's size, and the watched process's VmHWM (its own peak RSS), every 5 ms.

    (os.wait4's ru_maxrss is not used: a child forked from this process, which holds the store it built, inherits
    this process's high-water mark across fork and exec.)"""

    def __init__(self, db: Path):
        super().__init__(daemon=True)
        self.wal = Path(f"{db}-wal")
        self.peak = 0
        self.pid: int | None = None
        self.hwm = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, self.wal.stat().st_size)
            except FileNotFoundError:
                pass
            if self.pid is not None:
                try:
                    with open(f"/proc/{self.pid}/status") as status:
                        for line in status:
                            if line.startswith("VmHWM:"):
                                self.hwm = max(self.hwm, int(line.split()[1]) * 1024)
                                break
                except (FileNotFoundError, ProcessLookupError, ValueError):
                    pass
            time.sleep(0.005)


class LogProber(threading.Thread):
    """Runs `audit log --limit 5` back to back until stopped; keeps each one's latency and exit code."""

    def __init__(self, db: Path):
        super().__init__(daemon=True)
        self.db = db
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            done = subprocess.run([*AUDIT, "--db", str(self.db), "log", "--limit", "5", "--format", "jsonl"],
                                  capture_output=True, text=True, env=env())
            self.latencies.append(time.perf_counter() - started)
            if done.returncode != 0 or done.stdout.count("\n") != 5:
                self.failures.append(f"exit {done.returncode}: {done.stderr.strip()[:120]}")


def run_measured(argv: list[str], db: Path, probe: bool) -> dict:
    """Run argv as a subprocess, sampling the WAL and (optionally) probing `audit log` meanwhile."""
    sampler = WalSampler(db)
    prober = LogProber(db) if probe else None
    sampler.start()
    if prober:
        prober.start()
        time.sleep(0.3)  # let the prober get going
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
    sampler.pid = child.pid
    out, err = child.communicate()
    elapsed = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    result = {"seconds": elapsed, "exit": child.returncode, "peak_wal": sampler.peak,
              "peak_rss": sampler.hwm, "stdout": out.decode(), "stderr": err.decode()}
    if prober:
        prober.stop.set()
        prober.join()
        result["log"] = prober.latencies
        result["log_failures"] = prober.failures
    return result


BASELINE = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA synchronous = NORMAL")
conn.execute("BEGIN IMMEDIATE")
if sys.argv[3] == "with-revisions":
    conn.execute("DELETE FROM revisions WHERE activity IN (SELECT id FROM activity WHERE timestamp < ?)", [sys.argv[2]])
n = conn.execute("DELETE FROM activity WHERE timestamp < ?", [sys.argv[2]]).rowcount
conn.execute("COMMIT")
print(n)
"""


def mb(size: float) -> str:
    return f"{size / 1e6:.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=1, help="measured prune runs, each on a fresh copy")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--no-verify", action="store_true", help="skip `audit verify` after the prune")
    parser.add_argument("--no-quiet", action="store_true",
                        help="skip the extra prune run without `audit log` probing alongside (its CPU competes)")
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)

    source = DATA / f"prune-{args.rows}.db"
    meta_path = Path(f"{source}.json")
    if args.rebuild or not source.exists() or not meta_path.exists():
        meta = build(source, args.rows, args.items)
    else:
        meta = json.loads(meta_path.read_text())
        print(f"using {source.name} (built for {meta['end']}; --rebuild to rebuild)")
    cutoff = meta["cutoff"]
    # the duration that is AGE_DAYS at build time, so that a cached store still loses exactly its first quarter
    seconds_old = int((timeparse.utcnow() - timeparse.parse_time(cutoff)).total_seconds())
    duration = f"{seconds_old}s"
    with sqlite3.connect(source) as conn:
        total, revisions = (conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("activity", "revisions"))
        old = conn.execute("SELECT count(*) FROM activity WHERE timestamp < ?", [cutoff]).fetchone()[0]
    print(f"store: {total:,} activities, {revisions:,} revisions, {source.stat().st_size / 1e6:.0f} MB; "
          f"older than {AGE_DAYS}d at build time ({duration} now): {old:,} activities ({old / total:.1%})")
    print(f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs")

    # idle log latency
    db = fresh_copy(source, "prune-run.db")
    idle = []
    for n in range(6):
        started = time.perf_counter()
        subprocess.run([*AUDIT, "--db", str(db), "log", "--limit", "5"], capture_output=True, env=env(), check=True)
        if n:
            idle.append(time.perf_counter() - started)
    print(f"\n`audit log --limit 5`, idle: median {statistics.median(idle) * 1000:.0f} ms, "
          f"max {max(idle) * 1000:.0f} ms")

    for run in range(args.runs):
        if run:
            db = fresh_copy(source, "prune-run.db")
        size_before = db.stat().st_size
        result = run_measured([*AUDIT, "--db", str(db), "prune", "--older-than", duration, "--yes",
                               "--format", "json"], db, probe=True)
        if result["exit"] != 0:
            print(f"prune failed: exit {result['exit']}: {result['stderr'].strip()[-400:]}")
            return
        summary = json.loads(result["stdout"])
        removed = summary["activities"]
        log = result["log"]
        verdict = "under" if result["seconds"] < TARGET_SECONDS else "OVER"
        print(f"\nrun {run + 1}: `audit prune --older-than {duration} --yes` (= {AGE_DAYS}d at build time)")
        print(f"  removed {removed:,} activities and {summary['revisions']:,} revisions "
              f"({removed / total:.1%} of activity)")
        print(f"  time          {result['seconds']:.2f} s ({verdict} the {TARGET_SECONDS:.0f} s target), "
              f"{removed / result['seconds']:,.0f} activities/s")
        print(f"  peak WAL      {mb(result['peak_wal'])}")
        print(f"  peak RSS      {mb(result['peak_rss'])} (the prune process)")
        print(f"  audit log --limit 5 during the prune: {len(log)} runs, median "
              f"{statistics.median(log) * 1000:.0f} ms, max {max(log) * 1000:.0f} ms"
              + (f", {len(result['log_failures'])} failed: {result['log_failures'][0]}" if result["log_failures"]
                 else ", all answered 5 rows"))
        print(f"  file size     {mb(size_before)} before, {mb(db.stat().st_size)} after (no --vacuum)")
        if not args.no_verify:
            started = time.perf_counter()
            verified = subprocess.run([*AUDIT, "--db", str(db), "verify"], capture_output=True, text=True, env=env())
            print(f"  audit verify  exit {verified.returncode} in {time.perf_counter() - started:.1f} s: "
                  f"{verified.stdout.strip()[:160]}")

    if not args.no_quiet:
        db = fresh_copy(source, "prune-run.db")
        result = run_measured([*AUDIT, "--db", str(db), "prune", "--older-than", duration, "--yes",
                               "--format", "json"], db, probe=False)
        removed = json.loads(result["stdout"])["activities"] if result["exit"] == 0 else 0
        print(f"\nthe same prune with nothing running alongside: {result['seconds']:.2f} s "
              f"({removed / result['seconds']:,.0f} activities/s), peak WAL {mb(result['peak_wal'])}, "
              f"peak RSS {mb(result['peak_rss'])}")

    print("\nbaselines (fresh copies, one transaction each, in a subprocess):")
    for what in ("activity-only", "with-revisions"):
        db = fresh_copy(source, "prune-baseline.db")
        result = run_measured([sys.executable, "-c", BASELINE, str(db), cutoff, what], db, probe=False)
        rows = int(result["stdout"].strip() or 0)
        label = ("DELETE FROM activity WHERE timestamp < ?" if what == "activity-only"
                 else "the same + DELETE FROM revisions of those activities")
        print(f"  {label}: {rows:,} rows in {result['seconds']:.2f} s ({rows / result['seconds']:,.0f} rows/s), "
              f"peak WAL {mb(result['peak_wal'])}, peak RSS {mb(result['peak_rss'])}")
    for name in ("prune-run.db", "prune-baseline.db"):
        for p in DATA.glob(name + "*"):
            p.unlink()


if __name__ == "__main__":
    main()
