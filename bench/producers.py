"""What real producers send, generated (issue 18): the data of bench_fullstate.py and bench_history.py.

- `fullstate_lines`: audit/1 lines as other producers write them: no hashes, no key, no delta, only the item's full
  state after each change (`revision.data`, ~600 B), mostly updates, items picked with the locality editors have.
- `manifest_history`: one package-manifest-like document (~1.8 KB of JSON) edited more than a thousand times by
  many people, the way such files are: several fields per edit, the version bumped, dependencies added (in sorted
  order, so in the middle of their object), dropped and bumped, nested objects (exports, scripts), keys added and
  removed, array inserts, removals and moves (files, keywords, contributors), and long stable stretches where only
  the version and a dependency move.

Deterministic for a seed; nothing here is committed (the scripts write under bench/data/).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

WORDS = ("fast small tiny robust typed modern simple secure streaming async universal native pure zero lean "
         "json yaml http cli parser router cache store queue logger config schema test build bundle lint "
         "format watch serve deploy sync diff patch merge graph tree table grid chart form input").split()
PACKAGES = sorted({f"{a}-{b}" for a in ("lodash", "react", "vue", "chalk", "zod", "axios", "debug", "semver",
                                        "yargs", "esbuild", "rollup", "vite", "jest", "mocha", "eslint", "prettier",
                                        "typescript", "tslib", "rxjs", "uuid", "ms", "glob", "minimatch", "undici")
                   for b in ("core", "utils", "cli", "plugin", "types", "kit", "lite")})
PEOPLE = [f"dev{n:02d}" for n in range(40)]
PEOPLE_WEIGHTS = [1 / (n + 1) ** 0.8 for n in range(40)]


def _version(rng: random.Random) -> str:
    return f"^{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 20)}"


def _bump(version: str, rng: random.Random, kind: str | None = None) -> str:
    prefix = version[0] if version[0] in "^~" else ""
    major, minor, patch = (int(x) for x in version.lstrip("^~").split("."))
    kind = kind or rng.choices(("patch", "minor", "major"), weights=(70, 25, 5))[0]
    if kind == "patch":
        patch += 1
    elif kind == "minor":
        minor, patch = minor + 1, 0
    else:
        major, minor, patch = major + 1, 0, 0
    return f"{prefix}{major}.{minor}.{patch}"


def _sorted(mapping: dict) -> dict:
    return dict(sorted(mapping.items()))


def new_manifest(rng: random.Random, n: int) -> dict:
    name = f"@acme/{rng.choice(WORDS)}-{rng.choice(WORDS)}-{n}"
    deps = rng.sample(PACKAGES, 6)
    dev = rng.sample([p for p in PACKAGES if p not in deps], 7)
    return {
        "name": name,
        "version": f"{rng.randint(0, 3)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}",
        "description": " ".join(rng.choices(WORDS, k=9)).capitalize() + ".",
        "keywords": rng.sample(WORDS, 4),
        "homepage": f"https://github.com/acme/{name[6:]}#readme",
        "bugs": {"url": f"https://github.com/acme/{name[6:]}/issues"},
        "repository": {"type": "git", "url": f"git+https://github.com/acme/{name[6:]}.git"},
        "license": "MIT",
        "author": {"name": "Acme Maintainers", "email": "oss@acme.example"},
        "contributors": [{"name": p, "email": f"{p}@acme.example"} for p in rng.sample(PEOPLE, 2)],
        "type": "module",
        "main": "./dist/index.cjs",
        "module": "./dist/index.js",
        "types": "./dist/index.d.ts",
        "exports": {".": {"types": "./dist/index.d.ts", "import": "./dist/index.js", "require": "./dist/index.cjs"},
                    "./package.json": "./package.json"},
        "files": ["dist", "README.md", "LICENSE"],
        "scripts": {"build": "tsup src/index.ts --format esm,cjs --dts", "test": "vitest run",
                    "lint": "eslint . --max-warnings 0", "format": "prettier --write .",
                    "prepublishOnly": "npm run build"},
        "dependencies": _sorted({p: _version(rng) for p in deps}),
        "devDependencies": _sorted({p: _version(rng) for p in dev}),
        "peerDependencies": {},
        "engines": {"node": ">=18"},
        "publishConfig": {"access": "public"},
        "sideEffects": False,
    }


def _edit(rng: random.Random, doc: dict, stable: bool) -> dict:
    """The next version of `doc` (a fresh copy): a version bump and a dependency now and then in a stable stretch,
    else several edits of the kinds real manifests see."""
    after = json.loads(json.dumps(doc))
    deps, dev = after["dependencies"], after["devDependencies"]
    if stable:
        if rng.random() < 0.5:
            after["version"] = _bump(after["version"], rng, "patch")
        table = rng.choice((deps, dev))
        if table:
            name = rng.choice(list(table))
            table[name] = _bump(table[name], rng)
        return after
    kinds = rng.sample(("version", "dep-bump", "dep-bump", "dep-add", "dep-drop", "script", "keyword", "files",
                        "contributor", "exports", "description", "key-toggle", "peer", "engines"),
                       rng.choice((2, 2, 3, 4)))
    for kind in kinds:
        if kind == "version":
            after["version"] = _bump(after["version"], rng)
        elif kind == "dep-bump":
            for table in rng.sample((deps, dev), rng.choice((1, 2))):
                for name in rng.sample(list(table), min(len(table), rng.choice((1, 1, 2, 3)))):
                    table[name] = _bump(table[name], rng)
        elif kind == "dep-add":
            table = rng.choice((deps, dev))
            free = [p for p in PACKAGES if p not in deps and p not in dev]
            if free and len(table) < 10:
                table[rng.choice(free)] = _version(rng)
                table_name = "dependencies" if table is deps else "devDependencies"
                after[table_name] = _sorted(table)
                deps, dev = after["dependencies"], after["devDependencies"]
        elif kind == "dep-drop":
            table = rng.choice((deps, dev))
            if len(table) > 5 or (len(table) > 3 and rng.random() < 0.3):
                del table[rng.choice(list(table))]
        elif kind == "script":
            scripts = after["scripts"]
            name = rng.choice(("dev", "typecheck", "bench", "docs", "clean", "test", "build"))
            if name in scripts and rng.random() < 0.3 and name not in ("test", "build"):
                del scripts[name]
            else:
                scripts[name] = f"{rng.choice(('tsc', 'vitest', 'tsup', 'node', 'rimraf'))} " \
                                f"{rng.choice(WORDS)} --{rng.choice(WORDS)}"
        elif kind == "keyword":
            keywords = after["keywords"]
            choice = rng.random()
            if choice < 0.4 and len(keywords) < 7:
                keywords.insert(rng.randrange(len(keywords) + 1), rng.choice(WORDS))
            elif choice < 0.7 and len(keywords) > 3:
                del keywords[rng.randrange(len(keywords))]
            else:  # a move
                keywords.insert(rng.randrange(len(keywords)), keywords.pop(rng.randrange(len(keywords))))
        elif kind == "files":
            files = after["files"]
            extra = rng.choice(("src", "types", "CHANGELOG.md", "bin", "docs"))
            if extra in files:
                files.remove(extra)
            else:
                files.insert(rng.randrange(1, len(files) + 1), extra)
        elif kind == "contributor":
            people = after["contributors"]
            if rng.random() < 0.5 and len(people) < 4:
                who = rng.choice(PEOPLE)
                people.append({"name": who, "email": f"{who}@acme.example"})
            elif len(people) > 2 and rng.random() < 0.5:
                people.insert(0, people.pop(rng.randrange(len(people))))  # a move to the front
            elif len(people) > 1:
                del people[rng.randrange(len(people))]
        elif kind == "exports":
            exports = after["exports"]
            sub = f"./{rng.choice(WORDS)}"
            if sub in exports or len(exports) > 4:
                del exports[sub if sub in exports else next(k for k in reversed(exports) if k.startswith("./") and k != "./package.json")]
            else:
                exports[sub] = {"types": f"./dist/{sub[2:]}.d.ts", "import": f"./dist/{sub[2:]}.js"}
        elif kind == "description":
            words = after["description"].rstrip(".").split()
            words[rng.randrange(len(words))] = rng.choice(WORDS)
            after["description"] = " ".join(words) + "."
        elif kind == "key-toggle":
            for key, value in (("sideEffects", False), ("funding", "https://github.com/sponsors/acme"),
                               ("private", False)):
                if rng.random() < 0.3:
                    if key in after:
                        del after[key]
                    else:
                        after[key] = value
        elif kind == "peer":
            peers = after["peerDependencies"]
            name = rng.choice(PACKAGES[:20])
            if name in peers:
                del peers[name]
            else:
                peers[name] = _version(rng)
                after["peerDependencies"] = _sorted(peers)
        else:
            after["engines"]["node"] = f">={rng.choice((16, 18, 20, 22))}"
    return after


def manifest_history(seed: int, versions: int, n: int = 0) -> Iterator[dict]:
    """`versions` states of one manifest, oldest first: stretches of stable, small edits between busier ones."""
    rng = random.Random(seed)
    doc = new_manifest(rng, n)
    yield doc
    stable_left = 0
    for _ in range(versions - 1):
        if stable_left == 0 and rng.random() < 0.15:
            stable_left = rng.randint(10, 80)
        doc = _edit(rng, doc, stable_left > 0)
        stable_left = max(0, stable_left - 1)
        yield doc


def history_lines(documents: int, versions: int, seed: int = 18) -> Iterator[dict]:
    """Full-state audit/1 lines of `documents` manifests, each edited `versions - 1` times, interleaved in time."""
    rng = random.Random(seed)
    start = datetime(2023, 1, 1, tzinfo=timezone.utc)
    streams = [manifest_history(seed * 1000 + d, versions, d) for d in range(documents)]
    at = start
    active = list(range(documents))
    counts = [0] * documents
    while active:
        d = rng.choice(active)
        try:
            state = next(streams[d])
        except StopIteration:
            active.remove(d)
            continue
        at += timedelta(minutes=rng.expovariate(1 / 90))
        counts[d] += 1
        yield {"action": "create" if counts[d] == 1 else "update",
               "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "collection": "packages", "item": f"pkg-{d}",
               "user": rng.choices(PEOPLE, weights=PEOPLE_WEIGHTS)[0], "revision": {"data": state}}


# Full-state lines, ~600 B of state: what a CMS or an ORM hook sends when it knows the row after, not the change.

STATUSES = ("pending", "paid", "packed", "shipped", "delivered", "returned")
CARRIERS = ("ups", "dhl", "fedex", "usps", "postnl")


def _order(rng: random.Random, n: int, when: str) -> dict:
    return {"id": n, "number": f"SO-{100000 + n}", "status": "pending", "customer": {
        "id": rng.randint(1, 50_000), "name": " ".join(rng.choices(WORDS, k=2)).title(),
        "email": f"c{rng.randint(1, 50_000)}@shop.example", "tier": rng.choice(("std", "gold", "pro"))},
        "lines": [{"sku": f"SKU-{rng.randint(1000, 9999)}", "qty": rng.randint(1, 4),
                   "price": round(rng.uniform(3, 200), 2)} for _ in range(rng.randint(1, 3))],
        "shipping": {"carrier": rng.choice(CARRIERS), "tracking": None, "address": {
            "street": f"{rng.randint(1, 999)} {rng.choice(WORDS).title()} St", "city": rng.choice(WORDS).title(),
            "zip": f"{rng.randint(10000, 99999)}", "country": rng.choice(("US", "DE", "NL", "FR"))}},
        "notes": " ".join(rng.choices(WORDS, k=rng.randint(3, 8))), "total": 0, "currency": "EUR",
        "tags": rng.sample(WORDS, 2), "date_created": when, "date_updated": when}


def _order_edit(rng: random.Random, doc: dict, when: str) -> dict:
    after = {**doc, "date_updated": when}
    kind = rng.random()
    if kind < 0.45:
        after["status"] = STATUSES[min(STATUSES.index(doc["status"]) + 1, len(STATUSES) - 1)]
    elif kind < 0.6:
        after["shipping"] = {**doc["shipping"], "tracking": f"1Z{rng.getrandbits(40):010X}"}
    elif kind < 0.8:
        lines = [dict(line) for line in doc["lines"]]
        lines[rng.randrange(len(lines))]["qty"] = rng.randint(1, 6)
        after["lines"] = lines
    elif kind < 0.9:
        after["notes"] = " ".join(rng.choices(WORDS, k=rng.randint(3, 8)))
    else:
        after["tags"] = [*doc["tags"], rng.choice(WORDS)][-4:]
    after["total"] = round(sum(line["qty"] * line["price"] for line in after["lines"]), 2)
    return after


def fullstate_lines(count: int, seed: int = 600) -> Iterator[bytes]:
    """`count` JSONL lines (bytes, newline included): 8% creates, 90% updates, 2% deletes of orders."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    step = timedelta(days=60) / count
    live: dict[str, dict] = {}
    order: list[str] = []
    made = 0
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    for n in range(count):
        when = (start + step * n).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        roll = rng.random()
        if roll < 0.08 or len(live) < 200:
            made += 1
            item = str(made)
            doc = live[item] = _order(rng, made, when)
            order.append(item)
            action = "create"
        else:
            while True:
                item = order[-1 - min(int(rng.expovariate(1 / 2000)), len(order) - 1)] \
                    if rng.random() < 0.97 else rng.choice(order)
                if item in live:
                    break
            if roll > 0.98:
                doc = live.pop(item)
                action = "delete"
            else:
                doc = live[item] = _order_edit(rng, live[item], when)
                order.append(item)
                action = "update"
        if len(order) > 200_000:
            del order[:100_000]
        line = {"action": action, "timestamp": when, "user": f"svc-{rng.randint(1, 12)}",
                "ip": f"10.0.{rng.randint(0, 9)}.{rng.randint(1, 250)}", "collection": "orders", "item": item,
                "revision": {"data": doc}}
        yield dumps(line).encode() + b"\n"
