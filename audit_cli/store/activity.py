"""Recording activity and reading it back: the log, one activity, counts, the store's own facts."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Any

from .. import jsontext, query, timeparse
from ..errors import NotFound, UsageError
from ..models import ACTION_PATTERN, ACTIVITY_FIELDS, COMMENT_CHANGES, DATA_ACTIONS, Activity, LogQuery, Page, Recorded
from .connection import SCHEMA_VERSION
from .policy import SET_ACTIONS
from .recorder import FLUSH_ROWS, HEAD_AND_NEXT, NewRevision

_COLUMNS = ", ".join(ACTIVITY_FIELDS)
# Recorded only through their own commands, which know what to write.
_OWN_COMMAND = {"revert": "audit revert", "promote": "audit version promote", "version-save": "audit version save",
                "prune": "audit prune"}
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


def check_action(action: str) -> str:
    if not isinstance(action, str) or not ACTION_PATTERN.fullmatch(action):
        raise UsageError(
            f"invalid action {action!r}: use a lowercase slug ([a-z][a-z0-9._-]*), such as update or entry.update",
            params=("action",), value=action)
    return action


def check_request(activity: Activity, *, data: Any = None, patch: Any = None, replace: bool = False) -> None:
    """Refuse a record request that can never succeed, before anything is opened or written; normalise its time
    (a datetime or any text `timeparse` reads) to the stored form."""
    check_action(activity.action)
    for name in ("collection", "item"):
        if not isinstance(getattr(activity, name), str):
            raise UsageError(f"{{{name}}} must be text, not {type(getattr(activity, name)).__name__}",
                             params=(name,), value=getattr(activity, name))
    if activity.action in _OWN_COMMAND:
        raise UsageError(f"{activity.action} activities are recorded by `{_OWN_COMMAND[activity.action]}`",
                         params=("action",), value=activity.action)
    if data is not None and patch is not None:
        raise UsageError("give {data} or {patch}, not both", params=("data", "patch"))
    if replace and data is None:
        raise UsageError("{replace} goes with {data} (the whole new state)", params=("replace", "data"))
    if activity.action not in DATA_ACTIONS and (data is not None or patch is not None):
        raise UsageError(
            f"{{data}} and {{patch}} go with the data actions ({', '.join(DATA_ACTIONS[:4])}); "
            "put other context in {details}", params=("data", "patch", "details"))
    if data is not None and not isinstance(data, dict):
        raise UsageError(f"{{data}} must be a JSON object such as {jsontext.DATA_EXAMPLE}, not "
                         f"{jsontext.type_name(data)}", params=("data",), value=data)
    if data is not None:
        jsontext.check_value(data, param="data")
    if activity.action == "comment" and not activity.comment:
        raise UsageError("a comment activity needs its text: {comment} TEXT (or use `audit comment add`)",
                         params=("comment",))
    if activity.action in ("create", "delete") and patch is not None:
        raise UsageError(f"{{patch}} goes with update and soft-delete, not {activity.action}", params=("patch",))
    if activity.action == "delete" and data is not None:
        raise UsageError("{data} goes with create, update and soft-delete, not delete: a delete keeps the item's "
                         "last state as it is (record an update first to change it)", params=("data",))
    if patch is not None:
        from ..patches import check_patch

        check_patch(patch)
    if activity.details is not None:
        jsontext.check_value(activity.details, param="details")
    activity.timestamp = timeparse.instant(activity.timestamp) if activity.timestamp else ""


class ActivityOps:
    conn: sqlite3.Connection

    # writing

    def record(
        self,
        activity: Activity,
        *,
        data: dict[str, Any] | None = None,
        replace: bool = False,
        patch: list[dict[str, Any]] | None = None,
    ) -> Recorded:
        """Record one activity and, for data actions, the item's revision, in one transaction (in a batch, in the
        batch's: nothing to undo when it fails, since it writes nothing until it has made its rows).

        `data` is merged shallowly onto the current state (or is the whole state with `replace`); `patch` is an RFC
        6902 patch applied to the current state instead.
        """
        check_request(activity, data=data, patch=patch, replace=replace)
        if not self._deferring:
            with self._writing():
                return self._record_one(activity, data=data, replace=replace, patch=patch)
        done = self._record_one(activity, data=data, replace=replace, patch=patch)
        if activity.action in SET_ACTIONS:
            self.settle()  # it may change the policy, which is read from the store
        elif self._recorder.pending >= FLUSH_ROWS:
            self._recorder.flush()
        return done

    def _record_one(self, activity: Activity, *, data: Any, replace: bool, patch: Any) -> Recorded:
        scopes = self._recorder.scopes
        scope = scopes.get(activity.collection, self)
        if scope is self:  # not asked yet in this batch (a dict of every scope, asked once a record, costs more)
            scope = scopes[activity.collection] = self.scope(activity.collection) or {}
        track = scope.get("track", "all")
        if track == "none":
            return Recorded({**activity.to_dict(), "id": None},
                            note=f"{activity.collection} is scoped to track nothing: nothing was kept")
        if track == "activity" and activity.action in DATA_ACTIONS:
            return Recorded(self._insert_activity(activity, defer=self._deferring),
                            note=f"{activity.collection} is scoped to track activity only: no revision kept")
        if activity.action in DATA_ACTIONS:
            return self._record_change(activity, data=data, replace=replace, patch=patch, scope=scope)
        return Recorded(self._insert_activity(activity, defer=self._deferring))

    # reading

    def get_activity(self, activity_id: int) -> dict[str, Any]:
        row = self.conn.execute(f"SELECT {_COLUMNS} FROM activity WHERE id = ?", [activity_id]).fetchone()
        if row is None:
            raise NotFound(f"no activity with id {activity_id}: see `audit log` for ids")
        return row_to_dict(row)

    def log(self, q: LogQuery, *, meta: bool = False, fields: list[str] | None = None) -> Page:
        """A page of activity matching `q`, in `q.sort` order, with total and filtered counts when `meta`."""
        clause, params = query.where(q)
        sql = f"SELECT {_COLUMNS} FROM activity WHERE {clause} ORDER BY {query.order_by(q.sort)} LIMIT ? OFFSET ?"
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
            rows = self.conn.execute(f"SELECT {_COLUMNS} FROM activity WHERE {clause} ORDER BY id LIMIT 1000",
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
        memory = str(self.path) == ":memory:"
        size = sum(os.path.getsize(p) for p in (self.path, f"{self.path}-wal") if not memory and os.path.exists(p))
        mode = 0o600 if memory else os.stat(self.path).st_mode & 0o777  # memory: this process's alone
        return {
            "path": str(self.path),
            "size_bytes": size,
            "schema_version": SCHEMA_VERSION,
            "activities": activities,
            "revisions": one("SELECT count(*) FROM revisions")[0],
            "items": one("SELECT count(*) FROM (SELECT DISTINCT collection, item FROM revisions)")[0],
            "versions": one("SELECT count(*) FROM versions")[0],
            "first_activity": first,
            "last_activity": last,
            "last_id": one("SELECT max(id) FROM activity")[0],
            "chain_head": self._chain_head(),
            "chain_keyed": self._setting("chain_key_check") is not None,
            "store_id": self.store_id(),
            "mode": oct(mode),
            "readable_by_others": bool(mode & 0o044),
        }
