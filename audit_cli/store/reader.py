"""Reading the activity log back: a page of it, one activity, what is recorded as it comes, counts, and the store's
own facts. A part of the store (store.reader), whose public methods the store answers (AuditStore.PARTS)."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .. import jsontext, query
from ..errors import NotFound, UsageError
from ..models import ACTIVITY_FIELDS, COMMENT_CHANGES, LogQuery, Page
from .connection import SCHEMA_VERSION

if TYPE_CHECKING:
    from . import AuditStore

COLUMNS = ", ".join(ACTIVITY_FIELDS)
_COMMENTS = ("comment", *COMMENT_CHANGES)  # the actions listings may hide
# Time groups are labelled as their stored text begins (2026-11-20T10:00 for an hour), and weeks as ISO 8601 does
# (2026-W47, from iso_week() on the connection); an item is its collection and id, kept apart as a JSON pair.
STATS_GROUPS = {"action": "action", "user": "user", "collection": "collection", "item": "json_array(collection, item)",
                "hour": "substr(timestamp, 1, 13) || ':00'", "day": "substr(timestamp, 1, 10)",
                "week": "iso_week(timestamp)", "month": "substr(timestamp, 1, 7)"}
TIME_GROUPS = ("hour", "day", "week", "month")


def row_to_dict(row: sqlite3.Row | tuple, fields: tuple[str, ...] = ACTIVITY_FIELDS) -> dict[str, Any]:
    record = dict(zip(fields, row))
    if record.get("details") is not None:
        record["details"] = jsontext.loads(record["details"])
    return record


class Reader:
    """The activity log as commands read it. Uses of the store: its connection and path, and its identity and head
    (`store_id`, `_chain_head`, `_setting`) for `info`; nothing of the other parts."""

    def __init__(self, store: AuditStore):
        self.store = store
        self.conn = store.conn


    def get_activity(self, activity_id: int) -> dict[str, Any]:
        row = self.conn.execute(f"SELECT {COLUMNS} FROM activity WHERE id = ?", [activity_id]).fetchone()
        if row is None:
            raise NotFound(f"no activity with id {activity_id}: see `audit log` for ids")
        return row_to_dict(row)

    def log(self, q: LogQuery, *, meta: bool = False, fields: list[str] | None = None) -> Page:
        """A page of activity matching `q`, in `q.sort` order, with total and filtered counts when `meta`."""
        clause, params = query.where(q)
        sql = f"SELECT {COLUMNS} FROM activity WHERE {clause} ORDER BY {query.order_by(q.sort)} LIMIT ? OFFSET ?"
        # One row past the limit tells whether the page is all there is, without counting every match.
        limit = -1 if q.limit is None else q.limit + 1
        rows = [row_to_dict(row) for row in self.conn.execute(sql, [*params, limit, q.offset])]
        more = q.limit is not None and len(rows) > q.limit
        if more:
            del rows[q.limit:]
        if fields:
            rows = [{name: row[name] for name in fields} for row in rows]
        page = Page(rows, more=more)
        if meta:
            page.total_count = self.conn.execute("SELECT count(*) FROM activity").fetchone()[0]
        if meta or more:
            page.filter_count = self.conn.execute(f"SELECT count(*) FROM activity WHERE {clause}", params).fetchone()[0]
        return page

    def follow(self, q: LogQuery, *, poll: float = 0.5, stop: Callable[[], bool] | None = None
               ) -> Iterator[dict[str, Any]]:
        """The activity matching `q` recorded after `q.after_id` (by anyone), as it comes, until `stop()` or the
        caller stops iterating.

        Each look is one short read (fetched whole, so no read transaction outlives it) and nothing is locked in
        between: writers go on, and the WAL can be checkpointed while this waits."""
        after = q.after_id if q.after_id is not None else self.last_id()
        while stop is None or not stop():
            # Up to the newest id first, then the rows: one recorded in between waits for the next look.
            newest = self.last_id()
            look = dataclasses.replace(q, after_id=after, max_id=newest, sort=["id"], limit=None, offset=0)
            clause, params = query.where(look)
            rows = self.conn.execute(f"SELECT {COLUMNS} FROM activity WHERE {clause} ORDER BY id LIMIT 1000",
                                     params).fetchall()
            for row in rows:
                yield row_to_dict(row)
            if len(rows) == 1000:
                after = rows[-1][0]
                continue
            after = newest  # past the rows that did not match too, so that they are not read again
            time.sleep(poll)

    def id_at(self, q: LogQuery, n: int) -> int | None:
        """The id of the `n`th activity (from 1) that `q` selects, in id order; None when fewer match."""
        clause, params = query.where(q)
        row = self.conn.execute(f"SELECT id FROM activity WHERE {clause} ORDER BY id LIMIT 1 OFFSET ?",
                                [*params, n - 1]).fetchone()
        return row[0] if row else None

    def last_id(self) -> int:
        """The newest activity's id, 0 in an empty store."""
        return self.conn.execute("SELECT coalesce(max(id), 0) FROM activity").fetchone()[0]

    def top_id(self) -> int:
        """The highest id this store ever gave, pruned or not (AUTOINCREMENT keeps it in sqlite_sequence)."""
        return self.conn.execute(
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'activity'), 0), "
            "coalesce((SELECT max(id) FROM activity), 0))").fetchone()[0]

    def stats(self, q: LogQuery, *, by: str) -> list[dict[str, Any]]:
        """Counts of matching activity grouped by action, user, collection, item (collection and item), hour, day,
        week or month; largest first, and times in order."""
        if by not in STATS_GROUPS:
            raise UsageError(f"invalid {{by}} {by!r}: use one of {', '.join(STATS_GROUPS)}", params=("by",), value=by)
        clause, params = query.where(q)
        every, every_params = query.where(dataclasses.replace(q, include_deleted=True, comment_changes=True))
        # The alias must not be a column name, or GROUP BY would pick the column.
        sql = "SELECT {} AS grp, count(*) AS n FROM {} WHERE {} GROUP BY grp"
        group = STATS_GROUPS[by]
        counts = dict(self.conn.execute(sql.format(group, "activity", every), every_params).fetchall())
        if clause != every:
            # Listings hide deleted comments and comment-edit records by columns no covering index holds, so
            # counting with them left out reads every matching row (0.2-0.6 s on 1M). Counting everything on a
            # covering index (35-45 ms), then taking away the few hidden rows found by action, does not.
            hidden = f"({every}) AND action IN ({', '.join('?' * len(_COMMENTS))}) AND NOT ({clause})"
            for grp, n in self.conn.execute(sql.format(group, "activity INDEXED BY activity_action", hidden),
                                            [*every_params, *_COMMENTS, *params]).fetchall():
                counts[grp] -= n
        if by == "item":  # ordered by collection, then item, not by the JSON text's quotes
            counts = {tuple(jsontext.loads(group)): n for group, n in counts.items()}
        # SQLite's order: NULL first, then by value; days in order, the rest largest first.
        order = (lambda pair: (pair[0] is not None, pair[0] or "")) if by in TIME_GROUPS else \
            (lambda pair: (-pair[1], pair[0] is not None, pair[0] or ""))
        ranked = [(group, count) for group, count in sorted(counts.items(), key=order) if count]
        if by == "item":
            return [dict(zip(("collection", "item"), group), count=count) for group, count in ranked]
        return [{by: group, "count": count} for group, count in ranked]

    def info(self) -> dict[str, Any]:
        """The store's path, size, schema version and counts."""
        one = lambda sql: self.conn.execute(sql).fetchone()  # noqa: E731
        first, last, activities = one("SELECT min(timestamp), max(timestamp), count(*) FROM activity")
        memory = str(self.store.path) == ":memory:"
        size = sum(os.path.getsize(p) for p in (self.store.path, f"{self.store.path}-wal") if not memory and os.path.exists(p))
        mode = 0o600 if memory else os.stat(self.store.path).st_mode & 0o777  # memory: this process's alone
        return {
            "path": str(self.store.path),
            "size_bytes": size,
            "schema_version": SCHEMA_VERSION,
            "activities": activities,
            "revisions": one("SELECT count(*) FROM revisions")[0],
            "items": one("SELECT count(*) FROM (SELECT DISTINCT collection, item FROM revisions)")[0],
            "versions": one("SELECT count(*) FROM versions")[0],
            "first_activity": first,
            "last_activity": last,
            "last_id": one("SELECT max(id) FROM activity")[0],
            "chain_head": self.store._chain_head(),
            "chain_keyed": self.store._setting("chain_key_check") is not None,
            "store_id": self.store.store_id(),
            "mode": oct(mode),
            "readable_by_others": bool(mode & 0o044),
        }
