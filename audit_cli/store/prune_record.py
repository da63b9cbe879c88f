"""Which prune record speaks for a store's chain: what verify holds the rows before a prune's boundary to, and what
the next prune goes on from.

One made here always does. One that came with a chain imported as it was (a copy) does when it is true of this
store: what it removed is not here, and the revision digests it attested are the ones kept. A prune record that
arrived among lines chained anew (a mirror's later piece, a filtered trail: store/provenance.py) is its source's
history, and so is one whose removals this store still holds (a mirror fed pieces before its source pruned).
Passing a record over only makes verify stricter: the rows it would have excused must then link.
"""

from __future__ import annotations

from typing import Any

from .. import jsontext
from . import provenance


def latest(store: Any, until: int | None = None) -> tuple[int, dict[str, Any]] | None:
    conn = store.conn
    replica = provenance.copied(conn)
    rechained = provenance.rechained_ranges(conn) if replica else []
    # INDEXED BY: without statistics the planner reads the whole table rather than the few prune records.
    for activity_id, text, key in conn.execute(
            "SELECT id, details, key FROM activity INDEXED BY activity_action WHERE action = 'prune'"
            + ("" if replica else " AND key IS NULL") + " AND id <= ? ORDER BY id DESC",
            [until if until is not None else 2**63 - 1]):
        if key is not None and any(first <= activity_id <= last for first, last in rechained):
            continue
        details = jsontext.loads(text) if text else None
        if not isinstance(details, dict) or "boundary" not in details:
            return None
        if key is not None and not _done_here(store, key, details):
            continue
        return activity_id, details
    return None


def _done_here(store: Any, key: str, details: dict[str, Any]) -> bool:
    boundary = details.get("boundary")
    if not isinstance(boundary, dict) or not isinstance(boundary.get("id"), int):
        return False
    if boundary["id"]:
        store_of = key.rsplit("/", 1)[0]
        if store.conn.execute("SELECT 1 FROM activity WHERE key = ? OR (id = ? AND hash = ?)",
                              [f"{store_of}/{boundary['id']}", boundary["id"], boundary.get("hash")]).fetchone():
            return False
    return details.get("attested") == dict(zip(("count", "digest"), store.attested_digest()))
