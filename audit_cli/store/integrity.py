"""Tamper evidence: the record each hash covers, verify and checkpoint. A part of the store (store.integrity),
whose `verify` and `checkpoint` the store answers (AuditStore.PARTS)."""

from __future__ import annotations

import os
import sqlite3
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .. import anchors, chain, jsontext
from ..errors import CannotCheck, Damaged, StoreError, Tampered, UsageError  # noqa: F401 - callers import these here
from ..models import ACTIVITY_FIELDS, COMMENT_CHANGES
from . import anchor_check, checks, codec, damage, derived, pruned

if TYPE_CHECKING:
    from . import AuditStore

_BASES_HELD = 256 * 1024 * 1024  # bytes of unpacked bases one verify pass may hold
_VERIFY = (f"SELECT {', '.join('a.' + f for f in ACTIVITY_FIELDS)}, a.key, a.prev_hash, a.hash, "
           "r.version, r.base, r.data, r.delta FROM activity a LEFT JOIN revisions r ON r.activity = a.id "
           "WHERE a.id > ? AND a.id <= ? ORDER BY a.id")
# Checks of more rows than this are shared out among processes: each row's hash depends only on the row and the
# prev_hash stored with it, so only the cheap comparison of links has to run in order.
_PARALLEL_ROWS = 200_000


def _scan_range(job: tuple[str, int, int, bytes | None]) -> tuple[dict[int, str], list[int]]:
    """One process's share of a verify: its own connection, its own read snapshot of rows low < id <= high."""
    from . import AuditStore

    path, low, high, key = job
    with AuditStore.open(path) as store:
        store.conn.execute("BEGIN")
        try:
            integrity = store.integrity
            return integrity.scan(low, high, key, integrity.comment_change_map())
        finally:
            store.conn.execute("COMMIT")


