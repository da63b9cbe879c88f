"""Stored text that is not UTF-8: a damaged store (a scribbled page, a failing disk, an edit by hand).

SQLite keeps whatever bytes reach a page, and sqlite3 refuses such a value with "Could not decode to UTF-8 column
... with text <the bytes>", which repeats the damage (newlines, terminal escapes) and names no row. Ordinary reads
keep sqlite3's own decoding, the fast path; the damaged row is looked for only once a read has met it.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from typing import Any

from ..errors import StoreError
from ..models import ACTIVITY_FIELDS

_UNDECODABLE = "Could not decode to UTF-8"
_COLUMN = re.compile(r"column '([^']*)'")
_ID = re.compile(rb'\{"schema":"audit/1","id":(\d+),')
# The tables a read of activity meets, each with the column naming the activity a row belongs to, and its text.
_TEXT = {
    "activity": ("id", tuple(name for name in (*ACTIVITY_FIELDS, "key", "prev_hash", "hash") if name != "id")),
    "revisions": ("activity", ("collection", "item", "version", "delta")),
}


def undecodable(exc: BaseException) -> bool:
    """Whether a sqlite3 error is a stored text value that is not UTF-8."""
    return isinstance(exc, sqlite3.OperationalError) and str(exc).startswith(_UNDECODABLE)


def locate(conn: sqlite3.Connection, exc: BaseException | None = None) -> tuple[int, str] | None:
    """The first activity (by id) holding text that is not UTF-8, and the column: a scan, for error paths only.
    Given sqlite3's error, only the column it names is read."""
    named = _COLUMN.search(str(exc)) if exc is not None else None
    known = {column for _, columns in _TEXT.values() for column in columns}
    found: list[tuple[int, str]] = []
    for table, (owner, columns) in _TEXT.items():
        if named and named.group(1) in known:
            columns = tuple(c for c in columns if c == named.group(1))
            if not columns:
                continue
        # As BLOB: sqlite3 hands the bytes over without decoding them, whatever they are. Only text is decoded (a
        # delta packed against its snapshot is a BLOB, as it should be: store/codec.py).
        blobs = ", ".join(f'CASE WHEN typeof("{c}") = \'text\' THEN CAST("{c}" AS BLOB) END' for c in columns)
        sql = f"SELECT {owner}, {blobs} FROM {table} ORDER BY {owner}"
        for row in conn.execute(sql):
            bad = next((column for column, value in zip(columns, row[1:]) if not _utf8(value)), None)
            if bad is not None:
                found.append((row[0], bad))
                break
    return min(found) if found else None


def error(store: Any, exc: BaseException | None = None, *, at: int | None = None) -> StoreError:
    """The one-line error for a damaged row: which activity (looked for in `store` if not given), never the bytes."""
    where = "a stored text value"
    if at is not None:
        where = f"activity {at}"
    elif store is not None:
        try:
            found = locate(store.conn, exc)
        except sqlite3.Error:  # too damaged to scan: the error says so without the row
            found = None
        if found is not None:
            where = f"activity {found[0]} ({found[1]})"
    name = store.path if store is not None else "the store"
    return StoreError(f"{name} is corrupt: {where} holds bytes that are not UTF-8 text: `audit verify` reports the "
                      "damage; restore the store from a backup")


def checked(store: Any, parts: Iterator[Any]) -> Iterator[Any]:
    """Export Parts (store/export.py) whose bytes were joined from stored text without decoding it: a chunk that is
    not UTF-8 is refused rather than written. A chunk of ASCII costs a scan at memory speed, others a decode."""
    for part in parts:
        chunk = part.data
        if not chunk.isascii():
            try:
                chunk.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise error(store, at=_line_id(chunk, exc.start)) from None
        yield part


def _line_id(chunk: bytes, offset: int) -> int | None:
    start = chunk.rfind(b"\n", 0, offset) + 1
    match = _ID.match(chunk, start)
    return int(match.group(1)) if match else None


def _utf8(value: Any) -> bool:
    if not isinstance(value, bytes) or value.isascii():
        return True
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
