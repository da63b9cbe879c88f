"""Pruning: removing activity and revisions past the retention limits, and rewriting revisions to their scope.

A prune is planned and attested in one transaction (the plan, the chained `prune` record, the attested former
revision digests, any scope rewrites), then carried out in batches of bounded size so that readers and writers are
never blocked for long and the WAL stays small. A prune killed between batches leaves a store that verifies, and
the next prune finishes the plan before making its own.
"""

from __future__ import annotations

import fcntl
import os
from array import array
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import chain, jsontext, patches, timeparse
from ..errors import Conflict, StoreError, UsageError
from ..models import COMMENT_CHANGES, CREATES, Activity
from . import codec, derived, prune_record, pruned
from .pruned import survivors_digest
from .policy import scoped

if TYPE_CHECKING:
    from . import AuditStore

# Rows deleted per transaction. Each batch rewrites the index pages it touches, and old rows are spread over every
# item's index range, so fewer, larger batches write much less: 50,000 measured 1.6x faster than 10,000 on a 1M
# store with the WAL peaking at 81 MB instead of 63 MB, and about a second of writer lock per batch.
BATCH = 50_000
_IDS = 500  # ids bound per statement, well under SQLite's variable limit


def _chunks(ids: list[int], size: int = _IDS) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


class _Removal:
    """Rows a plan removes, from (id, collection, action, has a revision) rows, held compactly: a prune of millions
    keeps an 8-byte id and a 4-byte code per row, not a tuple of strings."""

    def __init__(self, rows: Iterable[tuple[int, str, str, int]]):
        self.ids, self.codes = array("q"), array("I")
        groups: dict[tuple[str, str, int], int] = {}
        for activity_id, coll, action, has_revision in rows:
            self.ids.append(activity_id)
            self.codes.append(groups.setdefault((coll, action, has_revision), len(groups)))
        self.groups = list(groups)

    def without(self, ids: set[int]) -> _Removal:
        if not ids:
            return self
        kept = _Removal(())
        kept.groups = self.groups
        for activity_id, code in zip(self.ids, self.codes):
            if activity_id not in ids:
                kept.ids.append(activity_id)
                kept.codes.append(code)
        return kept

    def counts(self) -> dict[tuple[str, str, int], int]:
        tally = [0] * len(self.groups)
        for code in self.codes:
            tally[code] += 1
        return {group: n for group, n in zip(self.groups, tally) if n}


