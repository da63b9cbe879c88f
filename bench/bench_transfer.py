"""How fast `audit import` and `audit export` move a 1,000,000-activity trail with revisions (issue 4).

The issue's targets, on the same file and in the same run as the baselines:
- import at least 0.6x a bare `executemany` of the parsed rows into one indexed SQLite table, and faster than
  `sqlite-utils insert --nl`, while checking every delta against its snapshot and every hash of the chain;
- export at least 150,000 activities/s;
- peak memory (RSS) under 200 MB for both, whatever the file size.

The trail (generated once, cached as bench/data/transfer-<rows>.jsonl, git-ignored; --regenerate to rebuild) is what
`audit export` writes for a busy CMS: a chained audit/1 line per activity, ~800 bytes a line on average:
- about 64% `update`s (one or two small edits of a ~170 B document, always a new `date_updated`), 7% `create`s,
  1% `delete`s, the rest login / logout / upload / publish / comment, and a few hundred comments edited later (the
  line carries the edited text and, as `original_comment`, the first, which the hash covers; a chained
  `comment-edit` record follows);
- items picked with locality, as editors work: most updates go to the last few thousand items touched, 3% to any
  item ever created (so the importer's bounded cache of item heads also misses);
- every hash computed with audit_cli.chain over exactly what the store will hold, so the import verifies it and keeps
  it, and an export of the imported store is byte for byte the generated file (checked).

Measured, each phase a subprocess (peak RSS sampled every 50 ms over its process tree: the import's helper process
counts), the phases interleaved run by run so that all see the same machine, median of -n runs (default 1):
- baseline "bare": stdlib json.loads of each line, then executemany in batches of 1,000 into one table (the activity
  columns, key, hashes, revision data and delta as JSON text) with a unique index on key and two more (timestamp;
  collection, item, timestamp), one transaction, WAL, synchronous=NORMAL;
- baseline "sqlite-utils": `sqlite-utils insert DB activity FILE --nl --alter` (the CLI from the venv), into a WAL
  database (`--alter`: the edited comments' `original_comment` first appears past its first batch);
- `audit --db NEW import FILE` into an empty store (end to end, start-up included), and the same with the import's
  helper process turned off (one process);
- reference "read rows": the export's own query, rows fetched and dropped (how fast this machine reads, now);
- `audit --db STORE export -o OUT` (plain), with -o OUT.gz, and with --format ecs;
then `cmp` of the export against the generated file.

Run:  /tmp/venv/bin/python bench/bench_transfer.py                  # generate if missing (~1 min), measure
      /tmp/venv/bin/python bench/bench_transfer.py --rows 100000     # quick check
      /tmp/venv/bin/python bench/bench_transfer.py --profile import  # cProfile of the import in-process (top 25)
Hand-run only; asserts nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from audit_cli import chain, jsontext, patches, timeparse

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
VENV_BIN = Path(sys.executable).parent
STORE_ID = "6b1f3c0e-bench-4d2a-9c71-transfer0001"
TARGETS = {"import_vs_bare": 0.6, "export_per_s": 150_000, "peak_rss_mb": 200}

COLLECTIONS = ["articles", "pages", "products", "authors", "media"]
USERS = [f"editor{n:02d}" for n in range(30)]
AGENTS = ["Mozilla/5.0 Firefox/132.0", "Mozilla/5.0 Safari/605.1.15", "curl/8.5.0", "directus-sdk/17.0.2"]
MIX = {"update": 64, "create": 7, "delete": 1, "login": 10, "logout": 6, "upload": 3, "publish": 3, "comment": 5.6,
       "comment-edit": 0.4}
STATUSES = ["draft", "review", "published", "archived"]
WORDS = ("the a of and to in is for on with as by at from this that it be are was or an new data page user item "
         "review update release audit store history change draft edit version content team product price order "
         "customer report launch plan market design build test deploy server client request response query index "
         "search field value record event time date year month week day note guide story news feature policy").split()


def words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choices(WORDS, k=count))


def new_document(rng: random.Random, n: int, when: str) -> dict:
    """About 170 bytes of JSON: an article as a CMS keeps it."""
    title = words(rng, 3).title()
    return {"id": n, "status": "draft", "title": title, "author": rng.choice(USERS), "tags": rng.sample(["news", "guide", "release", "howto", "opinion"], 2),
            "meta": {"views": 0, "featured": False}, "date_updated": when}


def edit(rng: random.Random, doc: dict, when: str) -> dict:
    after = {**doc, "meta": dict(doc["meta"]), "date_updated": when}
    for _ in range(rng.choice((1, 1, 2))):
        kind = rng.randrange(4)
        if kind == 0:
            after["status"] = rng.choice(STATUSES)
        elif kind == 1:
            after["meta"]["views"] += rng.randrange(1, 500)
        elif kind == 2:
            title = after["title"].split()
            title[rng.randrange(len(title))] = rng.choice(WORDS).title()
            after["title"] = " ".join(title)
        else:
            after["meta"]["featured"] = not after["meta"]["featured"]
    return after


def _line(head: dict, details_text: str | None, revision: tuple[str, str] | None) -> str:
    """An export line, exactly as store/transfer.py writes it."""
    line = jsontext.dumps(head)[:-1] + ',"details":' + (details_text if details_text is not None else "null")
    if revision is None:
        return line + ',"revision":null}\n'
    return line + ',"revision":{"data":' + revision[0] + ',"delta":' + revision[1] + "}}\n"


def generate(path: Path, count: int, seed: int = 4) -> None:
    """Write the trail: plan the activities, and for a comment that will be edited, its final state up front."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    step = timedelta(days=120) / count
    names = list(MIX)
    actions = rng.choices(names, weights=[MIX[n] for n in names], k=count)
    # Comment edits are planned when their comment is written: (edit position -> comment id, new text, state before).
    edits_at: dict[int, tuple[int, str, dict, str, str]] = {}
    live: dict[tuple[str, str], dict] = {}
    order: list[tuple[str, str]] = []  # items in the order they were last touched (with repeats; trimmed)
    created: list[tuple[str, str]] = []
    next_item = 0
    prev = chain.GENESIS
    temp = path.with_suffix(".partial")
    with open(temp, "w", encoding="utf-8") as out:
        for n in range(1, count + 1):
            action = actions[n - 1]
            when = timeparse.format_ts(start + step * n)
            user = rng.choice(USERS)
            fields = {"id": n, "action": action, "user": user, "timestamp": when,
                      "ip": f"10.{n % 3}.{USERS.index(user)}.{n % 250 + 1}", "user_agent": rng.choice(AGENTS),
                      "origin": "https://cms.example.com", "collection": "", "item": "", "comment": None,
                      "details": None, "edited_on": None, "comment_deleted_on": None}
            details = revision = None
            if n in edits_at:
                action = "comment-edit"
            elif action == "comment-edit":
                action = "login"
            if action in ("update", "delete") and len(live) < 100:
                action = "create"
            fields["action"] = action
            if action == "create":
                next_item += 1
                target = (rng.choice(COLLECTIONS), str(next_item))
                doc = new_document(rng, next_item, when)
                live[target] = doc
                created.append(target)
                order.append(target)
                revision = (doc, patches.diff({}, doc))
            elif action in ("update", "delete"):
                target = _pick(rng, order, created, live)
                before = live[target]
                if action == "delete":
                    del live[target]
                    revision = (before, [])
                else:
                    after = live[target] = edit(rng, before, when)
                    order.append(target)
                    revision = (after, patches.diff(before, after))
                    if rng.random() < 0.1:
                        details = {"reason": "fix typo", "request_id": f"{rng.getrandbits(64):016x}"}
            elif action == "comment-edit":
                comment_id, text, before, collection, item = edits_at.pop(n)
                target = (collection, item)
                after = {**before, "comment": text, "edited_on": when}
                details = {"comment": f"{STORE_ID}/{comment_id}", "before": before, "after": after}
            elif action == "comment":
                target = rng.choice(order[-2000:]) if order else ("articles", "0")
                text = f"Check paragraph {rng.randrange(1, 9)} of {target[0]} {target[1]}."
                fields["comment"] = text
                if rng.random() < 0.08 and n + 50 < count:  # to be edited a little later
                    at = n + rng.randrange(5, 50)
                    while at in edits_at:
                        at += 1
                    if at <= count:
                        new_text = f"Checked paragraph {rng.randrange(1, 9)}, and the summary."
                        original = {"comment": text, "edited_on": None, "comment_deleted_on": None}
                        edits_at[at] = (n, new_text, original, *target)
                        fields["comment"], fields["edited_on"] = new_text, _edit_time(start, step, at)
            elif action in ("login", "logout"):
                target = ("directus_users", user)
            else:
                target = rng.choice(order[-2000:]) if order else ("directus_files", "1")
            fields["collection"], fields["item"] = target
            if len(order) > 200_000:
                del order[:100_000]
            details_text = None if details is None else jsontext.dumps(details)
            texts = digest = None
            if revision is not None:
                texts = (jsontext.dumps(revision[0]), jsontext.dumps(revision[1]))
                digest = chain.revision_digest(*texts)
            original = fields
            if action == "comment" and fields["edited_on"] is not None:  # the hash covers the text as written
                original = {**fields, "comment": text}
            own = chain.link(prev, chain.record_bytes(original, details_text, digest, f"{STORE_ID}/{n}"))
            head = {"schema": "audit/1", **{k: v for k, v in fields.items() if k != "details"},
                    "key": f"{STORE_ID}/{n}", "prev_hash": prev, "hash": own}
            if original is not fields:  # as export writes an edited comment: with the first text its hash covers
                head["original_comment"] = text
            out.write(_line(head, details_text, texts))
            prev = own
    temp.replace(path)


