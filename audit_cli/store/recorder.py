"""Writing activities: the one place their rows are made and written. Each is linked into the hash chain after the
one before it, and its revision's snapshot is packed against its item's base, its delta against the snapshot
(store/codec.py).

A write outside a batch writes its rows at once. In a batch (`AuditStore.batching()`), records gather their rows
here and they are written with `executemany` every FLUSH_ROWS records and at the end: what the batch needs to read
meanwhile (the chain's head and next id, each item's newest revision, the scopes) is kept in memory, which is only
right while nothing else writes. So the store `settle()`s (writes the rows, forgets what it kept) before anything
else reads or writes; and the batch's transaction holds the write lock from its start (BEGIN IMMEDIATE), so no
other process writes in between.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import chain, jsontext
from ..errors import StoreError
from ..models import ACTIVITY_FIELDS, Activity
from ..timeparse import format_ts, utcnow
from . import codec
from .lines import dump, load
from .snapshots import Snapshots

# What gathered rows cost to keep is small (a row's texts), what a flush saves is its statements' overhead: 1,000
# rows a statement is past where executemany stops getting faster (bench_api: 1,000 and 10,000 within noise).
FLUSH_ROWS = 1000
# An activity's columns in ACTIVITY_FIELDS order, then its key (null for one recorded here) and link; the id may
# be given (the next one here; an import into an empty store keeps the trail's).
INSERT_ACTIVITY = (f"INSERT INTO activity ({', '.join(ACTIVITY_FIELDS)}, key, prev_hash, hash) "
                   f"VALUES ({', '.join('?' * (len(ACTIVITY_FIELDS) + 3))})")
# The items whose newest revision a batch keeps (its text and base's): a batch over many items stays in bounded
# memory (a few MB), one that goes back to the same items reads none of them again.
KEPT_ITEMS = 10_000
_INSERT_REVISION = ("INSERT INTO revisions (activity, collection, item, version, base, data, delta) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)")
_INSERT_BASE = "INSERT INTO bases (id, body) VALUES (?, ?)"
# The chain's head and the next id in one statement (AUTOINCREMENT: one past the highest id ever used).
HEAD_AND_NEXT = ("SELECT (SELECT hash FROM activity ORDER BY id DESC LIMIT 1), "
                 "max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'activity'), 0), "
                 "coalesce((SELECT max(id) FROM activity), 0)) + 1")
_NEXT_BASE = ("SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'bases'), 0), "
              "coalesce((SELECT max(id) FROM bases), 0)) + 1")
_ITEM_HEAD = """SELECT r.activity, a.action, r.base, r.data, length(b.body) FROM revisions r
                JOIN activity a ON a.id = r.activity LEFT JOIN bases b ON b.id = r.base
                WHERE r.collection = ? AND r.item = ? AND r.version IS NULL ORDER BY r.activity DESC LIMIT 1"""


@dataclass
class NewRevision:
    """A revision to write with its activity: the state after, the patch from the state before, and the base to
    pack against (the item's current one, or None to start a new one)."""

    data: Any
    delta: list
    base: int | None = None
    version: str | None = None


@dataclass(frozen=True)
class ItemHead:
    """An item's newest main-line revision as the recorder knows it: its snapshot as JSON text (`exact`: orjson
    reads it back exactly), and its base, with the base's packed size and text when known."""

    activity: int
    action: str
    base: int | None
    base_size: int | None
    text: bytes
    exact: bool
    base_text: bytes | None = None

    def data(self) -> Any:
        """A fresh copy of the snapshot, which the caller may change."""
        return load(self.text, self.exact)


class Recorder:
    """Makes and writes activity rows for one store: what it needs of the store is its connection, its identity,
    the chain's key (asked only when a row is made: a keyed store opened without it fails then) and its snapshots
    (the bases to pack against)."""

    def __init__(self, conn: sqlite3.Connection, *, store_id: Callable[[], str],
                 chain_key: Callable[[], bytes | None], snapshots: Snapshots):
        self.conn = conn
        self._store_id, self._chain_key, self._snapshots = store_id, chain_key, snapshots
        self.discard()

    def discard(self) -> None:
        """Drop everything, gathered rows and a failed flush too: the transaction that would hold them is over."""
        self.failed: str | None = None
        self.activities: list[tuple] = []
        self.revisions: list[tuple] = []
        self.bases: list[tuple[int, bytes]] = []
        self.forget()

    def forget(self) -> None:
        """Drop what was kept of the store, which is read again when next needed (after a write that did not go
        through here, or a rollback). Only once the rows gathered are written (`flush`)."""
        assert not self.activities, "forget() with rows not written"
        self._head: str | None = None
        self._next_id: int | None = None
        self._next_base: int | None = None
        self._key: bytes | None = None
        self._local: str | None = None
        self.items: dict[tuple[str, str], ItemHead | None] = {}
        self.scopes: dict[str, Any] = {}

    @property
    def pending(self) -> int:
        return len(self.activities)

    def item_head(self, collection: str, item: str) -> ItemHead | None:
        """The item's newest main-line revision: the one this recorder wrote or gathered last, else the store's."""
        where = (collection, item)
        if where in self.items:
            return self.items[where]
        row = self.conn.execute(_ITEM_HEAD, where).fetchone()
        head = None
        if row is not None:
            activity, action, base, data, base_size = row
            base_text = self._snapshots.base_text(base) if base is not None else None
            text = codec.unpack(data, base_text)
            head = ItemHead(activity, action, base, base_size, text, False, base_text)
        self.items[where] = head
        return head

    def add(self, activity: Activity, revision: NewRevision | None = None, *, key: str | None = None,
            link: tuple[str, str] | None = None) -> None:
        """Make the activity's row (and its revision's) and gather them; `activity` gets its id and time. Nothing
        this recorder keeps changes unless the rows are made: a record that fails here leaves no trace.

        key: the activity's identity, kept in its row (None: "<store id>/<id>", one recorded here). link: its
        (prev_hash, hash) as given (a trail's, or ("", "") for its importer to chain later), and then its id as
        `activity.id` gives it (None: the next): written at once, not gathered."""
        if self.failed is not None:
            raise StoreError(self.failed)
        if link is not None:
            self._add_linked(activity, revision, key, link)
            return
        if self._next_id is None:
            self._head, self._next_id = self.conn.execute(HEAD_AND_NEXT).fetchone()
            self._local, self._key = f"{self._store_id()}/", self._chain_key()
        ident = self._next_id
        timestamp = activity.timestamp or format_ts(utcnow())
        details = None if activity.details is None else jsontext.dumps(activity.details)
        revision_rows = digest = None
        if revision is not None:
            revision_rows, digest = self._revision(ident, activity, revision)
        prev = self._head if self._head is not None else chain.GENESIS
        values = (ident, activity.action, activity.user, timestamp, activity.ip, activity.user_agent,
                  activity.origin, activity.collection, activity.item, activity.comment, details)
        own_key = key or self._local + str(ident)
        link = chain.link(prev, chain.record_bytes_of_columns(values, digest, own_key), self._key)
        # The rows are made: from here on nothing raises, so what this recorder keeps stays true.
        self.activities.append((*values, activity.edited_on, activity.comment_deleted_on, key, prev, link))
        if revision_rows is not None:
            self._gather(activity, *revision_rows)
        self._head, self._next_id = link, ident + 1
        activity.id, activity.timestamp = ident, timestamp

    def _add_linked(self, activity: Activity, revision: NewRevision | None, key: str | None,
                    link: tuple[str, str]) -> None:
        self.flush()
        timestamp = activity.timestamp or format_ts(utcnow())
        details = None if activity.details is None else jsontext.dumps(activity.details)
        cursor = self.conn.execute(INSERT_ACTIVITY, (
            activity.id, activity.action, activity.user, timestamp, activity.ip, activity.user_agent,
            activity.origin, activity.collection, activity.item, activity.comment, details, activity.edited_on,
            activity.comment_deleted_on, key, *link))
        activity.id, activity.timestamp = cursor.lastrowid, timestamp
        self._head = self._next_id = None  # the chain goes on from this row, whatever its id
        if revision is not None:
            self._gather(activity, *self._revision(activity.id, activity, revision)[0])
            self.flush()

    def _gather(self, activity: Activity, base_row: tuple | None, row: tuple, head: ItemHead | None) -> None:
        if base_row is not None:
            self.bases.append(base_row)
            self._next_base = base_row[0] + 1
        self.revisions.append(row)
        if head is not None:
            self.items[(activity.collection, activity.item)] = head

    def _revision(self, ident: int, activity: Activity, revision: NewRevision) -> tuple[tuple, str]:
        """((the new base's row or None, the revision's row, the item's new head or None), the revision's
        digest)."""
        text, exact = dump(revision.data)
        delta_text = jsontext.dumps(revision.delta)
        digest = chain.revision_digest(text, delta_text, revision.version)
        base = revision.base
        base_text = base_size = None
        if base is not None:
            known = self.items.get((activity.collection, activity.item))
            if known is not None and known.base == base and known.base_text is not None:
                base_text, base_size = known.base_text, known.base_size
            else:
                base_text = self._snapshots.base_text(base)
                base_size = self.conn.execute("SELECT length(body) FROM bases WHERE id = ?", [base]).fetchone()[0]
        packing = codec.pack_revision(text, base_text, base_size)
        base_row = None
        if packing.new_base is not None:
            if self._next_base is None:
                self._next_base = self.conn.execute(_NEXT_BASE).fetchone()[0]
            base, base_text, base_size = self._next_base, text, len(packing.new_base)
            base_row = (base, packing.new_base)
        elif packing.alone:
            base = base_text = base_size = None
        row = (ident, activity.collection, activity.item, revision.version, base, packing.data,
               codec.pack_delta(delta_text, text))
        head = None
        if revision.version is None:
            head = ItemHead(ident, activity.action, base, base_size, text, exact, base_text)
        return (base_row, row, head), digest

    def flush(self) -> None:
        """Write the rows gathered, in one statement a table. A failure leaves the batch unable to go on (its
        records returned as written): every later record, and the batch's end, fail too, so it is rolled back."""
        if self.failed is not None:
            raise StoreError(self.failed)
        if not (self.activities or self.revisions):
            return
        try:
            if self.activities:
                self.conn.executemany(INSERT_ACTIVITY, self.activities)
            if self.bases:
                self.conn.executemany(_INSERT_BASE, self.bases)
            if self.revisions:
                self.conn.executemany(_INSERT_REVISION, self.revisions)
        except sqlite3.Error as exc:
            self.failed = f"could not write the batch's records, so none of it is kept: {exc}"
            raise StoreError(self.failed) from None
        self.activities, self.revisions, self.bases = [], [], []
        if len(self.items) > KEPT_ITEMS:
            self.items.clear()  # written now, so the store has them: kept items only save a read
