"""Verify as a list of checks. One `Pass` holds what a verify knows (the store's key, its latest prune, what each
row's hash covers) and, once the chain has been followed (integrity.py), where it ended. Each check takes the pass
and returns None, or a failure (kind, activity id, message) as verify reports it: the first failure is the answer.

BEFORE run before the chain is followed, on what decides how it is followed; AFTER run on where it ended.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from .. import chain
from . import anchor_check, derived, marks, pruned
from .derived import Failure
from .pruned import survivors_digest

_NONE = pruned.table_digest_of([])  # what a prune record from before m004 stands for: none kept


@dataclasses.dataclass
class Pass:
    """One verify pass: what it was asked, what it read first, and where following the chain got to."""

    store: Any
    key: bytes | None
    keyed: bool
    anchor: dict[str, Any] | None
    identity: str | None  # whose the anchor must be (anchor_check.problem)
    trust_marks: bool  # imported comments' marks taken as they are (Integrity.verify)
    latest: tuple[int, dict[str, Any]] | None  # the newest prune record that speaks for this store
    boundary: dict[str, Any]  # up to where that prune removed rows: {"id", "hash"}
    pending: set[int] = dataclasses.field(default_factory=set)  # an unfinished prune's rows still to go
    changes: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)  # comment edits, by comment
    # what following the chain found (integrity.py, Integrity._follow)
    count: int = 0
    last_id: int | None = None
    last_hash: str = chain.GENESIS
    survivors: list[tuple[int, str]] = dataclasses.field(default_factory=list)  # rows up to the boundary
    bridge: pruned.Bridge | None = None
    unlinked: int = 0  # the last row whose link to the one before is not proven (an old release's prune)
    deferred: Failure | None = None  # a comment that does not add up with its edits, reported only if nothing else
    leant: list[int] = dataclasses.field(default_factory=list)  # rows whose hash held only with an attested digest


def pending_prune(p: Pass) -> Failure | None:
    if p.store._setting("prune_pending") is None:
        return None
    failure = derived.pending_problem(p.store, p.latest)
    if failure is None:
        p.pending = {i for (i,) in p.store.conn.execute(
            "SELECT activity FROM prune_plan WHERE what = 'activity' AND done = 0")}
    return failure


def schema(p: Pass) -> Failure | None:
    return derived.schema_problem(p.store.conn)


def placement(p: Pass) -> Failure | None:
    return derived.placement_problem(p.store.conn)


def settings(p: Pass) -> Failure | None:
    return derived.settings_problem(p.store.conn)


BEFORE: tuple[Callable[[Pass], Failure | None], ...] = (pending_prune, schema, placement, settings)


def broken_bridge(p: Pass) -> Failure | None:
    at = p.bridge.broken if p.bridge is not None else None
    if at is None:
        return None
    return ("modified", at, f"the digest kept for activity {at}, which a prune removed, does not give the link "
            "kept with it")


def pruned_table(p: Pass) -> Failure | None:
    # (A copy's prunes came with its chain: what they kept is in their source, not here.)
    latest = p.latest
    latest_key = p.store.conn.execute("SELECT key FROM activity WHERE id = ?", [latest[0]]).fetchone()[0] \
        if latest else None
    kept = latest[1].get("pruned", _NONE) if latest is not None and latest_key is None else _NONE
    if kept == pruned.table_digest(p.store.conn):
        return None
    entries = p.bridge.entries if p.bridge is not None else []
    return ("deleted", min(e.id for e in entries) if entries else (latest or (0,))[0],
            "the activities kept as pruned are not the ones the last prune recorded: rows were removed, or their "
            "digests changed, without a prune")


def survivors(p: Pass) -> Failure | None:
    if p.latest is None:
        return None
    if dict(zip(("count", "digest"), survivors_digest(p.survivors))) == p.latest[1].get("survivors"):
        return None
    return ("deleted", p.boundary["id"], f"the activities that prune {p.latest[0]} kept up to {p.boundary['id']} "
            "are not all there, or not as they were")


def attested(p: Pass) -> Failure | None:
    found = dict(zip(("count", "digest"), p.store.attested_digest()))
    if not found["count"] or (p.latest is not None and found == p.latest[1].get("attested")):
        return None
    # Name the first activity that leant on a digest no prune vouches for.
    at = min(p.leant) if p.leant else p.store.conn.execute("SELECT min(activity) FROM attested").fetchone()[0]
    return ("modified", at, f"activity {at}'s revision is gone or changed, and the digest kept for it is not one "
            "the last prune recorded")


def rewrites(p: Pass) -> Failure | None:
    if p.latest is None or "rewrites" not in p.latest[1] or \
            derived.rewrites_digest(p.store) == p.latest[1]["rewrites"]:
        return None
    at = min(p.leant) if p.leant else p.latest[0]
    return ("modified", at, f"a revision that prune {p.latest[0]} removed or rewrote is not as that prune left it")


def deferred_comment(p: Pass) -> Failure | None:
    return p.deferred


def versions(p: Pass) -> Failure | None:
    return derived.versions_problem(p.store, p.latest)


def comment_marks(p: Pass) -> Failure | None:
    return None if p.trust_marks else marks.problem(p.store.conn, p.changes)


def truncated(p: Pass) -> Failure | None:
    sequence = p.store.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'activity'").fetchone()
    last = p.last_id or 0
    if sequence and sequence[0] > last:
        return ("truncated", last + 1, f"activity {last + 1} to {sequence[0]} was removed from the end")
    return None


def anchored(p: Pass) -> Failure | None:
    if p.anchor is None:
        return None
    return anchor_check.problem(p.store, p.anchor, p.last_id, p.bridge, p.unlinked, p.identity)


AFTER: tuple[Callable[[Pass], Failure | None], ...] = (
    broken_bridge, deferred_comment, pruned_table, survivors, attested, rewrites, versions, comment_marks, truncated,
    anchored)
