"""How fast an application records through the Python API (issue 15), against the CLI, in the same run.

The events (seeded; the same list for every way of recording): 10,000 by default, what a CMS's audit hook sees:
10% creates of a new item (a ~150 B document), 70% updates of a recent item (one or two fields), 20% logins. Each
way records all of them into a new store in a temporary folder:
- API, one event per call, `synchronous=normal` (the store's default): each `store.record(...)` is one
  transaction, committed when it returns (in the WAL: safe from a crash of the application, not from a power cut);
- API, one event per call, `synchronous="full"`: the same, each commit synced to disk (safe from a power cut too):
  what "durable on return" costs;
- API, `with store.batch():` around all of them, and around each 100 (one commit per batch);
- `audit record` per event, as a subprocess: a sample of --sample events (every Nth of the list, against a copy of
  the store the API run made, so that their items exist), extrapolated to the whole list;
- `audit import -` of the same events, as audit/1 lines (exported from the batch's store) on standard input.
Then ratios against `audit record`. Median of -n runs (default 3), with the spread (slowest to fastest).

Run:  /tmp/venv/bin/python bench/bench_api.py              # 10,000 events, 3 runs (about a minute)
      /tmp/venv/bin/python bench/bench_api.py --events 2000 -n 1
Hand-run only; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import audit_cli

AUDIT = str(Path(sys.executable).parent / "audit")


class Event(NamedTuple):
    action: str
    collection: str
    item: str
    data: dict[str, Any] | None
    user: str


def events(count: int, seed: int = 15) -> list[Event]:
    rng = random.Random(seed)
    made: list[str] = []
    out = []
    for n in range(count):
        roll = rng.random()
        user = f"editor{rng.randrange(20)}"
        if roll < 0.1 or not made:
            item = str(len(made) + 1)
            made.append(item)
            out.append(Event("create", "articles", item, {"title": f"Article {item}", "status": "draft",
                                                          "body": "x" * 80, "tags": ["news"]}, user))
        elif roll < 0.8:
            item = made[max(0, len(made) - 1 - int(rng.expovariate(0.05)))]
            change = {"status": rng.choice(["draft", "review", "published"]), "date_updated": f"t{n}"}
            out.append(Event("update", "articles", item, change, user))
        else:
            out.append(Event("login", "directus_users", user, None, user))
    return out


def record_all(store: audit_cli.Store, todo: list[Event]) -> None:
    for event in todo:
        store.record(event.action, event.collection, event.item, data=event.data, user=event.user, ip="10.0.0.1")


def api_single(path: Path, todo: list[Event], synchronous: str = "normal") -> float:
    with audit_cli.open(path, synchronous=synchronous) as store:
        start = time.perf_counter()
        record_all(store, todo)
        return time.perf_counter() - start


def api_batch(path: Path, todo: list[Event], size: int | None = None) -> float:
    with audit_cli.open(path) as store:
        start = time.perf_counter()
        size = size or len(todo)
        for first in range(0, len(todo), size):
            with store.batch():
                record_all(store, todo[first:first + size])
        return time.perf_counter() - start


def cli_record(path: Path, todo: list[Event], sample: int) -> tuple[float, int]:
    """Seconds for the whole list, extrapolated from `sample` events run as `audit record` subprocesses."""
    import json

    picked = todo[::max(1, len(todo) // sample)][:sample]
    start = time.perf_counter()
    for event in picked:
        item = f"{event.item}-again" if event.action == "create" else event.item  # the copy holds the item already
        args = [AUDIT, "--db", str(path), "record", event.action, event.collection, item, "--user", event.user,
                "--ip", "10.0.0.1"]
        if event.data is not None:
            args += ["--data", json.dumps(event.data)]
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - start) / len(picked) * len(todo), len(picked)


def cli_import(path: Path, trail: Path) -> float:
    start = time.perf_counter()
    with trail.open("rb") as lines:
        subprocess.run([AUDIT, "--db", str(path), "import", "-q", "-"], stdin=lines, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("-n", "--runs", type=int, default=3)
    parser.add_argument("--sample", type=int, default=50, help="`audit record` subprocesses per run")
    options = parser.parse_args()
    todo = events(options.events)
    print(f"{len(todo):,} events; load: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    timings: dict[str, list[float]] = {}

    def take(name: str, seconds: float) -> None:
        timings.setdefault(name, []).append(seconds)

    for run in range(options.runs):
        with tempfile.TemporaryDirectory(prefix="bench-api-") as folder:
            root = Path(folder)
            take("API, one event per call (synchronous=normal)", api_single(root / "single.db", todo))
            take("API, one event per call (synchronous=full)", api_single(root / "full.db", todo, "full"))
            take("API, one batch of all", api_batch(root / "batch.db", todo))
            take("API, batches of 100", api_batch(root / "batch100.db", todo, 100))
            with audit_cli.open(root / "batch.db") as store:
                store.export_to(root / "trail.jsonl")
            take("audit import - (the same events as audit/1 lines)", cli_import(root / "imported.db",
                                                                                 root / "trail.jsonl"))
            shutil.copy(root / "single.db", root / "cli.db")
            seconds, sampled = cli_record(root / "cli.db", todo, options.sample)
            take(f"audit record per event (a sample of {sampled}, extrapolated)", seconds)
            assert audit_cli.open(root / "imported.db").count() == len(todo)
        print(f"run {run + 1} done", file=sys.stderr)
    print(f"load at the end: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    cli = statistics.median(next(v for k, v in timings.items() if k.startswith("audit record")))
    print(f"\n| way (median of {options.runs}) | events/s | spread (slowest-fastest) | x `audit record` |")
    print("| --- | ---: | ---: | ---: |")
    rate: Callable[[float], float] = lambda seconds: len(todo) / seconds  # noqa: E731
    for name, values in timings.items():
        middle = statistics.median(values)
        print(f"| {name} | {rate(middle):,.0f} | {rate(max(values)):,.0f}-{rate(min(values)):,.0f} | "
              f"{cli / middle:,.1f} |")


if __name__ == "__main__":
    main()
