"""The one-pass importer (store/importer.py, store/prepare.py, store/lines.py) against the importer it replaced.

The previous importer (one line at a time through the store's own record path, then a second pass over the chain)
is kept below, verbatim but for its names, as the reference: for random histories, exported and then imported in
every way an import can go (into an empty store or not, with or without hashes, with deltas or snapshots left
out, lines repeated, reordered or broken, with or without --skip-invalid and --no-verify), the new importer must
give the same result, the same store (byte for byte in its export) and the same verify report, or fail with the
same error. Then: the same with tiny batches and caches (so every flush, eviction, store lookup, mispredicted
packing and the dropped and rebuilt indexes are exercised), the helper process, the fast JSON parser, the packer
and the delta applier against what they shortcut.
"""

from __future__ import annotations

import functools
import re
import gzip
import io
import json
import os
import random
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_cli import chain, jsonl, jsontext, patches
from audit_cli.errors import AuditError, UsageError
from audit_cli.models import ACTIVITY_FIELDS, CREATES, DATA_ACTIONS, REVISION_ACTIONS, SCHEMA, Activity, LogQuery
from audit_cli.store import AuditStore, codec, heads, importer, lines, prepare
from audit_cli.store.importer import ImportError_
from audit_cli.store.integrity import Tampered
from audit_cli.store.recorder import NewRevision
from audit_cli.store.seen import store_of

