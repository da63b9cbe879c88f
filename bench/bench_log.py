"""How fast `audit log` (and `--help`, `stats`) answer, end to end, on a 1,000,000-activity store.

Builds (once, cached in bench/data/) a store through the real `AuditStore.open(create=True)`, then bulk-loads activity
rows straight into the `activity` table with executemany in one transaction, and runs ANALYZE. The mix: ~60% update,
15% create, 5% delete, the rest login/logout/comment/upload/publish/...; ~2000 items over 5 collections (logins go on
the user's own `directus_users` item); 20 users, a few doing most of the work; timestamps spread over the 90 days up to
the build, increasing with id. No revisions: this bench is about the activity log.

Then times each command as a whole subprocess, median of N runs after one warm-up, against `python -c pass` measured
in the same run, and prints the query plan of the main `log` query as the store runs it (captured with a trace
callback), plus the same queries timed inside the library so start-up and SQL can be told apart.

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
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from audit_cli import query, timeparse
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


def rows(count: int, end: datetime, rng: random.Random):
    """Activity rows in insert order: (action, user, timestamp, ip, user_agent, origin, collection, item, comment,
    details, edited_on, comment_deleted_on)."""
    actions = rng.choices(list(ACTIONS), weights=list(ACTIONS.values()), k=count)
    users = rng.choices(USERS, weights=USER_WEIGHTS, k=count)
    start = end - timedelta(days=90)
    step = timedelta(days=90) / count
    for n in range(count):
        action, user = actions[n], users[n]
        moment = start + step * n + timedelta(microseconds=rng.randrange(int(step / timedelta(microseconds=1)) or 1))
        ts = timeparse.format_ts(moment)
        if action in AUTH_ACTIONS:
            collection, item = "directus_users", user
        else:
            collection, item = rng.choice(COLLECTIONS), str(rng.randrange(1, ITEMS_PER_COLLECTION + 1))
        comment = details = deleted = None
        if action == "comment":
            comment = f"Looks good, but check paragraph {rng.randrange(1, 9)} before publishing."
            if rng.random() < 0.05:
                deleted = ts
        elif action == "update" and rng.random() < 0.1:
            details = f'{{"reason":"fix typo","request_id":"{rng.getrandbits(64):016x}"}}'
        yield (action, user, ts, f"10.0.{USERS.index(user)}.{rng.randrange(1, 255)}", rng.choice(AGENTS),
               "https://cms.example.com", collection, item, comment, details, None, deleted)


def build(path: Path, count: int) -> None:
    tmp = path.with_suffix(".building")
    for p in DATA.glob(tmp.name + "*"):
        p.unlink()
    started = time.perf_counter()
    store = AuditStore.open(tmp, create=True)  # the real code: file mode, pragmas, migrations
    conn = store.conn
    # Build the indexes after the load, from the very DDL the migrations wrote (about 1.7x faster than with them).
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'activity' "
                           "AND sql IS NOT NULL").fetchall()
    conn.execute("BEGIN IMMEDIATE")
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    conn.executemany(
        "INSERT INTO activity (action, user, timestamp, ip, user_agent, origin, collection, item, comment, details, "
        "edited_on, comment_deleted_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows(count, timeparse.utcnow(), random.Random(20261122)),
    )
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    tmp.rename(path)
    print(f"built {path} ({count:,} activities, {path.stat().st_size / 1e6:.0f} MB) in "
          f"{time.perf_counter() - started:.1f} s")


def median_run(argv: list[str], runs: int) -> tuple[float | None, str]:
    """Median wall time of `argv` over `runs` runs after one warm-up; None and the error if it fails."""
    times = []
    for n in range(runs + 1):
        started = time.perf_counter()
        done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            return None, f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"
        if n:
            times.append(elapsed)
    return statistics.median(times), ""


def explain(store: AuditStore, q: LogQuery, meta: bool) -> None:
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    page = store.log(q, meta=meta)
    store.conn.set_trace_callback(None)
    for sql in statements:
        if sql.lstrip().upper().startswith("SELECT"):
            print(f"\n  {sql}")
            for row in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}"):
                print(f"    {row[-1]}")
    print(f"  -> {len(page.rows)} rows" + (f", filter_count {page.filter_count:,}" if meta else ""))


def in_library(store: AuditStore, shapes: dict[str, tuple[LogQuery, bool]], runs: int) -> None:
    print(f"\nInside the library (store already open; median of {runs}):")
    for label, (q, meta) in shapes.items():
        times = []
        for _ in range(runs + 1):
            started = time.perf_counter()
            store.log(q, meta=meta)
            times.append(time.perf_counter() - started)
        print(f"  {label:<48} {statistics.median(times[1:]) * 1000:8.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("-n", "--runs", type=int, default=7)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    DATA.mkdir(exist_ok=True)
    path = DATA / f"log-{args.rows}.db"
    if args.rebuild or not path.exists():
        for p in DATA.glob(path.name + "*"):
            p.unlink()
        build(path, args.rows)
    age = time.time() - path.stat().st_mtime
    print(f"store: {path} ({path.stat().st_size / 1e6:.0f} MB, built {age / 3600:.1f} h ago)")

    py = sys.executable
    audit = str(Path(py).parent / "audit") if (Path(py).parent / "audit").exists() else shutil.which("audit")
    db = ["--db", str(path)]
    commands = {
        "python -c pass": [py, "-c", "pass"],
        "audit --help": [audit, "--help"],
        "audit --version": [audit, "--version"],
        "log --action update --since 7d --limit 50": [audit, *db, "log", "--action", "update", "--since", "7d",
                                                       "--limit", "50"],
        "log --user user03 --limit 50": [audit, *db, "log", "--user", "user03", "--limit", "50"],
        "log -c articles -i 42": [audit, *db, "log", "-c", "articles", "-i", "42"],
        "log --meta --action update --since 7d": [audit, *db, "log", "--meta", "--action", "update", "--since", "7d"],
        "stats --by action --since 30d": [audit, *db, "stats", "--by", "action", "--since", "30d"],
    }
    print(f"\nEnd to end, as subprocesses (median of {args.runs} after one warm-up), "
          f"python {sys.version.split()[0]}, SQLite {__import__('sqlite3').sqlite_version}, {os.cpu_count()} cores:")
    print(f"  {'command':<48} {'median s':>9} {'x pass':>7}  target")
    baseline = None
    for label, argv in commands.items():
        seconds, error = median_run(argv, args.runs)
        baseline = baseline or seconds
        target = TARGETS.get(label.split()[1] if label.startswith("audit ") else label.split()[0])
        verdict = "" if target is None or seconds is None else (
            f"< {target} s {'met' if seconds < target else f'MISSED by {seconds - target:.3f} s'}")
        if seconds is None:
            print(f"  {label:<48} FAILED {error}")
        else:
            print(f"  {label:<48} {seconds:9.3f} {seconds / baseline:7.1f}  {verdict}")

    now = timeparse.utcnow()
    shapes = {
        "log --action update --since 7d --limit 50": (
            LogQuery(actions=["update"], since=timeparse.normalize("7d", now=now), limit=50), False),
        "log --user user03 --limit 50": (LogQuery(users=["user03"], limit=50), False),
        "log -c articles -i 42": (LogQuery(collections=["articles"], items=["42"]), False),
        "log --meta --action update --since 7d": (
            LogQuery(actions=["update"], since=timeparse.normalize("7d", now=now)), True),
    }
    with AuditStore.open(path) as store:
        print("\nQuery plan of `log --action update --since 7d --limit 50`, as the store runs it:")
        explain(store, *shapes["log --action update --since 7d --limit 50"])
        print("\nQuery plans of `log --meta --action update --since 7d` (the page, then the two counts):")
        explain(store, *shapes["log --meta --action update --since 7d"])
        in_library(store, shapes, args.runs)
        q = LogQuery(since=timeparse.normalize("30d", now=now))
        clause, params = query.where(q)
        started = time.perf_counter()
        store.stats(q, by="action")
        print(f"  {'stats --by action --since 30d':<48} {(time.perf_counter() - started) * 1000:8.2f} ms (one run)")


if __name__ == "__main__":
    main()
