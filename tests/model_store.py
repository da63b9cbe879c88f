"""The plain in-memory model that tests/test_model.py holds a real store, its mirror and its archives to.

It knows what the README promises and nothing of SQL: the activities a store holds (by id, in order), each data
action's revision, comments and their edits, versions, scopes and retention, and what every prune removes. Times
are the `--at` text the test gave; activity the CLI stamps itself (versions, scopes, prunes) is "now", later than
every `--at`, so that no age ever reaches it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def at(hour: float) -> str:
    """The time `hour` hours after the start of 2025 (UTC), as exports write it."""
    return (T0 + timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ago(moment: str) -> str:
    """An age that reaches back from now to `moment`, in seconds."""
    then = datetime.strptime(moment, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return f"{int((datetime.now(timezone.utc) - then).total_seconds())}s"


def draw_patch(draw, before, fields, values):
    """An RFC 6902 patch on top-level fields (never the root, issue 14), and the state it makes."""
    after, patch = dict(before), []
    for _ in range(draw.draw(st.integers(1, 3))):
        present = sorted(after)
        op = draw.draw(st.sampled_from(["add", "replace", "remove", "append"] if present else ["add"]))
        if op == "add":
            key, value = draw.draw(st.sampled_from(fields)), draw.draw(values)
            patch.append({"op": "add", "path": f"/{key}", "value": value})
            after[key] = value
        elif op == "append" and any(isinstance(after[k], list) for k in present):
            key = draw.draw(st.sampled_from([k for k in present if isinstance(after[k], list)]))
            patch.append({"op": "add", "path": f"/{key}/-", "value": 9})
            after[key] = after[key] + [9]
        elif op in ("replace", "append"):
            key, value = draw.draw(st.sampled_from(present)), draw.draw(values)
            patch.append({"op": "replace", "path": f"/{key}", "value": value})
            after[key] = value
        else:
            key = draw.draw(st.sampled_from(present))
            patch.append({"op": "remove", "path": f"/{key}"})
            del after[key]
    return patch, after


@dataclass
class Act:
    """One activity as the model expects a store to hold it."""

    id: int
    key: str
    action: str
    ts: str | None  # None: stamped "now" by the CLI
    coll: str
    item: str
    has_rev: bool = False
    data: Any = None  # the revision's data, when has_rev
    version: str | None = None  # a version-save's version
    comment: str | None = None
    deleted: bool = False  # a soft-deleted comment
    target: int | None = None  # the comment a comment-edit or comment-delete changes
    after: tuple[str | None, bool] | None = None  # that comment's (text, deleted) once changed
    rewritten: bool = False  # its revision was rewritten to a scope since it was written
    vstate: tuple[str, dict | None] | None = None  # a version activity's version, and what it stages after (None: gone)


def scoped(data: Any, scope: dict[str, Any] | None) -> Any:
    """The part of a document a collection's scope keeps (README: Retention and scope)."""
    if not scope or not isinstance(data, dict):
        return data
    if scope.get("fields"):
        return {k: v for k, v in data.items() if k in scope["fields"]}
    if scope.get("exclude_fields"):
        return {k: v for k, v in data.items() if k not in scope["exclude_fields"]}
    return data


@dataclass
class Plan:
    whole: set[int] = field(default_factory=set)  # activities that go with their revisions
    revisions: set[int] = field(default_factory=set)  # revisions that go, their activity staying
    rewrites: dict[int, Any] = field(default_factory=dict)  # revision -> its data rewritten to the scope

    @property
    def removed_revisions(self) -> int:
        return len(self.revisions)


