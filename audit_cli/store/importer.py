"""One pass over an import: check each line, skip what is already here, compute its revision and its link in the
chain, and write in batches, inside the caller's one transaction.

The per-line work the store did before (a SELECT for the key, one for the item's head, one for its base, three
INSERTs, then a second pass that read back and re-hashed every row) is replaced by state kept for one import,
bounded whatever the size of the file:
- the keys added so far, in a bloom filter (when the store was empty at the start; otherwise every key is looked
  up), with the current batch's in a dict; a "maybe" is settled by the unique key index;
- an LRU map of item heads (id, action, base and its packed size, the snapshot as JSON text), bounded in bytes; a
  miss reads the head from the store, unless the store had no revisions and the item was never evicted
  (store/heads.py). Each snapshot is packed as the store packs it, most often already by the preparing side
  (store/prepare.py), which reads, checks and hashes the lines, in a helper process for a big file;
- the chain, computed in the same pass in id order. The lines' own links are checked as they come and, when they
  turn out to be one whole chain from the start into an empty store, are what is written; otherwise the new links
  are. Lines that mark gaps may still be a pruned store's chain, which the trail's own latest prune record vouches
  for: their links are held aside (in a temporary table) until the end tells, and put back if it does. What one
  pass cannot know (a comment edited by a later line hashes its original text; ids out of order; a row the slow
  path wrote) marks where the chain is recomputed at the end, with the store's own `_rechain`.
- Past BULK_AFTER lines (or from the first batch of a big file) into a store no larger than what the import has
  added, the indexes no lookup here needs are dropped, and made again at the end in the same transaction: a failed
  or killed import rolls the drop back too.
"""

from __future__ import annotations

import gc
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from .. import chain, trailer
from ..errors import AuditError, InvalidLine, UsageError
from ..models import CREATES, DELETES
from .recorder import INSERT_ACTIVITY
from . import provenance
from .connection import remake_indexes
from .given_links import GivenLinks
from .heads import Heads
from .lines import Bloom
from .prepare import Prepared
from .seen import Seen

BATCH = 2000
BULK_AFTER = 20_000  # lines; from the first batch when the file is big (BULK_BYTES)
BULK_BYTES = 16 * 2**20
# Kept while bulk loading: this pass looks up by them (a unique index is a constraint too), but for the key index
# of an empty store, whose every key the bloom filter holds: made again at its first "maybe", or at the end. Keys of
# lines without one are SHA-256 digests, random in the index: 400,000 rows, 9.7 s with it live, 3.0 s made after.
KEY_INDEX = "activity_key"
LOOKUP_INDEXES = (KEY_INDEX, "revisions_item")
_INSERT_REVISION = ("INSERT INTO revisions (activity, collection, item, version, base, data, delta) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)")
_UNCHECKED = " (nothing was imported; {skip_invalid} imports the rest)"


ImportError_ = InvalidLine  # its older name


