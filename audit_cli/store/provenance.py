"""The chained record of an import that could not keep the lines' own links.

A trail imported into an empty store, whole from its first line, keeps its links: the copy verifies as the
original and its prune records speak for it. Any other import of chained lines (into a store that has activity, or
of a filtered trail, a piece, a pruned store's trail) chains them anew from this store's head, which proves that
they were not changed here but no longer what they were in their source. So it says so, in the chain: an `import`
activity naming the file, the source store and its head (from the trail's trailer, else its last line), the ids
the lines took here, why, and the marks edited or deleted comments came with (store/marks.py). Verify reads these records too: a prune record that arrived inside one is the
source's history, not a prune of this store (integrity.py, prune.latest_prune).
"""

from __future__ import annotations

from typing import Any

from .. import jsontext
from ..chain import GENESIS
from ..errors import UsageError
from ..models import Activity
from . import marks

ACTION = "import"


def record(importer: Any, trailers: Any) -> Activity:
    """The import record of an import (store/importer.py) that chained its lines anew, by its user."""
    last = trailers.segments[-1] if trailers is not None and trailers.segments else None
    origin = ({"store": last["store"], "head": {"id": last["head_id"], "hash": last["head_hash"]}} if last
              else {"store": None, "head": {"id": None, "hash": importer.last_given[1]}})
    details = {"source": importer.source, **origin, "rechained": _why(importer), "stores": sorted(importer.sources),
               "activities": {"count": importer.added, "first": importer.start_id + 1, "last": importer.top}}
    if importer.marked:  # what verify holds those comments to from now on
        details["marks"] = marks.listing(importer.marked, importer.start_id + 1, importer.top)
    by = importer.by
    return Activity(ACTION, "*", "*", "", user=by.user if by is not None else None, details=details)


def _why(importer: Any) -> str:
    if not importer.empty:
        return "the store already held activity"
    if importer.gaps or importer.first_prev not in (None, GENESIS):
        return "the lines are not one whole chain from the first activity (a filtered trail, a piece)"
    if importer.originals:
        return "edited or deleted comments came without their edit records"
    if importer.unvouched_marks and not importer.linked:
        return ("the lines carry no links of their own, and comments came marked edited or deleted without their "
                "edit records")
    return "the lines' own links do not make one whole chain"


def copied(conn: Any) -> bool:
    """Whether this store's chain began as another's, its links kept (a copy, a mirror fed pieces): its first
    activity came with a key of its source's and no import record chained it here. Read from the chain (a record's
    hash covers its key), never from a row no hash covers, since it decides which prune records speak for the store
    (prune_record.py) and which lines an import takes for pruned history (seen.py)."""
    first = conn.execute("SELECT id, key FROM activity ORDER BY id LIMIT 1").fetchone()
    if first is None or first[1] is None:
        return False
    return not any(low <= first[0] <= high for low, high in rechained_ranges(conn))


def rechained_ranges(conn: Any) -> list[tuple[int, int]]:
    """The local id ranges of imports that chained their lines anew."""
    ranges = []
    for (text,) in conn.execute("SELECT details FROM activity INDEXED BY activity_action WHERE action = ? AND "
                                "collection = '*' AND item = '*'", [ACTION]):
        try:
            span = (jsontext.loads(text) or {}).get("activities") or {}
            ranges.append((int(span["first"]), int(span["last"])))
        except (TypeError, ValueError, KeyError, AttributeError, UsageError):
            continue  # not an import record this release wrote: it vouches for nothing
    return ranges


def carried(conn: Any) -> dict[str, set[str]]:
    """For each store whose trail an import here chained anew, the stores whose lines that trail carried (a store
    restored from another's trail holds the other's lines: store/seen.py, Seen._clash)."""
    stores: dict[str, set[str]] = {}
    # Not INDEXED BY activity_action: an import asks this mid-way, when a bulk load has dropped that index (which
    # failed "no such index", found by test_import_speedpaths' tiny knobs); the planner takes it when it is there.
    for (text,) in conn.execute("SELECT details FROM activity WHERE action = ? AND collection = '*' AND item = '*'",
                                [ACTION]):
        try:
            details = jsontext.loads(text) or {}
            if isinstance(details.get("store"), str) and isinstance(details.get("stores"), list):
                stores.setdefault(details["store"], set()).update(s for s in details["stores"] if isinstance(s, str))
        except (UsageError, AttributeError):
            continue
    return stores
