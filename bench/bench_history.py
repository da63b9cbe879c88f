"""Store size on document histories edited the way real documents are (issue 18), every revision read back and
every diff checked.

The target: the whole store file (activity, revisions, bases, every index, the WAL checkpointed into it) at most
0.35x the raw JSON of every snapshot, with every revision still readable in under 2 ms and every diff exact.

The data (bench/producers.py, generated in the run, never committed): DOCUMENTS package manifests (~1.8 KB of JSON
each), each edited VERSIONS - 1 times by 40 people, sent as full-state lines (only `revision.data`, as producers
that know the row after write them), interleaved in time. They go in through `audit import` as a subprocess, into a
new store. Then:
- the store's size: the file's pages after a WAL checkpoint, and where the bytes go per table and index (`dbstat`);
  the baseline is the sum of the snapshots' compact JSON lengths; gzip -6 and zlib of the whole history as
  references;
- every revision of every document read with `store.revision` (in a fresh store object, as a new CLI process
  would), compared with the generated state; the slowest read is the best of 3 tries;
- every diff between neighbours through `store.diff`, applied to the state before with jsonpatch (the reference
  implementation), compared with the state after; and `audit verify` on the store.
Run:  /tmp/venv/bin/python bench/bench_history.py                      # 10 documents x 1,300 versions
      /tmp/venv/bin/python bench/bench_history.py --documents 2        # quick check
Hand-run only; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path

import jsonpatch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import producers  # noqa: E402

from audit_cli import jsontext, patches  # noqa: E402
from audit_cli.store import AuditStore  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
TARGET = 0.35


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def where_bytes(path: Path) -> list[tuple[str, int, int]]:
    """(name, bytes of its pages, rows) of every table and index, biggest first."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
        out = []
        for name, size in rows:
            kind = conn.execute("SELECT type, tbl_name FROM sqlite_master WHERE name = ?", [name]).fetchone()
            count = conn.execute(f'SELECT count(*) FROM "{kind[1]}"').fetchone()[0] if kind else 0
            out.append((name, size, count))
    return out