SETTINGS = settings(max_examples=30, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
TS = "2026-03-{:02d}T10:00:{:02d}.000000Z"

# ---------------------------------------------------------------------------------------------------------------
# the reference: the importer as it was before the one-pass rewrite (store/transfer.py at a9e218e)

_MISSING = object()
_TEXT_FIELDS = ("user", "ip", "user_agent", "origin", "comment", "edited_on", "comment_deleted_on")


@dataclass
class _Link:
    number: int
    id: int | None
    prev_hash: str | None
    hash: str | None
    attested: str | None = None
    gap: bool = False


def reference_import(store: AuditStore, source_lines, *, source: str, skip_invalid: bool = False,
                     verify: bool = True, keep_links: bool | None = None, as_given: bool = False) -> dict[str, Any]:
    from audit_cli import timeparse

    added = duplicates = 0
    skipped: list[str] = []
    links: list[_Link] = []
    with store._writing():
        empty = store.conn.execute("SELECT count(*) FROM activity").fetchone()[0] == 0
        start_id = store.conn.execute("SELECT coalesce(max(id), 0) FROM activity").fetchone()[0]
        head = store._chain_head()
        own = store.store_id() + "/"
        # What the lines so far tell: how many of each keyless line were seen (the n-th gets `#n` on its key), and
        # whether the lines' own chain showed lines missing (a gap or a break), after which a create may follow a
        # delete the file does not hold.
        # And for a line whose hash covers its revision (verified), whether the item's head here may not be the
        # state its source took the delta from (store/heads.py, Heads._unsure): items of lines that came without
        # their pruned revision, the highest id when the last gap came, where the lines start.
        # And the stores this file's lines come from: an item here of another store, whose lines the file did not
        # carry, is not the line's item (Seen._clash).
        state = {"seen": {}, "missing": False, "last": None, "unknown": set(), "gap_top": -1, "first": None,
                 "head": head, "start_id": start_id, "verify": verify, "sources": set(), "own": own}
        for number, raw in source_lines:
            if isinstance(raw, bytes) and not raw.strip():
                continue
            try:
                with store._writing():
                    link = _import_one(store, raw, keep_ids=empty, own=own, number=number, as_given=as_given,
                                       timeparse=timeparse, state=state)
            except AuditError as exc:
                message = f"{source} line {number}: {exc}"
                if not skip_invalid:
                    raise ImportError_(message + " (nothing was imported; skip_invalid imports the rest)",
                                       number) from None
                skipped.append(message)
                continue
            if link.id is None:
                duplicates += 1
            else:
                added += 1
            if link.hash is not None:
                links.append(link)
        if verify:
            _check_links(store, links, source)
        if keep_links is None:
            keep_links = (verify and empty and bool(added) and len(links) == added + duplicates
                          and not any(x.gap for x in links) and links[0].prev_hash == chain.GENESIS)
        if keep_links:
            if store.chain_key is not None:
                store.conn.execute("INSERT OR IGNORE INTO settings (key, value) VALUES ('chain_key_check', ?)",
                                   [chain.key_check(store.chain_key)])
            store.conn.executemany("INSERT OR REPLACE INTO attested (activity, revision) VALUES (?, ?)",
                                   [(x.id, x.attested) for x in links if x.id is not None and x.attested])
            store.conn.executemany("UPDATE activity SET prev_hash = ?, hash = ? WHERE id = ?",
                                   [(x.prev_hash, x.hash, x.id) for x in links])
        else:
            store.transfers.rechain(start_id if not empty else 0, head)
        store.versions.replay_after(start_id)  # as the importer does: the versions the trail's activities make
    # The first line may continue one outside the file (an incremental export's piece): no break before it.
    breaks = [(b.number, b.id) for a, b in zip(links, links[1:]) if b.prev_hash != a.hash and not b.gap]
    result = {"added": added, "duplicates": duplicates, "skipped": len(skipped), "skipped_lines": skipped,
              "gaps": sum(1 for x in links if x.gap), "links_kept": bool(keep_links), "breaks": breaks}
    if links and links[0].prev_hash != chain.GENESIS:
        result["continues"] = links[0].prev_hash
    # Comments marked edited or deleted with no chained edit to prove it (store/given_links.py, _originals).
    changes = store.integrity.comment_change_map()
    unvouched = 0 if not links else sum(1 for _, key in store.conn.execute(
        "SELECT id, key FROM activity WHERE action = 'comment' AND id > ? AND "
        "(edited_on IS NOT NULL OR comment_deleted_on IS NOT NULL)", [start_id]) if key not in changes)
    if unvouched:
        result["originals"] = unvouched
    return result


def _check_links(store, links, source):
    key = store.chain_key
    by_id = {x.id: x for x in links if x.id is not None}
    for before, after in zip(links, links[1:]):
        if after.prev_hash != before.hash and not after.gap:
            raise Tampered(f"{source} line {after.number}: the chain is broken (its prev_hash does not continue "
                           f"line {before.number}, and no gap is marked): nothing was imported; --no-verify "
                           "imports it anyway")
    if not by_id:
        return
    integrity = store.integrity
    changes = integrity.comment_change_map()
    for row, details_text, digest in integrity.rows(since=min(by_id) - 1):
        line = by_id.get(row["id"])
        if line is None:
            continue
        expected, _ = integrity.link_of(row, details_text, digest, line.prev_hash, key, changes)
        if expected != line.hash and line.attested is not None:
            expected, _ = integrity.link_of(row, details_text, line.attested, line.prev_hash, key, changes)
        if expected != line.hash:
            hint = " (a keyed trail needs its AUDIT_CHAIN_KEY)" if key is None else ""
            raise Tampered(f"{source} line {line.number}: its hash does not match its content{hint}: nothing "
                           f"was imported; --no-verify imports it anyway")


def _import_one(store, raw, *, keep_ids, own, number, as_given, timeparse, state):
    line = raw if isinstance(raw, dict) else jsontext.parse_object(raw, what="the line")
    activity, key, revision = _activity_from_line(line, timeparse)
    if line.get("key") is None:
        seen = state["seen"][key] = state["seen"].get(key, 0) + 1
        key = key if seen == 1 else f"{key}#{seen}"
    link = _Link(number, None, *_given_link(line), attested=line.get("attested_revision"),
                 gap=line.get("gap") is True)
    if store_of(key) is not None:  # duplicates too: the stores whose lines the file carries
        state["sources"].add(store_of(key))
    if key.startswith(own):
        local = key[len(own):]
        if local.isdigit() and store.conn.execute("SELECT 1 FROM activity WHERE id = ?", [int(local)]).fetchone():
            return _followed(store, state, link)
    known = store.conn.execute("SELECT id FROM activity WHERE key = ?", [key]).fetchone()
    if known:
        if activity.action == "comment" and link.hash is None:
            store.transfers.update_comment(known[0], activity)
        return _followed(store, state, link)
    if revision is not None and revision.get("version") is None:
        clash = _clash(store, state, key, store._head(activity.collection, activity.item), link)
        if clash is not None:
            raise UsageError(clash)
    bound = link.hash is not None and state["verify"]  # the line's hash covers its revision
    unsure = (lambda head: _unsure(store, state, activity, head, link)) if bound else None
    if revision is not None and revision.get("version") is None and activity.action in CREATES \
            and not (state["missing"] or link.gap):
        head = store._head(activity.collection, activity.item)
        if head is not None and not head.deleted and not (bound and _unsure(store, state, activity, head, link)):
            raise UsageError(f"{activity.collection} {activity.item} already exists (created or changed in activity "
                             f"{head.activity}): a create needs an item that does not exist yet, or was deleted")
    if keep_ids and isinstance(line.get("id"), int) and not isinstance(line.get("id"), bool):
        taken = store.conn.execute("SELECT 1 FROM activity WHERE id = ?", [line["id"]]).fetchone()
        activity.id = None if taken else line["id"]
    new = _import_revision(store, activity, revision, as_given, unsure) if revision is not None else None
    link.id = store._insert_activity(activity, key=key, revision=new, link=("", ""))["id"]
    where = (activity.collection, activity.item)
    if new is not None and new.version is None:
        state["unknown"].discard(where)
    elif revision is None and link.attested is not None and link.hash is not None:
        state["unknown"].add(where)
    return _followed(store, state, link)


def _clash(store, state, key, head, link):
    """Why the line cannot go onto its item, when the item here is another store's whose lines the file did not
    carry, and the file does not continue this store's chain (the reference writes no import records)."""
    if store_of(key) is None or head is None or head.activity > state["start_id"]:
        return None
    row = store.conn.execute("SELECT collection, item, key FROM activity WHERE id = ?", [head.activity]).fetchone()
    theirs = store_of(row[2] or f"{state['own']}{head.activity}")
    first = state["first"] if state["first"] is not None else link.prev_hash
    if theirs is None or theirs == store_of(key) or theirs in state["sources"] or first == state["head"]:
        return None
    return (f"{row[0]} {row[1]} here is an item of store {theirs} (activity {head.activity}), and this line is of "
            f"store {store_of(key)}: a store keeps one history per collection and item, so two stores' items of the "
            "same ids cannot meet in one (import each such store into a store of its own)")


def _unsure(store, state, activity, head, link) -> bool:
    """Whether the item's head here may not be the state the line's source took its delta from (a revision of it,
    or whole activities, pruned before the line was shipped)."""
    if (activity.collection, activity.item) in state["unknown"] or head is None or link.gap \
            or head.activity <= state["gap_top"]:
        return True
    if head.activity > state["start_id"]:  # made by a line of this file, after the last gap
        return False
    first = state["first"] if state["first"] is not None else link.prev_hash
    if first not in (chain.GENESIS, state["head"]):
        return True
    return store.conn.execute(
        "SELECT 1 FROM activity a WHERE a.collection = ? AND a.item = ? AND a.id > ? AND a.id <= ? AND a.action IN "
        f"({', '.join('?' * len(DATA_ACTIONS))}) AND NOT EXISTS (SELECT 1 FROM revisions r WHERE r.activity = a.id)",
        [activity.collection, activity.item, head.activity, state["start_id"], *DATA_ACTIONS]).fetchone() is not None


def _followed(store, state, link):
    """The link, once the lines' own chain so far is known to miss lines (a gap marked, or a break) or not."""
    if link.hash is not None:
        if state["first"] is None:
            state["first"] = link.prev_hash
        if link.gap:
            state["gap_top"] = store.conn.execute(
                "SELECT max(coalesce(max(a.id), 0), coalesce((SELECT seq FROM sqlite_sequence WHERE name = "
                "'activity'), 0)) FROM activity a").fetchone()[0]
        if link.gap or (state["last"] is not None and link.prev_hash != state["last"]):
            state["missing"] = True
        state["last"] = link.hash
    return link


def _import_revision(store, activity, revision, as_given, unsure):
    collection, item = activity.collection, activity.item
    version = revision.get("version")
    known = True
    if version is None:
        head = store._head(collection, item)
        before = head.data if head and activity.action not in CREATES else {}
        base = head.base if head else None
        known = head is not None or activity.action in CREATES
    else:
        row = store.conn.execute(
            "SELECT base, data FROM revisions WHERE collection = ? AND item = ? AND version = ? "
            "ORDER BY activity DESC LIMIT 1", [collection, item, version]).fetchone()
        before, base = (store.snapshots.data(*row), None) if row else ({}, None)
    data, delta = revision.get("data", _MISSING), revision.get("delta", _MISSING)
    if delta is not _MISSING and delta is not None:
        patches.check_patch(delta, what="revision.delta")
    if data is _MISSING or data is None:
        if delta is _MISSING or delta is None:
            raise UsageError("revision needs data or delta")
        data = patches.apply(before, delta)
        patches.check_document(data, what="applying revision.delta to the previous state, the item")
    elif delta is _MISSING or delta is None:
        delta = patches.diff(before, data)
    elif known and not as_given:
        try:
            if not patches.same_within_scope(patches.apply(before, delta), data, delta):
                raise UsageError("revision data and delta disagree: applying delta to the previous snapshot does "
                                 "not give data")
        except AuditError:
            if version is not None or activity.action in CREATES or unsure is None or not unsure(head):
                raise
    return NewRevision(data, delta, base, version)


def _given_link(line):
    prev, own = line.get("prev_hash"), line.get("hash")
    if prev is None and own is None:
        return None, None
    for name, value in (("prev_hash", prev), ("hash", own)):
        if not isinstance(value, str) or len(value) != 64:
            raise UsageError(f"{name} must be a 64-character hex SHA-256, or both hash fields left out")
    return prev, own


def _activity_from_line(line, timeparse):
    import base64
    import hashlib

    from audit_cli.models import ACTION_PATTERN

    schema = line.get("schema", SCHEMA)
    if schema != SCHEMA:
        raise UsageError(f"schema {schema!r} is not supported: this version reads {SCHEMA}")
    for name in ("action", "timestamp", "collection", "item"):
        if line.get(name) is None:
            raise UsageError(f"missing required field {name!r} (required: action, timestamp, collection, item)")
    item = line["item"]
    if isinstance(item, int) and not isinstance(item, bool):
        item = str(item)
    for name in ("action", "collection", "timestamp"):
        if not isinstance(line[name], str):
            raise UsageError(f"{name} must be a string, not {jsontext.type_name(line[name])}")
    if not isinstance(item, str):
        raise UsageError(f"item must be a string (or an integer), not {jsontext.type_name(item)}")
    if not ACTION_PATTERN.fullmatch(line["action"]):
        raise UsageError(f"invalid action {line['action']!r}: actions are lowercase slugs such as update")
    for name in _TEXT_FIELDS:
        if line.get(name) is not None and not isinstance(line[name], str):
            raise UsageError(f"{name} must be a string or null, not {jsontext.type_name(line[name])}")
    if line["action"] == "comment" and not line.get("comment"):
        raise UsageError("a comment activity needs its comment text")
    revision = line.get("revision")
    if revision is not None and not isinstance(revision, dict):
        raise UsageError(f"revision must be an object or null, not {jsontext.type_name(revision)}")
    # Since the issue "Nothing lost where features meet": a revision only on a data action, its data an object,
    # and a trail's times absolute.
    if revision is not None and line["action"] not in REVISION_ACTIONS:
        raise UsageError(f"a {line['action']} line carries a revision, which goes with the data actions "
                         f"({', '.join(DATA_ACTIONS)}) and version-save: put other context in details")
    if revision is not None and revision.get("data") is not None and not isinstance(revision["data"], dict):
        raise UsageError(f"revision.data must be a JSON object (an item's state), not "
                         f"{jsontext.type_name(revision['data'])}")
    activity = Activity(
        action=line["action"], collection=line["collection"], item=item,
        timestamp=timeparse.absolute(line["timestamp"]),
        **{name: line.get(name) for name in _TEXT_FIELDS if name not in ("edited_on", "comment_deleted_on")},
        details=line.get("details"),
        edited_on=timeparse.absolute(line["edited_on"], what="edited_on") if line.get("edited_on") else None,
        comment_deleted_on=timeparse.absolute(line["comment_deleted_on"], what="comment_deleted_on")
        if line.get("comment_deleted_on") else None,
    )
    key = line.get("key")
    if key is not None and not isinstance(key, str):
        raise UsageError(f"key must be a string, not {jsontext.type_name(key)}")
    if key is None:
        content = {name: line.get(name) for name in ACTIVITY_FIELDS if name != "id"}
        content["revision"] = revision
        digest = hashlib.sha256(jsontext.canonical(content).encode()).digest()
        key = "c:" + base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()  # docs/format.md
    if revision is not None and line["action"] not in DATA_ACTIONS and "version" not in revision:
        details = line.get("details")
        if line["action"] == "version-save" and isinstance(details, dict) and isinstance(details.get("version"), str):
            revision = {**revision, "version": details["version"]}
    return activity, key, revision


# ---------------------------------------------------------------------------------------------------------------
# histories and ways to import them

ITEMS = st.sampled_from(["1", "2", "3"])
USERS = st.sampled_from(["alice", "bob", None, "Zoë ✓"])
TEXTS = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=8).filter(str.strip)
SCALARS = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False,
                                                                               allow_infinity=False) | st.text(max_size=6)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                                          max_size=3), max_leaves=6)
