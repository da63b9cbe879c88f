"""Strapi audit-log exports (CSV or JSON) as audit/1 records.

An export has the columns `id, action, date, user_id, user_email, user_display_name, origin, payload` (CSV with a
header row, `payload` as JSON text; or JSON: an array of such objects, or one object per line). Rows are imported in
time order (`date`, then `id`), whatever the file's order: Strapi lists newest first.

- Each row is one activity keyed `strapi:<id>` (keeping the id, into an empty store); the action keeps Strapi's name
  (`entry.update`, `admin.auth.success`...), lowercased; `date` is the time; the user is `user_email` (or `user_id`
  when there is no email), with `user_id` and `user_display_name` in details.
- Entry events (`entry.*`, payload `{model, uid, entry: {id, ...}}`): the collection is `model` (or the last part of
  `uid`: `api::article.article` is `article`) and the item is `entry.id`. `entry.create`, `entry.update` and
  `entry.delete` carry a revision whose data is the entry without Strapi's bookkeeping fields (createdAt, updatedAt,
  publishedAt, createdBy, updatedBy: they change on every save, and publication is its own activity), which go to
  `details.entry_meta`; the delete's data is the entry as it was deleted, so its last state is kept. `entry.publish`
  and `entry.unpublish` are activities without a revision, like our own publish and unpublish.
- Other events name what they act on where the payload says it: `user.*`, `admin.auth.success` and `admin.logout`
  are on `admin::user` (item: the payload's user id, else the acting user's), `role.*` on `admin::role`, `media.*` on
  `plugin::upload.file`, `media-folder.*` on `plugin::upload.folder`, `permission.*` on `admin::permission`,
  `content-type.*` and `component.*` on `content-types` and `components` (item: their uid); anything else is on
  `strapi`, item `-`. Their payload is kept in details.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import AuditError
from . import Rows, RowError, Trail, action_name, instant, text

COLUMNS = ("id", "action", "date", "user_id", "user_email", "user_display_name", "origin", "payload")
BOOKKEEPING = ("createdAt", "updatedAt", "publishedAt", "createdBy", "updatedBy")
_DATA_EVENTS = ("entry.create", "entry.update", "entry.delete")
# event prefix -> (collection, the payload key that holds the object acted on)
_OBJECTS = {
    "admin": ("admin::user", "user"),
    "user": ("admin::user", "user"),
    "role": ("admin::role", "role"),
    "media": ("plugin::upload.file", "media"),
    "media-folder": ("plugin::upload.folder", "folder"),
    "permission": ("admin::permission", "permission"),
    "content-type": ("content-types", "contentType"),
    "component": ("components", "component"),
}


def open_trail(source: str, *, skip_invalid: bool = False) -> Trail:
    label = "<stdin>" if source == "-" else source
    body = _read(source)
    try:
        content = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AuditError(f"{label} is not UTF-8 text (byte {exc.start}): give a Strapi audit-log export, CSV or JSON") from None
    suffix = Path(source).suffix.lower()
    as_json = suffix in (".json", ".jsonl", ".ndjson") or (suffix != ".csv" and content.lstrip()[:1] in ("[", "{"))
    rows = Rows(skip_invalid)
    found = _json_rows(content, label) if as_json else _csv_rows(content, label)
    records: list[dict[str, Any]] = []
    lines: dict[int, str] = {}
    for where, row in found:
        try:
            record = _record(row)
        except RowError as exc:
            rows.bad(where, str(exc))
            continue
        if record["id"] in lines:
            rows.bad(where, f"id {record['id']} appears twice (first at {lines[record['id']]}): ids must be unique")
            continue
        lines[record["id"]] = where
        records.append(record)
    records.sort(key=lambda record: (record["timestamp"], record["id"]))
    return Trail(label, [(record["id"], record) for record in records], rows.skipped)


def _read(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(source).expanduser().read_bytes()
    except IsADirectoryError:
        raise AuditError(f"{source} is a directory: --format strapi takes an export file (.csv or .json)") from None
    except OSError as exc:
        raise AuditError(f"cannot read {source}: {exc.strerror}") from None


# ---------------------------------------------------------------------------------------------------------------
# Reading: (where, row) pairs; a row that cannot be read is a RowError in its place


def _csv_rows(content: str, label: str) -> Iterator[tuple[str, Any]]:
    reader = csv.reader(io.StringIO(content, newline=""), strict=True)
    try:
        header = [name.strip().lower() for name in next(reader, [])]
    except csv.Error as exc:
        raise AuditError(f"{label} line 1: the header row is not valid CSV ({exc})") from None
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise AuditError(f"{label}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}: a Strapi "
                         f"audit-log export has {', '.join(COLUMNS)}")
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield f"{label} line {start}", RowError(f"not valid CSV ({exc})")
            continue
        if not values or values == [""]:
            continue
        if len(values) != len(header):
            yield f"{label} line {start}", RowError(f"{len(values)} fields where the header has {len(header)}")
            continue
        yield f"{label} line {start}", dict(zip(header, values))


def _json_rows(content: str, label: str) -> Iterator[tuple[str, Any]]:
    """Entries of a JSON array (with the line each starts on), or of JSON Lines."""
    start = len(content) - len(content.lstrip())
    if not content.startswith("[", start):
        for number, line in enumerate(content.split("\n"), 1):  # not splitlines: JSON text may hold U+2028
            if line.strip():
                try:
                    yield f"{label} line {number}", json.loads(line)
                except ValueError as exc:
                    yield f"{label} line {number}", RowError(f"not valid JSON ({exc})")
        return
    decoder = json.JSONDecoder()
    position, line = start, 1

    def skip(at: int) -> int:
        while at < len(content) and content[at] in " \t\r\n":
            at += 1
        return at

    index = skip(start + 1)
    if content.startswith("]", index):
        index += 1
    else:
        while True:
            line += content.count("\n", position, index)
            position = index
            try:
                value, index = decoder.raw_decode(content, index)
            except ValueError as exc:
                raise AuditError(f"{label} line {line}: not valid JSON ({exc}); the rest of the file cannot be read, "
                                 "so nothing was imported") from None
            yield f"{label} line {line}", value
            index = skip(index)
            if content.startswith(",", index):
                index = skip(index + 1)
            elif content.startswith("]", index):
                index += 1
                break
            else:
                line += content.count("\n", position, index)
                raise AuditError(f"{label} line {line}: expected ',' or ']' after an entry: give a JSON array of "
                                 "objects, or one object per line")
    if content[skip(index):].strip():
        raise AuditError(f"{label}: text after the closing ']': give one JSON array of objects")


# ---------------------------------------------------------------------------------------------------------------
# One row


def _record(row: Any) -> dict[str, Any]:
    if isinstance(row, RowError):
        raise row
    if not isinstance(row, dict):
        raise RowError(f"an entry must be an object with {', '.join(COLUMNS)}")
    number = _id(row.get("id"))
    action = action_name(row.get("action"))
    payload = _payload(row.get("payload"))
    user_id, email = text(row.get("user_id")), text(row.get("user_email"))
    details: dict[str, Any] = {"strapi_id": number}
    if user_id is not None:
        details["user_id"] = int(user_id) if user_id.isdigit() else user_id
    if text(row.get("user_display_name")):
        details["user_display_name"] = text(row.get("user_display_name"))
    record: dict[str, Any] = {
        "id": number, "key": f"strapi:{number}", "action": action, "timestamp": instant(row.get("date"), what="date"),
        "user": email or user_id, "ip": None, "user_agent": None, "origin": text(row.get("origin")), "comment": None,
        "details": details, "revision": None,
    }
    if action.startswith("entry."):
        record["collection"], record["item"], record["revision"] = _entry(action, payload, details)
    else:
        record["collection"], record["item"] = _object(action, payload, user_id)
        if payload is not None:
            details["payload"] = payload
    return record


def _id(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if value is None or value == "":
        raise RowError("id is missing")
    raise RowError(f"id {value!r} is not an integer")


def _payload(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise RowError(f"payload is not valid JSON ({exc})") from None
    if value is not None and not isinstance(value, dict):
        raise RowError("payload must be a JSON object such as {\"model\": ..., \"entry\": {...}}")
    return value


def _entry(action: str, payload: dict[str, Any] | None, details: dict[str, Any]):
    if payload is None:
        raise RowError(f"{action} needs a payload with model (or uid) and entry")
    model, uid, entry = payload.get("model"), payload.get("uid"), payload.get("entry")
    collection = model if isinstance(model, str) and model else None
    if collection is None and isinstance(uid, str) and uid:
        collection = uid.split("::")[-1].split(".")[-1]
    if not collection:
        raise RowError(f"the payload of {action} names no model or uid")
    if not isinstance(entry, dict) or entry.get("id") is None or isinstance(entry.get("id"), (dict, list, bool)):
        raise RowError(f"the payload of {action} has no entry.id")
    details.update({name: value for name, value in (("model", model), ("uid", uid)) if value is not None})
    meta = {name: entry[name] for name in BOOKKEEPING if name in entry}
    if meta:
        details["entry_meta"] = meta
    revision = None
    if action in _DATA_EVENTS:
        revision = {"data": {name: value for name, value in entry.items() if name not in BOOKKEEPING}}
    return collection, str(entry["id"]), revision


def _object(action: str, payload: dict[str, Any] | None, user_id: str | None) -> tuple[str, str]:
    prefix = action.split(".")[0]
    collection, key = _OBJECTS.get(prefix, ("strapi", None))
    target = payload.get(key) if payload is not None and key else None
    if isinstance(target, dict):
        found = target.get("id", target.get("uid"))
        if found is not None and not isinstance(found, (dict, list, bool)):
            return collection, str(found)
    if prefix == "admin" and user_id is not None:  # a login or logout without the user in its payload: the actor
        return collection, user_id
    return collection, "-"