def _edit_time(start: datetime, step: timedelta, at: int) -> str:
    return timeparse.format_ts(start + step * at)


def _pick(rng: random.Random, order: list, created: list, live: dict) -> tuple[str, str]:
    while True:
        if rng.random() < 0.03:
            target = rng.choice(created)
        else:
            target = order[-1 - min(int(rng.expovariate(1 / 1500)), len(order) - 1)]
        if target in live:
            return target


# The phases, each run as `python bench_transfer.py --phase NAME ...` in its own process.


def phase_bare(source: Path, db: Path) -> int:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    columns = ("id", "action", "user", "timestamp", "ip", "user_agent", "origin", "collection", "item", "comment",
               "details", "edited_on", "comment_deleted_on", "key", "prev_hash", "hash", "data", "delta")
    conn.execute(f"CREATE TABLE activity ({', '.join(columns)})")
    conn.execute("CREATE UNIQUE INDEX activity_key ON activity (key)")
    conn.execute("CREATE INDEX activity_timestamp ON activity (timestamp)")
    conn.execute("CREATE INDEX activity_item ON activity (collection, item, timestamp)")
    insert = f"INSERT INTO activity VALUES ({', '.join('?' * len(columns))})"
    count = 0
    conn.execute("BEGIN")
    batch = []
    with open(source, "rb") as lines:
        for raw in lines:
            line = json.loads(raw)
            revision = line["revision"]
            details = line["details"]
            batch.append((*(line[name] for name in columns[:10]), None if details is None else json.dumps(details),
                          *(line[name] for name in columns[11:16]),
                          None if revision is None else json.dumps(revision["data"]),
                          None if revision is None else json.dumps(revision["delta"])))
            if len(batch) == 1000:
                conn.executemany(insert, batch)
                count += len(batch)
                batch.clear()
    conn.executemany(insert, batch)
    count += len(batch)
    conn.execute("COMMIT")
    conn.close()
    return count


