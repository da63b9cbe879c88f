"""Directus (v9 to v11) activity and revisions as audit/1 records.

SOURCE is a Directus SQLite database, or a folder of JSON exports of its tables: `directus_activity.json` and
`directus_revisions.json`, and when present `directus_comments.json`, `directus_versions.json` and
`directus_users.json` (each an array of rows, or `{"data": [...]}` as the REST API returns them).

How Directus's data becomes ours (the quirks are listed in the capture's README, fixtures/directus-11.3.5):

- Each `directus_activity` row is one activity, keyed `directus:activity:<id>` and keeping its id (into an empty
  store); `timestamp` is epoch milliseconds (or ISO text) and converts exactly. ip, user_agent and origin are kept.
- Users are UUIDs: they become the user's email when `directus_users` is there, else stay the UUID; the UUID is kept
  in `details.user_id`.
- Revisions: Directus's `delta` is a partial object and is not used when `data` is there: `data` is the full row
  after the change, and the store computes the RFC 6902 delta from the item's previous snapshot. Create revisions lack
  the primary key that later revisions carry, so it is added (the key is found from the table's DDL, or else as the
  field that equals the item in the collection's other revisions), so that the first update does not appear to add it.
- Update revisions hold JSON columns double-encoded (`"tags": "[\"a\"]"`). A string is decoded only when its column
  is JSON (declared `json` in the database, or seen as an array or object in the collection's other revisions) and it
  parses as an array or an object; any other string is left as it is.
- Deletes have no revision: they get `{"delta": []}`, so the item's last state is kept and `audit revert` restores it.
- `version_save` revisions point to `directus_versions`: they become version revisions (`revision.version` = the
  version's key, its id and name in details), each save merged onto the previous ones as Directus stages them.
  A promote is a plain `update` in Directus and stays one; when its fields are exactly a staged version's, its details
  name the version (`promoted_version`). An API revert is a plain `update` too, and stays one.
- Comments (v11: items of `directus_comments`) become one `comment` activity each, on the commented item, keyed
  `directus:comment:<uuid>`, at the time and by the user of their creation, with their current text; an edit sets
  `edited_on` and a delete sets `comment_deleted_on` (soft, as here). The create, update and delete activities on
  `directus_comments` are folded into that one record (their ids and users are in `details.edits` and
  `details.deleted`) instead of appearing as data changes of a `directus_comments` collection. Comments of
  Directus 9 and 10 (`comment` activities) come across as they are. (An edit or delete made after a comment was
  first imported is not applied by a later import yet: the store skips a key it already has.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import UsageError
from . import Rows, RowError, Trail, action_name, instant, text
from .directus_tables import (_HINT, ACTIVITY, COMMENTS, REVISIONS, USERS, VERSIONS, _Database, _Folder, _open,
                              _sort_key)


def open_trail(source: str, *, skip_invalid: bool = False) -> Trail:
    if source == "-":
        raise UsageError(f"--format directus reads a database file or a folder, not standard input: {_HINT}")
    tables = _open(Path(source).expanduser())
    reader = _Reader(tables, Rows(skip_invalid))
    reader.survey()
    return Trail(source, reader.records(), reader.rows.skipped, reader.notes)


class _Comment:
    """What the source says about one v11 comment, gathered before the pass."""

    def __init__(self) -> None:
        self.activities: list[dict[str, Any]] = []
        self.row: dict[str, Any] | None = None
        self.data: dict[str, Any] = {}  # its revisions merged, oldest first
        self.revision_data: dict[int, dict[str, Any]] = {}  # activity id -> that revision's data


class _Reader:
    def __init__(self, tables: _Database | _Folder, rows: Rows):
        self.tables = tables
        self.rows = rows
        self.notes: list[str] = []
        self.users: dict[str, str] = {}
        self.versions: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, _Comment] = {}
        self.keys: dict[str, tuple[str, bool] | None] = {}
        self.json_fields: dict[str, set[str]] = {}
        self.staged: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}

    def survey(self) -> None:
        """Users, versions and comments, and per collection its key and JSON columns (from DDL or revisions)."""
        for user in self.tables.rows(USERS):
            if user.get("id") is not None and user.get("email"):
                self.users[str(user["id"])] = user["email"]
        for version in self.tables.rows(VERSIONS):
            self.versions[str(version.get("id"))] = version
        for row in self.tables.rows(COMMENTS):
            self._comment(str(row.get("id"))).row = row
        for activity in self.tables.rows(ACTIVITY):
            if activity.get("collection") == COMMENTS and activity.get("item") is not None:
                self._comment(str(activity["item"])).activities.append(activity)
        seen_keys: dict[str, dict[str, bool]] = {}
        not_keys: dict[str, set[str]] = {}
        for revision in self.tables.rows(REVISIONS, ("activity", "id")):
            collection, item = revision.get("collection"), text(revision.get("item"))
            try:
                data = _json_value(revision.get("data"), "data")
            except RowError:
                continue  # reported in the pass
            if not isinstance(data, dict) or not isinstance(collection, str):
                continue
            self.json_fields.setdefault(collection, set()).update(
                name for name, value in data.items() if isinstance(value, (list, dict)))
            if collection == COMMENTS and item is not None:
                comment = self._comment(item)
                comment.data.update(data)
                comment.revision_data[revision.get("activity")] = data
            if revision.get("version") is None:  # the primary key: a field equal to the item wherever it is
                for name, value in data.items():
                    if isinstance(value, (int, str)) and not isinstance(value, bool) and str(value) == item:
                        ints = seen_keys.setdefault(collection, {})
                        ints[name] = ints.get(name, True) and isinstance(value, int)
                    else:
                        not_keys.setdefault(collection, set()).add(name)
        for collection in set(seen_keys) | set(self.json_fields):
            declared_key, declared_json = self.tables.schema(collection)
            self.json_fields.setdefault(collection, set()).update(declared_json)
            found = {name: is_int for name, is_int in seen_keys.get(collection, {}).items()
                     if name not in not_keys.get(collection, set())}
            if declared_key is None and len(found) == 1:
                declared_key = next(iter(found.items()))
            elif declared_key is None and "id" in found:
                declared_key = ("id", found["id"])
            self.keys[collection] = declared_key

    def _comment(self, uuid: str) -> _Comment:
        return self.comments.setdefault(uuid, _Comment())

    def records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        try:
            yield from self._records()
        finally:
            self.tables.close()

    def _records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        revisions = self.tables.rows(REVISIONS, ("activity", "id"))
        pending = next(revisions, None)
        for activity in self.tables.rows(ACTIVITY):
            own = []
            while pending is not None and _sort_key(pending.get("activity")) <= _sort_key(activity.get("id")):
                if _sort_key(pending.get("activity")) == _sort_key(activity.get("id")):
                    own.append(pending)
                pending = next(revisions, None)
            where = self.tables.where(ACTIVITY, activity)
            try:
                record = self._record(activity, own)
            except RowError as exc:
                self.rows.bad(where, str(exc))
                continue
            if record is not None:
                yield record["id"], record
        for uuid, comment in self.comments.items():  # comments whose activities are gone: at the end, new ids
            if comment.row is not None and not comment.activities:
                try:
                    record = self._comment_record(uuid, comment, None)
                except RowError as exc:
                    self.rows.bad(self.tables.where(COMMENTS, comment.row), str(exc))
                    continue
                if record is not None:
                    yield 0, record

    # one activity

    def _record(self, activity: dict[str, Any], revisions: list[dict[str, Any]]) -> dict[str, Any] | None:
        number = activity.get("id")
        if isinstance(number, str) and number.isdigit():
            number = int(number)
        if not isinstance(number, int) or isinstance(number, bool):
            raise RowError(f"id {number!r} is not an integer")
        collection, item = text(activity.get("collection")), text(activity.get("item"))
        if collection is None or item is None:
            raise RowError("collection and item are required")
        user, user_id = self._user(activity.get("user"))
        record: dict[str, Any] = {
            "id": number, "key": f"directus:activity:{number}", "action": action_name(activity.get("action")),
            "timestamp": instant(activity.get("timestamp")), "user": user, "ip": text(activity.get("ip")),
            "user_agent": text(activity.get("user_agent")), "origin": text(activity.get("origin")),
            "collection": collection, "item": item, "comment": None, "revision": None,
            "details": {"directus_activity": number, **({"user_id": user_id} if user_id else {})},
        }
        if collection == COMMENTS:
            comment = self.comments[item]
            if min(_sort_key(a.get("id")) for a in comment.activities) != _sort_key(number):
                return None  # an edit or delete: folded into the comment's record
            return self._comment_record(item, comment, record)
        if record["action"] == "comment":  # Directus 9 and 10
            record["comment"] = text(activity.get("comment"))
            if record["comment"] is None:
                raise RowError("a comment activity without its comment text")
            return record
        record["revision"] = self._revision(record, revisions)
        return record

    def _revision(self, record: dict[str, Any], revisions: list[dict[str, Any]]) -> dict[str, Any] | None:
        collection, item, details = record["collection"], record["item"], record["details"]
        if record["action"] == "delete":
            return {"delta": []}  # keeps the last state, so that `audit revert` can restore it
        if not revisions:
            return None
        revision = next((r for r in revisions if r.get("collection") == collection and text(r.get("item")) == item),
                        revisions[0])
        details["directus_revision"] = revision.get("id")
        if len(revisions) > 1:
            details["directus_revisions"] = [r.get("id") for r in revisions]
        data = self._decode(collection, _json_value(revision.get("data"), "revision data"))
        delta = self._decode(collection, _json_value(revision.get("delta"), "revision delta"))
        if revision.get("version") is not None:
            return self._version_save(record, str(revision["version"]), data if data is not None else delta)
        if isinstance(delta, dict) and record["action"] == "update":
            versions = self.staged.get((collection, item), {})
            promoted = next((key for key, staged in versions.items() if staged == delta), None)
            if promoted is not None:
                del versions[promoted]
                details["promoted_version"] = promoted
        if data is not None:
            if record["action"] == "create" and isinstance(data, dict):
                data = self._with_key(collection, item, data)
            return {"data": data}
        if isinstance(delta, dict):
            return {"delta": _merge_patch(delta)}
        return None

    def _version_save(self, record: dict[str, Any], version_id: str, saved: Any) -> dict[str, Any]:
        if not isinstance(saved, dict):
            raise RowError("a version save whose revision holds no object of staged fields")
        version = self.versions.get(version_id, {})
        key = text(version.get("key")) or version_id
        record["details"].update({"version": key, "version_id": version_id,
                                  **({"version_name": version["name"]} if version.get("name") else {})})
        staged = self.staged.setdefault((record["collection"], record["item"]), {}).setdefault(key, {})
        staged.update(saved)
        return {"delta": _merge_patch(saved), "version": key}  # saves accumulate, as Directus stages them

    # values

    def _user(self, value: Any) -> tuple[str | None, str | None]:
        """(what the store shows: email or UUID, the UUID for details)."""
        if isinstance(value, dict):  # an API export with the user expanded
            uuid = text(value.get("id"))
            return (self.users.get(uuid or "") or text(value.get("email")) or uuid), uuid
        uuid = text(value)
        if uuid is None:
            return None, None
        return self.users.get(uuid, uuid), uuid

    def _decode(self, collection: str, data: Any) -> Any:
        """Undo the double encoding of JSON columns (see the module's docstring for when a string is decoded)."""
        fields = self.json_fields.get(collection)
        if not isinstance(data, dict) or not fields:
            return data
        out = {}
        for name, value in data.items():
            if name in fields and isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
                try:
                    decoded = json.loads(value)
                except ValueError:
                    decoded = None
                if isinstance(decoded, (list, dict)):
                    value = decoded
            out[name] = value
        return out

    def _with_key(self, collection: str, item: str, data: dict[str, Any]) -> dict[str, Any]:
        key = self.keys.get(collection)
        if key is None or key[0] in data:
            return data
        name, is_int = key
        if is_int:
            if not item.lstrip("-").isdigit():
                return data
            return {name: int(item), **data}
        return {name: item, **data}

    # comments

    def _comment_record(self, uuid: str, comment: _Comment, record: dict[str, Any] | None) -> dict[str, Any] | None:
        row = comment.row or {}
        collection = text(row.get("collection")) or text(comment.data.get("collection"))
        item = text(row.get("item")) if row.get("item") is not None else text(comment.data.get("item"))
        body = text(row.get("comment")) or text(comment.data.get("comment"))
        if collection is None or item is None or body is None:
            self.notes.append(f"directus comment {uuid}: its text or item is no longer in the source: not imported")
            return None
        by_id = sorted(comment.activities, key=lambda a: _sort_key(a.get("id")))
        creation = next((a for a in by_id if a.get("action") == "create"), None)
        if record is None or creation is None:  # no creation activity left: the comment row's own date and author
            if not row:
                raise RowError(f"comment {uuid} has no create activity and no row in {COMMENTS}")
            user, user_id = self._user(row.get("user_created"))
            base = record or {"id": None, "ip": None, "user_agent": None, "origin": None, "revision": None,
                              "details": {}}
            record = {**base, "timestamp": instant(row.get("date_created"), what="date_created"), "user": user,
                      "details": {**base["details"], **({"user_id": user_id} if user_id else {})}}
        details = {**record["details"], "directus_comment": uuid}
        edited_on = deleted_on = None
        edits = [a for a in by_id if a.get("action") == "update"]
        if edits:
            details["edits"] = [self._who(a) for a in edits]
        if edits or (_is_epoch(row.get("date_updated")) and row.get("date_updated") != row.get("date_created")):
            if _is_epoch(row.get("date_updated")):
                edited_on = instant(row["date_updated"], what="date_updated")
            elif edits and comment.revision_data.get(edits[-1].get("id"), {}).get("date_updated"):
                edited_on = instant(comment.revision_data[edits[-1].get("id")]["date_updated"], what="date_updated")
            elif edits:
                edited_on = instant(edits[-1].get("timestamp"))
        deletes = [a for a in by_id if a.get("action") == "delete"]
        if deletes:
            details["deleted"] = self._who(deletes[-1])
            deleted_on = details["deleted"]["timestamp"]
        return {**record, "key": f"directus:comment:{uuid}", "action": "comment", "collection": collection,
                "item": item, "comment": body, "edited_on": edited_on, "comment_deleted_on": deleted_on,
                "revision": None, "details": details}

    def _who(self, activity: dict[str, Any]) -> dict[str, Any]:
        user, user_id = self._user(activity.get("user"))
        return {"directus_activity": activity.get("id"), "user": user, "user_id": user_id,
                "timestamp": instant(activity.get("timestamp"))}


def _json_value(value: Any, what: str) -> Any:
    """A JSON column as SQLite holds it (text) or as a JSON export may (already parsed)."""
    if isinstance(value, (bytes, str)):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise RowError(f"{what} is not valid JSON ({exc})") from None
    return value


def _merge_patch(fields: dict[str, Any]) -> list[dict[str, Any]]:
    """Directus's partial object (top-level fields replace) as RFC 6902 `add` operations, which do the same."""
    return [{"op": "add", "path": "/" + name.replace("~", "~0").replace("/", "~1"), "value": value}
            for name, value in fields.items()]


def _is_epoch(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, str) and value.isdigit())
