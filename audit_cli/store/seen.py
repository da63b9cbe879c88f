"""The store side of an import's "is this line new?" (store/importer.py): what is here already by key, and what
was here and went, history this store pruned, which an import does not bring back.

Pruned history stays pruned. A backup taken before a prune, or a prune's own archive, holds lines this store once
had; imported again they would come back as new activities after today's, and each item's current state (its
newest revision by id) would go back to what it was then. So a line is not imported again, and is counted apart,
when it is
- one of this store's own (`STORE/ID`) at an id it gave and no longer has: a prune removed it; or
- a change to an item whose state here came from a later activity of the same source store (`STORE/ID` keys
  tell the source's own order): what a mirror is sent again of history its source pruned before shipping it; or
- a line from elsewhere older than the cutoff of a prune this store made (for its collection, or for all): what
  that prune removed, unless it brings an item's state that this store never had (an item with no state here, or
  a change newer than the state kept). Comments and their edit records go by the first rule only: a prune keeps a
  comment with its edits, which a file may hold apart.
"""

from __future__ import annotations

import functools
from typing import Any

from .. import jsontext
from ..models import COMMENT_CHANGES, Activity, ACTIVITY_FIELDS
from . import provenance
from .lines import LEGACY_KEY, legacy_bounds

_COMMENTS = ("comment", *COMMENT_CHANGES)
_SOURCES = 10_000  # the stores an import notes it met lines of (Seen._meet): a few hosts' worth, many times over


def store_of(key: str | None) -> str | None:
    """The store a `STORE/ID` key names, or None for another kind of key."""
    source, _, number = (key or "").rpartition("/")
    return source if source and number.isdigit() else None