DOCS = st.dictionaries(st.sampled_from(["title", "n", "tags", "é", "a/b", "t~"]), VALUES, max_size=4)
OPS = st.lists(st.one_of(
    st.tuples(st.just("create"), ITEMS, USERS, DOCS),
    st.tuples(st.just("update"), ITEMS, USERS, DOCS),
    st.tuples(st.just("update"), ITEMS, USERS, DOCS),
    st.tuples(st.just("delete"), ITEMS, USERS),
    st.tuples(st.just("revert"), ITEMS, st.integers(-3, 2)),
    st.tuples(st.just("event"), st.sampled_from(["login", "publish"]), USERS, st.none() | VALUES),
    st.tuples(st.just("comment"), ITEMS, TEXTS),
    st.tuples(st.just("edit"), st.integers(0, 3), TEXTS),
    st.tuples(st.just("cdelete"), st.integers(0, 3)),
    st.tuples(st.just("version"), ITEMS, DOCS),
), min_size=3, max_size=25)


def fixed(store: AuditStore, name: str = "fixed-store") -> AuditStore:
    """Stores compared must have the same identity: a local activity is known as "<store id>/<id>"."""
    store.conn.execute("UPDATE settings SET value = ? WHERE key = 'store_id'", [name])
    store._store_id = None
    return store


