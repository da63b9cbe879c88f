"""Detached versions: staged changes to an item, kept apart from its main line until promoted."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .. import jsontext, patches
from ..errors import Conflict, NotFound, UsageError
from ..models import Activity, Recorded, Revision
from .policy import scoped_change
from .recorder import NewRevision

if TYPE_CHECKING:
    from . import AuditStore

KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_COLUMNS = "id, collection, item, key, name, base_activity, staged, created_at, created_by"
_STATE = ("name", "base_activity", "staged", "created_at", "created_by")
# The activities that change the versions table, as the operations below record them, and a Directus save
# (adapters/directus.py keeps Directus's action names).
VERSION_ACTIONS = ("version-create", "version-save", "promote", "version-delete", "version_save")
_REPLAYED = f"""SELECT a.id, a.action, a.user, a.timestamp, a.collection, a.item, a.details, r.version, r.base, r.data
    FROM activity a LEFT JOIN revisions r ON r.activity = a.id
    WHERE a.id > ? AND a.action IN {VERSION_ACTIONS!r} ORDER BY a.id"""
_HEAD_BEFORE = """SELECT max(activity) FROM revisions WHERE collection = ? AND item = ? AND version IS NULL
    AND activity < ?"""


class Versions:
    """The versions table and the operations on it, each recorded as a chained activity. The table is what those
    activities make of it (`replay`): an import brings it up to date from them, and verify holds it to them.

    Uses of the store: its connection, `_writing()` and `_insert_activity()` (each operation's chained record),
    `_head()` (an item's main line: store/revisions.py) and `snapshots` (a save's staged fields, replayed). Of the
    other parts: `policies.scope()` (a promote's revision obeys its collection's scope) and `prunes.latest_prune()`
    (a pruned chain's versions are replayed from what its prune restated)."""

    def __init__(self, store: AuditStore):
        self.store = store
        self.conn = store.conn

    def _version(self, collection: str, item: str, key: str) -> dict[str, Any]:
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM versions WHERE collection = ? AND item = ? AND key = ?", [collection, item, key]
        ).fetchone()
        if row is None:
            raise NotFound(f"{collection} {item} has no version {key!r}: see `audit version list {collection} {item}`")
        return _version_dict(row)

    def _live_head(self, collection: str, item: str):
        head = self.store._head(collection, item)
        if head is None:
            raise NotFound(f"{collection} {item} has no recorded state: versions start from an existing item")
        if head.deleted:
            raise Conflict(f"{collection} {item} was deleted in activity {head.activity}: restore it first")
        return head

    def _note(self, activity: Activity, action: str, collection: str, item: str, details: dict[str, Any],
              revision: NewRevision | None = None):
        activity.action, activity.collection, activity.item = action, collection, item
        activity.details = {**(activity.details or {}), **details}
        return self.store._insert_activity(activity, revision=revision)

    def create_version(self, collection: str, item: str, key: str, *, name: str | None, activity: Activity):
        """Start a version of an item from its current main state."""
        if not KEY_PATTERN.fullmatch(key):
            raise UsageError(f"invalid version key {key!r}: use letters, digits, '.', '_' or '-', such as draft")
        with self.store._writing():
            head = self._live_head(collection, item)
            exists = self.conn.execute(
                "SELECT 1 FROM versions WHERE collection = ? AND item = ? AND key = ?", [collection, item, key]
            ).fetchone()
            if exists:
                raise Conflict(f"{collection} {item} already has a version {key!r}: save into it or delete it first")
            saved = self._note(activity, "version-create", collection, item, {"version": key, "name": name})
            self.conn.execute(
                "INSERT INTO versions (collection, item, key, name, base_activity, staged, created_at, created_by) "
                "VALUES (?, ?, ?, ?, ?, '{}', ?, ?)",
                [collection, item, key, name, head.activity, saved["timestamp"], saved["user"]],
            )
            return self._version(collection, item, key)

    def save_version(self, collection: str, item: str, key: str, data: dict[str, Any], *, activity: Activity):
        """Stage a partial object into the version; saves accumulate. Recorded as `version-save`."""
        with self.store._writing():
            version = self._version(collection, item, key)
            before = version["staged"]
            patches.check_document(data, what=f"the data saved into version {key!r}")
            after = patches.merge(before, data)
            patches.check_depth(after, what=f"version {key!r}")
            delta = patches.diff(before, after)
            last = self.conn.execute(  # pack against the version's own last save, as main packs against main
                "SELECT base FROM revisions WHERE collection = ? AND item = ? AND version = ? "
                "ORDER BY activity DESC LIMIT 1", [collection, item, key]).fetchone()
            revision = NewRevision(after, delta, last[0] if last else None, key) if delta else None
            saved = self._note(activity, "version-save", collection, item, {"version": key}, revision)
            if not delta:
                return Recorded(saved, note=f"version {key!r} already holds these values: no revision recorded")
            self.conn.execute("UPDATE versions SET staged = ? WHERE id = ?", [jsontext.dumps(after), version["id"]])
            return Recorded(saved, Revision(saved["id"], collection, item, after, delta, "version-save",
                                            saved["user"], saved["timestamp"], version=key))

    def list_versions(self, collection: str | None = None, item: str | None = None) -> list[dict[str, Any]]:
        sql, params = f"SELECT {_COLUMNS} FROM versions", []
        if collection is not None:
            sql, params = sql + " WHERE collection = ?", [collection]
            if item is not None:
                sql, params = sql + " AND item = ?", params + [item]
        rows = [_version_dict(row) for row in self.conn.execute(sql + " ORDER BY collection, item, key", params)]
        head_of = self.store._head
        for row in rows:
            head = head_of(row["collection"], row["item"])
            row["outdated"] = head is None or head.activity != row["base_activity"]
            row["fields"] = sorted(row.pop("staged"))
        return rows

    def compare_version(self, collection: str, item: str, key: str) -> dict[str, Any]:
        """Main as it is, the staged fields, the result of promoting them, and the patch between main and result."""
        version = self._version(collection, item, key)
        head = self._live_head(collection, item)
        result = patches.merge(head.data, version["staged"])
        return {"collection": collection, "item": item, "key": key, "outdated": head.activity != version["base_activity"],
                "main": head.data, "staged": version["staged"], "result": result,
                "patch": patches.diff(head.data, result)}

    def promote_version(
        self, collection: str, item: str, key: str, *, fields: list[str] | None, force: bool, activity: Activity
    ) -> Recorded:
        """Merge the staged fields (all, or `fields`) onto main as a `promote` activity with its revision.

        Refuses when main has moved since the version was made, unless `force`. A version fully promoted is removed;
        one promoted in part keeps the fields not yet promoted, now based on the new main.
        """
        with self.store._writing():
            version = self._version(collection, item, key)
            head = self._live_head(collection, item)
            if head.activity != version["base_activity"] and not force:
                raise Conflict(
                    f"main of {collection} {item} changed since version {key!r} was made (activity "
                    f"{version['base_activity']} -> {head.activity}): compare it, then promote with {{force}}",
                    params=("force",))
            staged = version["staged"]
            if fields:
                unknown = [name for name in fields if name not in staged]
                if unknown:
                    raise UsageError(f"version {key!r} stages no {', '.join(unknown)}: {{fields}} takes "
                                     f"{', '.join(staged) or 'nothing yet'}", params=("fields",), value=unknown)
                staged = {name: staged[name] for name in fields}
            # Main's new revision obeys the collection's scope, as every other revision of main does, and its delta
            # holds only what the promote changed.
            scope = self.store.policies.scope(collection)
            after, delta, _ = scoped_change(head.data, patches.merge(head.data, staged), scope)
            saved = self._note(activity, "promote", collection, item, {"version": key, "fields": sorted(staged)},
                               NewRevision(after, delta, head.base) if delta else None)
            revision = None
            if delta:
                revision = Revision(saved["id"], collection, item, after, delta, "promote", saved["user"],
                                    saved["timestamp"])
            remaining = {k: v for k, v in version["staged"].items() if k not in staged}
            if remaining:
                self.conn.execute("UPDATE versions SET staged = ?, base_activity = ? WHERE id = ?",
                                  [jsontext.dumps(remaining), saved["id"] if delta else head.activity, version["id"]])
            else:
                self.conn.execute("DELETE FROM versions WHERE id = ?", [version["id"]])
            note = None if delta else "main already held the staged values: no revision recorded"
            return Recorded(saved, revision, note)

    def delete_version(self, collection: str, item: str, key: str, *, activity: Activity) -> dict[str, Any]:
        with self.store._writing():
            version = self._version(collection, item, key)
            self.conn.execute("DELETE FROM versions WHERE id = ?", [version["id"]])
            return self._note(activity, "version-delete", collection, item, {"version": key})

    def state(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        """The versions table as replay() keeps it: (collection, item, key) -> the row's other columns but its id."""
        return {(row[1], row[2], row[3]): dict(zip(_STATE, row[4:])) for row in self.conn.execute(
            f"SELECT {_COLUMNS} FROM versions")}

    def replayed(self, after_id: int, state: dict) -> dict[tuple[str, str, str], dict[str, Any]]:
        """`state` as the version activities after `after_id` leave it, in id order (replay())."""
        rows = self.conn.execute(_REPLAYED, [after_id]).fetchall()

        def head_before(collection: str, item: str, activity_id: int) -> int | None:
            return self.conn.execute(_HEAD_BEFORE, [collection, item, activity_id]).fetchone()[0]

        text = self.store.snapshots.text
        return replay(rows, state, head_before, lambda base, data: text(base, data).decode())

    def replay_after(self, after_id: int) -> None:
        """Bring the versions table up to date with the version activities after `after_id` (an import's).

        A trail holds each version's whole life (its create, each save's snapshot of the staged fields, a promote and
        the fields it took, a delete), so a copy of a store can go on with its versions."""
        from . import derived

        before = self.state()
        start = dict(before)
        latest = self.store.prunes.latest_prune()
        restated = derived.restated_versions(latest) if latest is not None and latest[0] > after_id else None
        if restated is not None:
            # A pruned store's chain, imported as it was: its prune restated the table, which what it removed (a
            # version's base revision) could not make again. Go on from there, as verify does.
            after_id, start = restated
        after = self.replayed(after_id, start)
        for where in before.keys() - after.keys():
            self.conn.execute("DELETE FROM versions WHERE collection = ? AND item = ? AND key = ?", where)
        for where, row in after.items():
            if before.get(where) == row:
                continue
            values = [row[name] for name in _STATE]
            if where in before and before[where]["created_at"] == row["created_at"]:
                self.conn.execute(f"UPDATE versions SET {', '.join(f'{n} = ?' for n in _STATE)} "
                                  "WHERE collection = ? AND item = ? AND key = ?", [*values, *where])
            else:  # made anew (a create replayed over an old one): a new row, as the operations above make it
                self.conn.execute("DELETE FROM versions WHERE collection = ? AND item = ? AND key = ?", where)
                self.conn.execute(f"INSERT INTO versions (collection, item, key, {', '.join(_STATE)}) "
                                  f"VALUES (?, ?, ?, {', '.join('?' * len(_STATE))})", [*where, *values])


def replay(rows: list[tuple], state: dict, head_before: Any, unpack: Any) -> dict[tuple[str, str, str], dict]:
    """Versions as the operations above leave them after these version activities (id, action, user, timestamp,
    collection, item, details text, revision version, base, data), in id order, starting from `state`.

    A save of a version `state` does not hold (its create filtered out or pruned, or a Directus trail, whose
    versions are created outside the activity log) starts it from that save. The one implementation of what
    version activities do to the table: an import applies it, and verify holds the table to it."""
    state = dict(state)
    for activity_id, action, user, timestamp, collection, item, details_text, version, base, data in rows:
        details = jsontext.loads(details_text) if details_text else None
        details = details if isinstance(details, dict) else {}
        key = version if version is not None else details.get("version")
        staged = None
        if action in ("version-save", "version_save") and version is not None and data is not None:
            staged = jsontext.loads(unpack(base, data))
        if not isinstance(key, str) or (staged is not None and not isinstance(staged, dict)):
            continue  # not a version as the operations above keep one (a hand-made record)
        where = (collection, item, key)
        row = state.get(where)
        if action == "version-create" or (staged is not None and row is None):
            name = details.get("name" if action == "version-create" else "version_name")
            row = state[where] = {"name": name if isinstance(name, str) else None,
                                  "base_activity": head_before(collection, item, activity_id),
                                  "staged": "{}", "created_at": timestamp, "created_by": user}
        if row is None:
            continue
        if staged is not None:
            state[where] = {**row, "staged": jsontext.dumps(staged)}
        elif action == "promote":
            fields = details.get("fields")
            taken = {name for name in fields if isinstance(name, str)} if isinstance(fields, list) else set()
            remaining = {k: v for k, v in jsontext.loads(row["staged"]).items() if k not in taken}
            if remaining:
                state[where] = {**row, "staged": jsontext.dumps(remaining), "base_activity":
                                activity_id if data is not None else head_before(collection, item, activity_id)}
            else:
                del state[where]
        elif action == "version-delete":
            del state[where]
    return state


def _version_dict(row: tuple) -> dict[str, Any]:
    record = dict(zip(_COLUMNS.split(", "), row))
    record["staged"] = jsontext.loads(record["staged"])
    return record
