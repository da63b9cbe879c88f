"""What a store contradicts of an anchor (audit-anchor/1): verify's last check when it is given one."""

from __future__ import annotations

from typing import Any

from .. import anchors


def problem(store: Any, anchor: dict[str, Any], head_id: int | None, pruned_to: int = 0,
            identity: str | None = "") -> tuple[str, int, str] | None:
    """What the store contradicts of the anchor: its identity, keyed or not, its head, and the count up to it.
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
    row = store.conn.execute("SELECT hash FROM activity WHERE id = ?", [head]).fetchone()
    if row is None and head == 0 and anchor["count"] == 0:
        return None  # an anchor of the empty store: anything extends it
    pruned_since = store.conn.execute(
        "SELECT 1 FROM activity WHERE action = 'prune' AND id > ? LIMIT 1", [head]).fetchone() is not None
    if row is None and head <= pruned_to and pruned_since:
        return None  # the anchored head was pruned since, as the latest prune attests
    if row is None:
        return ("deleted", head, f"activity {head}, the anchor's head, is missing")
    if row[0] != anchor["head_hash"]:
        return ("head mismatch", head,
                f"activity {head} does not have the hash the anchor recorded: the chain was rewritten")
    held = store.conn.execute("SELECT count(*) FROM activity WHERE id <= ?", [head]).fetchone()[0]
    if held > anchor["count"] or (held < anchor["count"] and not pruned_since):
        return ("deleted" if held < anchor["count"] else "inserted", head,
                f"the store holds {held} activities up to {head}, where the anchor counted {anchor['count']}"
                + ("" if held > anchor["count"] else ", and no prune since removed any"))
    return None

