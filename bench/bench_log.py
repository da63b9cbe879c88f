"""How fast `audit log` (and `--help`, `stats`) answer, end to end, on a 1,000,000-activity store.

Builds (once, cached in bench/data/, rebuilt when audit_cli's schema changes) a store through the real
`AuditStore.open(create=True)`, then bulk-loads activity rows (hash chain included) straight into the `activity` table
with executemany in one transaction, and runs ANALYZE. The mix: ~60% update, 15% create, 5% delete, the rest
login/logout/comment/upload/publish/...; ~2000 items over 5 collections (logins go on the user's own `directus_users`
item); 20 users, a few doing most of the work; timestamps spread over the 90 days up to the build, increasing with id.
No revisions: this bench is about the activity log.

Then times each command as a whole subprocess, median (and best, and CPU time) of N runs after one warm-up, against
`python -c pass` measured in the same run (best and CPU times are what other load on the machine inflates least);
prints the query plans of the main queries as the store runs them (captured with a trace callback); and times the same
queries inside the library, so that start-up and SQL can be told apart.

Run:  /tmp/venv/bin/python bench/bench_log.py              # build if missing, then measure (N=7)
      /tmp/venv/bin/python bench/bench_log.py --rebuild -n 11
      /tmp/venv/bin/python bench/bench_log.py --rows 100000  # a smaller store, for a quick check
Hand-run only; asserts nothing. The relative times (`--since 7d`) are taken at run time, so a store cached long ago
matches fewer rows: the script prints the store's age and each query's match count.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from audit_cli import chain, timeparse
from audit_cli.models import LogQuery
from audit_cli.store import AuditStore

DATA = Path(__file__).resolve().parent / "data"
COLLECTIONS = ["articles", "pages", "products", "authors", "media"]
ITEMS_PER_COLLECTION = 400  # 5 x 400 = 2000 items
USERS = [f"user{n:02d}" for n in range(20)]
USER_WEIGHTS = [1 / (n + 1) for n in range(20)]  # a few users do most of the work
ACTIONS = {"update": 60, "create": 15, "delete": 5, "login": 8, "comment": 5, "logout": 3, "upload": 2,
           "invalid-credentials": 1, "publish": 1}
AUTH_ACTIONS = {"login", "logout", "invalid-credentials"}
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0", "Mozilla/5.0 (Macintosh) Safari/605.1.15", "curl/8.5.0",
          "directus-sdk/17.0", "python-requests/2.32"]
TARGETS = {"--help": 0.25, "log": 0.3}  # seconds, end to end, from the issue


def activities(count: int, end: datetime, rng: random.Random):
    """Activity records in insert order, as dicts of activity columns."""
    actions = rng.choices(list(ACTIONS), weights=list(ACTIONS.values()), k=count)
    users = rng.choices(USERS, weights=USER_WEIGHTS, k=count)
    start = end - timedelta(days=90)
    step = timedelta(days=90) / count
    for n in range(count):
        action, user = actions[n], users[n]
        moment = start + step * n + timedelta(microseconds=rng.randrange(int(step / timedelta(microseconds=1)) or 1))
        record = {"action": action, "user": user, "timestamp": timeparse.format_ts(moment),
                  "ip": f"10.0.{USERS.index(user)}.{rng.randrange(1, 255)}", "user_agent": rng.choice(AGENTS),
                  "origin": "https://cms.example.com"}
        if action in AUTH_ACTIONS:
            record.update(collection="directus_users", item=user)
        else:
            record.update(collection=rng.choice(COLLECTIONS), item=str(rng.randrange(1, ITEMS_PER_COLLECTION + 1)))
        if action == "comment":
            record["comment"] = f"Looks good, but check paragraph {rng.randrange(1, 9)} before publishing."
            if rng.random() < 0.05:
                record["comment_deleted_on"] = record["timestamp"]
        elif action == "update" and rng.random() < 0.1:
            record["details"] = f'{{"reason":"fix typo","request_id":"{rng.getrandbits(64):016x}"}}'
        yield record


def chained(records, store_id: str):
    """The records with the hash chain filled in, as audit_cli.chain makes it (no revisions here; ids from 1, each
    known by its local key "<store id>/<id>")."""
    prev = chain.GENESIS
    for n, record in enumerate(records, 1):
        record["prev_hash"] = prev
        key = f"{store_id}/{n}"
        record["hash"] = prev = chain.link(prev, chain.record_bytes(record, record.get("details"), None, key))
        yield record


def schema(path: Path) -> list:
    with sqlite3.connect(path) as conn:
        return [conn.execute("PRAGMA user_version").fetchone()[0],
                *conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name")]


def current_schema() -> list:
    """The schema this version of audit_cli creates, from a throw-away store."""
    probe = DATA / "schema-probe.db"
    for p in DATA.glob(probe.name + "*"):
        p.unlink()
    AuditStore.open(probe, create=True).close()
    try:
        return schema(probe)
    finally:
        for p in DATA.glob(probe.name + "*"):
            p.unlink()


def build(path: Path, count: int) -> None:
    tmp = path.with_suffix(".building")
    for p in DATA.glob(tmp.name + "*"):
        p.unlink()
    started = time.perf_counter()
    store = AuditStore.open(tmp, create=True)  # the real code: file mode, pragmas, migrations
    conn = store.conn
    columns = [row[1] for row in conn.execute("PRAGMA table_info(activity)") if row[1] != "id"]
    records = activities(count, timeparse.utcnow(), random.Random(20261122))
    if "hash" in columns:
        records = chained(records, store.store_id())
    # Build the indexes after the load, from the very DDL the migrations wrote (about 1.7x faster than with them).
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'activity' "
                           "AND sql IS NOT NULL").fetchall()
    conn.execute("BEGIN IMMEDIATE")
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    conn.executemany(f"INSERT INTO activity ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                     ([record.get(name) for name in columns] for record in records))
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    tmp.rename(path)
    print(f"built {path} ({count:,} activities, {path.stat().st_size / 1e6:.0f} MB) in "
          f"{time.perf_counter() - started:.1f} s")


def bytecode_env(cached: bool) -> dict[str, str]:
    """The environment for the timed commands. An installed CLI has its bytecode compiled; this machine sets
    PYTHONDONTWRITEBYTECODE=1, which would make every run compile audit_cli from source, so by default the runs keep
    their bytecode under bench/data/pycache (written by the warm-up run)."""
    env = dict(os.environ)
    if cached:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(DATA / "pycache")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    return env


def median_run(argv: list[str], runs: int, env: dict[str, str]) -> tuple[float | None, float, float, str]:
    """Median and best wall time, and median CPU time (user + system), of `argv` over `runs` runs after one warm-up;
    None and the error if it fails. CPU time is what other load on the machine inflates least."""
    walls, cpus = [], []
    for n in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            return None, 0.0, 0.0, f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"
        if n:
            walls.append(elapsed)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), min(walls), statistics.median(cpus), ""


def pairs(commands: dict[str, list[str]], rounds: int, env: dict[str, str]) -> None:
    """Each command run in turn, round after round (after one warm-up round), so that all see the same load: the
    median CPU time of each, its spread over the rounds, and the ratio of the medians to the first."""
    cpus: dict[str, list[float]] = {label: [] for label in commands}
    for n in range(rounds + 1):
        for label, argv in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if n:
                cpus[label].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    print(f"\nInterleaved, {rounds} rounds, CPU time (user + system), load {os.getloadavg()[0]:.1f}:")
    first = statistics.median(next(iter(cpus.values())))
    for label, times in cpus.items():
        print(f"  {label:<48} median {statistics.median(times) * 1000:6.1f} ms  ({min(times) * 1000:.1f}-"
              f"{max(times) * 1000:.1f})  {statistics.median(times) / first:5.2f}x")


def explain(store: AuditStore, call) -> None:
    """Print EXPLAIN QUERY PLAN for each SELECT that `call(store)` makes, captured with a trace callback."""
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    call(store)
    store.conn.set_trace_callback(None)
    for sql in statements:
        if sql.lstrip().upper().startswith("SELECT"):
            print(f"\n  {sql}")
            for row in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}"):
                print(f"    {row[-1]}")


def in_library(store: AuditStore, shapes: dict, runs: int) -> None:
    print(f"\nInside the library (store already open; median of {runs} after one warm-up):")
    for label, call in shapes.items():
        times = []
        for _ in range(runs + 1):
            started = time.perf_counter()
            result = call(store)
            times.append(time.perf_counter() - started)
        count = len(result.rows) if hasattr(result, "rows") else len(result)
        extra = f", filter_count {result.filter_count:,}" if getattr(result, "filter_count", None) is not None else ""
        print(f"  {label:<48} {statistics.median(times[1:]) * 1000:8.2f} ms  ({count} rows{extra})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("-n", "--runs", type=int, default=7)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--pairs", type=int, metavar="N",
                        help="only time `python -c pass` and the main log in turn, N rounds (CPU time), and stop")
    args = parser.parse_args()

    DATA.mkdir(exist_ok=True)
    path = DATA / f"log-{args.rows}.db"
    if args.rebuild or not path.exists() or schema(path) != current_schema():
        for p in DATA.glob(path.name + "*"):
            p.unlink()
        build(path, args.rows)
    age = time.time() - path.stat().st_mtime
    print(f"store: {path} ({path.stat().st_size / 1e6:.0f} MB, built {age / 3600:.1f} h ago)")

    py = sys.executable
    audit = str(Path(py).parent / "audit") if (Path(py).parent / "audit").exists() else shutil.which("audit")
    db = ["--db", str(path)]
    main_log = [audit, *db, "log", "--action", "update", "--since", "7d", "--limit", "50"]
    commands = {
        "python -c pass": [py, "-c", "pass"],
        "python -c 'import audit_cli.cli'": [py, "-c", "import audit_cli.cli"],
        "python -c 'import pydantic'": [py, "-c", "import pydantic"],
        "audit --help": [audit, "--help"],
        "audit --version": [audit, "--version"],
        "log --action update --since 7d --limit 50": main_log,
        "log --user user03 --limit 50": [audit, *db, "log", "--user", "user03", "--limit", "50"],
        "log -c articles -i 42": [audit, *db, "log", "-c", "articles", "-i", "42"],
        "log --meta --action update --since 7d": [audit, *db, "log", "--meta", "--action", "update", "--since", "7d"],
        "stats --by action --since 30d": [audit, *db, "stats", "--by", "action", "--since", "30d"],
        "log --action update ... (no bytecode cache)": main_log,
    }
    if args.pairs:
        pairs({"python -c pass": [py, "-c", "pass"], "log --action update --since 7d --limit 50": main_log}, args.pairs,
              bytecode_env(True))
        return
    print(f"\nEnd to end, as subprocesses (median of {args.runs} after one warm-up), "
          f"python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, {os.cpu_count()} cores:")
    # On a loaded machine the wall times are mostly waiting: CPU time (user + system) is the ratio to read there.
    print(f"  {'command':<48} {'median s':>9} {'best s':>7} {'cpu s':>6} {'x pass':>7} {'cpu x':>6}  "
          "target (on the median)")
    baseline = cpu_baseline = None
    for label, argv in commands.items():
        seconds, best, cpu, error = median_run(argv, args.runs, bytecode_env("no bytecode" not in label))
        baseline = baseline or seconds
        cpu_baseline = cpu_baseline or cpu
        target = TARGETS.get(label.split()[1] if label.startswith("audit ") else label.split()[0])
        verdict = "" if target is None or seconds is None else (
            f"< {target} s {'met' if seconds < target else f'MISSED by {seconds - target:.3f} s'}")
        if seconds is None:
            print(f"  {label:<48} FAILED {error}")
        else:
            print(f"  {label:<48} {seconds:9.3f} {best:7.3f} {cpu:6.3f} {seconds / baseline:7.1f} "
                  f"{cpu / cpu_baseline:6.1f}  {verdict}")

    now = timeparse.utcnow()
    since7, since30 = timeparse.normalize("7d", now=now), timeparse.normalize("30d", now=now)
    shapes = {
        "log --action update --since 7d --limit 50":
            lambda s: s.log(LogQuery(actions=["update"], since=since7, limit=50)),
        "log --user user03 --limit 50": lambda s: s.log(LogQuery(users=["user03"], limit=50)),
        "log -c articles -i 42": lambda s: s.log(LogQuery(collections=["articles"], items=["42"])),
        "log --meta --action update --since 7d": lambda s: s.log(LogQuery(actions=["update"], since=since7), meta=True),
        "stats --by action --since 30d": lambda s: s.stats(LogQuery(since=since30), by="action"),
    }
    with AuditStore.open(path) as store:
        for label in ("log --action update --since 7d --limit 50", "log --meta --action update --since 7d",
                      "stats --by action --since 30d"):
            print(f"\nQuery plan of `{label}`, as the store runs it:")
            explain(store, shapes[label])
        in_library(store, shapes, args.runs)


if __name__ == "__main__":
    main()
