"""Export to and import from the audit/1 JSONL interchange format (DESIGN.md)."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from .. import jsontext, patches, query, timeparse
from ..errors import AuditError, UsageError
from ..models import ACTION_PATTERN, ACTIVITY_FIELDS, DATA_ACTIONS, SCHEMA, Activity, LogQuery
from . import codec

_EXPORT = """SELECT {columns}, a.key, r.version, r.base, r.data, r.delta
             FROM (SELECT * FROM activity WHERE {where}) a LEFT JOIN revisions r ON r.activity = a.id ORDER BY a.id"""
_TEXT_FIELDS = ("user", "ip", "user_agent", "origin", "comment", "edited_on", "comment_deleted_on")


class ImportError_(AuditError):
    """A line that cannot be imported: names the file, the line and the reason."""


class TransferOps:
    conn: sqlite3.Connection

    def store_id(self) -> str:
        return self.conn.execute("SELECT value FROM settings WHERE key = 'store_id'").fetchone()[0]

    def export_lines(self, q: LogQuery) -> Iterator[bytes]:
        """One JSONL line per matching activity, by id, up to the highest id when the export started."""
        q.max_id = self.conn.execute("SELECT coalesce(max(id), 0) FROM activity").fetchone()[0]
        q.sort, q.limit, q.include_deleted = ["id"], None, True
        clause, params = query.where(q)
        columns = ", ".join(f"a.{name}" for name in ACTIVITY_FIELDS)
        store_id = self.store_id()
        # A read transaction: the whole export sees one snapshot even while others write.
        self.conn.execute("BEGIN")
        try:
            for row in self.conn.execute(_EXPORT.format(columns=columns, where=clause), params):
                record = dict(zip(ACTIVITY_FIELDS, row))
                key, version, base, data, delta = row[len(ACTIVITY_FIELDS):]
                head = {"schema": SCHEMA, **record, "key": key or f"{store_id}/{record['id']}"}
                details = head.pop("details")
                line = jsontext.dumps(head)[:-1] + ',"details":' + (details if details is not None else "null")
                if data is None:
                    line += ',"revision":null}\n'
                else:
                    text = codec.unpack(data, self._base_text(base) if base is not None else None).decode()
                    line += ',"revision":{"data":' + text + ',"delta":' + delta
                    line += (',"version":' + jsontext.dumps(version) if version is not None else "") + "}}\n"
                yield line.encode()
        finally:
            self.conn.execute("COMMIT")

    def import_lines(self, lines: Iterable[tuple[int, bytes | dict[str, Any]]], *, source: str,
                     skip_invalid: bool = False) -> dict[str, Any]:
        """Import audit/1 lines in one transaction; lines already present (by key) are skipped.

        Each line is raw JSONL bytes, or an already parsed record in the same shape (what the adapters for other
        sources produce), numbered for error messages.

        Into an empty store the ids are kept; otherwise lines get new ids in file order. A bad line stops the import
        and nothing from the file is kept, unless `skip_invalid`, which reports it and goes on.
        """
        added = duplicates = 0
        skipped: list[str] = []
        with self._writing():
            keep_ids = self.conn.execute("SELECT count(*) FROM activity").fetchone()[0] == 0
            own = self.store_id() + "/"
            for number, raw in lines:
                if isinstance(raw, bytes) and not raw.strip():
                    continue
                try:
                    with self._writing():  # a savepoint: a bad line leaves nothing behind
                        if self._import_one(raw, keep_ids=keep_ids, own=own):
                            added += 1
                        else:
                            duplicates += 1
                except AuditError as exc:
                    message = f"{source} line {number}: {exc}"
                    if not skip_invalid:
                        raise ImportError_(message + " (nothing was imported; --skip-invalid imports the rest)") from None
                    skipped.append(message)
        return {"added": added, "duplicates": duplicates, "skipped": len(skipped), "skipped_lines": skipped}

    def _import_one(self, raw: bytes | dict[str, Any], *, keep_ids: bool, own: str) -> bool:
        line = raw if isinstance(raw, dict) else jsontext.parse_object(raw, what="the line")
        activity, key, revision = _activity_from_line(line)
        if key.startswith(own):
            local = key[len(own):]
            if local.isdigit() and self.conn.execute("SELECT 1 FROM activity WHERE id = ?", [int(local)]).fetchone():
                return False
        if self.conn.execute("SELECT 1 FROM activity WHERE key = ?", [key]).fetchone():
            return False
        if keep_ids and isinstance(line.get("id"), int) and not isinstance(line.get("id"), bool):
            taken = self.conn.execute("SELECT 1 FROM activity WHERE id = ?", [line["id"]]).fetchone()
            activity.id = None if taken else line["id"]
        saved = self._insert_activity(activity, key=key)
        if revision is not None:
            self._import_revision(saved, revision)
        return True

    def _import_revision(self, saved: dict[str, Any], revision: dict[str, Any]) -> None:
        collection, item = saved["collection"], saved["item"]
        version = revision.get("version")
        if version is None:
            head = self._head(collection, item)
            before, base = (head.data, head.base) if head and saved["action"] != "create" else ({}, head.base if head else None)
        else:
            row = self.conn.execute(
                "SELECT base, data FROM revisions WHERE collection = ? AND item = ? AND version = ? "
                "ORDER BY activity DESC LIMIT 1", [collection, item, version]).fetchone()
            before, base = (self._unpack(*row), None) if row else ({}, None)
        data, delta = revision.get("data", _MISSING), revision.get("delta", _MISSING)
        if delta is not _MISSING and delta is not None:
            patches.check_patch(delta, what="revision.delta")
        if data is _MISSING or data is None:
            if delta is _MISSING or delta is None:
                raise UsageError("revision needs data or delta")
            data = patches.apply(before, delta)
        elif delta is _MISSING or delta is None:
            delta = patches.diff(before, data)
        elif not patches.same(patches.apply(before, delta), data):
            raise UsageError("revision data and delta disagree: applying delta to the previous snapshot does not give data")
        self._write_revision(saved["id"], collection, item, data, delta, base=base, version=version)


_MISSING = object()


def _activity_from_line(line: dict[str, Any]) -> tuple[Activity, str, dict[str, Any] | None]:
    schema = line.get("schema", SCHEMA)
    if schema != SCHEMA:
        raise UsageError(f"schema {schema!r} is not supported: this version reads {SCHEMA}")
    for name in ("action", "timestamp", "collection", "item"):
        if line.get(name) is None:
            raise UsageError(f"missing required field {name!r} (required: action, timestamp, collection, item)")
    item = line["item"]
    if isinstance(item, int) and not isinstance(item, bool):
        item = str(item)
    for name in ("action", "collection", "timestamp"):
        if not isinstance(line[name], str):
            raise UsageError(f"{name} must be a string, not {jsontext.type_name(line[name])}")
    if not isinstance(item, str):
        raise UsageError(f"item must be a string (or an integer), not {jsontext.type_name(item)}")
    if not ACTION_PATTERN.fullmatch(line["action"]):
        raise UsageError(f"invalid action {line['action']!r}: actions are lowercase slugs such as update")
    for name in _TEXT_FIELDS:
        if line.get(name) is not None and not isinstance(line[name], str):
            raise UsageError(f"{name} must be a string or null, not {jsontext.type_name(line[name])}")
    if line["action"] == "comment" and not line.get("comment"):
        raise UsageError("a comment activity needs its comment text")
    revision = line.get("revision")
    if revision is not None and not isinstance(revision, dict):
        raise UsageError(f"revision must be an object or null, not {jsontext.type_name(revision)}")
    activity = Activity(
        action=line["action"], collection=line["collection"], item=item,
        timestamp=timeparse.normalize(line["timestamp"]),
        **{name: line.get(name) for name in _TEXT_FIELDS if name not in ("edited_on", "comment_deleted_on")},
        details=line.get("details"),
        edited_on=timeparse.normalize(line["edited_on"]) if line.get("edited_on") else None,
        comment_deleted_on=timeparse.normalize(line["comment_deleted_on"]) if line.get("comment_deleted_on") else None,
    )
    key = line.get("key")
    if key is not None and not isinstance(key, str):
        raise UsageError(f"key must be a string, not {jsontext.type_name(key)}")
    if key is None:
        content = {name: line.get(name) for name in ACTIVITY_FIELDS if name != "id"}
        content["revision"] = revision
        key = "sha256:" + hashlib.sha256(jsontext.canonical(content).encode()).hexdigest()
    if revision is not None and line["action"] not in DATA_ACTIONS and "version" not in revision:
        details = line.get("details")
        if line["action"] == "version-save" and isinstance(details, dict) and isinstance(details.get("version"), str):
            revision = {**revision, "version": details["version"]}
    return activity, key, revision