class Importer(Heads, GivenLinks, Seen):
    """The state of one import: `add` each line, then `finish`. The caller holds the transaction."""

    def __init__(self, store: Any, *, source: str, skip_invalid: bool, verify: bool, keep_links: bool | None,
                 as_given: bool):
        self.store, self.conn = store, store.conn
        self.source, self.skip_invalid, self.verify, self.as_given = source, skip_invalid, verify, as_given
        self.keep_links = keep_links
        one = lambda sql: self.conn.execute(sql).fetchone()[0]  # noqa: E731
        self.start_id = one("SELECT coalesce(max(id), 0) FROM activity")
        self.start_count = one("SELECT count(*) FROM activity")
        self.empty = self.start_count == 0
        self.start_head = store._chain_head()
        self.own = store.store_id() + "/"
        # AUTOINCREMENT: the next id is one past the highest ever used (kept in sqlite_sequence), as is a base's.
        self.top = max(self.start_id, one("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'activity'"))
        self.start_top = self.top
        self.cutoffs = {} if self.empty else self._prune_cutoffs()
        self.base_top = max(one("SELECT coalesce(max(id), 0) FROM bases"),
                            one("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'bases'"))
        self.no_revisions = self.conn.execute("SELECT 1 FROM revisions LIMIT 1").fetchone() is None
        # The links written: the lines' own (an empty store, lines checked: kept if they make one whole chain), or
        # the ones computed here.
        self.given = keep_links is True or (keep_links is None and verify and self.empty)
        self.key = store.chain_key if self.given else self._new_chain_key()
        self.keys = Bloom() if self.empty else None
        self.heads: OrderedDict[tuple[str, str], tuple] = OrderedDict()
        self.unknown: set[tuple[str, str]] = set()  # items a line of which came without its pruned revision
        self.sources: set[str] = set()  # the stores this file's lines come from (Seen._meet)
        self.carried: dict[str, set[str]] | None = None  # what earlier imports' trails carried (Seen._clash)
        self.head_bytes = 0
        self.evicted: Bloom | None = None
        self.pending_activity: list[tuple] = []
        self.pending_revisions: list[tuple] = []
        self.pending_bases: list[tuple] = []
        self.pending_keys: dict[str, int] = {}
        self.pending_items: set[tuple[str, str]] = set()
        # Spilled to temporary tables, so that memory stays flat: the given links of comment lines (checked again
        # at the end, when their edits are known) and attested digests (kept only with the links).
        self.pending_given: list[tuple] = []
        self.pending_attested: list[tuple] = []
        # The lines' own links of rows written with computed ones, while the lines may yet be a pruned store's
        # chain (`_covered`); and the first texts edited comments came with.
        self.pending_held: list[tuple] = []
        self.pending_originals: list[tuple] = []
        self.holding, self.originals, self.relinked = False, 0, False
        self.marked, self.unvouched_marks = {}, 0  # comments' marks taken, and those no carried record lists
        self.by, self.note_rechained = None, True  # who imports; whether chaining anew is recorded (run)
        self.temp: set[str] = set()
        self.bulk: list[str] | None = None  # the definitions of the indexes dropped for a bulk load
        self.key_index: str | None = None  # the key index's, while it is one of them
        self.bulk_after = BULK_AFTER
        self.added = self.duplicates = self.pruned = 0
        self.skipped: list[str] = []
        self.last_id = self.start_id
        self.prev_new = self.start_head  # the chain as computed here
        self.dirty_from: int | None = None  # from this id on, the computed chain is redone at the end
        self.diverged_at: int | None = None  # the first row written with a given link that is not the computed one
        # The lines' own chain as they come: continuity, whether it can be kept, what broke.
        self.linked = 0
        self.last_given = (0, chain.GENESIS)  # (line number, hash) of the last line that had a hash
        self.first_prev: str | None = None
        self.run_from = 0  # the id of the line the lines' own links run unbroken from: the first, or the last gap
        self.gaps, self.breaks = 0, []
        self.gap_top = -1  # the highest id used when the last line that follows a gap came
        self.first_break: str | None = None
        self.failure: tuple[int, int] | None = None  # the first (id, line) whose hash does not cover its content

    def _new_chain_key(self) -> bytes | None:
        """The key new links are made with (store._chain_key), except that an import into an empty store starts its
        chain with the key given, as a first record would."""
        store = self.store
        if store._setting("chain_key_check") is None and store.chain_key is not None and self.empty:
            self.conn.execute("INSERT INTO settings (key, value) VALUES ('chain_key_check', ?)",
                              [chain.key_check(store.chain_key)])
            return store.chain_key
        return store._chain_key()

    # one line

    def add(self, number: int, prepared: tuple | str) -> None:
        """One prepared line (store/prepare.py), or the reason it is bad."""
        try:
            if type(prepared) is str:
                raise UsageError(prepared)
            self._add(number, prepared)
        except AuditError as exc:
            message = f"{self.source} line {number}: {exc}"
            if not self.skip_invalid:
                raise InvalidLine(message + _UNCHECKED, number, params=("skip_invalid",)) from None
            self.skipped.append(message)

    def _add(self, number: int, prepared: tuple) -> None:
        values, key, prev_hash, hash_, gap, attested, wanted, revision, record, packing, expected, original = prepared
        if self.given and self.keep_links is None and (
                hash_ is None or gap or (self.first_prev is None and prev_hash != chain.GENESIS)):
            # These lines cannot be one whole chain from the start: compute the links. A gap may be one that a
            # prune made, though: hold the lines' own links until the end tells (ids in order so far).
            self.holding = hash_ is not None and self.dirty_from is None
            self._switch()
        self._meet(key)  # duplicates too: the stores whose lines the file carries
        known, own = self._known(key)
        pruned = known is None and not self.empty and self._pruned(key, values, revision)
        if known is not None or pruned:
            if values[1] == "comment" and hash_ is None and not own and not pruned:
                self._update_comment(known, values)
            self.pruned += pruned
            self.duplicates += not pruned
            self.holding = False
            self._follow(number, None, prev_hash, hash_, gap)
            return
        if revision is not None and revision[0] is None:
            clash = self._clash(key, self._head(values[7], values[8]), prev_hash)
            if clash is not None:
                raise UsageError(clash)
        bound = (prev_hash, gap) if hash_ is not None and self.verify else None  # its hash covers its revision
        if revision is not None and revision[0] is None and values[1] in CREATES and not (gap or self.gaps or self.breaks):
            head = self._head(values[7], values[8])
            # As `record create` refuses it; unless the delete may be one whose revision the source pruned.
            if head is not None and head[1] not in DELETES and not (
                    bound and self._unsure(values[7], values[8], head, bound)):
                raise UsageError(f"{values[7]} {values[8]} already exists (created or changed in activity {head[0]}):"
                                 " a create needs an item that does not exist yet, or was deleted")
        if self.empty and wanted is not None and not self._exists(wanted):
            activity_id = wanted
        else:
            activity_id = self.top + 1
        packed = self._revision(values, revision, bound) if revision is not None else None  # raises if bad
        # Nothing below raises for a bad line: from here on, the line is in.
        values[0] = activity_id
        if record is None or (packed is not None and revision[8] and packed[0] != revision[5]):
            # (or a delta derived again here: its digest is not the one the preparing side hashed)
            record = chain.record_bytes_of_columns(values, packed[0], key)
            if hash_ is not None:
                expected = chain.matching_link(prev_hash, record, self.store.chain_key, hash_)
        if activity_id <= self.last_id:  # ids out of order: the chain is made in id order
            self._dirty(activity_id)
        # `expected` is the hash the line's own link must have; the new chain's link is the same when it continues
        # from the line's prev_hash, with the same key.
        same_key = self.key == self.store.chain_key
        if self.given:
            # The rows get the lines' own links; the chain computed here is followed only while it is the same.
            if self.diverged_at is None:
                previous = self.prev_new
                new = self.prev_new = expected if expected is not None and prev_hash == previous and same_key \
                    else chain.link(previous, record, self.key)
                if hash_ != new:
                    self.diverged_at = activity_id
        else:
            new = expected if expected is not None and prev_hash == self.prev_new and same_key \
                else chain.link(self.prev_new, record, self.key)
            if new != hash_ and hash_ is not None:
                self.relinked = True  # a chained line that does not keep its link here
        if self.verify and hash_ is not None:
            self._check(number, activity_id, values, prev_hash, hash_, attested, expected, record, original)
        if not self.given:
            self.pending_activity.append((*values, key, self.prev_new, new))
            self.prev_new = new
            if self.holding:
                if hash_ is None or activity_id != wanted or activity_id <= self.last_id:
                    self.holding = False  # not a store's chain as it was: a line without links, or other ids
                else:
                    self.pending_held.append((activity_id, prev_hash, hash_))
        elif hash_ is not None:
            self.pending_activity.append((*values, key, prev_hash, hash_))
        else:  # links kept as given (forced) for a line without any
            self.pending_activity.append((*values, key, "", ""))
        if activity_id > self.top:
            self.top = activity_id
        if activity_id > self.last_id:
            self.last_id = activity_id
        self.pending_keys[key] = activity_id  # (and self.keys has it: _known added it)
        if packed is not None:
            self._write_revision(number, activity_id, values, packed, packing)
        if attested is not None and hash_ is not None:
            self.pending_attested.append((activity_id, attested))
            if revision is None:  # its source pruned the revision: the item's next delta is from a state not here
                self.unknown.add((values[7], values[8]))
        if original is not None:
            self.pending_originals.append((activity_id, original))
        self.added += 1
        self._follow(number, activity_id, prev_hash, hash_, gap)
        if len(self.pending_activity) >= BATCH:
            self.flush()
            if self.bulk is None and self.added >= self.bulk_after and self.added >= self.start_count:
                self._defer_indexes()

    def _switch(self) -> None:
        """The lines turn out not to be one whole chain: from here on the links are computed, and what was written
        as given is redone at the end from where it differs from them."""
        self.given = False
        self.key = self._new_chain_key()
        if self.diverged_at is not None:
            self._dirty(self.diverged_at)

    def _dirty(self, activity_id: int) -> None:
        if self.dirty_from is None or activity_id < self.dirty_from:
            self.dirty_from = activity_id

    # writing

    def flush(self) -> None:
        conn = self.conn
        if self.pending_bases:
            conn.executemany("INSERT INTO bases (id, body) VALUES (?, ?)", self.pending_bases)
        if self.pending_activity:
            conn.executemany(INSERT_ACTIVITY, self.pending_activity)
        if self.pending_revisions:
            conn.executemany(_INSERT_REVISION, self.pending_revisions)
        if self.pending_given:
            self._temp("audit_import_given", "id INTEGER PRIMARY KEY, number, prev_hash, hash, attested, failed")
            conn.executemany("INSERT INTO temp.audit_import_given VALUES (?, ?, ?, ?, ?, ?)", self.pending_given)
        if self.pending_attested:
            self._temp("audit_import_attested", "activity INTEGER PRIMARY KEY, revision")
            conn.executemany("INSERT OR REPLACE INTO temp.audit_import_attested VALUES (?, ?)", self.pending_attested)
        if self.pending_held and self.holding:
            self._temp("audit_import_held", "id INTEGER PRIMARY KEY, prev_hash, hash")
            conn.executemany("INSERT INTO temp.audit_import_held VALUES (?, ?, ?)", self.pending_held)
        if self.pending_originals:
            self._temp("audit_import_originals", "id INTEGER PRIMARY KEY, original")
            conn.executemany("INSERT OR REPLACE INTO temp.audit_import_originals VALUES (?, ?)",
                             self.pending_originals)
        for pending in (self.pending_bases, self.pending_activity, self.pending_revisions, self.pending_given,
                        self.pending_attested, self.pending_held, self.pending_originals, self.pending_keys,
                        self.pending_items):
            pending.clear()

    def _temp(self, name: str, columns: str) -> None:
        if name not in self.temp:
            self.conn.execute(f"DROP TABLE IF EXISTS temp.{name}")
            self.conn.execute(f"CREATE TEMP TABLE {name} ({columns})")
            self.temp.add(name)

    def _defer_indexes(self) -> None:
        """Drop the indexes no lookup of this pass needs; `finish` makes them again, in the same transaction."""
        rows = self.conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('activity', 'revisions') "
            "AND sql IS NOT NULL").fetchall()
        self.bulk = []
        for name, sql in rows:
            if name == KEY_INDEX and self.keys is not None:
                self.key_index = sql
            elif name in LOOKUP_INDEXES or sql.lstrip().upper().startswith("CREATE UNIQUE"):
                continue
            self.conn.execute(f'DROP INDEX "{name}"')
            self.bulk.append(sql)

    # the end

    def finish(self, trailers: trailer.Finding | None = None) -> dict[str, Any]:
        self.flush()
        if self.bulk:
            remake_indexes(self.conn, self.bulk)
        keep = self.keep_links
        auto = keep is None
        if auto:  # kept when they make a whole chain from the start, as a full export does
            keep = (self.verify and self.empty and bool(self.added) and self.linked == self.added + self.duplicates
                    and not self.gaps and self.first_prev == chain.GENESIS)
        originals = "audit_import_originals" in self.temp
        edited, changes = self._edited_comments() if self.added else (set(), {})
        if self.verify:
            self._verify(edited, changes)
        if self.added:
            self.originals = self._originals(changes, originals)
        if auto and self.originals:
            keep = False  # a copy could not check those comments' hashes: their edits are not in the trail
        elif auto and not keep and self.holding:
            keep = self._covered()  # or the chain of a pruned store: the links held aside go back
            if keep:
                self.conn.execute("UPDATE activity SET prev_hash = h.prev_hash, hash = h.hash "
                                  "FROM temp.audit_import_held h WHERE activity.id = h.id")
        if not keep and self.given:
            self._switch()
        store = self.store
        if keep:
            if store.chain_key is not None:  # the links were made with this key: the store is keyed with it
                self.conn.execute("INSERT OR IGNORE INTO settings (key, value) VALUES ('chain_key_check', ?)",
                                  [chain.key_check(store.chain_key)])
            if "audit_import_attested" in self.temp:
                self.conn.execute("INSERT OR REPLACE INTO attested (activity, revision) "
                                  "SELECT activity, revision FROM temp.audit_import_attested")
        else:
            if edited:  # a comment edited later in the file hashes its original text: redo the chain from it
                self._dirty(min(edited))
            if self.dirty_from is not None:
                before = self.conn.execute("SELECT id, hash FROM activity WHERE id < ? ORDER BY id DESC LIMIT 1",
                                           [self.dirty_from]).fetchone()
                if before is None or before[0] <= self.start_id:
                    store._rechain(self.start_id, self.start_head)
                else:
                    store._rechain(before[0], before[1])
        # Chained lines chained anew (not a piece that continues), or comments whose state no chained edit or
        # record proves: the chain says where they came from, and which marks it took (store/marks.py).
        if self.note_rechained and not keep and self.added and (self.originals or self.unvouched_marks or (
                (self.relinked or self.dirty_from is not None) and self.last_given[1] != chain.GENESIS)):
            store._insert_activity(provenance.record(self, trailers))
        if self.added:  # the versions the lines staged, promoted or deleted, as the table the copy reads
            store._replay_versions(self.start_id)
            store._apply_comment_changes(self.start_id)
            if edited:
                self._check_comment_states(edited, changes)
        for name in self.temp:
            self.conn.execute(f"DROP TABLE temp.{name}")
        result = {"added": self.added, "duplicates": self.duplicates, "skipped": len(self.skipped),
                  "skipped_lines": self.skipped, "gaps": self.gaps, "links_kept": bool(keep), "breaks": self.breaks}
        if self.pruned:  # lines this store pruned before, not imported again (store/seen.py)
            result["pruned"] = self.pruned
        if self.originals:  # edited comments whose edits were not in the trail (`_originals`)
            result["originals"] = self.originals
        if self.first_prev not in (None, chain.GENESIS):  # the trail starts after a line it does not hold
            result["continues"] = self.first_prev
        return result


