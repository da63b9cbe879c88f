"""What a prune keeps of the activities it removes (the `pruned` table, m004), and how verify links through them.

A link is SHA-256(prev + SHA-256(record)) (chain.py), so the record's digest stands in for the record: from each
removed activity's digest verify recomputes its link, and the chain runs unbroken from the first activity through
what was removed to the newest. A prune can then only remove whole rows, in view: an activity changed before an
anchor's head changes every link after it, the head's too, whether the head is still there or was pruned. The table
as a whole is restated by each prune's chained record, so that rows removed by hand, their digests put here, show as
what no prune removed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, NamedTuple

from .. import chain

_CHUNK = 20_000


def survivors_digest(rows: Iterable[tuple[int, str]]) -> tuple[int, str]:
    """(count, SHA-256) of (id, value) rows in order: how a prune record restates what it kept (the survivors, the
    attested digests) so that verify can hold the store to it."""
    digest, count = hashlib.sha256(), 0
    for activity_id, hash_ in rows:
        digest.update(f"{activity_id}:{hash_}\n".encode())
        count += 1
    return count, digest.hexdigest()


class Entry(NamedTuple):
    id: int
    digest: str | None  # None: a format-1 row, whose link is over its record: `hash` then stands unproven
    hash: str
    prune: int  # the prune record that removed it


def keep(store: Any, ids: Iterable[int], prune_id: int) -> None:
    """Keep the digest and link of each activity in `ids` (about to be removed by prune `prune_id`)."""
    wanted = sorted(set(ids))
    if not wanted:
        return
    key = store._chain_key()
    integrity = store.integrity
    changes, record = integrity.comment_change_map(), integrity.record
    attested = dict(store.conn.execute("SELECT activity, revision FROM attested"))
    entries: list[tuple] = []
    index = 0
    for row, details_text, digest in integrity.rows(wanted[0] - 1, wanted[-1]):
        while index < len(wanted) and wanted[index] < row["id"]:
            index += 1
        if index == len(wanted) or wanted[index] != row["id"]:
            continue
        record_digest = None
        for revision in (digest, attested.get(row["id"])):  # as written, or the digest a rewrite attested
            found = hashlib.sha256(record(row, details_text, revision, changes)).hexdigest()
            if chain.link_digest(row["prev_hash"], found, key) == row["hash"]:
                record_digest = found
                break
        entries.append((row["id"], record_digest, row["hash"], prune_id))
        if len(entries) == _CHUNK:
            _insert(store.conn, entries)
            entries = []
    _insert(store.conn, entries)


def _insert(conn: Any, entries: list[tuple]) -> None:
    conn.executemany("INSERT OR REPLACE INTO pruned (id, digest, hash, prune) VALUES (?, ?, ?, ?)", entries)


def table_digest(conn: Any) -> dict[str, Any]:
    """What a prune record restates of the table: its size and a digest of every entry."""
    return table_digest_of(conn.execute("SELECT id, digest, hash, prune FROM pruned ORDER BY id"))


def table_digest_of(entries: Iterable[tuple]) -> dict[str, Any]:
    digest, count = hashlib.sha256(), 0
    for entry in entries:
        digest.update(("%s:%s:%s:%s\n" % tuple(entry)).encode())
        count += 1
    return {"count": count, "digest": digest.hexdigest()}


class Bridge:
    """Links through the kept entries, in id order, as verify walks the rows: `through(prev, after, before)` is
    the link after the entries with ids between `after` and `before`, starting from `prev`."""

    def __init__(self, conn: Any, key: bytes | None):
        self.key = key
        self.entries = [Entry(*row) for row in conn.execute("SELECT id, digest, hash, prune FROM pruned ORDER BY id")]
        self.at = 0
        self.links: dict[int, str] = {}  # id -> the link recomputed there (an anchor's head may be among them)
        self.broken: int | None = None  # the first entry whose digest does not give the link kept with it

    def through(self, prev: str, after: int, before: int) -> str:
        entries = self.entries
        while self.at < len(entries) and entries[self.at].id <= after:
            self.at += 1
        while self.at < len(entries) and entries[self.at].id < before:
            entry = entries[self.at]
            if entry.digest is None:
                prev = entry.hash
            else:
                prev = chain.link_digest(prev, entry.digest, self.key)
                if prev != entry.hash and self.broken is None:
                    self.broken = entry.id
            self.links[entry.id] = prev
            self.at += 1
        return prev

    def bridged(self, head: int, since: int) -> int:
        """How many of the entries up to `head` that a prune after activity `since` removed were linked through."""
        return sum(1 for entry in self.entries if entry.id <= head and entry.prune > since and entry.id in self.links)
