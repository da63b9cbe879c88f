"""The lines' own chain, as an import meets it: does each line continue the one before, does its hash cover what
is imported from it, and at the end, may the links be kept (a whole chain, or a pruned store's chain that the
trail's own prune record vouches for)? A mixin of store/importer.py's Importer, whose state it reads."""

from __future__ import annotations

from typing import Any

import orjson

from .. import chain, jsontext
from ..errors import InvalidLine
from ..models import COMMENT_CHANGES
from . import marks
from .integrity import Tampered
from .pruned import survivors_digest

BROKEN = ": nothing was imported; --no-verify imports it anyway"


class GivenLinks:
    """Checks of the lines' own links (store/importer.py holds the state and calls these)."""

    def _follow(self, number: int, activity_id: int | None, prev_hash: str | None, hash_: str | None,
                gap: bool) -> None:
        """The lines' own chain: each line with a hash continues the one before, unless it says it follows a gap.
        The first may continue a line the file does not hold: an incremental export's piece starts where the last
        one ended (and a trail that does not start from the genesis hash keeps no links of its own, `finish`)."""
        if hash_ is None:
            return
        self.linked += 1
        before_number, before_hash = self.last_given
        if self.first_prev is None:
            self.first_prev = prev_hash
            self.run_from = activity_id
        if gap:
            self.gaps += 1
            self.gap_top = self.top
            self.run_from = activity_id
        elif prev_hash != before_hash and before_number:
            if len(self.breaks) < 1000:
                self.breaks.append((number, activity_id))
            if self.first_break is None:
                self.first_break = (f"{self.source} line {number}: the chain is broken (its prev_hash does not "
                                    f"continue line {before_number}, and no gap is marked){BROKEN}")
        self.last_given = (number, hash_)

    def _check(self, number: int, activity_id: int, values: list[Any], prev_hash: str, hash_: str,
               attested: str | None, expected: str, record: bytes, original: str | None) -> None:
        """Does the line's hash cover what is imported from it? A comment is checked again at the end if it fails
        here or a later line edits it: its hash covers its original text, known from its edits, or from the line
        itself (`original_comment`), which must then be what the hash covers."""
        if original is not None:
            expected = chain.matching_link(prev_hash, orjson.dumps({**orjson.loads(record), "comment": original}),
                                           self.store.chain_key, hash_)
            if expected != hash_:
                if self.failure is None or (activity_id, number) < self.failure:
                    self.failure = (activity_id, number)
                return
        if expected != hash_ and attested is not None:
            expected = chain.matching_link(prev_hash, orjson.dumps({**orjson.loads(record), "revision": attested}),
                                           self.store.chain_key, hash_)
        if values[1] == "comment":
            self.pending_given.append((activity_id, number, prev_hash, hash_, attested, expected != hash_))
        elif expected != hash_ and (self.failure is None or (activity_id, number) < self.failure):
            self.failure = (activity_id, number)

    def _covered(self) -> bool:
        """Are the lines, gaps and all, the chain of a pruned store exactly as the trail's own latest prune record
        attests it? That is what verify checks of a store: the activities left up to the prune's boundary (each on
        its own link, together its survivors digest), one chain from the boundary's hash on, and the revision
        digests kept (its attested digest). The lines' own links are those of the rows up to where they were
        switched to computed ones, and the held ones from there; no line repeated, ids kept and in order."""
        if self.duplicates or "audit_import_held" not in self.temp:
            return False
        conn = self.conn
        # INDEXED BY, as store.latest_prune: without statistics the planner walks the whole table for max(id).
        row = conn.execute("SELECT id, details FROM activity WHERE id = (SELECT max(id) FROM activity "
                           "INDEXED BY activity_action WHERE action = 'prune')").fetchone()
        try:
            details = jsontext.loads(row[1])
            bound, bound_hash = details["boundary"]["id"], details["boundary"]["hash"]
            survivors, attested = details["survivors"], details.get("attested")
        except (TypeError, KeyError, ValueError):  # no prune record, or not one a prune writes
            return False
        if type(bound) is not int or not isinstance(bound_hash, str) or row[0] <= bound:
            return False
        given = ("SELECT a.id, coalesce(h.prev_hash, a.prev_hash), coalesce(h.hash, a.hash) FROM activity a "
                 "LEFT JOIN temp.audit_import_held h ON h.id = a.id")
        first = conn.execute(f"{given} WHERE a.id > ? ORDER BY a.id LIMIT 1", [bound]).fetchone()
        if first is None or first[1] != bound_hash or first[0] < self.run_from:
            return False  # the chain from the boundary on is not one run from its hash
        kept = survivors_digest((i, h) for i, _, h in conn.execute(f"{given} WHERE a.id <= ? ORDER BY a.id", [bound]))
        if dict(zip(("count", "digest"), kept)) != survivors:
            return False
        digests = survivors_digest(conn.execute("SELECT activity, revision FROM temp.audit_import_attested "
                                                "ORDER BY activity") if "audit_import_attested" in self.temp else ())
        return not digests[0] or dict(zip(("count", "digest"), digests)) == attested

    def _originals(self, changes: dict[str, list], lines_carry: bool = True) -> int:
        """How many comments came without the chained edits or record that would prove their state: with their
        first text on the line (`original_comment`, which their hash was checked against) and another now, or
        marked edited or deleted (marks no hash covers, on which log and show depend) with no record the lines
        carried listing that mark (store/marks.py). Sets `marked`, the marks the comments imported now came with,
        for the import record to list, and `unvouched_marks`. A record the lines carried that a comment's marks
        contradict is a changed line. Offline (as_given), such a comment is kept as it was written (first text, no
        marks), so that the store's own check judges its hash, and so is one whose edits say otherwise, so that it
        fails."""
        written, unvouched = [], set()
        for activity_id, key, original in self.conn.execute(
                "SELECT o.id, a.key, o.original FROM temp.audit_import_originals o JOIN activity a ON a.id = o.id")\
                if lines_carry else ():
            edits = changes.get(key)
            if edits and isinstance(edits[0].get("before"), dict) and edits[0]["before"].get("comment") == original:
                continue
            if not edits:
                unvouched.add(activity_id)
            written.append((original, activity_id))
        self.marked = marks.first_marks(self.conn, changes, self.start_id, self.top)
        left, failure = marks.unvouched(self.conn, changes, self.start_id, self.top, found=self.marked)
        if failure is not None and (self.verify or self.as_given):
            raise InvalidLine(f"{self.source}: {failure[2]}: its line was changed", kind="modified")
        self.unvouched_marks = len(left)
        # Lines that carry no links (another system's, audit/1 without chain members) are taken, marks and all, on
        # the word of whoever wrote them, and the import record lists the marks. Chained lines are a trail of this
        # tool's, which holds the record of every mark it took: a mark without one was put on the line.
        if self.linked:
            unvouched.update(left)
        if self.as_given:
            self.conn.executemany("UPDATE activity SET comment = ? WHERE id = ?", written)
            self.conn.executemany("UPDATE activity SET edited_on = NULL, comment_deleted_on = NULL WHERE id = ?",
                                  [(activity_id,) for activity_id in sorted(unvouched)
                                   if self._key_of(activity_id) not in changes])
        return len(unvouched)

    def _key_of(self, activity_id: int) -> str | None:
        return self.conn.execute("SELECT key FROM activity WHERE id = ?", [activity_id]).fetchone()[0]

    def _check_comment_states(self, edited: set[int], changes: dict[str, list]) -> None:
        """A comment the lines' chained edits name must say what the last of them says: its text and marks are on
        its line, which no hash covers, and verify would hold the store to the edits."""
        ids = sorted(edited)
        rows = (row for at in range(0, len(ids), 500) for row in self.conn.execute(
            "SELECT id, action, key, collection, item, comment, edited_on, comment_deleted_on FROM activity "
            f"WHERE id IN ({', '.join('?' * len(ids[at:at + 500]))}) ORDER BY id", ids[at:at + 500]).fetchall())
        original = self.store.integrity.original
        for row in rows:
            values = dict(zip(("id", "action", "key", "collection", "item", "comment", "edited_on",
                               "comment_deleted_on"), row))
            problem = original(values, changes)[1]
            if problem:
                raise InvalidLine(f"{self.source}: {problem}: its line was changed", kind="modified")

    def _edited_comments(self) -> tuple[set[int], dict[str, list]]:
        """The comments imported now that chained edits or deletes name (so their hash covers their original text),
        and the map of all such changes (store.integrity.comment_change_map)."""
        if not self.conn.execute(f"SELECT 1 FROM activity WHERE action IN ({', '.join('?' * len(COMMENT_CHANGES))}) "
                                 "LIMIT 1", list(COMMENT_CHANGES)).fetchone():
            return set(), {}
        changes = self.store.integrity.comment_change_map()
        return {activity_id for activity_id, key in self.conn.execute(
            "SELECT id, key FROM activity WHERE action = 'comment' AND id > ?", [self.start_id])
            if key in changes}, changes

    def _verify(self, edited: set[int], changes: dict[str, list]) -> None:
        """The lines' chain: a break first (as the earlier two-pass check did), then the first line by id whose hash
        does not cover its content, comments checked with their original text."""
        if self.first_break is not None:
            raise Tampered(self.first_break)
        failure = self.failure
        if "audit_import_given" in self.temp:
            key = self.store.chain_key
            rows_after, link_of = self.store.integrity.rows, self.store.integrity.link_of
            for activity_id, number, prev_hash, hash_, attested, failed in self.conn.execute(
                    "SELECT id, number, prev_hash, hash, attested, failed FROM temp.audit_import_given ORDER BY id"):
                if not failed and activity_id not in edited:
                    continue
                expected = None
                rows = rows_after(since=activity_id - 1)
                for row, details_text, digest in rows:
                    if row["id"] == activity_id:
                        expected, _ = link_of(row, details_text, digest, prev_hash, key, changes, hash_)
                        if expected != hash_ and attested is not None:
                            expected, _ = link_of(row, details_text, attested, prev_hash, key, changes, hash_)
                    break
                rows.close()
                if expected != hash_ and (failure is None or (activity_id, number) < failure):
                    failure = (activity_id, number)
        if failure is not None:
            hint = " (a keyed trail needs its AUDIT_CHAIN_KEY)" if self.store.chain_key is None else ""
            raise Tampered(f"{self.source} line {failure[1]}: its hash does not match its content{hint}{BROKEN}")