def phase_read(db: Path) -> int:
    """The export's own query, rows fetched and dropped: what reading alone costs on this machine, now."""
    from audit_cli.store import export

    conn = sqlite3.connect(db)
    # As an export of this trail fills it: no attested digests, edited comments with their original text.
    sql = export._fill(export._LINES, {"where": "1", "attested": "", "revision": "NULL",
                                       "original": export._ORIGINAL.format(export._FIRST_TEXT),
                                       "extra": export._extra([export._ORIGINAL_MEMBER])})
    count = sum(1 for _ in conn.execute(sql, ["store"]))
    conn.close()
    return count


def _tree_rss(pid: int) -> int:
    """Resident kB of a process and its children (the import's helper)."""
    total = 0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    for each in [pid, *map(int, children)]:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def run(args: list[str], *, stdout=subprocess.DEVNULL) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB of the process and its children together, exit status) of one subprocess."""
    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=stdout, stderr=subprocess.PIPE, env={**os.environ, "AUDIT_DB": ""})
    peak = 0
    while process.poll() is None:
        peak = max(peak, _tree_rss(process.pid))
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        print(f"  ! {' '.join(map(str, args))} exited {process.returncode}: {process.stderr.read().decode()[-600:]}")
    return elapsed, peak / 1024, process.returncode


def fresh(path: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def profile(kind: str, source: Path, store: Path) -> None:
    from audit_cli import jsonl
    from audit_cli.models import LogQuery
    from audit_cli.store import AuditStore

    profiler = cProfile.Profile()
    if kind == "import":
        fresh(store)
        with AuditStore.open(store, create=True) as opened:
            profiler.enable()
            opened.import_lines(jsonl.read_lines(str(source)), source=str(source))
            profiler.disable()
    else:
        with AuditStore.open(store) as opened, open(os.devnull, "wb") as sink:
            profiler.enable()
            for chunk in opened.export(LogQuery()):
                sink.write(chunk)
            profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
    print(text.getvalue())


def _audit(*args: str, helper: bool = True) -> list[str]:
    """`audit ARGS` as a subprocess; without the import's helper process when `helper` is false."""
    code = ("import sys; from audit_cli.store import prepare; "
            + ("" if helper else "prepare.HELPER_MIN_BYTES = 1 << 62; ")
            + "from audit_cli.cli import main; sys.argv = ['audit', *sys.argv[1:]]; main()")
    return [sys.executable, "-c", code, *args]