def run(store: Any, lines: Iterable[tuple[int, bytes | dict[str, Any]]], *, source: str, skip_invalid: bool,
        verify: bool, keep_links: bool | None, as_given: bool,
        progress: Callable[[int, int, int | None], None] | None = None, by: Activity | None = None,
        note_rechained: bool = True) -> dict[str, Any]:
    """Import `lines` ((number, raw bytes or a parsed record) pairs) in the caller's transaction.

    `progress(lines, position, size)` is called every few thousand lines: position and size are bytes of the file
    when `lines` is a jsonl.Lines (size None for stdin), else 0 and None."""
    importer = Importer(store, source=source, skip_invalid=skip_invalid, verify=verify, keep_links=keep_links,
                        as_given=as_given)
    importer.by = by if note_rechained else None
    importer.note_rechained = note_rechained
    add = importer.add
    seen = 0
    trailers = trailer.Check(store.chain_key)
    prepared = Prepared(lines, key=store.chain_key)
    if (prepared.size or 0) >= BULK_BYTES:
        importer.bulk_after = 0
    items = iter(prepared)
    # The cycle collector would walk the head cache again and again (a quarter of the time of a big import); parsed
    # lines make no cycles, and it runs again, if it was on, as soon as the import is done.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for number, item in items:
            if type(item) is str:
                trailers.invalid()
            elif item[0] == trailer.MEMBER:
                trailers.trailer(number, item[1])
                continue
            else:
                trailers.line(item[6], item[2], item[3])
            add(number, item)
            seen += 1
            if progress is not None and not seen & 4095:
                progress(seen, prepared.position, prepared.size)
        result = importer.finish(trailers.end())  # raises first for a line that shows what was changed
        result["trailers"] = trailers.finding
        if trailers.finding.failure is not None and verify:
            kind, at, message = trailers.finding.failure
            raise ImportError_(f"{source} line {at}: {message} (nothing was imported)", at, kind=kind)
    finally:
        items.close()  # stops the helper process, if any, now rather than whenever the traceback goes
        if collecting:
            gc.enable()
    if progress is not None:
        progress(seen, prepared.size or prepared.position, prepared.size)
    return result
