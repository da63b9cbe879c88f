"""Reading revision snapshots back: each revision's packed text unpacked against its base (store/codec.py), each
base unpacked once and kept; and each revision's delta, packed against its snapshot."""

from __future__ import annotations

from typing import Any

from .. import jsontext
from ..errors import Damaged
from . import codec

DELTA_FUNCTION = "revision_delta"  # revision_delta(base, data, delta): the delta's JSON text
# Bounded, so that exporting any number of items stays flat.
BASE_CACHE = 4096


class Snapshots:
    """The revision snapshots of one store. What it needs of the store is its connection, whose `bases` dict it
    keeps the unpacked bases in: connection.writing drops them on a rollback, since a base written in a
    rolled-back transaction leaves an id that other content may take."""

    def __init__(self, conn: Any):
        self.conn = conn
        self.bases: dict[int, bytes] = conn.bases
        # For SQL that reads a revision's delta as JSON (query.py's changed-path filter): a packed one is unpacked
        # here. Deterministic: a revision's base, data and delta are fixed, and base ids are never reused.
        conn.create_function(DELTA_FUNCTION, 3, self.delta_sql, deterministic=True)

    def base_text(self, base_id: int) -> bytes:
        """The text of base `base_id`; Damaged when the store lacks it."""
        text = self.bases.get(base_id)
        if text is None:
            row = self.conn.execute("SELECT body FROM bases WHERE id = ?", [base_id]).fetchone()
            if row is None:
                raise Damaged(f"revision base {base_id} is missing: the store is damaged (`audit verify` says where)")
            if len(self.bases) >= BASE_CACHE:
                del self.bases[next(iter(self.bases))]
            text = self.bases[base_id] = codec.unpack_base(row[0])
        return text

    def text(self, base: int | None, data: bytes) -> bytes:
        """A revision's snapshot as JSON text, from its base id (None: packed alone) and packed data."""
        return codec.unpack(data, self.base_text(base) if base is not None else None)

    def data(self, base: int | None, data: bytes) -> Any:
        """The same, as a fresh JSON value."""
        return jsontext.loads(self.text(base, data))

    def delta(self, base: int | None, data: bytes, stored: str | bytes) -> str:
        """A revision's delta as JSON text, from its stored form (codec.pack_delta) and its snapshot's."""
        return stored if isinstance(stored, str) else codec.delta_text(stored, self.text(base, data))

    def delta_sql(self, base: int | None, data: bytes | None, stored: str | bytes | None) -> str | None:
        if data is None or stored is None:
            return stored
        return self.delta(base, data, stored)
