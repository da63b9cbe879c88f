"""Comment marks that came from elsewhere, held to the chained record that took them.

A comment imported from another system (Directus, Strapi, an audit/1 trail without chain members) can arrive marked
edited or deleted with no chained edit to prove it: its hash covers its text, never `edited_on` or
`comment_deleted_on`, yet `audit log` hides a deleted comment and `show` claims an edit. So the import that takes
such marks lists them in its own chained record (store/provenance.py), as the upgrade of an older store does for the
marks it verified (store/upgrade.py), and verify holds every imported comment to that list: a mark set, changed or
cleared on the file shows. A comment later edited here is held to the state its first chained edit found, which is
the state it arrived in.

A record that arrived inside a copy (its row carries its source's key) vouches here only where the ids it names are
this store's too: when its key ends with its own id, the lines kept their ids.
"""

from __future__ import annotations

import sqlite3
from typing import Any, NamedTuple

from .. import jsontext
from ..errors import UsageError
from .derived import Failure

ACTIONS = ("import", "upgrade")
Marks = tuple[str | None, str | None]  # (edited_on, comment_deleted_on)


class Voucher(NamedTuple):
    """A chained record's list of the marks it took: comment id -> marks, for the ids first..last."""

    record: int
    first: int
    last: int
    comments: dict[int, Marks]


def first_marks(conn: sqlite3.Connection, changes: dict[str, list[dict[str, Any]]], low: int,
                high: int) -> dict[int, Marks]:
    """The marks each imported comment with id in (low, high] arrived with, where it has any: its own, or, when
    chained edits name it, what the first of them found (those edits are the rest of its story)."""
    found: dict[int, Marks] = {}
    for activity_id, key, edited_on, deleted_on in conn.execute(
            "SELECT id, key, edited_on, comment_deleted_on FROM activity WHERE action = 'comment' "
            "AND key IS NOT NULL AND id > ? AND id <= ?", [low, high]):
        edits = changes.get(key)
        if edits:
            before = edits[0].get("before")
            before = before if isinstance(before, dict) else {}
            edited_on, deleted_on = before.get("edited_on"), before.get("comment_deleted_on")
        if edited_on is not None or deleted_on is not None:
            found[activity_id] = (edited_on, deleted_on)
    return found


def listing(found: dict[int, Marks], first: int, last: int) -> dict[str, Any]:
    """The `marks` member of a record that took `found` among the ids first..last."""
    return {"first": first, "last": last,
            "comments": [[activity_id, *found[activity_id]] for activity_id in sorted(found)]}


def vouchers(conn: sqlite3.Connection) -> list[Voucher]:
    """Every chained import or upgrade record that lists the marks it took, and vouches for them here."""
    found = []
    for record, key, text in conn.execute(
            f"SELECT id, key, details FROM activity WHERE action IN ({', '.join('?' * len(ACTIONS))}) "
            "AND collection = '*' AND item = '*' ORDER BY id", list(ACTIONS)):
        if key is not None and not key.endswith(f"/{record}"):
            continue  # a copy's record chained here at another id: the ids it names are not this store's
        try:
            marks = (jsontext.loads(text) or {}).get("marks")
            first, last = marks["first"], marks["last"]
            comments = {entry[0]: (entry[1], entry[2]) for entry in marks["comments"]}
        except (UsageError, AttributeError, TypeError, KeyError, IndexError):
            continue  # lists nothing this release reads: it vouches for nothing
        if type(first) is int and type(last) is int and last < record:  # a record speaks of what came before it
            found.append(Voucher(record, first, last, comments))
    return found


def unvouched(conn: sqlite3.Connection, changes: dict[str, list[dict[str, Any]]], low: int, high: int,
              found: dict[int, Marks] | None = None) -> tuple[set[int], Failure | None]:
    """Of the marked imported comments with id in (low, high] (`found`, else read), the ones no record vouches for;
    and the first contradiction of a record, if any: a comment it lists, still here, whose marks are not the ones it
    took."""
    if found is None:
        found = first_marks(conn, changes, low, high)
    left = set(found)
    failure: Failure | None = None
    for voucher in vouchers(conn):
        for activity_id, said in voucher.comments.items():
            if not (low < activity_id <= high and voucher.first <= activity_id <= voucher.last):
                continue
            if found.get(activity_id) == said:
                left.discard(activity_id)
            elif failure is None or activity_id < failure[1]:
                now = found.get(activity_id)
                if now is None and not _imported_comment(conn, activity_id):
                    continue  # gone (pruned with its history), or never a comment: the chain speaks for it
                failure = ("modified", activity_id, (
                    f"comment {activity_id} is marked {_words(now)}, but activity {voucher.record}, the record that "
                    f"took it, says {_words(said)}: its edited_on or comment_deleted_on was changed"))
    return left, failure


def problem(conn: sqlite3.Connection, changes: dict[str, list[dict[str, Any]]]) -> Failure | None:
    """Verify's check: every imported comment's marks are the ones a chained record took."""
    high = conn.execute("SELECT coalesce(max(id), 0) FROM activity").fetchone()[0]
    found = first_marks(conn, changes, 0, high)
    left, failure = unvouched(conn, changes, 0, high, found=found)
    if failure is not None:
        return failure
    if left:
        at = min(left)
        return ("modified", at, f"comment {at} is marked {_words(found[at])}, and "
                "no chained record took that mark (no edit, no import or upgrade record lists it): its edited_on or "
                "comment_deleted_on was changed")
    return None


def _imported_comment(conn: sqlite3.Connection, activity_id: int) -> bool:
    return conn.execute("SELECT 1 FROM activity WHERE id = ? AND action = 'comment' AND key IS NOT NULL",
                        [activity_id]).fetchone() is not None


def _words(marks: Marks | None) -> str:
    edited_on, deleted_on = marks or (None, None)
    said = [f"edited on {edited_on}"] if edited_on else []
    said += [f"deleted on {deleted_on}"] if deleted_on else []
    return " and ".join(said) or "neither edited nor deleted"
