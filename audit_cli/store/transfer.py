"""Export to and import from the audit/1 JSONL interchange format (docs/format.md), and export as ECS lines: the store's
side. Export is in store/export.py; import in store/importer.py (one pass) and store/prepare.py (what a line gives
without the store)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .. import jsontext
from ..errors import shown
from ..models import COMMENT_CHANGES, Activity, LogQuery
from .connection import bulk_load

if TYPE_CHECKING:
    from . import AuditStore
    from .export import Export

# store/importer.py and store/export.py (with what they import: the helper processes' machinery, ~11 ms) are
# imported by the methods that use them, not by every command that opens a store (`python -X importtime`).


class Transfers:
    """The store's side of export and import: their entry points, and the steps an import ends with that change
    rows already written (chaining anew, comment changes applied).

    Uses of the store: its connection, `_writing()`, `store_id()` and `_chain_key()`; of the other parts: the
    integrity part's `rows()`, `link_of()` and `comment_change_map()` (links made again), and `get_activity()`
    and `_change_comment()` (a comment seen again, store/activity.py and store/revisions.py). Given the store:
    store/export.py and store/importer.py, which read and write it."""

    def __init__(self, store: AuditStore):
        self.store = store
        self.conn = store.conn

    # export

    def export(self, q: LogQuery, *, fmt: str = "audit",
               progress: Callable[[int, int], None] | None = None, sealed: bool = True) -> Export:
        """The activities matching `q` as chunks of JSONL bytes, by id, up to the highest id when the export
        started, all read in one snapshot of the store. `fmt` is audit (audit/1 lines) or ecs (ecs.py).
        `q.after_id` starts after an id: an incremental export, whose first line is not marked as a gap when it
        continues the line at that id. `progress(done, total)` is called every few thousand lines."""
        from .export import Export

        return Export(self.store, q, fmt=fmt, progress=progress, sealed=sealed)

    def export_lines(self, q: LogQuery, *, fmt: str = "audit", sealed: bool = True) -> Iterator[bytes]:
        """One JSONL line per matching activity, then the trailer (see `export`)."""
        from .export import Export

        for chunk in Export(self.store, q, fmt=fmt, sealed=sealed):
            for line in chunk.split(b"\n")[:-1]:  # JSON text holds no raw newline
                yield line + b"\n"

    # import

    def import_lines(self, lines: Iterable[tuple[int, bytes | dict[str, Any]]], *, source: str,
                     skip_invalid: bool = False, verify: bool = True, keep_links: bool | None = None,
                     as_given: bool = False, progress: Callable[[int, int, int | None], None] | None = None,
                     by: Activity | None = None, note_rechained: bool = True) -> dict[str, Any]:
        """Import audit/1 lines in one transaction; lines already present (by key) are skipped.

        Each line is raw JSONL bytes, or an already parsed record in the same shape (what the adapters for other
        sources produce), numbered for error messages.

        Into an empty store the ids are kept, and a complete chain that came with the lines is kept as it is, so an
        export imported into an empty store verifies as the original did. Otherwise lines get new ids in file order
        and are chained anew (`keep_links` forces either way). Lines' own hashes are checked (unless not `verify`):
        a line whose hash does not cover its content stops the import. `as_given` takes each revision's data and
        delta as they are, unchecked against each other (what an offline verify needs, to judge the hashes alone).
        A bad line stops the import and nothing from the file is kept, unless `skip_invalid`, which reports it and
        goes on. `progress(lines, position, size)` is called every few thousand lines (store/importer.py).
        Chained lines that could not keep their links are followed by a chained `import` record
        (store/provenance.py), whose user is `by`'s (unless not `note_rechained`: a throw-away store's import).
        """
        source = shown(source)  # kept in the store with the import: a file name's undecodable bytes as \xNN
        from . import importer

        with bulk_load(self.conn), self.store._writing():
            return importer.run(self.store, lines, source=source, skip_invalid=skip_invalid, verify=verify,
                                keep_links=keep_links, as_given=as_given, progress=progress, by=by,
                                note_rechained=note_rechained)

    def update_comment(self, comment_id: int, seen: Activity) -> None:
        """A comment seen again in an unchained source (an adapter's): its newer state arrives as chained changes.
        (A chained trail carries its comment-edit records itself.)"""
        stored = self.store.get_activity(comment_id)
        fields = ("comment", "edited_on", "comment_deleted_on")
        after = {name: getattr(seen, name) for name in fields}
        if stored["comment_deleted_on"] or all(stored[name] == after[name] for name in fields):
            return
        action = "comment-delete" if after["comment_deleted_on"] else "comment-edit"
        change = Activity(action, "", "", after["comment_deleted_on"] or after["edited_on"] or "", user=seen.user)
        self.store._change_comment(comment_id, after, action, change)

    def rechain(self, after_id: int, head: str) -> None:
        """Chain every activity after `after_id` anew from `head`, in id order (in slices, so that memory stays flat
        and no row is updated under a running read of its table)."""
        store = self.store
        integrity = store.integrity
        key, link_of = store._chain_key(), integrity.link_of
        prev = head
        changes = integrity.comment_change_map()
        while True:
            updates = []
            rows = integrity.rows(since=after_id)
            for row, details_text, digest in rows:
                new, _ = link_of(row, details_text, digest, prev, key, changes)
                updates.append((prev, new, row["id"]))
                prev = new
                if len(updates) == 20_000:
                    break
            rows.close()
            self.conn.executemany("UPDATE activity SET prev_hash = ?, hash = ? WHERE id = ?", updates)
            if len(updates) < 20_000:
                return
            after_id = updates[-1][2]

    def apply_comment_changes(self, after_id: int) -> None:
        """Comment edits and deletes this import brought, applied to a comment that is still as the change found it:
        one an earlier piece held (a mirror's later piece, after the source edited it), or one whose line was
        written before the edit. Their chained record says what the comment is now."""
        own = f"{self.store.store_id()}/"
        names = ("comment", "edited_on", "comment_deleted_on")
        for details_text, in self.conn.execute(
                f"SELECT details FROM activity WHERE id > ? AND action IN ({', '.join('?' * len(COMMENT_CHANGES))}) "
                "ORDER BY id", [after_id, *COMMENT_CHANGES]).fetchall():
            change = jsontext.loads(details_text) if details_text else None
            if not isinstance(change, dict) or not isinstance(change.get("comment"), str):
                continue
            before, after, target = change.get("before"), change.get("after"), change["comment"]
            if not isinstance(before, dict) or not isinstance(after, dict):
                continue
            local = target[len(own):] if target.startswith(own) and target[len(own):].isdigit() else None
            row = self.conn.execute(
                f"SELECT id, {', '.join(names)} FROM activity WHERE action = 'comment' AND "
                + ("id = ? AND key IS NULL" if local else "key = ?"), [int(local) if local else target]).fetchone()
            if row is not None and dict(zip(names, row[1:])) == {n: before.get(n) for n in names}:
                self.conn.execute(f"UPDATE activity SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ?",
                                  [after.get(n) for n in names] + [row[0]])