class Model:
    def __init__(self, store_id: str):
        self.store_id = store_id
        self.acts: dict[int, Act] = {}  # what the store holds, by id
        self.next_id = 1
        self.ever: dict[str, Act] = {}  # every activity ever recorded, as recorded
        self.scopes: dict[str, dict[str, Any]] = {}
        self.retention: dict[str, Any] | None = None  # cutoffs as times, keep as a count
        self.versions: dict[tuple[str, str, str], dict[str, Any]] = {}  # -> staged, base (activity id)
        self.last_prune: int | None = None
        self.archives: dict[str, list[Act]] = {}  # archive file -> the lines it holds
        self.let_go: set[str] = set()  # activities (or their revisions) pruned without an archive
        self.exports: list[tuple[str, dict[str, Act]]] = []  # whole exports kept, oldest first
        self.mirror: dict[str, Act] = {}  # what the mirror holds, by key, in the order it came
        self.mirror_top = 0  # the highest source id the mirror holds
        self.cursor = 0  # what the cursor file holds

    # recording

    def add(self, action: str, coll: str, item: str, ts: str | None, **fields: Any) -> Act:
        act = Act(self.next_id, f"{self.store_id}/{self.next_id}", action, ts, coll, item, **fields)
        self.acts[act.id] = act
        self.ever[act.key] = copy.deepcopy(act)
        self.next_id += 1
        return act

    def mainline(self, coll: str, item: str, acts: dict | None = None) -> list[Act]:
        held = (acts if acts is not None else self.acts).values()
        return [a for a in held if a.coll == coll and a.item == item and a.has_rev and a.version is None]

    def head(self, coll: str, item: str) -> Act | None:
        line = self.mainline(coll, item)
        return line[-1] if line else None

    def live(self, coll: str, item: str) -> Act | None:
        head = self.head(coll, item)
        return head if head is not None and head.action != "delete" else None

    def track(self, coll: str) -> str:
        return (self.scopes.get(coll) or {}).get("track", "all")

    def comments(self) -> list[Act]:
        return [a for a in self.acts.values() if a.action == "comment"]

    # pruning, as the README's Retention section words it

    def plan(self, *, activity_before: str | None, revision_before: str | None = None, revision_only: bool,
             keep: int, collection: str | None, apply_scopes: bool) -> Plan:
        scopes = {c: s for c, s in self.scopes.items() if collection in (None, c)} if apply_scopes else {}
        limits = {c: s["keep_revisions"] for c, s in scopes.items() if s.get("keep_revisions")}
        rank: dict[int, tuple[int, int]] = {}  # revision -> (its rank from the newest, how many its item keeps)
        for coll, item in {(a.coll, a.item) for a in self.acts.values() if collection in (None, a.coll)}:
            for n, act in enumerate(reversed(self.mainline(coll, item)), 1):
                rank[act.id] = (n, limits.get(coll, keep))
        old = lambda act, cutoff: act.ts is not None and act.ts < cutoff  # noqa: E731
        beyond = set()
        if revision_only or limits:
            beyond = {i for i, (n, k) in rank.items() if n > k and (revision_only or self.acts[i].coll in limits)
                      and (revision_before is None or old(self.acts[i], revision_before))}
        whole: set[int] = set()
        if activity_before is not None:
            whole = {a.id for a in self.acts.values() if old(a, activity_before) and collection in (None, a.coll)
                     and a.id != self.last_prune and not (a.id in rank and rank[a.id][0] <= rank[a.id][1])}
            # A comment and the records of its edits go together, or all stay.
            for comment in self.comments():
                members = {comment.id} | {a.id for a in self.acts.values() if a.target == comment.id}
                if members & whole and not members <= whole:
                    whole -= members
        plan = Plan(whole, {i for i in beyond - whole} | {i for i in whole if self.acts[i].has_rev})
        for coll, scope in scopes.items():
            if scope.get("fields") or scope.get("exclude_fields"):
                for act in self.acts.values():
                    if act.coll == coll and act.has_rev and act.version is None and act.id not in plan.revisions:
                        after = scoped(act.data, scope)
                        if after != act.data:
                            plan.rewrites[act.id] = after
        return plan

    def carry_out(self, plan: Plan, archive: str | None, prune_id: int | None, collection: str | None) -> None:
        going = {self.acts[i].key: copy.deepcopy(self.acts[i]) for i in sorted(plan.whole | plan.revisions)}
        if archive is not None:  # a second prune into the same archive adds to it
            self.archives.setdefault(archive, []).extend(going.values())
        else:
            self.let_go |= set(going)
        for i in plan.whole:
            del self.acts[i]
        for i in plan.revisions - plan.whole:
            self.acts[i].has_rev, self.acts[i].data = False, None
        for i, data in plan.rewrites.items():
            self.acts[i].data, self.acts[i].rewritten = data, True
        if prune_id is not None:
            assert prune_id == self.next_id, (prune_id, self.next_id)
            self.add("prune", collection or "*", "*", None)
            self.last_prune = prune_id

    # the mirror: pieces exported after the cursor, imported in order

    def sync(self) -> list[Act]:
        piece = [a for i, a in self.acts.items() if i > self.cursor]
        self.take(piece)
        if piece:
            self.cursor = piece[-1].id
        return piece

    def take(self, lines: list[Act]) -> None:
        """What the mirror holds after importing these lines: what it lacks, in their order; comment edits
        applied to the comment it holds."""
        by_id = {a.id: key for key, a in self.mirror.items()}
        for act in lines:
            if act.key in self.mirror:
                continue
            self.mirror[act.key] = copy.deepcopy(act)
            by_id[act.id] = act.key
            self.mirror_top = max(self.mirror_top, act.id)
            if act.target is not None and act.target in by_id:
                target = self.mirror[by_id[act.target]]
                target.comment, target.deleted = act.after

    def mirror_versions(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        """The versions the mirror's version activities make, in the order it holds them."""
        state: dict[tuple[str, str, str], dict[str, Any]] = {}
        for act in self.mirror.values():
            if act.vstate is not None:
                key, staged = act.vstate
                if staged is None:
                    state.pop((act.coll, act.item, key), None)
                else:
                    state[act.coll, act.item, key] = staged
        return state

    def snapshot(self) -> dict[str, Act]:
        return {a.key: copy.deepcopy(a) for a in self.acts.values()}