class Integrity:
    """The store's tamper evidence: what each row's hash covers, the chain followed and checked (verify), and the
    anchor a checkpoint makes.

    Uses of the store: its connection and path, `chain_key`, `_chain_key()`, `_setting()` and `_effective_key()`
    (the chain's core), and `_base_text()` (a revision's base, store/revisions.py); of the other parts: the prunes
    part's `latest_prune()`. Given the store: store/checks.py's Pass, anchor_check.py, derived.py and damage.py,
    which read it. Its named interface, for the modules that hold rows to the chain (the importer, given_links.py,
    transfer.py, derived.py, pruned.py, upgrade.py and the `_scan_range` worker): `original`, `link_of`, `record`,
    `rows`, `scan` and `comment_change_map`."""

    def __init__(self, store: AuditStore):
        self.store = store
        self.conn = store.conn
        # Bound once: `link_of` asks for it for every row a pass reads, and through the store that is one more
        # lookup a row.
        self._effective_key = store._effective_key

    def comment_change_map(self) -> dict[str, list[dict[str, Any]]]:
        """Every chained comment edit and delete, by the comment it names, oldest first: one read for a whole pass
        (what `original`, `link_of`, `record` and `scan` take as their changes)."""
        found: dict[str, list[dict[str, Any]]] = {}
        # Sorted here, not by ORDER BY id, which would make the planner scan the table instead of the action index.
        for _, details in sorted(self.conn.execute(
            f"SELECT id, details FROM activity WHERE action IN ({', '.join('?' * len(COMMENT_CHANGES))})",
            list(COMMENT_CHANGES),
        )):
            change = jsontext.loads(details) if details else None
            if isinstance(change, dict) and isinstance(change.get("comment"), str):
                found.setdefault(change["comment"], []).append(change)
        return found

    def _comment_changes(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        """The chained edits and deletes of a comment, oldest first (their details hold before and after)."""
        target = self._effective_key(row)
        found = []
        for (details,) in self.conn.execute(
            "SELECT details FROM activity WHERE collection = ? AND item = ? AND action IN (?, ?) AND id > ? ORDER BY id",
            [row["collection"], row["item"], *COMMENT_CHANGES, row["id"]],
        ):
            change = jsontext.loads(details) if details else None
            if isinstance(change, dict) and change.get("comment") == target:
                found.append(change)
        return found

    def original(self, row: dict[str, Any], changes_by_comment: dict | None = None) -> tuple[dict[str, Any], str | None]:
        """The row as it was written (a comment's first text), and why its current state is wrong, if it is."""
        if row["action"] != "comment":
            return row, None
        if changes_by_comment is not None:
            changes = changes_by_comment.get(self._effective_key(row), [])
        elif row["edited_on"] or row["comment_deleted_on"]:
            changes = self._comment_changes(row)
        else:
            return row, None
        if not changes:
            # An imported comment (it has a source key) came with its state as the source last saw it; one made
            # here has every change chained.
            if (row["edited_on"] or row["comment_deleted_on"]) and not row.get("key"):
                return row, f"comment {row['id']} was changed with no chained edit"
            return row, None
        state = dict(changes[0].get("before") or {})
        original = {**row, "comment": state.get("comment")}
        for change in changes:
            if change.get("before") != state:
                return original, f"the edits of comment {row['id']} do not follow each other"
            state = change.get("after") or {}
        current = {name: row[name] for name in ("comment", "edited_on", "comment_deleted_on")}
        if state != current:
            return original, f"comment {row['id']} differs from its last chained edit"
        return original, None

    def link_of(self, row: dict[str, Any], details_text: str | None, digest: str | None, prev: str,
                key: bytes | None, changes: dict | None = None, given: str | None = None) -> tuple[str, str | None]:
        """The row's link after `prev` (`given`, when that is its link in either chain format), and why its
        comment state is wrong, if it is."""
        original, problem = self.original(row, changes)
        record = chain.record_bytes(original, details_text, digest, self._effective_key(row))
        return chain.matching_link(prev, record, key, given), problem

    def record(self, row: dict[str, Any], details_text: str | None, digest: str | None,
               changes: dict | None = None) -> bytes:
        """The record the row's hash covers (chain.record_bytes of the row as it was written)."""
        return chain.record_bytes(self.original(row, changes)[0], details_text, digest, self._effective_key(row))

    # verify

    def rows(self, since: int = 0, until: int | None = None) -> Iterator[tuple[dict[str, Any], str | None, str | None]]:
        """(row, details text, revision digest) in id order, for ids after `since` (up to `until`)."""
        names = (*ACTIVITY_FIELDS, "key", "prev_hash", "hash")
        split = len(names)
        # A pass reads every base of every item: its own cache holds them all (up to a memory bound), where the
        # store's small one would thrash.
        bases: dict[int, bytes] = {}
        held = 0
        base_of = self.store._base_text
        for values in self.conn.execute(_VERIFY, [since, until if until is not None else 2**63 - 1]):
            row = dict(zip(names, values))
            version, base, data, delta = values[split:]
            digest = None
            if data is not None:
                try:
                    base_text = None
                    if base is not None:
                        base_text = bases.get(base)
                        if base_text is None:
                            base_text = base_of(base)
                            held += len(base_text)
                            if held > _BASES_HELD:
                                bases.clear()
                                held = len(base_text)
                            bases[base] = base_text
                    text = codec.unpack(data, base_text)
                    digest = chain.revision_digest(text, codec.delta_text(delta, text), version)
                except (zlib.error, TypeError, ValueError):
                    digest = "undecodable"  # matches no hash: reported as modified
            yield row, row["details"], digest

    def verify(self, *, anchor: dict[str, Any] | None = None, public_key: bytes | None = None,
               identity: str | None = "", trust_marks: bool = False) -> dict[str, Any]:
        """Recompute the chain; report OK with the count and head, or the first failure with its id and kind.

        With `anchor` (an audit-anchor/1 dict), the store must extend it; with `public_key` too, the anchor must
        carry a valid Ed25519 signature by that key (else BadSignature). `identity` is whose the anchor must be
        (this store's when left ""). `trust_marks` takes imported comments' marks as they are, unheld to the
        records that took them (store/marks.py): for an upgrade, whose records list none yet, and for a trail's
        throw-away store, whose import judged them."""
        if anchor is not None:
            anchors.parse(anchor)
            if public_key is not None:
                anchors.check_signature(anchor, public_key)
        elif public_key is not None:
            raise UsageError("a public key checks an anchor's signature: give the anchor too")
        # One snapshot, however long the check takes: the caller's when it holds one (an upgrade's: upgrade.py),
        # whose writes other processes could not see (so then the check stays in this one).
        own = not self.conn.in_transaction
        if own:
            self.conn.execute("BEGIN")
        try:
            return self._verify(anchor, identity, trust_marks, share_out=own)
        except sqlite3.OperationalError as exc:
            if not damage.undecodable(exc):
                raise
            return self._damaged(exc)
        finally:
            if own:
                self.conn.execute("COMMIT")

    def _damaged(self, exc: sqlite3.OperationalError) -> dict[str, Any]:
        """A row whose text is not UTF-8 cannot be what was written (the chain covers UTF-8): modified."""
        found = damage.locate(self.conn, exc)
        if found is None:
            raise damage.error(self.store, exc) from None
        at, column = found
        before = self.conn.execute("SELECT count(*), max(id) FROM activity WHERE id < ?", [at]).fetchone()
        head = self.conn.execute("SELECT hash FROM activity WHERE id = ?", [before[1]]).fetchone() \
            if before[1] is not None else None
        return self._report(before[0], before[1], head[0] if head else chain.GENESIS, (
            "modified", at, f"activity {at}'s {column} holds bytes that are not UTF-8 text: the store is damaged"))

    def _verify(self, anchor: dict[str, Any] | None, identity: str | None, trust_marks: bool,
                share_out: bool) -> dict[str, Any]:
        """The checks of store/checks.py around following the chain: the first failure is the report."""
        store = self.store
        keyed = store._setting("chain_key_check") is not None
        try:
            key = store._chain_key() if keyed else None
        except CannotCheck:
            # The key does not fit the store. With an anchor, a rewritten head says that the store's key check was
            # replaced along with the chain, which is tampering, not a wrong key.
            head = self.conn.execute("SELECT max(id) FROM activity").fetchone()[0]
            failure = anchor_check.problem(store, anchor, head, identity=identity) \
                if anchor is not None else derived.key_check_problem(store)
            if failure:
                return self._report(0, None, chain.GENESIS, failure)
            raise
        latest = store.prunes.latest_prune()
        # Up to the boundary the latest prune attests, rows were removed: the ones left (its survivors) are each
        # checked against their own link and, together, against the digest the prune recorded.
        p = checks.Pass(store, key, keyed, anchor, identity, trust_marks, latest,
                        latest[1]["boundary"] if latest else {"id": 0, "hash": chain.GENESIS})
        for check in checks.BEFORE:
            failure = check(p)
            if failure is not None:
                return self._report(0, None, chain.GENESIS, failure)
        p.changes = self.comment_change_map()
        failure = self._follow(p, share_out)
        if failure is not None:
            return self._report(p.count, p.last_id, p.last_hash, failure)
        for check in checks.AFTER:
            failure = check(p)
            if failure is not None:
                return self._report(p.count, p.last_id, p.last_hash, failure)
        report = self._report(p.count, p.last_id, p.last_hash, None, keyed=keyed, anchored=anchor is not None)
        if latest is not None:
            removed = latest[1].get("removed", {})
            report["pruned"] = (f"pruned up to activity {p.boundary['id']}; the last prune, activity {latest[0]}, "
                                f"removed {_count(removed.get('activities', 0), 'activity', 'activities')} and "
                                f"{_count(removed.get('revisions', 0), 'revision', 'revisions')}")
            if p.pending:
                report["pruned"] += f"; {len(p.pending)} are still to go (an interrupted prune: run audit prune)"
        return report

    def _follow(self, p: checks.Pass, share_out: bool) -> checks.Failure | None:
        """Follow the chain from the first activity, each row's content against its hash and its link against the
        one before, into `p`; the first failure on the way (where `p` then says the chain got to)."""
        head_id = self.conn.execute("SELECT coalesce(max(id), 0) FROM activity").fetchone()[0]
        problems, p.leant = self._problems(head_id, p.key, p.changes, share_out)
        boundary = p.boundary
        # The chain runs through the links of what prunes removed (store/pruned.py). Where a prune by an earlier
        # release removed rows without keeping them, the rows it kept up to its boundary are checked each alone
        # and against its digest of them; `unlinked` is the last whose link is not proven.
        bridge = p.bridge = pruned.Bridge(self.conn, p.key)
        chain_key, effective_key = self.store.chain_key, self._effective_key
        prev, prev_id = chain.GENESIS, None
        seen: tuple[int | None, str] = (None, chain.GENESIS)
        for row_id, action, key_, prev_hash, hash_ in self.conn.execute(
            "SELECT id, action, key, prev_hash, hash FROM activity WHERE id <= ? ORDER BY id", [head_id]
        ):
            p.count += 1
            seen = (row_id, hash_)
            p.last_id, p.last_hash = prev_id, prev  # where a failure at this row leaves the chain
            in_prefix = row_id <= boundary["id"]
            if in_prefix and row_id in p.pending:  # still to go: not a survivor, but still as it was written
                if problems.get(row_id):
                    return self._stopped(p, ("modified", row_id, problems[row_id]))
                continue
            if prev_hash != prev:
                prev = bridge.through(prev, prev_id or 0, row_id)
                p.last_hash = prev
                if bridge.broken is not None and not in_prefix:
                    return self._stopped(p, ("deleted", (prev_id or 0) + 1, f"the chain does not run on from "
                                         f"activity {prev_id or 0} through what prunes removed: activities after "
                                         "it were removed without a prune, or the digests kept of pruned ones were "
                                         "changed"))
            if prev_hash != prev:
                if in_prefix:
                    p.unlinked = row_id
                elif (prev_id or 0) <= boundary["id"] and prev_hash == boundary["hash"]:
                    p.unlinked = boundary["id"]  # follows the boundary the prune attests
                else:
                    row = {"id": row_id, "prev_hash": prev_hash}
                    return self._stopped(p, derived.link_failure(self.conn, row, prev_id or boundary["id"]))
            if not p.keyed and chain_key is not None:
                return self._stopped(p, ("modified", row_id, "AUDIT_CHAIN_KEY is set but this store's chain "
                                         "carries no key: its key check was removed, or it never had one"))
            problem = problems.get(row_id)
            # A comment that does not add up with its chained edits is reported only if nothing else is: an edit
            # record that was itself altered comes later in id order and is the better answer.
            if problem and action == "comment" and effective_key({"id": row_id, "key": key_}) in p.changes:
                p.deferred = p.deferred or ("modified", row_id, problem)
            elif problem:
                return self._stopped(p, ("modified", row_id, problem))
            if in_prefix:
                p.survivors.append((row_id, hash_))
            prev, prev_id = hash_, row_id
        p.last_id, p.last_hash = seen
        return None

    @staticmethod
    def _stopped(p: checks.Pass, failure: checks.Failure) -> checks.Failure:
        p.count -= 1  # the row that failed is not counted as checked
        return failure

    def _problems(self, head_id: int, key: bytes | None, changes: dict,
                  share_out: bool = True) -> tuple[dict[int, str], list[int]]:
        """Every row whose hash does not cover its content, with why; and the rows that leant on attested digests.
        Shared out among processes for a large store, unless `share_out` is off (the caller's snapshot)."""
        import multiprocessing as mp  # here, not at the top: every command imports this module
        from concurrent.futures import ProcessPoolExecutor

        low = self.conn.execute("SELECT coalesce(min(id), 0) FROM activity").fetchone()[0] - 1
        workers = min(os.cpu_count() or 1, 4)
        if head_id - low < _PARALLEL_ROWS or workers < 2 or "fork" not in mp.get_all_start_methods() or \
                not share_out:
            return self.scan(low, head_id, key, changes)
        step = (head_id - low) // workers + 1
        ranges = [(low + n * step, min(low + (n + 1) * step, head_id)) for n in range(workers)]
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            parts = list(pool.map(_scan_range, [(str(self.store.path), lo, hi, key) for lo, hi in ranges]))
        problems: dict[int, str] = {}
        leant: list[int] = []
        for found, used in parts:
            problems.update(found)
            leant.extend(used)
        return problems, leant

    def scan(self, low: int, high: int, key: bytes | None, changes: dict) -> tuple[dict[int, str], list[int]]:
        """`_problems` for the rows low < id <= high, in this process (a worker's share, or derived.py's one row)."""
        problems, leant = {}, []
        content_problem = self._content_problem
        for row, details_text, digest in self.rows(low, high):
            problem, attested = content_problem(row, details_text, digest, key, changes)
            if problem:
                problems[row["id"]] = problem
            if attested:
                leant.append(row["id"])
        return problems, leant

    def _content_problem(self, row: dict[str, Any], details_text: str | None, digest: str | None,
                         key: bytes | None, changes: dict | None = None) -> tuple[str | None, bool]:
        """Why the row's hash does not cover its content, if it does not; and whether it does only with the former
        digest of its revision that a prune attested."""
        expected, problem = self.link_of(row, details_text, digest, row["prev_hash"], key, changes, row["hash"])
        if expected == row["hash"]:
            return problem, False
        former = self.conn.execute("SELECT revision FROM attested WHERE activity = ?", [row["id"]]).fetchone()
        if former is None or self.link_of(row, details_text, former[0], row["prev_hash"], key,
                                           changes, row["hash"])[0] != row["hash"]:
            return f"activity {row['id']} is not as it was written", False
        return problem, True

    def _report(self, count: int, head_id: int | None, head: str, failure: tuple | None, **extra: Any):
        report: dict[str, Any] = {"ok": failure is None, "checked": count, "head_id": head_id, "head": head}
        if failure:
            kind, at, message = failure
            report["failure"] = {"kind": kind, "id": at, "message": message}
        report.update(extra)
        return report

    def checkpoint(self, *, sign_with: bytes | None = None) -> dict[str, Any]:
        """An anchor to keep elsewhere: this store, keyed or not, its count, its head id and hash, and when; signed
        with Ed25519 when `sign_with` holds a private key (PEM or OpenSSH)."""
        return anchor_check.make(self.store, sign_with)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
