"""How fast `audit verify` checks the chain, end to end, on a 1,000,000-activity store with revisions.

The issue's target: verification of 1,000,000 activities in under 10 s.

The store (built once, cached as bench/data/verify-<rows>.db, rebuilt when audit_cli's schema changes, when the
cached store no longer verifies under the current code, or with --rebuild):
- about 60% `update`s of items holding ~600 B JSON documents (one or two small edits each, always a new
  `date_updated`, the way a CMS saves), 6% `create`s, 1% `delete`s; the rest login / logout / comment / upload /
  publish, and a few hundred chained `comment-edit`s; 20,000 items over 5 collections by default (--items);
- revisions packed exactly as the store packs them (audit_cli.store.codec: zlib against a base snapshot of the same
  item, re-based by codec.worth_rebasing), with deltas from audit_cli.patches.diff;
- built fast: the real `AuditStore.open(create=True)` for the schema, executemany straight into `activity`,
  `revisions` and `bases` with the activity indexes dropped and rebuilt after, then the store's own
  `transfers.rechain(0, chain.GENESIS)` in one transaction, so every hash is the one the real insert path would have
  written (the real path records ~5,000 activities/s: over 3 minutes for a million). `--real` builds through
  `store.record` / `add_comment` / `edit_comment` instead, for a check at a smaller --rows.

Then, each as a whole subprocess, median (and best) of N runs after one warm-up (page cache hot):
- `python -c pass`, the interpreter's start-up;
- a bare sqlite3 loop reading every row of `SELECT * FROM activity`;
- a bare sqlite3 loop reading the very query verify runs (activity LEFT JOIN revisions, by id);
- a minimal verify written inline: that query, unpack each revision against its (cached) base, revision digest,
  record bytes, one SHA-256 per row: roughly the floor for a pure-Python verify of this format;
- `audit verify` itself (and `--format json`).
Prints activities/s and the ratios, so that hashing and decoding can be told apart from reading, and finally
profiles one `store.verify()` in-process with cProfile (top 15 by cumulative time).

Run:  /tmp/venv/bin/python bench/bench_verify.py                 # build if missing (~1-2 min), then measure (N=3)
      /tmp/venv/bin/python bench/bench_verify.py --rows 100000   # quick check
      /tmp/venv/bin/python bench/bench_verify.py --rebuild -n 5
Hand-run only; asserts nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import io
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
from audit_cli.models import Activity
from audit_cli.store import AuditStore, codec

DATA = Path(__file__).resolve().parent / "data"
TARGET_SECONDS = 10.0  # for 1,000,000 activities, from the issue
COLLECTIONS = ["articles", "pages", "products", "authors", "media"]
USERS = [f"user{n:02d}" for n in range(20)]
USER_WEIGHTS = [1 / (n + 1) for n in range(20)]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0", "Mozilla/5.0 (Macintosh) Safari/605.1.15", "curl/8.5.0",
          "directus-sdk/17.0"]
# Shares of activity (the rest of the weights go to the non-data actions).
MIX = {"update": 60, "create": 6, "delete": 1, "login": 12, "logout": 6, "comment": 8, "upload": 3, "publish": 3.6,
       "comment-edit": 0.4}
STATUSES = ["draft", "review", "published", "archived"]
WORDS = ("the a of and to in is for on with as by at from this that it be are was or an new data page user item "
         "review update release audit store history change draft edit version content team product price order "
         "customer report launch plan market design build test deploy server client request response query index "
         "search field value record event time date year month week day note guide story news feature policy").split()


def words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choices(WORDS, k=count))


def new_document(rng: random.Random, n: int, when: str) -> dict:
    """About 600 bytes of JSON: what a CMS keeps for an article."""
    title = words(rng, 6).title()
    return {
        "id": n, "status": "draft", "title": title, "slug": title.lower().replace(" ", "-"),
        "author": rng.choice(USERS), "body": ". ".join(words(rng, 12).capitalize() for _ in range(4)) + ".",
        "tags": rng.sample(["news", "guide", "release", "howto", "opinion", "product", "security", "design"], 3),
        "meta": {"seo_title": words(rng, 5), "description": words(rng, 14), "views": 0, "featured": False},
        "date_created": when, "date_updated": when,
    }


def edit(rng: random.Random, doc: dict, when: str) -> dict:
    """One or two small changes, and a new date_updated: a partial save merged onto the document."""
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


def plan(count: int, items: int, seed: int):
    """The activities in id order, as (fields, revision or None, comment edit or None) tuples.

    fields holds the activity columns; a revision is (data, delta); a comment edit is (comment id, new text)."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    step = timedelta(days=90) / count
    names = list(MIX)
    actions = rng.choices(names, weights=[MIX[n] for n in names], k=count)
    state: dict[tuple[str, str], dict] = {}  # live items
    dead: set[tuple[str, str]] = set()
    comments: list[int] = []
    pool = [(rng.choice(COLLECTIONS), str(n)) for n in range(1, items + 1)]
    next_new = 0
    for n in range(count):
        action = actions[n]
        when = timeparse.format_ts(start + step * n)
        user = rng.choices(USERS, weights=USER_WEIGHTS)[0]
        fields = {"action": action, "user": user, "timestamp": when, "ip": f"10.0.{USERS.index(user)}.{n % 250 + 1}",
                  "user_agent": rng.choice(AGENTS), "origin": "https://cms.example.com"}
        if action in ("update", "delete") and not state:
            action = fields["action"] = "create"
        if action == "create" and next_new >= len(pool):
            action = fields["action"] = "update"
        if action == "comment-edit" and not comments:
            action = fields["action"] = "login"
        if action == "create":
            target = pool[next_new]
            next_new += 1
            doc = new_document(rng, next_new, when)
            state[target] = doc
            fields.update(collection=target[0], item=target[1])
            yield fields, (doc, patches.diff({}, doc)), None
        elif action in ("update", "delete"):
            target = rng.choice(list(state)) if len(state) < 64 else _pick(rng, state, pool, next_new)
            fields.update(collection=target[0], item=target[1])
            before = state[target]
            if action == "delete":
                del state[target]
                dead.add(target)
                yield fields, (before, []), None
            else:
                after = edit(rng, before, when)
                state[target] = after
                if rng.random() < 0.1:
                    fields["details"] = jsontext.dumps({"reason": "fix typo", "request_id": f"{rng.getrandbits(64):016x}"})
                yield fields, (after, patches.diff(before, after)), None
        elif action in ("login", "logout"):
            fields.update(collection="directus_users", item=user)
            yield fields, None, None
        elif action == "comment":
            target = rng.choice(pool[:max(next_new, 1)])
            fields.update(collection=target[0], item=target[1], comment=f"Check paragraph {rng.randrange(1, 9)}.")
            comments.append(n + 1)
            yield fields, None, None
        elif action == "comment-edit":
            yield fields, None, (rng.choice(comments[-5000:]), f"Checked paragraph {rng.randrange(1, 9)} too.")
        else:
            target = rng.choice(pool[:max(next_new, 1)])
            fields.update(collection=target[0], item=target[1])
            yield fields, None, None


