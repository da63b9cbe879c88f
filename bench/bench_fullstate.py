"""`audit import` of full-state lines, what other producers send (issue 18), against `sqlite-utils insert --nl` of
the same file in the same run.

The target: at least 1.2x sqlite-utils at 1,000,000 lines, within 200 MB of RSS (the import's helper process
counted), while the import still computes every delta from the item's previous state, checks and packs every
snapshot, and makes the hash chain.

The file (bench/producers.py `fullstate_lines`, generated once as bench/data/fullstate-<rows>.jsonl, git-ignored):
orders as a shop's ORM hook reports them, ~710 bytes a line with ~560 bytes of state, 90% updates (a status moved
on, a tracking number, a quantity, a note, a tag; always a new date_updated), 8% creates, 2% deletes, with the
locality of real traffic; no hashes, no key, no delta.

Each phase a subprocess (bench_transfer.run: wall time and peak RSS of the process tree), interleaved run by run:
`sqlite-utils insert DB activity FILE --nl` into a WAL database, and `audit --db NEW import FILE`. The store is then
checked: as many revisions as lines with data, and `audit verify` OK.
Run:  /tmp/venv/bin/python bench/bench_fullstate.py -n 3               # 1M lines (generated in ~1 min)
      /tmp/venv/bin/python bench/bench_fullstate.py --rows 200000       # quick check
      /tmp/venv/bin/python bench/bench_fullstate.py --profile           # cProfile of the import, in-process
Hand-run only; asserts nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import producers  # noqa: E402
from bench_transfer import _audit, fresh, loadavg, run  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
VENV_BIN = Path(sys.executable).parent
TARGET = 1.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("-n", "--runs", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    DATA.mkdir(exist_ok=True)
    source = DATA / f"fullstate-{args.rows}.jsonl"
    if not source.exists():
        started = time.perf_counter()
        temp = source.with_suffix(".partial")
        with open(temp, "wb") as out:
            out.writelines(producers.fullstate_lines(args.rows))
        temp.replace(source)
        print(f"generated {source} in {time.perf_counter() - started:.0f} s")
    size = source.stat().st_size
    print(f"{args.rows:,} full-state lines, {size / 1e6:,.0f} MB, {size / args.rows:.0f} B a line; load {loadavg()}")
    store, utils_db = DATA / f"fullstate-{args.rows}.db", DATA / "fullstate-sqlite-utils.db"
    if args.profile:
        from audit_cli import jsonl
        from audit_cli.store import AuditStore

        fresh(store)
        profiler = cProfile.Profile()
        with AuditStore.open(store, create=True) as opened:
            profiler.enable()
            opened.import_lines(jsonl.read_lines(str(source)), source=str(source))
            profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(30)
        print(text.getvalue())
        return

    def utils_wal() -> None:
        fresh(utils_db)
        sqlite3.connect(utils_db).execute("PRAGMA journal_mode = WAL").close()

    phases = {
        "sqlite-utils insert --nl": ([str(VENV_BIN / "sqlite-utils"), "insert", str(utils_db), "activity",
                                      str(source), "--nl"], utils_wal),
        "audit import": (_audit("--db", str(store), "import", "-q", str(source)), lambda: fresh(store)),
    }
    times: dict[str, list[float]] = {name: [] for name in phases}
    peaks: dict[str, list[float]] = {name: [] for name in phases}
    ratios = []
    for n in range(args.runs):
        for name, (argv, prepare) in phases.items():
            prepare()
            os.sync()
            elapsed, peak, status = run(argv)
            if status == 0:
                times[name].append(elapsed)
                peaks[name].append(peak)
        if len(times["audit import"]) == len(times["sqlite-utils insert --nl"]) == n + 1:
            ratios.append(times["sqlite-utils insert --nl"][-1] / times["audit import"][-1])
        print(f"  run {n + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items() if v)
              + f"; load {loadavg()}")
    print()
    for name, spent in times.items():
        if spent:
            print(f"  {name:<28} {statistics.median(spent):7.2f} s  {args.rows / statistics.median(spent):>9,.0f} "
                  f"lines/s  peak RSS {max(peaks[name]):6.1f} MB  (runs: {', '.join(f'{t:.1f}' for t in spent)})")
    if ratios:
        print(f"\naudit import: {statistics.median(ratios):.2f}x sqlite-utils (runs: "
              f"{', '.join(f'{r:.2f}' for r in ratios)}; target >= {TARGET}); peak RSS "
              f"{max(peaks['audit import']):.0f} MB (target < 200)")
    with sqlite3.connect(store) as conn:
        revisions, activities = conn.execute(
            "SELECT (SELECT count(*) FROM revisions), (SELECT count(*) FROM activity)").fetchone()
    verify = subprocess.run(_audit("--db", str(store), "verify"), capture_output=True, text=True)
    print(f"store: {activities:,} activities, {revisions:,} revisions; audit verify exit {verify.returncode}: "
          f"{verify.stdout.strip()[:80]}; load at the end {loadavg()}")
    fresh(utils_db)


if __name__ == "__main__":
    main()
