"""`audit_cli.Store`: the documented entry point. Everything the `audit` command does, the CLI does through it.

Arguments are checked here (or in the core this calls), so that a mistake is the same `audit_cli.AuditError`
whether it came from Python or from the command line; results are typed records (api/results.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from ..errors import UsageError
from ..models import Activity, Revision
from . import checks, results
from .results import BlameEntry, Change, Count, HistoryEntry, Recorded, RevertPlan, StoreInfo

_CHUNK = 500  # rows fetched at a time while a query is iterated


class Store:
    """An audit store: one SQLite file (or ":memory:") holding activity, revisions and versions.

    Open with `audit_cli.open(path)`; use as a context manager, or call `close()`. Not for use by several threads
    at once: give each its own Store (SQLite serialises the writers, each write waits up to 15 s for the lock).
    `comments`, `versions`, `retention` and `scopes` group the operations on those."""

    def __init__(self, store: Any):
        from .manage import Comments, Retention, Scopes, Versions

        self._core = store
        self.comments = Comments(self)
        self.versions = Versions(self)
        self.retention = Retention(self)
        self.scopes = Scopes(self)

    @property
    def _store(self) -> Any:
        """The store, with every record a batch gathered so far written first: whatever is asked of it then
        (a read, or a write other than a record) sees them. Only `record` uses the store unsettled."""
        self._core.settle()
        return self._core

    @classmethod
    def open(cls, path: str | Path = ":memory:", *, create: bool = True, chain_key: bytes | str | None = None,
             synchronous: Literal["normal", "full"] = "normal") -> Store:
        """Open the store at `path`.

        path: the store file, or ":memory:" for a new empty store in memory (for tests; gone when closed).
        create: make the file (and its folders) when missing; with False, a missing store is a StoreError.
        chain_key: the key of a keyed store's hash chain (HMAC), as `AUDIT_CHAIN_KEY` gives it to the CLI.
        synchronous: "normal" (the default): a write returns once it is in the WAL, safe from a crash of this
            process, and may be lost with the last others in a power cut; "full" syncs it to disk first, so it
            survives that too, at the cost bench/RESULTS.md measures.
        """
        from ..store import AuditStore

        if synchronous not in ("normal", "full"):
            raise UsageError(f"invalid {{synchronous}} {synchronous!r}: use normal or full", params=("synchronous",))
        key = chain_key.encode() if isinstance(chain_key, str) else chain_key
        store = AuditStore.open(path, create=create, chain_key=key)
        if synchronous == "full":
            store.conn.execute("PRAGMA synchronous = FULL")
        return cls(store)

    @property
    def path(self) -> Path:
        """The store's file (":memory:" for one in memory)."""
        return self._core.path

    def close(self) -> None:
        """Close the store. Every write already returned is kept; an open batch is rolled back."""
        self._core.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def batch(self) -> Iterator[Store]:
        """`with store.batch(): ...` makes every write inside one transaction, committed once at the end (one sync
        instead of one per write), or not at all when the block raises. A write that fails inside is undone alone:
        catch its error and the batch goes on. Other processes see none of it until the end.

        Records in a batch are gathered and written together (every thousand, and at the end): the chain's head
        and each item's newest state are kept in memory meanwhile, and anything else asked of the store inside
        the batch first writes what was gathered, so that it sees every record made before it."""
        with self._core.batching():
            yield self

    # recording

    def record(self, action: str, collection: str, item: str | int, *, data: dict[str, Any] | None = None,
               replace: bool = False, patch: list[dict[str, Any]] | None = None, user: str | None = None,
               timestamp: str | datetime | None = None, ip: str | None = None, user_agent: str | None = None,
               origin: str | None = None, comment: str | None = None, details: Any = None) -> Recorded:
        """Record one activity and, for the data actions (create, update, delete, soft-delete), the item's new
        revision, in one transaction: it is in the store when this returns.

        action: what happened, a lowercase slug: create, update, delete, soft-delete, login, entry.update...
            (revert, promote, version-save and prune are recorded by their own methods).
        collection: the item's collection (table, model). item: its id (a number is kept as text).
        data: for data actions, the item's fields: merged onto its current state (a key given replaces its
            value; None stores null), or with `replace` the whole new state.
        replace: `data` is the whole new state, not a partial update.
        patch: an RFC 6902 patch applied to the current state, instead of `data` (update and soft-delete).
        user: who did it. timestamp: when (an aware datetime, or text such as "2026-11-20T10:00:00Z", "2h" or
            "yesterday"; text without an offset is UTC); now when None.
        ip, user_agent, origin: where from. comment: a note kept with it (the text of a comment action).
        details: any JSON value: request body, reason, correlation id...
        """
        activity = Activity(action, collection, str(item) if isinstance(item, int) else item,
                            "" if timestamp is None else checks.moment(timestamp, param="timestamp"),
                            user=checks.text(user, param="user"), ip=checks.text(ip, param="ip"),
                            user_agent=checks.text(user_agent, param="user_agent"),
                            origin=checks.text(origin, param="origin"), comment=checks.text(comment, param="comment"),
                            details=details)
        done = self._core.record(activity, data=data, replace=replace, patch=patch)
        if done.activity["id"] is None:  # kept nothing: the activity as it would have been
            return Recorded(results.activity(done.activity), done.revision, done.note)
        return Recorded(activity, done.revision, done.note)  # the store gave it its id and time

    # reading

    def query(self, *, action: str | list[str] | None = None, user: str | list[str] | None = None,
              collection: str | list[str] | None = None, item: str | list[str] | None = None,
              since: str | datetime | None = None, until: str | datetime | None = None, search: str | None = None,
              filter: dict[str, Any] | None = None, field: str | None = None, include_deleted: bool = False,
              sort: str | list[str] | None = None, limit: int | None = None, offset: int = 0) -> Iterator[Activity]:
        """The activities matching every filter given, newest first, as `audit log` selects them.

        action, user, collection, item: one value or a list (any of them); matched whole (actions may also be
            a comma list). since, until: from and up to a time (datetime or text as `record` takes; a date as
            `until` includes its whole day).
        search: case-insensitive text anywhere in the text fields.
        filter: Directus filter rules, such as {"action": {"_in": ["create", "update"]}} (README: Reading).
        field: only activity whose change touches this JSON Pointer, such as "/title".
        include_deleted: include soft-deleted comments.
        sort: field names, "-" first for descending ("-timestamp" by default), as a list or a comma list.
        limit: at most this many (None: all). offset: skip this many first.

        Rows are read as iterated, in one read of the store: finish or close the iterator before a long pause.
        A bad filter is an error here, before anything is read.
        """
        from .. import query
        from ..store.reader import COLUMNS as _COLUMNS

        q = checks.log_query(action=action, user=user, collection=collection, item=item, since=since, until=until,
                             search=search, filter=filter, field=field, include_deleted=include_deleted, sort=sort,
                             limit=limit, offset=offset)
        clause, params = query.where(q)
        return _rows(self._store.conn,
                     f"SELECT {_COLUMNS} FROM activity WHERE {clause} ORDER BY {query.order_by(q.sort)} LIMIT ? "
                     "OFFSET ?", [*params, -1 if q.limit is None else q.limit, q.offset])

    def count(self, **filters: Any) -> int:
        """How many activities match `filters`, which are those of `query` (but sort, limit and offset)."""
        from .. import query

        clause, params = query.where(checks.log_query(**filters))
        return self._store.conn.execute(f"SELECT count(*) FROM activity WHERE {clause}", params).fetchone()[0]

    def stats(self, by: str = "action", **filters: Any) -> list[Count]:
        """Counts of the activities matching `filters` (those of `query`), grouped `by` action, user, collection,
        item (a (collection, item) pair), hour, day, week or month (UTC); times in order, the rest largest first."""
        rows = self._store.stats(checks.log_query(**filters), by=by)
        if by == "item":
            return [Count(by, (row["collection"], row["item"]), row["count"]) for row in rows]
        return [Count(by, row[by], row["count"]) for row in rows]

    def show(self, activity_id: int) -> Recorded:
        """One activity (`activity_id`, its id), with the revision it made if any; NotFound when there is none."""
        checks.count(activity_id, param="activity_id")
        return Recorded(results.activity(self._store.get_activity(activity_id)), self._store.revision_of(activity_id))

    def revision(self, collection: str, item: str, index: int = -1) -> Revision:
        """Revision `index` of the item `item` of `collection` (0 the oldest; negative counts back from -1, the
        current one)."""
        return self._store.revision(*checks.names(collection, item), checks.count(index, param="index", least=-2**63))

    def history(self, collection: str, item: str) -> list[HistoryEntry]:
        """An item's revisions (collection and item name it), oldest first, with the paths each changed."""
        return [results.from_dict(HistoryEntry, row) for row in self._store.history(*checks.names(collection, item))]

    def snapshot(self, collection: str, item: str, *, rev: int | None = None,
                 at: str | datetime | None = None) -> Any:
        """The state of item `item` of `collection`: now, at revision `rev` (negative counts back), or at the
        moment `at` (a datetime or text as `record` takes). Conflict when the item was deleted there; NotFound when
        it did not exist."""
        if rev is not None and at is not None:
            raise UsageError("give {rev} or {at}, not both", params=("rev", "at"))
        checks.count(rev, param="rev", least=-2**63)
        return self._store.snapshot(*checks.names(collection, item), rev=rev, at=checks.moment(at, param="at"))

    def diff(self, collection: str, item: str, *, start: int | None = None, end: int | None = None) -> Change:
        """The change from revision `start` to revision `end` of item `item` of `collection` (by default: its
        last change; `end` alone: the change that made revision `end`). Indexes as in `revision`."""
        for name, value in (("start", start), ("end", end)):
            checks.count(value, param=name, least=-2**63)
        collection, item = checks.names(collection, item)
        found = self._store.diff(collection, item, start=start, end=end)
        return Change(collection, item, found["before"], found["after"], found["patch"], found["from"], found["to"])

    def change(self, activity_id: int) -> Change:
        """The change activity `activity_id` made: its patch, and the item's state before and after it."""
        found = self._store.diff_activity(checks.count(activity_id, param="activity_id"))
        return Change(found["collection"], found["item"], found["before"], found["after"], found["patch"],
                      activity=activity_id, version=found["version"])

    def blame(self, collection: str, item: str) -> list[BlameEntry]:
        """For each field of the current state of item `item` of `collection`: its value, and who last changed it,
        when, in which activity."""
        return [results.from_dict(BlameEntry, row) for row in self._store.blame(*checks.names(collection, item))]

    def revert(self, collection: str, item: str, *, to: int, user: str | None = None,
               timestamp: str | datetime | None = None, comment: str | None = None) -> Recorded:
        """Make revision `to` the state of item `item` of `collection` again (negative counts back), recorded as a
        revert activity by
        `user` at `timestamp` (now when None) with `comment` (why); restores a deleted item. Conflict when it is
        already in that state."""
        checks.count(to, param="to", least=-2**63)
        collection, item = checks.names(collection, item)
        done = self._store.revert(collection, item, to=to,
                                  activity=checks.by(user, "revert", collection, item, timestamp=timestamp,
                                                     comment=checks.text(comment, param="comment")))
        return Recorded(results.activity(done.activity), done.revision, done.note)

    def plan_revert(self, collection: str, item: str, *, to: int) -> RevertPlan:
        """What `revert(collection, item, to=to)` would do, writing nothing: the patch it would apply and the state
        it would give."""
        checks.count(to, param="to", least=-2**63)
        return results.from_dict(RevertPlan, self._store.revert(*checks.names(collection, item), to=to, dry_run=True))

    def info(self) -> StoreInfo:
        """The store's path, size, schema version, counts, first and last activity, and chain head."""
        facts = self._store.info()
        return results.from_dict(StoreInfo, facts, raw=facts)

    # moving trails, keeping them small and provable: api/upkeep.py

    def export_to(self, target: Any, *, format: Literal["audit", "ecs"] = "audit", cursor: str | Path | None = None,
                  limit: int | None = None, progress: Any = None, trailer: bool = True,
                  **filters: Any) -> results.Exported:
        """Write the activities matching `filters` (those of `query` but sort, limit, offset), by id, as JSONL.

        target: a path (gzipped when it ends in .gz; it appears only once complete), or a binary file object.
        format: "audit" (audit/1 lines, what `import_from` reads back) or "ecs" (Elastic Common Schema).
        cursor: a cursor file for incremental exports: only activity after the id it holds is written (all when
            it does not exist yet), and once the export is complete it holds the last id written.
        limit: only the first `limit` matching activities, by id. progress: called as progress(done, total).
        trailer: end an audit/1 export with its trailer line (docs/format.md), sealed with the chain key when the
            store is keyed (`unsealed` in the result says when the key was not given); False for tools that take
            only activity lines, and then `verify` of the file cannot prove its end.
        """
        from .upkeep import export_to

        return export_to(self._store, target, format=format, cursor=cursor, limit=limit, progress=progress,
                         trailer=trailer, filters=filters)

    def import_from(self, source: Any, *, format: Literal["audit", "directus", "strapi"] = "audit",
                    skip_invalid: bool = False, verify: bool = True, progress: Any = None,
                    user: str | None = None) -> results.Imported:
        """Load a trail, in one transaction; activities already here (by key) are skipped, so it may be re-run.

        source: a path, or for "audit" a binary file object (JSONL, plain or gzipped).
        format: "audit" (audit/1 JSONL), "directus" (a Directus database or export folder) or "strapi" (a Strapi
            audit-log export, .csv or .json).
        skip_invalid: import the valid lines and report the rest (`skipped_lines`), instead of importing nothing.
        verify: refuse lines whose hash chain is broken. progress: called as progress(lines, position, size).
        user: who imports: the user of the `import` record written when chained lines had to be chained anew.
        """
        from .upkeep import import_from

        return import_from(self._store, source, format=format, skip_invalid=skip_invalid, verify=verify,
                           progress=progress, user=user)

    def prune(self, *, older_than: str | None = None, keep_revisions: int | None = None,
              collection: str | None = None, apply_scopes: bool = False, dry_run: bool = False,
              archive: Any = None, vacuum: bool = False, user: str | None = None) -> results.Pruned:
        """Remove activity and revisions past the limits given, or with none, past the stored retention policy;
        recorded as a chained prune activity by `user`, so that verify still passes.

        older_than: an age (90d, 12w...): activity older than it goes, with its revisions.
        keep_revisions: keep each item's newest N revisions (with `older_than`: remove only older ones).
        collection: only this collection. apply_scopes: rewrite revisions to their collection's scope.
        dry_run: write nothing; say what would go. archive: a path or binary file object that receives every
            line removed (audit/1 JSONL) first; a file is added to, never replaced (with no limits, the retention
            policy's archive is, if it names one). vacuum: then reclaim the space (`bytes_freed`).
        """
        from .upkeep import prune

        return prune(self._store, older_than=older_than, keep_revisions=keep_revisions, collection=collection,
                     apply_scopes=apply_scopes, dry_run=dry_run, archive=archive, vacuum=vacuum, user=user)

    def verify(self, *, anchor: Any = None, public_key: bytes | str | Path | None = None) -> results.Verification:
        """Recompute the tamper-evident chain: ok, or the first failure (its kind, id and message).

        anchor: an anchor from `checkpoint` (the Anchor, its dict, or a path to its file) the store must extend.
        public_key: the Ed25519 public key (bytes, or a path to a PEM, OpenSSH or base64 file) the anchor must be
            signed with (BadSignature when it is not).
        """
        from .upkeep import verify

        return verify(self._store, anchor=anchor, public_key=public_key)

    def checkpoint(self, *, sign_with: bytes | str | Path | None = None) -> results.Anchor:
        """An anchor to keep elsewhere: this store, its count, head id and hash, and the time.

        sign_with: an Ed25519 private key (bytes, or a path to a PEM or OpenSSH file) to sign the anchor with.
        """
        from .upkeep import checkpoint

        return checkpoint(self._store, sign_with=sign_with)


def _rows(conn: Any, sql: str, params: list[Any]) -> Iterator[Activity]:
    """The rows of a checked query, read only once iterated (so an iterator never used holds no read open)."""
    from ..store.reader import row_to_dict

    cursor = conn.execute(sql, params)
    try:
        while rows := cursor.fetchmany(_CHUNK):
            for row in rows:
                yield Activity(**row_to_dict(row))
    finally:
        cursor.close()


def open(path: str | Path = ":memory:", *, create: bool = True, chain_key: bytes | str | None = None,  # noqa: A001
         synchronous: Literal["normal", "full"] = "normal") -> Store:
    """Open the store at `path` (":memory:" for one in memory): `Store.open`, which says what each argument does."""
    return Store.open(path, create=create, chain_key=chain_key, synchronous=synchronous)