def _same_lines(source: Path, out: Path) -> bool:
    """Whether the export `out` is the generated trail byte for byte, but for the trailer line it ends with (the
    generator writes none)."""
    size = out.stat().st_size
    with open(out, "rb") as exported:
        exported.seek(max(0, size - 4096))
        tail = exported.read()
    last = tail[tail.rstrip(b"\n").rfind(b"\n") + 1:]
    if b'"trailer"' not in last or size - len(last) != source.stat().st_size:
        return False
    with open(source, "rb") as generated, open(out, "rb") as exported:
        while True:
            block = generated.read(1 << 20)
            if block != exported.read(len(block)):
                return False
            if not block:
                return True


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("-n", "--runs", type=int, default=1)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--profile", choices=["import", "export"])
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "bare":
        phase_bare(Path(args.source), Path(args.db))
        return
    if args.phase == "read":
        phase_read(Path(args.db))
        return

    DATA.mkdir(parents=True, exist_ok=True)
    source = DATA / f"transfer-{args.rows}.jsonl"
    if args.regenerate or not source.exists():
        started = time.perf_counter()
        generate(source, args.rows)
        print(f"generated {source} in {time.perf_counter() - started:.0f} s")
    size = source.stat().st_size
    print(f"trail: {args.rows:,} activities, {size / 1e6:,.0f} MB, {size / args.rows:.0f} bytes a line; "
          f"load average {loadavg()}")
    store = DATA / f"transfer-{args.rows}.db"
    if args.profile:
        if args.profile == "export" and not store.exists():
            subprocess.run(_audit("--db", str(store), "import", str(source)), check=True)
        profile(args.profile, source, store)
        return

    here = [sys.executable, __file__]
    bare_db, utils_db = DATA / "transfer-bare.db", DATA / "transfer-sqlite-utils.db"
    single_db = DATA / f"transfer-{args.rows}-single.db"
    out = DATA / f"transfer-{args.rows}-export.jsonl"
    gz, ecs_out = out.with_suffix(".jsonl.gz"), out.with_suffix(".ecs.jsonl")

    def utils_wal() -> None:
        fresh(utils_db)
        sqlite3.connect(utils_db).execute("PRAGMA journal_mode = WAL").close()

    # name -> (make args, prepare); run in this order, interleaved when -n > 1, so that baselines and the import
    # see the same machine.
    phases = {}
    if not args.skip_baselines:
        phases["bare"] = (lambda: [*here, "--phase", "bare", "--source", str(source), "--db", str(bare_db)],
                          lambda: fresh(bare_db))
        phases["sqlite_utils"] = (lambda: [str(VENV_BIN / "sqlite-utils"), "insert", str(utils_db), "activity",
                                           str(source), "--nl", "--alter"], utils_wal)
    phases["import"] = (lambda: _audit("--db", str(store), "import", str(source)), lambda: fresh(store))
    phases["import_single"] = (lambda: _audit("--db", str(single_db), "import", str(source), helper=False),
                               lambda: fresh(single_db))
    phases["read"] = (lambda: [*here, "--phase", "read", "--db", str(store)], None)
    phases["export"] = (lambda: _audit("--db", str(store), "export", "-o", str(out)), None)
    phases["export_gz"] = (lambda: _audit("--db", str(store), "export", "-o", str(gz)), None)
    phases["export_ecs"] = (lambda: _audit("--db", str(store), "export", "--format", "ecs", "-o", str(ecs_out)), None)
    labels = {"bare": "baseline: bare executemany", "sqlite_utils": "baseline: sqlite-utils insert --nl",
              "import": "audit import", "import_single": "audit import, one process", "read": "reference: read rows",
              "export": "audit export", "export_gz": "audit export (.gz)", "export_ecs": "audit export --format ecs"}
    times: dict[str, list[float]] = {name: [] for name in phases}
    peaks: dict[str, list[float]] = {name: [] for name in phases}
    for n in range(args.runs):
        for name, (make, prepare) in phases.items():
            if prepare:
                prepare()
            # Each phase pays for its own writes only: the gigabyte the one before left dirty in the page cache is
            # flushed first, not while this one runs (it moved the export's time by up to 2 s).
            os.sync()
            elapsed, peak, status = run(make())
            if status == 0:
                times[name].append(elapsed)
                peaks[name].append(peak)
            if name == "export" and n == 0:
                same = _same_lines(source, out)
                print(f"  export identical to the generated trail (its trailer aside): {'yes' if same else 'NO'}")
        print(f"  run {n + 1} done; load average {loadavg()}")
    for path in (bare_db, utils_db, single_db, out, gz, ecs_out):
        fresh(path)
    results = {}
    print()
    for name, spent in times.items():
        if not spent:
            print(f"  {labels[name]:<36} failed")
            continue
        seconds = statistics.median(spent)
        results[name] = {"seconds": seconds, "per_s": args.rows / seconds, "peak_mb": max(peaks[name])}
        print(f"  {labels[name]:<36} {seconds:7.2f} s  {args.rows / seconds:>9,.0f} /s  "
              f"peak RSS {max(peaks[name]):6.1f} MB   (runs: {', '.join(f'{t:.1f}' for t in spent)})")
    print()
    if "bare" in results and "import" in results:
        for name in ("import", "import_single"):
            if name in results:
                ratio = results["bare"]["seconds"] / results[name]["seconds"]
                faster = results["sqlite_utils"]["seconds"] / results[name]["seconds"]
                print(f"{labels[name]}: {ratio:.2f}x the bare baseline (target >= {TARGETS['import_vs_bare']}), "
                      f"{faster:.2f}x sqlite-utils (target > 1)")
    if "export" in results:
        print(f"export: {results['export']['per_s']:,.0f} activities/s (target >= {TARGETS['export_per_s']:,})")
    peak = max(results[k]["peak_mb"] for k in results if k.startswith(("import", "export")))
    print(f"peak RSS of import/export (with the helper): {peak:.0f} MB (target < {TARGETS['peak_rss_mb']})")
    print(f"load average at the end: {loadavg()}")


if __name__ == "__main__":
    main()