def play(store: AuditStore, ops: list[tuple]) -> None:
    comments: list[int] = []
    clock = iter(range(1, 10_000))

    def at() -> str:
        n = next(clock)
        return TS.format(1 + n // 60 % 20, n % 60)

    for op in ops:
        kind = op[0]
        try:
            if kind in ("create", "update"):
                store.record(Activity(kind, "articles", op[1], at(), user=op[2]), data=op[3])
            elif kind == "delete":
                store.record(Activity("delete", "articles", op[1], at(), user=op[2]))
            elif kind == "revert":
                store.revert("articles", op[1], to=op[2], activity=Activity("revert", "", "", at()))
            elif kind == "event":
                store.record(Activity(op[1], "directus_users", str(op[2]), at(), user=op[2], details=op[3]))
            elif kind == "comment":
                comments.append(store.add_comment(Activity("comment", "articles", op[1], at(),
                                                           comment=op[2]))["id"])
            elif kind == "edit" and comments:
                store.edit_comment(comments[op[1] % len(comments)], op[2], activity=Activity("x", "", "", at()))
            elif kind == "cdelete" and comments:
                store.delete_comment(comments[op[1] % len(comments)], activity=Activity("x", "", "", at()))
            elif kind == "version":
                if not store.conn.execute("SELECT 1 FROM versions WHERE item = ?", [op[1]]).fetchone():
                    store.create_version("articles", op[1], "draft", name=None, activity=Activity("x", "", "", at()))
                store.save_version("articles", op[1], "draft", op[2], activity=Activity("x", "", "", at()))
        except AuditError:
            continue


def exported(folder: Path, ops: list[tuple], key: bytes | None = None) -> list[bytes]:
    with fixed(AuditStore.open(folder / "source.db", create=True, chain_key=key), "source-store") as source:
        play(source, [("create", "1", "alice", {"title": "Hello"}), *ops])
        return list(source.export_lines(LogQuery(), sealed=False))  # the activity lines: trailers are tested apart


def without_original(line: bytes) -> bytes:
    """The line as the reference read it: it predates `original_comment` (an edited comment's first text, with which
    a trail missing the comment's edits still checks: tests/test_export.py), and would refuse what that lets in."""
    if b'"original_comment":' not in line:
        return line
    record = json.loads(line)
    del record["original_comment"]
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def transform(trail: list[bytes], how: str, rng: random.Random) -> list[bytes]:
    """The lines as some other writer, or an accident, might give them."""
    if how == "as is":
        return trail
    records = [json.loads(line) for line in trail]
    if how == "no hashes":
        for record in records:
            record.pop("hash"), record.pop("prev_hash"), record.pop("key")
    elif how == "no deltas" or how == "no snapshots":
        for record in records:
            if record["revision"] and rng.random() < 0.7:
                del record["revision"]["delta" if how == "no deltas" else "data"]
    elif how == "repeated":
        for _ in range(3):
            records.insert(rng.randrange(len(records) + 1), dict(rng.choice(records)))
    elif how == "reordered" and len(records) > 2:
        i = rng.randrange(len(records) - 1)
        records[i], records[i + 1] = records[i + 1], records[i]
    elif how == "broken":
        record = rng.choice(records)
        field = rng.choice(["user", "timestamp", "revision", "action", "hash", "comment"])
        record[field] = {"user": "mallory", "timestamp": "not a time", "revision": [1], "action": "Bad Action",
                         "hash": "0" * 64, "comment": 5}[field]
    elif how == "filtered":
        records = [r for r in records if r["action"] != "update"]
    return [json.dumps(r, ensure_ascii=rng.random() < 0.3).encode() + b"\n" for r in records]


def run_both(folder: Path, trail: list[bytes], *, prefill: bool, key: bytes | None = None, **options: Any):
    """(result or error) and the export and verify report of each importer, into twin stores."""
    trail = [without_original(line) for line in trail]
    outcomes = []
    for name, run in (("reference", reference_import), ("new", None)):
        path = folder / f"{name}.db"
        with fixed(AuditStore.open(path, create=True, chain_key=key)) as store:
            if prefill:
                store.record(Activity("login", "directus_users", "zed", TS.format(1, 1), user="zed"))
                store.record(Activity("create", "articles", "2", TS.format(1, 2)), data={"title": "Here before"})
            numbered = list(enumerate(trail, 1))
            try:
                if run is None:
                    result = store.import_lines(numbered, source="trail.jsonl", note_rechained=False, **options)
                    del result["trailers"]  # what the trailers showed: none here (trailers are tested apart)
                else:
                    result = run(store, numbered, source="trail.jsonl", **options)
            except AuditError as exc:
                result = (type(exc).__name__, str(exc))
            outcomes.append((result, b"".join(store.export_lines(LogQuery(), sealed=False)), _report(store)))
    return outcomes


def _report(store: AuditStore) -> dict:
    try:
        return store.verify()
    except AuditError as exc:
        return {"error": str(exc)}


HOWS = ["as is", "no hashes", "no deltas", "no snapshots", "repeated", "reordered", "broken", "filtered"]


@pytest.fixture(params=["default", "tiny", "half"])
def knobs(request, monkeypatch):
    """The importer as shipped; with batches, caches and the bulk threshold so small that every path runs; and with
    the preparing side guessing for half the items only, as the helper process does (the importer does the rest)."""
    if request.param == "half":
        monkeypatch.setattr(prepare, "Preparer", functools.partial(prepare.Preparer, share=prepare.HELPER_SHARE))
    if request.param == "tiny":
        monkeypatch.setattr(importer, "BATCH", 3)
        monkeypatch.setattr(importer, "BULK_AFTER", 4)
        monkeypatch.setattr(heads, "HEAD_CACHE_ITEMS", 2)
        monkeypatch.setattr(prepare, "HELD_ITEMS", 1)
    return request.param


@SETTINGS
@given(ops=OPS, how=st.sampled_from(HOWS), prefill=st.booleans(), skip_invalid=st.booleans(),
       verify=st.booleans(), seed=st.integers(0, 2**16))
def test_any_import_matches_the_reference_importer(knobs, ops, how, prefill, skip_invalid, verify, seed):
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        trail = transform(exported(folder, ops), how, random.Random(seed))
        (reference, ref_export, ref_report), (new, new_export, new_report) = run_both(
            folder, trail, prefill=prefill, skip_invalid=skip_invalid, verify=verify)
        assert new == reference
        assert new_export == ref_export
        assert new_report == ref_report


@SETTINGS
@given(ops=OPS, seed=st.integers(0, 2**16))
def test_a_keyed_trail_matches_the_reference_with_and_without_its_key(knobs, ops, seed):
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        trail = exported(folder, ops, key=b"k1")
        for key in (b"k1", None):
            (reference, ref_export, ref_report), (new, new_export, new_report) = run_both(
                folder, trail, prefill=False, key=key)
            assert (new, new_export, new_report) == (reference, ref_export, ref_report)


@SETTINGS
@given(ops=OPS, as_given=st.booleans())
def test_forced_links_and_as_given_match_the_reference(knobs, ops, as_given):
    """What an offline verify asks for (keep_links=True, verify=False, as_given=True) and its second pass."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        trail = transform(exported(folder, ops), "filtered", random.Random(1))
        for keep_links, verify in ((True, False), (False, True)):
            (reference, ref_export, ref_report), (new, new_export, new_report) = run_both(
                folder, trail, prefill=False, keep_links=keep_links, verify=verify, as_given=as_given)
            assert (new, new_export, new_report) == (reference, ref_export, ref_report)


def test_adapter_records_and_their_reimport_match_the_reference(tmp_path, knobs):
    from audit_cli import adapters

    capture = Path(__file__).resolve().parent.parent / "fixtures" / "directus-11.3.5" / "directus.db"
    outcomes = []
    for name, run in (("reference", reference_import), ("new", None)):
        with fixed(AuditStore.open(tmp_path / f"{name}.db", create=True)) as store:
            results = []
            for _ in range(2):
                trail = adapters.open_trail("directus", str(capture))
                options = {"source": trail.label, "skip_invalid": False}
                results.append({k: v for k, v in store.import_lines(trail.records, note_rechained=False,
                                                                     **options).items() if k != "trailers"}
                               if run is None else run(store, trail.records, **options))
            outcomes.append((results, b"".join(store.export_lines(LogQuery(), sealed=False)), store.verify()))
    assert outcomes[0] == outcomes[1]


# ---------------------------------------------------------------------------------------------------------------
# bulk loading: indexes dropped and made again, and rolled back with a failed import


def _schema(path: Path) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(path) as db:
        # sqlite_stat1 is SQLite's own, made by the import's ANALYZE (checked below)
        return db.execute("SELECT type, name, sql FROM sqlite_master WHERE name != 'sqlite_stat1' "
                          "ORDER BY name").fetchall()


def test_a_bulk_import_drops_and_remakes_the_indexes_and_analyzes(tmp_path, monkeypatch):
    import sqlite3

    monkeypatch.setattr(importer, "BULK_AFTER", 10)
    monkeypatch.setattr(importer, "BATCH", 10)
    trail = exported(tmp_path, [("update", "1", "bob", {"n": n}) for n in range(60)])
    copy = tmp_path / "copy.db"
    AuditStore.open(copy, create=True).close()
    before = _schema(copy)
    with AuditStore.open(copy) as store:
        threads = store.conn.execute("PRAGMA threads").fetchone()[0]
        result = store.import_lines(enumerate(trail, 1), source="t")
        assert result["added"] == 61 and result["links_kept"]
        assert store.verify()["ok"]
        assert store.conn.execute("PRAGMA threads").fetchone()[0] == threads  # the rebuild's sort threads, given back
    assert _schema(copy) == before
    with sqlite3.connect(copy) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert {row[1] for row in db.execute("SELECT * FROM sqlite_stat1")} >= {"activity_timestamp", "revisions_item"}


def test_a_failed_bulk_import_leaves_the_store_and_its_indexes_as_they_were(tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "BULK_AFTER", 10)
    monkeypatch.setattr(importer, "BATCH", 10)
    trail = exported(tmp_path, [("update", "1", "bob", {"n": n}) for n in range(60)])
    trail[-1] = trail[-1].replace(b'"user":"bob"', b'"user":"eve"')  # its hash no longer covers it
    copy = tmp_path / "copy.db"
    AuditStore.open(copy, create=True).close()
    before = _schema(copy)
    with AuditStore.open(copy) as store:
        with pytest.raises(Tampered, match="line 61: its hash does not match"):
            store.import_lines(enumerate(trail, 1), source="t")
        assert store.conn.execute("SELECT count(*) FROM activity").fetchone()[0] == 0
    assert _schema(copy) == before


# ---------------------------------------------------------------------------------------------------------------
# the helper process


def _store_export(path: Path) -> bytes:
    with AuditStore.open(path) as store:
        return b"".join(store.export_lines(LogQuery(), sealed=False))


@pytest.mark.parametrize("gzipped", [False, True])
def test_the_helper_process_imports_what_the_importer_alone_does(tmp_path, monkeypatch, gzipped):
    # Several items: the helper checks and packs the lines of some (HELPER_SHARE), the importer the others'.
    trail = exported(tmp_path, [("create" if n < 5 else "update", str(n % 5 + 1), "bob", {"n": n, "body": "x" * n})
                                for n in range(40)]
                     + [("comment", "1", "hi"), ("edit", 0, "hello"), ("version", "2", {"t": 1})])
    source = tmp_path / ("trail.jsonl.gz" if gzipped else "trail.jsonl")
    source.write_bytes(gzip.compress(b"".join(trail)) if gzipped else b"".join(trail))
    exports = []
    for threshold in (1 << 60, 0):
        monkeypatch.setattr(prepare, "HELPER_MIN_BYTES", threshold)
        path = tmp_path / f"copy-{threshold}.db"
        with fixed(AuditStore.open(path, create=True)) as store:
            assert store.import_lines(jsonl.read_lines(str(source)), source="t")["added"] == len(trail)
            assert store.verify()["ok"]
            again = store.import_lines(jsonl.read_lines(str(source)), source="t")
            assert (again["added"], again["duplicates"]) == (0, len(trail))
        exports.append(_store_export(path))
    assert exports[0] == exports[1] == b"".join(trail)


def test_a_preparer_with_a_share_guesses_for_that_part_of_the_items_only(tmp_path):
    trail = exported(tmp_path, [("create" if n < 4 else "update", str(n % 4 + 2), "bob", {"n": n}) for n in range(12)])
    guessed: dict[str, set[bool]] = {}
    preparer = prepare.Preparer(share=0.5)
    for number, line in enumerate(trail, 1):
        record = jsonl.parse_record(line)
        packing = preparer.prepare(number, record)[9]
        guessed.setdefault(record["item"], set()).add(packing is not None)
    # items taken in turn as they first come (the fixture's own item 1 first), each either always or never
    assert guessed == {"1": {False}, "2": {True}, "3": {False}, "4": {True}, "5": {False}}


def test_items_of_full_state_lines_are_shared_by_their_own_share(monkeypatch):
    """Deriving a full-state line's delta is most of the preparing work: the helper takes FULL_STATE_SHARE of those
    items (the importer the rest), as it takes HELPER_SHARE of the items whose lines carry deltas."""
    monkeypatch.setattr(prepare, "FULL_STATE_SHARE", 0.5)
    guessed: dict[str, set[bool]] = {}
    preparer = prepare.Preparer(share=0.9)
    for number in range(1, 13):
        item = str(number % 4)
        line = {"action": "create" if number <= 4 else "update", "collection": "c", "item": item,
                "timestamp": "2026-11-01T10:00:00.000000Z", "revision": {"data": {"n": number}}}
        guessed.setdefault(item, set()).add(preparer.prepare(number, line)[9] is not None)
    assert guessed == {"1": {False}, "2": {True}, "3": {False}, "0": {True}}


def test_standard_input_gets_a_helper_from_a_pipe_or_a_big_file(tmp_path, monkeypatch):
    monkeypatch.setattr(prepare, "HELPER_MIN_BYTES", 100)
    small, big = tmp_path / "small", tmp_path / "big"
    small.write_bytes(b"{}\n")
    big.write_bytes(b"{}\n" * 100)
    read_end, write_end = os.pipe()
    with open(read_end, "rb") as pipe, open(small, "rb") as small_file, open(big, "rb") as big_file:
        for stdin, helped in ((pipe, True), (big_file, True), (small_file, False), (io.BytesIO(b"{}\n"), False)):
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(stdin))
            assert prepare._big(jsonl.Lines("-")) is helped, stdin
    os.close(write_end)
    assert prepare._big(jsonl.Lines(str(big))) and not prepare._big(jsonl.Lines(str(small)))


def test_bad_lines_from_the_helper_are_reported_as_from_the_importer(tmp_path, monkeypatch):
    trail = exported(tmp_path, [("update", "1", "bob", {"n": 1})])
    source = tmp_path / "trail.jsonl"
    source.write_bytes(trail[0] + b"{not json\n\n" + trail[1])
    messages = []
    for threshold in (1 << 60, 0):
        monkeypatch.setattr(prepare, "HELPER_MIN_BYTES", threshold)
        with AuditStore.open(tmp_path / f"c{threshold}.db", create=True) as store:
            with pytest.raises(ImportError_) as failed:
                store.import_lines(jsonl.read_lines(str(source)), source="t")
            result = store.import_lines(jsonl.read_lines(str(source)), source="t", skip_invalid=True,
                                        keep_links=False)
        messages.append((str(failed.value), failed.value.line, result["skipped_lines"]))
    assert messages[0] == messages[1] and messages[0][1] == 2


def test_a_corrupt_gzip_file_fails_the_same_with_the_helper(tmp_path, monkeypatch):
    trail = exported(tmp_path, [("update", "1", "bob", {"n": n}) for n in range(50)])
    source = tmp_path / "trail.jsonl.gz"
    source.write_bytes(gzip.compress(b"".join(trail))[:-40])
    errors = []
    for threshold in (1 << 60, 0):
        monkeypatch.setattr(prepare, "HELPER_MIN_BYTES", threshold)
        with AuditStore.open(tmp_path / f"c{threshold}.db", create=True) as store:
            with pytest.raises(AuditError) as failed:
                store.import_lines(jsonl.read_lines(str(source)), source="t")
            assert store.conn.execute("SELECT count(*) FROM activity").fetchone()[0] == 0
        errors.append(str(failed.value))
    assert errors[0] == errors[1] and "not readable as gzip" in errors[0]


def test_a_helper_that_dies_fails_the_import_and_keeps_nothing(tmp_path, monkeypatch):
    trail = exported(tmp_path, [("update", "1", "bob", {"n": n}) for n in range(20)])
    source = tmp_path / "trail.jsonl"
    source.write_bytes(b"".join(trail))
    monkeypatch.setattr(prepare, "HELPER_MIN_BYTES", 0)
    monkeypatch.setattr(prepare, "_HELPER", "import sys; sys.stdout.buffer.write(b'\\x05'); sys.exit(9)")
    with AuditStore.open(tmp_path / "c.db", create=True) as store:
        with pytest.raises(AuditError, match=r"helper process stopped \(exit 9\)"):
            store.import_lines(jsonl.read_lines(str(source)), source="t")
        assert store.conn.execute("SELECT count(*) FROM activity").fetchone()[0] == 0


# ---------------------------------------------------------------------------------------------------------------
# the shortcuts, against what they shortcut

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**80), 2**80) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8"), max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12)


def _spellings(value: dict, data) -> bytes:
    how = data.draw(st.sampled_from(["orjson", "spaced", "ascii", "duplicate", "crlf"]))
    if how == "orjson":
        try:
            return orjson.dumps(value) + b"\n"
        except TypeError:  # a big integer
            return jsontext.dumps(value).encode() + b"\n"
    if how == "spaced":
        return json.dumps(value, ensure_ascii=False).encode() + b"\n"
    if how == "ascii":
        return json.dumps(value).encode() + b"\n"
    if how == "crlf":
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\r\n"
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (text[:-1] + (',"dup":1,"dup":2}' if len(text) > 2 else '"dup":1,"dup":2}')).encode() + b"\n"


def _parse(parser, raw: bytes):
    try:
        return "ok", parser(raw)
    except UsageError as exc:
        return "error", str(exc)


@settings(max_examples=400, deadline=None)
@given(value=st.dictionaries(st.text(max_size=5), JSON, max_size=6), data=st.data())
def test_parse_record_reads_every_line_exactly_as_the_strict_parser(value, data):
    raw = _spellings(value, data)
    fast = _parse(jsonl.parse_record, raw)
    strict = _parse(lambda text: jsontext.parse_object(text, what="the line"), raw)
    assert fast[0] == strict[0]
    if fast[0] == "ok":
        assert patches.same(fast[1], strict[1]) and list(fast[1]) == list(strict[1])
        assert jsontext.canonical(fast[1]) == jsontext.canonical(strict[1])  # big integers stay integers
    else:
        assert fast[1] == strict[1]


@pytest.mark.parametrize("raw", [
    b'{"a":NaN}\n', b'{"a":1e400}\n', b'{"a":"\\ud800"}\n', b'{"a":1}{"b":2}\n', b'[1,2]\n', b'"x"\n', b'\xff\n',
    b'{"a":18446744073709551616}\n', b'{"a":-9223372036854775809}\n', b'{"a":123456789012345678901234567890}',
    b'{"a":' + b"[" * 1000 + b"]" * 1000 + b"}\n", b'{"a":1,"a":1}\n', b'{"a":1.0}\n', b'{"a":-0.0}\n',
])
def test_parse_record_edge_cases(raw):
    assert _parse(jsonl.parse_record, raw) == _parse(lambda text: jsontext.parse_object(text, what="the line"), raw)


@settings(max_examples=300, deadline=None)
@given(text=st.binary(max_size=3000), base=st.none() | st.binary(max_size=40_000))
def test_pack_is_read_by_the_codec(text, base):
    packed = codec.pack(text, base)
    if base is None:
        assert codec.unpack_base(packed) == text
    assert codec.unpack(packed, base or None) == text


DOC = st.dictionaries(st.sampled_from(["a", "b", "c/d", "e~f", ""]), JSON, max_size=4)
OP = st.fixed_dictionaries({"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test"]),
                            "path": st.sampled_from(["", "/", "/a", "/b", "/a/x", "/a/0", "/c~1d", "/e~0f", "/a/-"]),
                            "from": st.sampled_from(["/a", "/b"]), "value": JSON})


def _outcome(call):
    try:
        return "ok", jsontext.canonical(call())
    except AuditError as exc:
        return "error", str(exc)


@settings(max_examples=400, deadline=None)
@given(doc=DOC, delta=st.lists(OP, max_size=4))
def test_apply_is_patches_apply(doc, delta):
    text, exact = lines.dump(doc)
    assert _outcome(lambda: lines.apply(text, exact, delta)) == _outcome(lambda: patches.apply(doc, delta))
    assert _outcome(lambda: lines.apply(None, True, delta)) == _outcome(lambda: patches.apply({}, delta))


def test_the_bloom_filter_holds_what_it_was_given():
    bloom = lines.Bloom(12)
    keys = [f"store/{n}" for n in range(300)]
    for key in keys:
        bloom.add(key)
    assert all(key in bloom for key in keys)
    assert sum(f"other/{n}" in bloom for n in range(1000)) < 200


def test_stored_time_is_iso_8601_as_timeparse_reads_it_and_nothing_relative():
    from audit_cli import timeparse

    for text in ["2026-01-01T10:00:00.000000Z", "2026-01-01T10:00:00Z", "2026-01-01", "2026-01-01T12:00:00+02:00"]:
        assert lines.stored_time(text) == timeparse.normalize(text)
    for text in ["2026-13-01T10:00:00.000000Z", "٢٠٢٦-01-01T10:00:00.000000Z", "2026-02-30T10:00:00.000000Z",
                 "yesterday", "2d", "-2d", "now", "@1790000000", "2 days ago", "+1d", ""]:
        with pytest.raises(UsageError, match=re.escape(f"timestamp {text!r} is not an ISO 8601 time: a trail's "
                                                       "times are absolute")):
            lines.stored_time(text)


def test_memory_stays_flat_whatever_the_number_of_items(tmp_path, monkeypatch):
    """The head cache is bounded in entries and bytes; what falls out is read back from the store."""
    monkeypatch.setattr(heads, "HEAD_CACHE_ITEMS", 5)
    ops = [("create", str(n % 12), "a", {"n": n}) for n in range(12)] + \
          [("update", str(n % 12), "a", {"n": -n}) for n in range(40)]
    trail = exported(tmp_path, ops)
    with AuditStore.open(tmp_path / "c.db", create=True) as store:
        assert store.import_lines(enumerate(trail, 1), source="t")["added"] == len(trail)
        assert store.verify()["ok"]
        assert b"".join(store.export_lines(LogQuery(), sealed=False)).count(b"\n") == len(trail)


def test_an_import_into_a_fresh_keyed_store_of_unchained_lines_starts_a_keyed_chain(tmp_path):
    trail = transform(exported(tmp_path, [("update", "1", "bob", {"n": 1})]), "no hashes", random.Random(0))
    with AuditStore.open(tmp_path / "k.db", create=True, chain_key=b"key") as store:
        assert store.import_lines(enumerate(trail, 1), source="t")["added"] == 2
        assert store.verify()["ok"] and store.verify()["keyed"]


def test_a_store_given_its_own_export_adds_nothing(tmp_path):
    with fixed(AuditStore.open(tmp_path / "s.db", create=True)) as store:
        play(store, [("create", "1", "a", {"t": 1}), ("comment", "1", "x"), ("edit", 0, "y")])
        trail = list(store.export_lines(LogQuery(), sealed=False))
        result = store.import_lines(enumerate(trail, 1), source="own")
        assert (result["added"], result["duplicates"]) == (0, len(trail))
        assert list(store.export_lines(LogQuery(), sealed=False)) == trail and store.verify()["ok"]


def _full_state_lines(count: int) -> list[bytes]:
    """Lines as other producers send them: the item's state after each change, no delta, no hashes, no key."""
    rnd = random.Random(5)
    states: dict[str, dict] = {}
    out = []
    for n in range(count):
        item = str(rnd.randrange(6))
        before = states.get(item)
        if before is None:
            state = {"n": n, "tags": ["a"], "meta": {"v": 1, "flag": True}}
        else:
            state = json.loads(json.dumps(before))
            state["n"] = n
            if n % 3 == 0:
                state["tags"].insert(0, f"t{n}")
            if n % 4 == 0:
                state["meta"]["v"] = 1.0 if state["meta"]["v"] == 1 else 1  # 1 and 1.0 are different JSON
            if n % 5 == 0:
                state.pop("extra", None) if "extra" in state else state.update(extra={"k": [n]})
        states[item] = state
        line = {"action": "create" if before is None else "update", "timestamp": f"2026-01-01T00:00:{n % 60:02d}Z",
                "collection": "c", "item": item, "user": "u", "revision": {"data": state}}
        out.append(orjson.dumps(line) + b"\n")
    return out


def test_full_state_lines_get_the_deltas_the_importer_derives_whoever_derives_them(tmp_path, monkeypatch):
    # The preparing side derives each delta from the state the file's previous line left; the importer takes it
    # only when its own head is that line, and derives it itself otherwise: here the first half of the file is in
    # the store already, so the lines of the second half follow lines the import skips.
    trail = _full_state_lines(60)
    whole, half = tmp_path / "whole.jsonl", tmp_path / "half.jsonl"
    whole.write_bytes(b"".join(trail))
    half.write_bytes(b"".join(trail[:30]))
    dumps = []
    for share, threshold in ((1.0, 1 << 60), (0.0, 1 << 60), (1.0, 0)):
        monkeypatch.setattr(prepare, "Preparer", functools.partial(prepare.Preparer, share=share))
        monkeypatch.setattr(prepare, "HELPER_MIN_BYTES", threshold)
        for prefill in (False, True):
            path = tmp_path / f"s-{share}-{threshold}-{prefill}.db"
            with fixed(AuditStore.open(path, create=True)) as store:
                if prefill:
                    store.import_lines(jsonl.read_lines(str(half)), source="half")
                result = store.import_lines(jsonl.read_lines(str(whole)), source="whole")
                assert result["added"] == (30 if prefill else 60)
                assert store.verify()["ok"]
                rows = store.conn.execute("SELECT r.delta, a.hash FROM revisions r JOIN activity a "
                                          "ON a.id = r.activity ORDER BY a.id").fetchall()
                dumps.append(rows)
                for item in map(str, range(6)):
                    history = [json.loads(line)["revision"]["data"] for line in trail if json.loads(line)["item"] == item]
                    for n, state in enumerate(history):
                        assert patches.same(store.revision("c", item, n).data, state)
    assert all(rows == dumps[0] for rows in dumps[::2]) and all(rows == dumps[1] for rows in dumps[1::2])


def test_the_key_index_of_an_empty_store_is_made_at_the_end_or_at_the_first_maybe(tmp_path, monkeypatch):
    # Into an empty store, a bulk import leaves the key index for the end: the bloom filter holds every key. A line
    # seen again (or the filter's rare "maybe") makes the index again at once, so that the lookup stays indexed.
    monkeypatch.setattr(importer, "BATCH", 5)
    monkeypatch.setattr(importer, "BULK_AFTER", 5)
    lines = [line[:-2] + b',"key":"p/' + str(n).encode() + b'"}\n' for n, line in enumerate(_full_state_lines(40))]
    for again in (False, True):  # a line with the key of one before it is that one again
        source = tmp_path / f"t-{again}.jsonl"
        source.write_bytes(b"".join(lines + (lines[3:4] if again else [])))
        with AuditStore.open(tmp_path / f"s-{again}.db", create=True) as store:
            made = []
            store.conn.set_trace_callback(lambda sql: made.append(sql) if "activity_key" in sql
                                       and sql.split()[0] in ("DROP", "CREATE") else None)
            result = store.import_lines(jsonl.read_lines(str(source)), source="t")
            store.conn.set_trace_callback(None)
            assert (result["added"], result["duplicates"]) == (40, 1 if again else 0)
            assert [sql.split()[0] for sql in made] == ["DROP", "CREATE"]
            assert store.conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'activity_key'").fetchone()[0]
            assert store.verify()["ok"]
