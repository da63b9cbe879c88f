"""Anchors (audit-anchor/1) of a store: the one `checkpoint` makes, and what the store contradicts of one (verify's
last check when it is given one)."""

from __future__ import annotations

from typing import Any

from .. import anchors, chain, timeparse


def problem(store: Any, anchor: dict[str, Any], head_id: int | None, bridge: Any = None, unlinked: int = 0,
            identity: str | None = "") -> tuple[str, int, str] | None:
    """What the store contradicts of the anchor: its identity, keyed or not, its head, and the count up to it.
    `bridge` holds the links verify recomputed through pruned activities (store/pruned.py); `unlinked` is the last
    activity whose link to the one before could not be proven (a prune by an earlier release kept no digests).
    `identity` is the store's (left "", this store's; None for a trail, whose head's hash binds it)."""
    from .integrity import CannotCheck  # here: integrity imports this module

    anchor = anchors.parse(anchor)
    if identity == "":
        identity = store.store_id()
    if identity is not None and anchor["store"] != identity:
        raise CannotCheck(f"the anchor was written for another store ({anchor['store']}; this is {identity})")
    head = anchor["head_id"]
    keyed = store._setting("chain_key_check") is not None
    if anchor["keyed"] != keyed:
        return ("modified", head or 1, "the anchor saw a keyed chain, but this store's chain carries no key: its "
                "key check was removed and the chain made again" if anchor["keyed"] else
                "the anchor saw a chain without a key, but this store's is keyed: the chain was made again")
    if head_id is None or head_id < head:
        return ("truncated", (head_id or 0) + 1,
                f"the store ends at {head_id} but the anchor, made {anchor['created_at']}, saw {head}")
    if head == 0 and anchor["count"] == 0:
        return None  # an anchor of the empty store: anything extends it
    # What the anchor saw unproven already: the rows a prune before it kept up to its boundary.
    before = store.latest_prune(until=head)
    proven_from = before[1]["boundary"]["id"] if before else 0
    if unlinked > proven_from:
        return ("deleted", unlinked, f"activities up to {unlinked} were removed after the anchor by a prune that kept "
                "no digest of them (one by an earlier release, or a forged one): the store cannot show that it "
                "extends the anchor")
    row = store.conn.execute("SELECT hash FROM activity WHERE id = ?", [head]).fetchone()
    link = row[0] if row else (bridge.links.get(head) if bridge is not None else None)
    if link is None:
        return ("deleted", head, f"activity {head}, the anchor's head, is missing, and no prune kept it")
    if link != anchor["head_hash"]:
        return ("head mismatch", head,
                f"activity {head} does not have the hash the anchor recorded: the chain was rewritten")
    held = store.conn.execute("SELECT count(*) FROM activity WHERE id <= ?", [head]).fetchone()[0]
    removed = bridge.bridged(head, head) if bridge is not None else 0
    if held + removed != anchor["count"]:
        more = held + removed > anchor["count"]
        return ("inserted" if more else "deleted", head,
                f"the store holds {held} activities up to {head}" + (f" and its prunes since removed {removed}"
                                                                    if removed else "")
                + f", where the anchor counted {anchor['count']}")
    return None


def make(store: Any, sign_with: bytes | None) -> dict[str, Any]:
    conn = store.conn
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")  # the count and the head of one snapshot
    try:
        head = conn.execute("SELECT id, hash FROM activity ORDER BY id DESC LIMIT 1").fetchone()
        count = conn.execute("SELECT count(*) FROM activity").fetchone()[0]
        anchor = {"schema": anchors.SCHEMA, "store": store.store_id(), "count": count,
                  "head_id": head[0] if head else 0, "head_hash": head[1] if head else chain.GENESIS,
                  "created_at": timeparse.format_ts(timeparse.utcnow()),
                  "keyed": store._setting("chain_key_check") is not None}
    finally:
        if own:
            conn.execute("COMMIT")
    return anchors.sign(anchor, sign_with) if sign_with is not None else anchor
