"""The item side of an import (store/importer.py): each item's newest main-line revision kept in a bounded map,
each line's revision checked against it, and each snapshot packed against the item's base as the store does."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from .. import chain, jsontext, patches
from ..errors import UsageError
from ..errors import AuditError
from ..models import CREATES, DATA_ACTIONS
from . import codec
from .lines import Bloom, apply, dump, load

HEAD_CACHE_BYTES = 32 * 2**20
# 30,000 items, not 50,000: the entries of items whose lines the helper packed hold no texts (~500 B each with the
# map's own), and 50,000 of them took the import of 1M full-state lines past 200 MB for both processes (204 MB); the
# helper's bytes bound holds ~14,000 items' texts, so the importer still holds every head it guesses against.
HEAD_CACHE_ITEMS = 30_000
# A data activity of the item after its head here, without a revision: one whose revision its source pruned.
_UNSEEN = ("SELECT 1 FROM activity a WHERE a.collection = ? AND a.item = ? AND a.id > ? AND a.id <= ? AND a.action IN "
           f"({', '.join('?' * len(DATA_ACTIONS))}) AND NOT EXISTS (SELECT 1 FROM revisions r WHERE r.activity = a.id) "
           "LIMIT 1")
_HEAD = """SELECT r.activity, a.action, r.base, length(b.body) FROM revisions r JOIN activity a ON a.id = r.activity
           LEFT JOIN bases b ON b.id = r.base
           WHERE r.collection = ? AND r.item = ? AND r.version IS NULL ORDER BY r.activity DESC LIMIT 1"""


class Heads:
    """A mixin of Importer: what it needs of it are `store`, `conn`, `as_given`, `no_revisions`, `base_top`,
    `pending_items`, `pending_revisions`, `pending_bases`, `flush`, and for `_unsure` `unknown`, `gap_top`,
    `first_prev`, `start_head` and `start_id`."""

    heads: OrderedDict
    head_bytes: int
    evicted: Bloom | None

    def _head(self, collection: str, item: str) -> tuple | None:
        """The item's newest main-line revision: (activity, action, base, base's packed size, origin, line, snapshot
        JSON or None, exact, base text or None). origin is the line of this import that made its base, line the one
        that made this revision (-1: the store had it); the texts are there when this side has needed them."""
        where = (collection, item)
        entry = self.heads.get(where)
        if entry is not None:
            self.heads.move_to_end(where)
            return entry
        if self.no_revisions and (self.evicted is None or where not in self.evicted):
            return None  # the store had no revisions, and this import has not written one for the item
        if where in self.pending_items:
            self.flush()
        row = self.conn.execute(_HEAD, [collection, item]).fetchone()
        if row is None:
            return None
        activity, action, base, size = row
        entry = (activity, action, base, size, -1, -1, None, False, None)
        self._remember(where, entry)
        return entry

    def _texts(self, where: tuple[str, str], entry: tuple) -> tuple:
        """The head with its snapshot and base texts, read from the store when this side did not keep them."""
        if entry[6] is not None and (entry[2] is None or entry[8] is not None):
            return entry
        if where in self.pending_items:
            self.flush()
        base, data = self.conn.execute("SELECT base, data FROM revisions WHERE activity = ?", [entry[0]]).fetchone()
        base_text = self.store.snapshots.base_text(base) if base is not None else None
        entry = (*entry[:6], codec.unpack(data, base_text), False, base_text)
        self._remember(where, entry)
        return entry

    def _remember(self, where: tuple[str, str], entry: tuple) -> None:
        old = self.heads.pop(where, None)
        if old is not None:
            self.head_bytes -= len(old[6] or b"") + len(old[8] or b"") + 100
        self.heads[where] = entry
        self.head_bytes += len(entry[6] or b"") + len(entry[8] or b"") + 100
        while self.head_bytes > HEAD_CACHE_BYTES or len(self.heads) > HEAD_CACHE_ITEMS:
            gone, dropped = self.heads.popitem(last=False)
            self.head_bytes -= len(dropped[6] or b"") + len(dropped[8] or b"") + 100
            if self.evicted is None:
                self.evicted = Bloom(23)
            self.evicted.add(gone)

    def _unsure(self, collection: str, item: str, head: tuple | None, bound: tuple[str, bool]) -> bool:
        """Whether the item's head here may not be the state its source took a chained line's delta from: a
        revision of the item between them was pruned at the source before it was shipped (its line is here, or in
        this import, without a revision), or whole activities were (a gap since the head, or lines that do not
        continue this store's chain). `bound` is the line's (prev_hash, gap)."""
        prev_hash, gap = bound
        if (collection, item) in self.unknown:
            return True
        if head is None or gap or head[0] <= self.gap_top:
            return True
        if head[0] > self.start_id:  # a line of this import made the head, and no gap came since
            return False
        first = self.first_prev if self.first_prev is not None else prev_hash
        if first not in (chain.GENESIS, self.start_head):
            return True
        return self.conn.execute(_UNSEEN, [collection, item, head[0], self.start_id, *DATA_ACTIONS]).fetchone() \
            is not None

    def _revision(self, values: list[Any], revision: tuple, bound: tuple[str, bool] | None = None) -> tuple:
        """(digest, data JSON, delta JSON, version, head or None, exact) of a line's prepared revision, checked: a
        missing delta is computed from the item's previous snapshot, a missing data is that snapshot with delta
        applied, and when both are given they must agree (unless the preparing side found they do, against this
        same snapshot). `bound` is (prev_hash, gap) of a line whose hash is checked to cover its revision: its data
        and delta are then the source's own, and where the head here may not be the state the source took the
        delta from (`_unsure`), they are taken as they are."""
        version, data_text, delta_text, exact, delta_exact, digest, error, checked, derived, packed_delta = revision
        if error is not None:
            raise UsageError(error)
        action, collection, item = values[1], values[7], values[8]
        creates = action in CREATES
        if version is None:
            head = self._head(collection, item)
            known = head is not None or creates
            agreed = checked is not None and (checked == 0 if creates else head is not None and head[5] == checked)
        else:
            head, known, agreed = None, True, False
        if derived and not agreed:  # derived from another state than this side's: derive it again, below
            delta_text = digest = None
        if data_text is not None and delta_text is not None and (agreed or not known or self.as_given):
            before = before_exact = None  # nothing to check or derive: the snapshot before is not needed
        elif version is not None:
            if (collection, item) in self.pending_items:
                self.flush()
            row = self.conn.execute(
                "SELECT base, data FROM revisions WHERE collection = ? AND item = ? AND version = ? "
                "ORDER BY activity DESC LIMIT 1", [collection, item, version]).fetchone()
            before = jsontext.dumps(self.store.snapshots.data(*row)).encode() if row else None
            before_exact = False
        elif head is None or creates:
            before, before_exact = None, True
        else:
            head = self._texts((collection, item), head)
            before, before_exact = head[6], head[7]
        if data_text is None:
            derived = apply(before, before_exact, load(delta_text.encode(), delta_exact))
            if type(derived) is not dict:
                patches.check_document(derived, what="applying revision.delta to the previous state, the item")
            data_text, exact = dump(derived)
            if not exact:  # orjson could not write it: an integer past 64 bits, or nested too deeply
                patches.check_depth(derived, what="the revision's data")
        elif delta_text is None:
            delta = patches.diff(load(before, before_exact) if before is not None else {}, load(data_text, exact))
            delta_text = jsontext.dumps(delta)
        elif known and not agreed and not self.as_given:
            delta = load(delta_text.encode(), delta_exact)
            try:
                after = apply(before, before_exact, delta)
                if not (exact and dump(after)[0] == data_text) and \
                        not patches.same_within_scope(after, load(data_text, exact), delta):
                    raise UsageError("revision data and delta disagree: applying delta to the previous snapshot "
                                     "does not give data")
            except AuditError:
                if version is not None or creates or bound is None or not self._unsure(collection, item, head, bound):
                    raise
        if digest is None:
            digest = chain.revision_digest(data_text.decode(), delta_text, version)
        if packed_delta is not None and (delta_text is not revision[2] or data_text is not revision[1]):
            packed_delta = None  # packed from texts this side worked out anew
        return digest, data_text, delta_text, version, head, exact, packed_delta

    def _write_revision(self, number: int, activity_id: int, values: list[Any], packed: tuple,
                        packing: tuple | None) -> None:
        """Pack the snapshot against the item's base by the store's rule (codec.pack_revision), and queue the rows. The
        preparing side's packing is taken when it packed against this same base (or none, as here)."""
        _, data_text, delta_text, version, head, exact, packed_delta = packed
        collection, item = values[7], values[8]
        where = (collection, item)
        keep = None  # the texts this side keeps for the item: only those it had to work out itself
        if packing is not None and (version is not None or (packing[0] is None if head is None else (
                head[2] is not None and head[4] == packing[0]))):
            _, new_base, blob, body = packing
            if not new_base:
                base_id, base_size, origin = head[2], head[3], head[4]
        else:
            keep = memoryview(data_text).tobytes()  # compact (orjson's bytes hold a 4 KiB buffer)
            base_text = base_size = None
            if head is not None and head[2] is not None:
                head = self._texts(where, head)
                base_id, base_size, origin, base_text = head[2], head[3], head[4], head[8]
            blob, body, alone = codec.pack_revision(keep, base_text, base_size)  # the store's one rule
            new_base = body is not None
            if alone:
                base_id = base_size = origin = base_text = None
        if new_base:
            self.base_top += 1
            base_id, origin, base_text = self.base_top, number, keep
            base_size = len(body)
            self.pending_bases.append((base_id, body))
        self.pending_revisions.append((activity_id, collection, item, version, base_id, blob, packed_delta
                                       if packed_delta is not None else codec.pack_delta(delta_text, data_text)))
        self.pending_items.add(where)
        if version is None:
            self.unknown.discard(where)
            current = self.heads.get(where)
            if current is None or current[0] < activity_id:
                self._remember(where, (activity_id, values[1], base_id, base_size, origin, number, keep, exact,
                                       base_text if keep is not None else None))