class Seen:
    """A mixin of Importer: what it needs of it are `store`, `conn`, `own`, `top`, `keys`, `pending_keys`, `flush`,
    `_head`, `last_id`, `prev_new`, `start_id`, `start_head`, `first_prev`, `sources`, `carried`, and `key_index`
    and `bulk` (the key index waiting for a bulk load's end)."""

    def _prune_cutoffs(self) -> dict[str | None, str]:
        """The newest cutoff of the prunes by age that speak for this store's chain, per collection (None: all)."""
        replica = provenance.copied(self.conn)
        cutoffs: dict[str | None, str] = {}
        for (details,) in self.conn.execute(
                "SELECT details FROM activity INDEXED BY activity_action WHERE action = 'prune'"
                + ("" if replica else " AND key IS NULL")):
            policy = (jsontext.loads(details) or {}).get("policy") if details else None
            before = policy.get("activity_before") if isinstance(policy, dict) else None
            if isinstance(before, str):
                scope = policy.get("collection") if isinstance(policy.get("collection"), str) else None
                if before > cutoffs.get(scope, ""):
                    cutoffs[scope] = before
        return cutoffs

    def _pruned(self, key: str, values: list[Any], revision: tuple | None) -> bool:
        """Whether a line not here is history this store pruned, or older than the state it holds of the line's
        item (the module docstring)."""
        if key.startswith(self.own):
            local = key[len(self.own):]
            if local.isdigit() and int(local) <= self.start_top:
                return True
        if revision is not None and revision[0] is None and self._before_head(key, values[7], values[8]):
            return True
        if not self.cutoffs or values[1] in _COMMENTS:
            return False
        timestamp, collection = values[3], values[7]
        cutoff = max(self.cutoffs.get(None, ""), self.cutoffs.get(collection, ""))
        if timestamp >= cutoff:
            return False
        if revision is None or revision[0] is not None:  # no state of an item's main line
            return True
        head = self._head(collection, values[8])
        if head is None or head[0] > self.start_top:  # an item with no state here, or state this file brought
            return False
        kept = self.conn.execute("SELECT timestamp FROM activity WHERE id = ?", [head[0]]).fetchone()
        return kept is not None and timestamp <= kept[0]

    def _before_head(self, key: str, collection: str, item: str) -> bool:
        """Whether the item's state here came from a later activity of the same store as this line (`STORE/ID`
        keys, in that store's own order): a mirror re-sent an old export holds newer state of the item already."""
        source, _, number = key.rpartition("/")
        if not source or not number.isdigit():
            return False
        head = self._head(collection, item)
        if head is None or head[0] > self.start_top:  # no state here, or state this file brought
            return False
        kept = self.conn.execute("SELECT key FROM activity WHERE id = ?", [head[0]]).fetchone()
        if kept is None:
            return False
        kept_source, _, kept_number = (kept[0] or f"{self.own}{head[0]}").rpartition("/")
        return kept_source == source and kept_number.isdigit() and int(kept_number) > int(number)

    def _meet(self, key: str) -> None:
        """Note the store a line comes from (`STORE/ID` keys): a file that carries a store's lines may go on with its
        items (a store restored from another's trail goes on with that store's items)."""
        source = store_of(key)
        if source is not None and source not in self.sources and len(self.sources) < _SOURCES:
            self.sources.add(source)

    def _clash(self, key: str, head: tuple | None, prev_hash: str | None) -> str | None:
        """Why a line cannot go onto its item here: the item's state here is another store's (`STORE/ID` keys) that
        the line's store is not known to go on from, so they are two stores' items of the same collection and id,
        which one store cannot keep apart. A store goes on from another when this file carries that store's lines
        too, or continues this store's chain, or an earlier import of the line's store's trail carried them (a
        store restored from another's trail is a new store that holds the old one's lines). `prev_hash` is the
        line's."""
        source = store_of(key)
        if source is None or head is None or head[0] > self.start_id:
            return None
        row = self.conn.execute("SELECT collection, item, key FROM activity WHERE id = ?", [head[0]]).fetchone()
        theirs = store_of(row[2] or f"{self.own}{head[0]}") if row else None
        first = self.first_prev if self.first_prev is not None else prev_hash
        if theirs is None or theirs == source or theirs in self.sources or first == self.start_head:
            return None
        if self.carried is None:
            self.carried = provenance.carried(self.conn)
        if theirs in self.carried.get(source, ()):
            return None
        return (f"{row[0]} {row[1]} here is an item of store {theirs} (activity {head[0]}), and this line is of "
                f"store {source}: a store keeps one history per collection and item, so two stores' items of the "
                "same ids cannot meet in one (import each such store into a store of its own)")

    def _known(self, key: str) -> tuple[int | None, bool]:
        """(id, whether found by this store's own id) of the activity here under this key, or (None, False)."""
        if key.startswith(self.own):
            local = key[len(self.own):]
            if local.isdigit() and self._exists(int(local)):
                return int(local), True
        # Added here, before the line is in: a key whose line turns out bad or known stays a "maybe", which the
        # lookups below settle, and every key of a line added is in the filter.
        if self.keys is not None and self.keys.add_new(key):
            return None, False
        if key in self.pending_keys:
            return self.pending_keys[key], False
        if self.key_index is not None:  # a "maybe" while the key index waits for the end: it is needed now
            self.flush()
            self.conn.execute(self.key_index)
            self.bulk, self.key_index = [sql for sql in self.bulk if sql != self.key_index], None
        row = self.conn.execute("SELECT id FROM activity WHERE key = ?", [key]).fetchone()
        if row is None and self._legacy_keys:
            row = self._legacy(key)
        return (row[0], False) if row else (None, False)

    @functools.cached_property
    def _legacy_keys(self) -> bool:
        """Whether the store holds keys of the older content form (`sha256:`), by which a line without a key may be
        here already: only then is that form looked up too (one indexed range a line)."""
        return self.conn.execute("SELECT 1 FROM activity WHERE key >= ? AND key < ? LIMIT 1",
                                 [LEGACY_KEY, LEGACY_KEY[:-1] + ";"]).fetchone() is not None  # ";" follows ":"

    def _legacy(self, key: str) -> tuple[int] | None:
        """The activity here under the older form of a line's content key (lines.legacy_bounds): the same file
        imported again into a store that an earlier release imported it into adds nothing."""
        bounds = legacy_bounds(key)
        if bounds is None:
            return None
        low, high, nth = bounds
        end = len(low) + 32  # the digest's other 128 bits, then the `#n` of identical lines
        for found, stored in self.conn.execute("SELECT id, key FROM activity WHERE key > ? AND key < ?", [low, high]):
            if stored[end:] == nth and len(stored) >= end:
                return (found,)
        return None

    def _exists(self, activity_id: int) -> bool:
        if activity_id > self.top:  # past every id ever used
            return False
        self.flush()
        return self.conn.execute("SELECT 1 FROM activity WHERE id = ?", [activity_id]).fetchone() is not None

    def _update_comment(self, comment_id: int, values: list[Any]) -> None:
        """A comment seen again in an unchained source: the store chains its newer state (the slow path)."""
        self.flush()
        record = dict(zip(ACTIVITY_FIELDS, values))
        seen = Activity(record["action"], record["collection"], record["item"], record["timestamp"],
                        user=record["user"], comment=record["comment"], edited_on=record["edited_on"],
                        comment_deleted_on=record["comment_deleted_on"])
        with self.store._writing():
            self.store._update_comment(comment_id, seen)
        row = self.conn.execute("SELECT id, hash FROM activity ORDER BY id DESC LIMIT 1").fetchone()
        if row[0] > self.top:  # the store chained a change record from its head, which is where this pass was
            self.top = self.last_id = row[0]
            self.prev_new = row[1]