class Prunes:
    """Planning a prune, attesting it in its chained record, carrying it out; and what verify asks of prunes.

    Uses of the store: its connection, `path` and `in_memory` (the prune's lock file), `_writing()`,
    `_insert_activity()`, `store_id()`, `_chain_key()` and `_next_id()` (the chained prune record), and
    `snapshots` (revisions read and rewritten). Of the other parts: `policies` (`scopes()`, `retention()`: the
    limits; `policy()`: the settings the record restates) and `versions.state()` (the table it restates). Given
    the store: store/pruned.py (which reads the chain's records through the integrity part's `rows()`,
    `record()` and `comment_change_map()`), store/derived.py, store/prune_record.py and the archive's export."""

    def __init__(self, store: AuditStore):
        self.store = store
        self.conn = store.conn
        self.snapshots = store.snapshots

    # what verify needs

    def latest_prune(self, until: int | None = None) -> tuple[int, dict[str, Any]] | None:
        """(id, details) of the newest prune record that speaks for this store's chain (store/prune_record.py);
        with `until`, the newest at or before that id."""
        return prune_record.latest(self.store, until)

    def attested_digest(self) -> tuple[int, str]:
        return survivors_digest(self.conn.execute("SELECT activity, revision FROM attested ORDER BY activity"))

    # planning

    def _plan(self, *, activity_before: str | None, revision_before: str | None, revision_only: bool,
              keep: int, collection: str | None, apply_scopes: bool) -> dict[str, Any]:
        """Which activities go whole, which keep their activity but lose their revision, and the scope rewrites."""
        scopes = self.store.policies.scopes() if apply_scopes else {}
        if collection is not None:
            scopes = {c: s for c, s in scopes.items() if c == collection}
        limits = {c: s["keep_revisions"] for c, s in scopes.items() if s.get("keep_revisions")}
        where, params = ("collection = ?", [collection]) if collection is not None else ("1", [])
        where_a = "a.collection = ?" if collection is not None else "1"
        # Each item's newest revisions are never removed: rank 1 is the newest. A scope may keep more of its
        # collection's. Ranked in SQL: a million revisions ranked in Python cost seconds.
        limit = ("CASE collection " + " ".join("WHEN ? THEN ?" for _ in limits) + " ELSE ? END") if limits else "?"
        ranked = f"""ranked AS (SELECT activity, collection, {limit} AS keep_n,
                     row_number() OVER (PARTITION BY collection, item ORDER BY activity DESC) AS rank
                     FROM revisions WHERE version IS NULL AND {where})"""
        ranked_params = [*(x for c, n in limits.items() for x in (c, n)), keep, *params]
        beyond = _Removal(())  # revisions past their item's count
        if revision_only or limits:
            only = "" if revision_only else f" AND r.collection IN ({', '.join('?' * len(limits))})"
            age = " AND a.timestamp < ?" if revision_before else ""
            beyond = _Removal(self.conn.execute(
                f"""WITH {ranked} SELECT r.activity, a.collection, a.action, 1 FROM ranked r
                    JOIN activity a ON a.id = r.activity WHERE rank > keep_n{only}{age} ORDER BY r.activity""",
                [*ranked_params, *([] if revision_only else list(limits)),
                 *([revision_before] if revision_before else [])]))
        whole = _Removal(())
        if activity_before is not None:
            latest = self.latest_prune()
            whole = _Removal(self.conn.execute(
                f"""WITH {ranked} SELECT a.id, a.collection, a.action, r.activity IS NOT NULL FROM activity a
                    LEFT JOIN revisions r ON r.activity = a.id
                    WHERE a.timestamp < ? AND {where_a} AND a.id != ?
                    AND a.id NOT IN (SELECT activity FROM ranked WHERE rank <= keep_n) ORDER BY a.id""",
                [*ranked_params, activity_before, *params, latest[0] if latest else 0]))
            # A comment and the chained records of its edits go together or stay together: verify rebuilds its
            # first text from them. (A comment edited since the cutoff stays, with its edits.)
            whole = whole.without(self._kept_comment_changes(set(whole.ids)))
        revisions = beyond.without(set(whole.ids))
        removed: dict[tuple[str, str], list[int]] = {}
        for part, is_whole in ((whole, 1), (revisions, 0)):
            for (coll, action, has_revision), n in part.counts().items():
                count = removed.setdefault((coll, action), [0, 0])
                count[0] += n * is_whole
                count[1] += n * has_revision
        return {"whole": whole.ids.tolist(), "revisions": revisions.ids.tolist(), "scopes": scopes,
                "removed": [{"collection": c, "action": a, "activities": n, "revisions": r}
                            for (c, a), (n, r) in sorted(removed.items())]}

    def _kept_comment_changes(self, gone: set[int]) -> set[int]:
        """What must stay of `gone` so that no comment is parted from its chained edits: a comment stays with its
        edit records if any of them stays, and they stay if it does."""
        own = self.store.store_id() + "/"
        groups: dict[str, list[int]] = {}  # comment key -> its change records
        for change_id, details in self.conn.execute(
            f"SELECT id, details FROM activity WHERE action IN ({', '.join('?' * len(COMMENT_CHANGES))})",
            list(COMMENT_CHANGES),
        ):
            target = (jsontext.loads(details) or {}).get("comment") if details else None
            if isinstance(target, str):
                groups.setdefault(target, []).append(change_id)
        keep: set[int] = set()
        for target, changes in groups.items():
            comment = self._comment_id(target, own)
            members = changes + ([comment] if comment is not None else [])
            going = [m for m in members if m in gone]
            if going and len(going) < len(members):  # parted: all of them stay
                keep.update(going)
        return keep

    def _comment_id(self, key: str, own: str) -> int | None:
        if key.startswith(own) and key[len(own):].isdigit():
            return int(key[len(own):])
        found = self.conn.execute("SELECT id FROM activity WHERE key = ?", [key]).fetchone()
        return found[0] if found else None

    # carrying out

    @contextmanager
    def _prune_lock(self) -> Iterator[None]:
        path = f"{self.store.path}.prune-lock"
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise Conflict("another prune is running on this store: try again when it is done") from None
            yield
        finally:
            os.close(fd)

    def prune(
        self,
        *,
        older_than: str | None = None,
        keep_revisions: int | None = None,
        collection: str | None = None,
        apply_scopes: bool = False,
        dry_run: bool = False,
        archive: Callable[[Iterable[bytes]], None] | None = None,
        activity: Activity | None = None,
        now: datetime | None = None,
        batch: int = BATCH,
        after_batch: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        """Remove what is past the limits given, or, with none, past the stored retention policy.

        Returns a summary: per collection and action, the activities and revisions removed, and the totals. With
        `dry_run`, nothing is written and the summary is what a real run would remove.
        """
        now = now or timeparse.utcnow()
        limits = self._limits(older_than, keep_revisions, apply_scopes, now)
        nothing = {"policy": None, "removed": [], "activities": 0, "revisions": 0, "rewritten": 0,
                   "finished_earlier_prune": False,
                   "note": "no retention policy is set and no limits were given: nothing to prune"}
        if limits is None and (dry_run or not self.conn.execute("SELECT 1 FROM prune_plan LIMIT 1").fetchone()):
            return nothing  # and nothing written, not even the lock file
        read_only = getattr(self.conn, "read_only", None)  # a store in a folder this process cannot write
        if read_only and not dry_run:
            raise StoreError(read_only)
        # No lock for a dry run of a read-only store (it could not make the lock file), nor for one in memory.
        with nullcontext() if read_only or self.store.in_memory else self._prune_lock():
            pending = self.conn.execute("SELECT count(*) FROM prune_plan").fetchone()[0]
            # An interrupted prune is finished first, by any real prune, even one with nothing of its own to do.
            finished = bool(pending) and not dry_run and self._finish_pending(batch, after_batch)
            if limits is None:
                return {**nothing, "finished_earlier_prune": finished,
                        "note": f"finished an interrupted prune ({pending} rows); {nothing['note']}"}
            plan = self._plan(collection=collection, apply_scopes=apply_scopes, **limits)
            removed = plan["removed"]
            summary = {"policy": {**{k: v for k, v in limits.items() if v is not None}, "collection": collection,
                                  "apply_scopes": apply_scopes},
                       "removed": removed, "activities": len(plan["whole"]),
                       "revisions": sum(row["revisions"] for row in removed),
                       "rewritten": 0, "finished_earlier_prune": finished}
            going = set(plan["whole"]) | set(plan["revisions"])
            if dry_run:
                if pending:
                    summary["note"] = f"an interrupted prune still has {pending} rows to remove: a real run finishes it first"
                summary["rewritten"] = self._rewrite_scopes(plan["scopes"], dry_run=True, going=going)
                return summary
            if not going and not self._rewrite_scopes(plan["scopes"], dry_run=True, going=going):
                summary["note"] = "nothing is past the limits: nothing was removed"
                return summary
            if archive is not None:
                self.store._chain_key()  # a prune that cannot chain its record (a keyed store, no key) archives nothing
                archive(self._archive_lines(plan))
            summary["rewritten"], summary["prune_id"] = self._attest(plan, activity, summary)
            self._carry_out(batch, after_batch)
        return summary

    def _limits(self, older_than, keep_revisions, apply_scopes, now) -> dict[str, Any] | None:
        cutoff = lambda text: timeparse.format_ts(now - timeparse.parse_duration(text))  # noqa: E731
        if keep_revisions is not None and keep_revisions < 1:
            raise UsageError(f"{{keep_revisions}} must be 1 or more (the newest revision is always kept), not "
                             f"{keep_revisions}", params=("keep_revisions",), value=keep_revisions)
        if older_than is not None or keep_revisions is not None or apply_scopes:
            return {"activity_before": cutoff(older_than) if older_than else None, "revision_before": None,
                    "revision_only": keep_revisions is not None and older_than is None, "keep": keep_revisions or 1}
        policy = self.store.policies.retention()
        if not policy:
            return None
        return {"activity_before": cutoff(policy["activity"]) if policy.get("activity") else None,
                "revision_before": cutoff(policy["revisions"]) if policy.get("revisions") else None,
                "revision_only": bool(policy.get("revisions")) or (
                    bool(policy.get("keep_revisions")) and not policy.get("activity")),
                "keep": policy.get("keep_revisions") or 1}

    def _archive_lines(self, plan: dict[str, Any]) -> Iterator[bytes]:
        """The export lines of everything the plan removes (activities whole, and revision-only removals)."""
        from .export import archive_lines

        return archive_lines(self.store, sorted(set(plan["whole"]) | set(plan["revisions"])), _chunks)

    def _attest(self, plan: dict[str, Any], activity: Activity | None, summary: dict[str, Any]) -> tuple[int, int]:
        """In one transaction: the plan, the former digests, scope rewrites, and the chained prune record."""
        with self.store._writing():
            whole, revision_ids = plan["whole"], plan["revisions"]
            self.conn.executemany("INSERT OR IGNORE INTO prune_plan (activity, what) VALUES (?, 'activity')",
                                  [(i,) for i in whole])
            self.conn.executemany("INSERT OR IGNORE INTO prune_plan (activity, what) VALUES (?, 'revision')",
                                  [(i,) for i in revision_ids])
            for chunk in _chunks(revision_ids):
                self._attest_revisions(chunk)
            rewritten = self._rewrite_scopes(plan["scopes"], dry_run=False,
                                             going=set(whole) | set(revision_ids))
            # Before the digests that removed rows leant on go: a rewritten revision's row is kept by its former one.
            pruned.keep(self.store, whole, self.store._next_id())
            for chunk in _chunks(whole):
                self.conn.execute(f"DELETE FROM attested WHERE activity IN ({', '.join('?' * len(chunk))})", chunk)
            previous = self.latest_prune()
            boundary = previous[1]["boundary"] if previous else {"id": 0, "hash": chain.GENESIS}
            if whole and max(whole) > boundary["id"]:
                top = max(whole)
                boundary = {"id": top, "hash": self.conn.execute("SELECT hash FROM activity WHERE id = ?",
                                                                 [top]).fetchone()[0]}
            count, digest = survivors_digest(self.conn.execute(
                "SELECT id, hash FROM activity WHERE id <= ? AND id NOT IN "
                "(SELECT activity FROM prune_plan WHERE what = 'activity') ORDER BY id", [boundary["id"]]))
            attested = self.attested_digest()
            record = activity or Activity("prune", "*", "*", "")
            record.action = "prune"
            record.collection = record.collection or "*"
            record.item = record.item or "*"
            record.details = {
                "removed": {"activities": summary["activities"], "revisions": summary["revisions"],
                            "rewritten": rewritten, "by": summary["removed"]},
                "policy": summary["policy"],
                "boundary": boundary,
                "survivors": {"count": count, "digest": digest},
                "pruned": pruned.table_digest(self.conn),
                "attested": {"count": attested[0], "digest": attested[1]},
                "rewrites": derived.rewrites_digest(self.store),
                "plan": derived.plan_digest(self.conn),
                "versions": derived.versions_state(self.store),
                "settings": self.store.policies.policy(),
            }
            saved = self.store._insert_activity(record)
            self.conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('prune_pending', ?)",
                              [str(saved["id"])])
            return rewritten, saved["id"]

    def _attest_revisions(self, ids: list[int]) -> None:
        """Keep the digest each revision had as written (the one its activity's hash covers), once."""
        rows = self.conn.execute(
            f"SELECT activity, version, base, data, delta FROM revisions WHERE activity IN ({', '.join('?' * len(ids))}) "
            "AND activity NOT IN (SELECT activity FROM attested)", ids).fetchall()
        text = self.snapshots.text
        self.conn.executemany("INSERT INTO attested (activity, revision) VALUES (?, ?)", [
            (activity_id, chain.revision_digest(text(base, data), self.snapshots.delta(base, data, delta), version))
            for activity_id, version, base, data, delta in rows])

    def _rewrite_scopes(self, scopes: dict[str, dict[str, Any]], *, dry_run: bool, going: set[int]) -> int:
        """Rewrite each scoped collection's revisions to the fields its scope keeps; deltas are recomputed."""
        rewritten = 0
        for coll, scope in scopes.items():
            if not (scope.get("fields") or scope.get("exclude_fields")):
                continue
            items = [item for (item,) in self.conn.execute(
                "SELECT DISTINCT item FROM revisions WHERE collection = ? AND version IS NULL", [coll])]
            for item in items:
                before: Any = {}
                rows = self.conn.execute(
                    "SELECT r.activity, a.action, r.base, r.data, r.delta FROM revisions r JOIN activity a "
                    "ON a.id = r.activity WHERE r.collection = ? AND r.item = ? AND r.version IS NULL "
                    "ORDER BY r.activity", [coll, item]).fetchall()
                rows = [row for row in rows if row[0] not in going]  # what the prune removes is not rewritten
                for activity_id, action, base, data, delta in rows:
                    held = self.snapshots.text(base, data)
                    after, _ = scoped(jsontext.loads(held), scope)
                    new_delta = jsontext.dumps(patches.diff({} if action in CREATES else before, after))
                    if new_delta != codec.delta_text(delta, held) or not patches.same(after, jsontext.loads(held)):
                        rewritten += 1
                        if not dry_run:
                            self._attest_revisions([activity_id])
                            text = jsontext.dumps(after).encode()
                            self.conn.execute("UPDATE revisions SET data = ?, delta = ? WHERE activity = ?",
                                              [codec.pack(text, self.snapshots.base_text(base) if base is not None else None),
                                               codec.pack_delta(new_delta, text), activity_id])
                    before = after
        return rewritten

    def vacuum(self) -> int:
        """Reclaim the space prunes freed; returns the bytes the store shrank by."""
        def size() -> int:
            return sum(os.path.getsize(p) for p in (self.store.path, f"{self.store.path}-wal") if os.path.exists(p))

        # Empty the WAL first: what the prune wrote there is not space the store held, and would count as freed.
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        before = size()
        self.conn.execute("VACUUM")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return before - size()

    def _finish_pending(self, batch: int, after_batch: Callable[[int], None] | None) -> bool:
        if self.conn.execute("SELECT 1 FROM prune_plan LIMIT 1").fetchone() is None:
            return False
        self._carry_out(batch, after_batch)
        return True

    def _carry_out(self, batch: int, after_batch: Callable[[int], None] | None) -> None:
        """Delete what the plan names, a bounded batch per transaction, then drop bases nothing uses."""
        # A larger page cache for the index pages every delete touches, and a checkpoint every ~32 MB of WAL
        # instead of every 4 MB: measured about twice as fast, and the WAL still stays bounded.
        self.conn.execute("PRAGMA cache_size = -65536")
        self.conn.execute("PRAGMA wal_autocheckpoint = 8192")
        try:
            self._delete_batches(batch, after_batch)
        finally:
            self.conn.execute("PRAGMA wal_autocheckpoint = 1000")
            self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _delete_batches(self, batch: int, after_batch: Callable[[int], None] | None) -> None:
        done = 0
        while True:
            with self.store._writing():
                rows = self.conn.execute("SELECT activity, what FROM prune_plan WHERE done = 0 ORDER BY activity "
                                         "LIMIT ?", [batch]).fetchall()
                if not rows:
                    self.conn.execute("DELETE FROM bases WHERE id NOT IN "
                                      "(SELECT base FROM revisions WHERE base IS NOT NULL)")
                    self.conn.execute("DELETE FROM prune_plan")
                    self.conn.execute("DELETE FROM settings WHERE key = 'prune_pending'")
                    self.snapshots.bases.clear()
                    return
                ids = [activity_id for activity_id, _ in rows]
                whole = [activity_id for activity_id, what in rows if what == "activity"]
                for chunk in _chunks(ids):
                    marks = ", ".join("?" * len(chunk))
                    self.conn.execute(f"DELETE FROM revisions WHERE activity IN ({marks})", chunk)
                    self.conn.execute(f"UPDATE prune_plan SET done = 1 WHERE activity IN ({marks})", chunk)
                for chunk in _chunks(whole):
                    self.conn.execute(f"DELETE FROM activity WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
            done += len(rows)
            if after_batch is not None:
                after_batch(done)