def _pick(rng: random.Random, state: dict, pool: list, created: int):
    while True:
        target = pool[rng.randrange(created)]
        if target in state:
            return target


COLUMNS = ("id", "action", "user", "timestamp", "ip", "user_agent", "origin", "collection", "item", "comment",
           "details", "edited_on", "comment_deleted_on", "key", "prev_hash", "hash")


def build_bulk(path: Path, count: int, items: int, seed: int) -> None:
    store = AuditStore.open(path, create=True)  # the real code: file mode, pragmas, migrations
    conn = store.conn
    store_id = store.store_id()
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'activity' "
                           "AND sql IS NOT NULL").fetchall()
    bases: dict[tuple[str, str], tuple[int, bytes, int]] = {}  # item -> (base id, base text, packed size)
    comment_state: dict[int, dict] = {}
    comment_where: dict[int, tuple[str, str]] = {}
    next_base = 1
    conn.execute("BEGIN IMMEDIATE")
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    activity, revisions, new_bases, edited = [], [], [], {}

    def flush():
        conn.executemany(f"INSERT INTO activity ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                         activity)
        conn.executemany("INSERT INTO bases (id, body) VALUES (?, ?)", new_bases)
        conn.executemany("INSERT INTO revisions (activity, collection, item, version, base, data, delta) "
                         "VALUES (?, ?, ?, NULL, ?, ?, ?)", revisions)
        activity.clear(), revisions.clear(), new_bases.clear()

    for n, (fields, revision, comment_edit) in enumerate(plan(count, items, seed), 1):
        if comment_edit is not None:
            target, text = comment_edit
            before = comment_state[target]
            after = {**before, "comment": text, "edited_on": fields["timestamp"]}
            comment_state[target] = after
            edited[target] = after
            collection, item = comment_where[target]
            fields.update(collection=collection, item=item,
                          details=jsontext.dumps({"comment": f"{store_id}/{target}", "before": before, "after": after}))
        elif fields["action"] == "comment":
            comment_state[n] = {"comment": fields["comment"], "edited_on": None, "comment_deleted_on": None}
            comment_where[n] = (fields["collection"], fields["item"])
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
            # The delta packed against its snapshot, as the store writes it (schema 5): verify unpacks it
            revisions.append((n, fields["collection"], fields["item"], base[0], packed,
                              codec.pack_delta(jsontext.dumps(delta), text)))
        if len(activity) >= 50_000:
            flush()
    flush()
    conn.executemany("UPDATE activity SET comment = ?, edited_on = ? WHERE id = ?",
                     [(state["comment"], state["edited_on"], target) for target, state in edited.items()])
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'activity'", [count])
    conn.execute("COMMIT")
    started = time.perf_counter()
    with store._writing():  # the hashes the real insert path would have written
        store.transfers.rechain(0, chain.GENESIS)
    print(f"  rechained in {time.perf_counter() - started:.1f} s")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()


def build_real(path: Path, count: int, items: int, seed: int) -> None:
    with AuditStore.open(path, create=True) as store, store._writing():
        for fields, revision, comment_edit in plan(count, items, seed):
            fields = dict(fields)
            details = jsontext.loads(fields.pop("details")) if fields.get("details") else None
            action = fields.pop("action")
            activity = Activity(action, fields.pop("collection", ""), fields.pop("item", ""), fields.pop("timestamp"),
                                details=details, **fields)
            if comment_edit is not None:
                store.edit_comment(comment_edit[0], comment_edit[1], activity=activity)
            elif action == "comment":
                store.add_comment(activity)
            elif revision is not None and action == "update":
                store.record(activity, data=revision[0], replace=True)
            elif revision is not None and action == "create":
                store.record(activity, data=revision[0])
            else:
                store.record(activity)


def schema(path: Path) -> list:
    with sqlite3.connect(path) as conn:
        return [conn.execute("PRAGMA user_version").fetchone()[0],
                *conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name")]


def current_schema() -> list:
    probe = DATA / "verify-schema-probe.db"
    for p in DATA.glob(probe.name + "*"):
        p.unlink()
    AuditStore.open(probe, create=True).close()
    try:
        return schema(probe)
    finally:
        for p in DATA.glob(probe.name + "*"):
            p.unlink()


def build(path: Path, count: int, items: int, real: bool) -> None:
    tmp = path.with_suffix(".building")
    for p in DATA.glob(tmp.name + "*"):
        p.unlink()
    started = time.perf_counter()
    (build_real if real else build_bulk)(tmp, count, items, 20261122)
    for p in DATA.glob(path.name + "*"):
        p.unlink()
    tmp.rename(path)
    with sqlite3.connect(path) as conn:
        revisions, bases = (conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("revisions", "bases"))
        payload = conn.execute("SELECT avg(length(data)), avg(length(delta)) FROM revisions").fetchone()
    print(f"built {path.name}: {count:,} activities, {revisions:,} revisions, {bases:,} bases, "
          f"{path.stat().st_size / 1e6:.0f} MB, packed data {payload[0]:.0f} B and delta {payload[1]:.0f} B per "
          f"revision, in {time.perf_counter() - started:.1f} s ({'real insert path' if real else 'bulk + rechain'})")


def bytecode_env() -> dict[str, str]:
    """As bench_log.py: keep compiled bytecode under bench/data/pycache, as an installed CLI would have it."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("AUDIT_CHAIN_KEY", None)
    env["PYTHONPYCACHEPREFIX"] = str(DATA / "pycache")
    return env


def timed(argv: list[str], runs: int, env: dict[str, str]) -> tuple[float, float, str]:
    times, out = [], ""
    for n in range(runs + 1):
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env=env)
        elapsed = time.perf_counter() - started
        out = (done.stdout.strip() or done.stderr.strip()).splitlines()[-1:] if (done.stdout or done.stderr) else []
        out = f"exit {done.returncode}: {out[0][:110] if out else ''}"
        if n:
            times.append(elapsed)
    return statistics.median(times), min(times), out


READ_ACTIVITY = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
n = 0
for row in conn.execute("SELECT * FROM activity"):
    n += 1
print(n, "rows")
"""

READ_JOIN = """
import sqlite3, sys
from audit_cli.store.integrity import _VERIFY
conn = sqlite3.connect(sys.argv[1])
n = 0
for row in conn.execute(_VERIFY, [0, 2**63 - 1]):
    n += 1
print(n, "rows")
"""

# The least a Python verify of this format has to do per row, with no per-row dicts or method calls beyond it.
MINIMAL_VERIFY = """
import hashlib, sqlite3, sys, zlib
from audit_cli import chain
from audit_cli.store import codec
from audit_cli.store.integrity import _VERIFY
conn = sqlite3.connect(sys.argv[1])
store_id = conn.execute("SELECT value FROM settings WHERE key = 'store_id'").fetchone()[0]
bases = {}
prev, n, bad = chain.GENESIS, 0, 0
for values in conn.execute(_VERIFY, [0, 2**63 - 1]):
    version, base, data, delta = values[-4:]
    digest = None
    if data is not None:
        base_text = bases.get(base)
        if base_text is None:
            base_text = bases[base] = zlib.decompress(conn.execute("SELECT body FROM bases WHERE id = ?", [base]).fetchone()[0])
        d = zlib.decompressobj(zdict=base_text[-32768:])
        text = d.decompress(data) + d.flush()
        digest = chain.revision_digest(text.decode(), codec.delta_text(delta, text), version)
    record = dict(zip(("id", "action", "user", "timestamp", "ip", "user_agent", "origin", "collection", "item",
                       "comment"), values))
    key = values[13] or f"{store_id}/{values[0]}"  # a local activity's key names it (chain format 2)
    new = chain.link(prev, chain.record_bytes(record, values[10], digest, key))
    bad += new != values[15]  # a.hash (a.key, a.prev_hash, a.hash follow the 13 activity fields)
    prev = values[15]
    n += 1
print(n, "rows", bad, "mismatches (edited comments count here: this loop does not rebuild them)")
"""


def profile(path: Path) -> dict:
    with AuditStore.open(path) as store:
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        report = store.verify()
        profiler.disable()
        elapsed = time.perf_counter() - started
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(15)
    report["profiled_seconds"] = elapsed
    report["profile"] = text.getvalue()
    return report


def what_if(path: Path) -> None:
    """In-process timings of store.verify() as it is, and with two cheap changes patched in at run time (the code is
    not edited): a base cache that holds every base (revisions.BASE_CACHE, 4,096 by default, is evicted oldest
    first, so with more items than that most revisions unpack their base again), and store_id() read once."""
    from audit_cli.store import snapshots as revisions  # where the base cache lives now

    def run(label: str, patch) -> None:
        saved = revisions.BASE_CACHE
        try:
            with AuditStore.open(path) as store:
                patch(store)
                started = time.perf_counter()
                report = store.verify()
                elapsed = time.perf_counter() - started
        finally:
            revisions.BASE_CACHE = saved
        print(f"  {label:<60} {elapsed:6.2f} s  {report['checked'] / elapsed:>10,.0f} activities/s  ok={report['ok']}")

    def bigger_cache(store):
        revisions.BASE_CACHE = 1 << 30

    def store_id_once(store):
        value = store.store_id()
        store.store_id = lambda: value

    print("\nIn-process store.verify() (no profiler), as is and with a change patched in:")
    run("as is", lambda store: None)
    run("every base cached", bigger_cache)
    run("every base cached + store_id() read once", lambda store: (bigger_cache(store), store_id_once(store)))


def plain_verify(path: Path) -> dict:
    with AuditStore.open(path) as store:
        started = time.perf_counter()
        report = store.verify()
        report["profiled_seconds"] = time.perf_counter() - started
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("-n", "--runs", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--real", action="store_true", help="build through the real insert path (slow)")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()

    DATA.mkdir(exist_ok=True)
    path = DATA / f"verify-{args.rows}{'-real' if args.real else ''}.db"
    if args.rebuild or not path.exists() or schema(path) != current_schema():
        build(path, args.rows, args.items, args.real)
    else:
        print(f"using the cached {path.name} ({path.stat().st_size / 1e6:.0f} MB; --rebuild to rebuild)")

    # One in-process verify first: it checks the store still verifies under the current code (else rebuild), and
    # gives the profile (skipped with --no-profile: a plain verify does the check).
    report = profile(path) if not args.no_profile else plain_verify(path)
    if not report["ok"]:
        print(f"the cached store does not verify under the current code ({report['failure']}): rebuilding")
        build(path, args.rows, args.items, args.real)
        report = profile(path) if not args.no_profile else plain_verify(path)
    print(f"\nin-process store.verify(){' under cProfile' if not args.no_profile else ''}: "
          f"{report['profiled_seconds']:.1f} s, ok={report['ok']}, checked {report['checked']:,}")

    env = bytecode_env()
    python = sys.executable
    audit = str(Path(python).with_name("audit"))
    audit_argv = [audit] if os.path.exists(audit) else [python, "-m", "audit_cli"]
    runs = args.runs
    print(f"\nEnd to end, median (best) of {runs} runs after one warm-up, {args.rows:,} activities:")
    rows = [
        ("python -c pass", [python, "-c", "pass"]),
        ("sqlite3: SELECT * FROM activity", [python, "-c", READ_ACTIVITY, str(path)]),
        ("sqlite3: verify's query (activity + revisions)", [python, "-c", READ_JOIN, str(path)]),
        ("minimal verify loop (unpack + digest + sha256)", [python, "-c", MINIMAL_VERIFY, str(path)]),
        ("audit verify", [*audit_argv, "--db", str(path), "verify"]),
        ("audit verify --format json", [*audit_argv, "--db", str(path), "verify", "--format", "json"]),
    ]
    results = {}
    for label, argv in rows:
        median, best, out = timed(argv, runs, env)
        results[label] = median
        print(f"  {label:<48} {median:7.2f} s ({best:6.2f})  {args.rows / median:>10,.0f} rows/s   [{out}]")
    verify = results["audit verify"]
    read = results["sqlite3: verify's query (activity + revisions)"]
    floor = results["minimal verify loop (unpack + digest + sha256)"]
    scaled_target = TARGET_SECONDS * args.rows / 1_000_000
    print(f"\n  audit verify: {args.rows / verify:,.0f} activities/s; target {scaled_target:.1f} s for "
          f"{args.rows:,} -> {'MET' if verify <= scaled_target else 'MISSED'} ({verify / scaled_target:.2f}x target)")
    print(f"  reading verify's rows is {read / verify:.0%} of verify; the minimal loop is {floor / verify:.0%}; "
          f"so about {max(verify - floor, 0):.1f} s is verify's own overhead beyond unpacking and hashing")
    what_if(path)
    if not args.no_profile:
        print("\ncProfile of one store.verify() (top 15 by cumulative time):")
        print(report["profile"])


if __name__ == "__main__":
    main()