def indexes_used(store: AuditStore, states: dict) -> None:
    """Which index each query of log, stats, history and export uses (EXPLAIN QUERY PLAN of the statements the
    store runs, captured with a trace callback), and the indexes none of them uses."""
    from audit_cli.models import LogQuery

    item = next(iter(states))
    calls = {
        "log": lambda: store.log(LogQuery(limit=50)),
        "log --user": lambda: store.log(LogQuery(users=["dev01"], limit=50)),
        "log --action --since": lambda: store.log(LogQuery(actions=["update"], since="2023-06-01T00:00:00.000000Z",
                                                           limit=50), meta=True),
        "log -c -i": lambda: store.log(LogQuery(collections=["packages"], items=[item], limit=50)),
        "stats --by user": lambda: store.stats(LogQuery(), by="user"),
        "history": lambda: store.history("packages", item),
        "export": lambda: sum(1 for _ in store.export_lines(LogQuery())),
    }
    names = {row[0] for row in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' "
                                                  "AND name NOT LIKE 'sqlite_autoindex%'")}
    used: set[str] = set()
    print("\nIndexes the queries use (EXPLAIN QUERY PLAN):")
    for label, call in calls.items():
        statements: list[str] = []
        store.conn.set_trace_callback(statements.append)
        call()
        store.conn.set_trace_callback(None)
        plans = set()
        for sql in statements:
            if sql.lstrip().upper().startswith(("SELECT", "WITH")):
                for row in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}"):
                    plans.add(row[-1])
                    used.update(name for name in names if f"INDEX {name} " in row[-1] + " ")
        print(f"  {label:<22} " + "; ".join(sorted(plans))[:300])
    print(f"  used: {', '.join(sorted(used))}; not used by these: {', '.join(sorted(names - used)) or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=10)
    parser.add_argument("--versions", type=int, default=1300)
    parser.add_argument("--keep", action="store_true", help="keep the store and the file")
    args = parser.parse_args()
    DATA.mkdir(exist_ok=True)
    source = DATA / f"history-{args.documents}x{args.versions}.jsonl"
    store_path = DATA / f"history-{args.documents}x{args.versions}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store_path}{suffix}").unlink(missing_ok=True)

    states: dict[str, list] = {}
    raw = 0
    with open(source, "wb") as out:
        for line in producers.history_lines(args.documents, args.versions):
            text = jsontext.dumps(line["revision"]["data"]).encode()
            raw += len(text)
            states.setdefault(line["item"], []).append(line["revision"]["data"])
            out.write(jsontext.dumps(line).encode() + b"\n")
    total = sum(len(s) for s in states.values())
    print(f"{args.documents} manifests x {args.versions} versions = {total:,} revisions; snapshots {raw / total:,.0f} B "
          f"on average, {raw / 1e6:.2f} MB of JSON in all; file {source.stat().st_size / 1e6:.2f} MB; "
          f"load {loadavg()}")
    history = b"".join(jsontext.dumps(s).encode() + b"\n" for doc in states.values() for s in doc)
    print(f"  references: zlib -6 of the whole history {len(zlib.compress(history, 6)) / raw:.3f}x, "
          f"of each snapshot alone {sum(len(zlib.compress(jsontext.dumps(s).encode(), 6)) for d in states.values() for s in d) / raw:.3f}x")

    audit = [sys.executable, "-m", "audit_cli"]
    started = time.perf_counter()
    done = subprocess.run([*audit, "--db", str(store_path), "import", "-q", str(source)], capture_output=True,
                          text=True, env={**os.environ, "AUDIT_DB": ""})
    print(f"  audit import: {time.perf_counter() - started:.2f} s, exit {done.returncode} {done.stderr.strip()[-300:]}")
    with sqlite3.connect(store_path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages, page_size, free = (conn.execute(f"PRAGMA {p}").fetchone()[0]
                                  for p in ("page_count", "page_size", "freelist_count"))
    size = pages * page_size
    ratio = size / raw
    print(f"\nStore file: {size / 1e6:.3f} MB ({pages:,} pages of {page_size}, {free} free) = {ratio:.3f}x the raw "
          f"snapshots (target <= {TARGET}: {'met' if ratio <= TARGET else 'MISSED'}); "
          f"{size / total:,.0f} B a revision")
    print(f"  {'table or index':<28} {'bytes':>10} {'share':>6} {'B/row':>6}")
    for name, part, count in where_bytes(store_path):
        print(f"  {name:<28} {part:>10,} {part / size:6.1%} {part / max(count, 1):6.0f}")
    with sqlite3.connect(store_path) as conn:
        for column in ("data", "delta"):
            try:
                mean = conn.execute(f"SELECT avg(length({column})) FROM revisions").fetchone()[0]
                print(f"  revisions.{column}: {mean:.0f} B on average")
            except sqlite3.OperationalError:
                pass
        bases = conn.execute("SELECT count(*), avg(length(body)) FROM bases").fetchone()
        print(f"  bases: {bases[0]:,} ({total / max(bases[0], 1):.1f} revisions each), {bases[1] or 0:.0f} B each")

    pairs = [(item, n, state) for item, versions in states.items() for n, state in enumerate(versions)]
    times: list[list[float]] = [[] for _ in pairs]
    wrong = wrong_diffs = 0
    with AuditStore.open(store_path) as opened:
        for attempt in range(3):
            fresh = AuditStore(opened.conn, store_path)  # an empty base cache, as in a new process
            for k, (item, n, state) in enumerate(pairs):
                began = time.perf_counter()
                got = fresh.revision("packages", item, n).data
                times[k].append(time.perf_counter() - began)
                if attempt == 0:
                    wrong += not (got == state and jsontext.dumps(got) == jsontext.dumps(state))
        for item, versions in states.items():
            for n in range(1, len(versions)):
                patch = opened.diff("packages", item, start=n - 1, end=n)["patch"]
                after = jsonpatch.apply_patch(versions[n - 1], patch)
                wrong_diffs += not patches.same(after, versions[n])  # JSON equality (member order is not)
        indexes_used(opened, states)
    firsts = sorted(t[0] * 1000 for t in times)
    slowest = max(min(t) for t in times) * 1000
    print(f"\nEvery revision read ({len(times):,}, fresh store object, 3 tries): median {statistics.median(firsts):.3f} "
          f"ms, p99 {statistics.quantiles(firsts, n=100)[98]:.3f} ms, slowest (best of 3) {slowest:.3f} ms "
          f"(target < 2 ms: {'met' if slowest < 2 else 'MISSED'}); {wrong} differ from the generated state")
    print(f"Every diff between neighbours ({total - len(states):,}), applied with jsonpatch: {wrong_diffs} not exact")
    started = time.perf_counter()
    verify = subprocess.run([*audit, "--db", str(store_path), "verify"], capture_output=True, text=True)
    print(f"audit verify: exit {verify.returncode} in {time.perf_counter() - started:.2f} s: "
          f"{verify.stdout.strip().splitlines()[:1]}")
    print(f"load at the end {loadavg()}")
    if not args.keep:
        source.unlink()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{store_path}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
