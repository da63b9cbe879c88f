"""Export to and import from the audit/1 JSONL interchange format (DESIGN.md)."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .. import chain, jsontext, patches, query, timeparse
from ..errors import AuditError, UsageError
from ..models import ACTION_PATTERN, ACTIVITY_FIELDS, CREATES, DATA_ACTIONS, SCHEMA, Activity, LogQuery
from . import codec
from .integrity import Tampered
from .revisions import NewRevision

_EXPORT = """SELECT {columns}, a.key, a.prev_hash, a.hash, t.revision, r.version, r.base, r.data, r.delta
             FROM (SELECT * FROM activity WHERE {where}) a LEFT JOIN revisions r ON r.activity = a.id
             LEFT JOIN attested t ON t.activity = a.id ORDER BY a.id"""
_TEXT_FIELDS = ("user", "ip", "user_agent", "origin", "comment", "edited_on", "comment_deleted_on")


class ImportError_(AuditError):
    """A line that cannot be imported: names the file, the line and the reason."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


class TransferOps:
    conn: sqlite3.Connection

    def store_id(self) -> str:
        return self.conn.execute("SELECT value FROM settings WHERE key = 'store_id'").fetchone()[0]

    def export_lines(self, q: LogQuery) -> Iterator[bytes]:
        """One JSONL line per matching activity, by id, up to the highest id when the export started."""
        q.max_id = self.conn.execute("SELECT coalesce(max(id), 0) FROM activity").fetchone()[0]
        q.sort, q.limit, q.include_deleted, q.comment_changes = ["id"], None, True, True
        clause, params = query.where(q)
        columns = ", ".join(f"a.{name}" for name in ACTIVITY_FIELDS)
        store_id = self.store_id()
        keyed = self._setting("chain_key_check") is not None
        previous = chain.GENESIS
        # A read transaction: the whole export sees one snapshot even while others write.
        self.conn.execute("BEGIN")
        try:
            for row in self.conn.execute(_EXPORT.format(columns=columns, where=clause), params):
                record = dict(zip(ACTIVITY_FIELDS, row))
                key, prev_hash, hash_, attested, version, base, data, delta = row[len(ACTIVITY_FIELDS):]
                head = {"schema": SCHEMA, **record, "key": key or f"{store_id}/{record['id']}",
                        "prev_hash": prev_hash, "hash": hash_}
                if attested is not None:  # the revision was pruned or rewritten: what the hash covers
                    head["attested_revision"] = attested
                if prev_hash != previous:  # filtered out or pruned before it: say so, or import would see a break
                    head["gap"] = True
                if keyed:  # an HMAC chain: checking it takes the key
                    head["keyed"] = True
                previous = hash_
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
                     skip_invalid: bool = False, verify: bool = True,
                     keep_links: bool | None = None, as_given: bool = False) -> dict[str, Any]:
        """Import audit/1 lines in one transaction; lines already present (by key) are skipped.

        Each line is raw JSONL bytes, or an already parsed record in the same shape (what the adapters for other
        sources produce), numbered for error messages.

        Into an empty store the ids are kept, and a complete chain that came with the lines is kept as it is, so an
        export imported into an empty store verifies as the original did. Otherwise lines get new ids in file order
        and are chained anew (`keep_links` forces either way). Lines' own hashes are checked (unless not `verify`):
        a line whose hash does not cover its content stops the import. `as_given` takes each revision's data and
        delta as they are, unchecked against each other (what an offline verify needs, to judge the hashes alone).
        A bad line stops the import and nothing from the file is kept, unless `skip_invalid`, which reports it and
        goes on.
        """
        added = duplicates = 0
        skipped: list[str] = []
        links: list[_Link] = []
        with self._writing():
            empty = self.conn.execute("SELECT count(*) FROM activity").fetchone()[0] == 0
            start_id = self.conn.execute("SELECT coalesce(max(id), 0) FROM activity").fetchone()[0]
            head = self._chain_head()
            own = self.store_id() + "/"
            for number, raw in lines:
                if isinstance(raw, bytes) and not raw.strip():
                    continue
                try:
                    with self._writing():  # a savepoint: a bad line leaves nothing behind
                        link = self._import_one(raw, keep_ids=empty, own=own, number=number, as_given=as_given)
                except AuditError as exc:
                    message = f"{source} line {number}: {exc}"
                    if not skip_invalid:
                        raise ImportError_(message + " (nothing was imported; --skip-invalid imports the rest)",
                                           number) from None
                    skipped.append(message)
                    continue
                if link.id is None:
                    duplicates += 1
                else:
                    added += 1
                if link.hash is not None:
                    links.append(link)
            if verify:
                self._check_links(links, source)
            if keep_links is None:  # kept when they make a whole chain from the start, as a full export does
                keep_links = (verify and empty and bool(added) and len(links) == added + duplicates
                              and not any(x.gap for x in links) and links[0].prev_hash == chain.GENESIS)
            if keep_links:
                self.conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('links_kept', ?)", [source])
                if self.chain_key is not None:  # the links were made with this key: the store is keyed with it
                    self.conn.execute("INSERT OR IGNORE INTO settings (key, value) VALUES ('chain_key_check', ?)",
                                      [chain.key_check(self.chain_key)])
                self.conn.executemany("INSERT OR REPLACE INTO attested (activity, revision) VALUES (?, ?)",
                                      [(x.id, x.attested) for x in links if x.id is not None and x.attested])
                self.conn.executemany("UPDATE activity SET prev_hash = ?, hash = ? WHERE id = ?",
                                      [(x.prev_hash, x.hash, x.id) for x in links])
            else:
                self._rechain(start_id if not empty else 0, head)
        breaks = [(b.number, b.id) for a, b in zip([_Link(0, None, None, chain.GENESIS)] + links, links)
                  if b.prev_hash != a.hash and not b.gap]
        return {"added": added, "duplicates": duplicates, "skipped": len(skipped), "skipped_lines": skipped,
                "gaps": sum(1 for x in links if x.gap), "links_kept": bool(keep_links), "breaks": breaks}

    def _check_links(self, links: list[_Link], source: str) -> None:
        """The lines' own chain: each continues the one before unless it is marked as following a gap (a filtered
        export, an archive, an export of a pruned store), and each hash covers what was imported from it."""
        key = self.chain_key
        by_id = {x.id: x for x in links if x.id is not None}
        for before, after in zip([_Link(0, None, None, chain.GENESIS)] + links, links):
            if after.prev_hash != before.hash and not after.gap:
                where = f"line {before.number}" if before.number else "the start"
                raise Tampered(f"{source} line {after.number}: the chain is broken (its prev_hash does not continue "
                               f"{where}, and no gap is marked): nothing was imported; --no-verify imports it anyway")
        if not by_id:
            return
        changes = self._comment_change_map()
        for row, details_text, digest in self._rows(since=min(by_id) - 1):
            line = by_id.get(row["id"])
            if line is None:
                continue
            expected, _ = self._link_of(row, details_text, digest, line.prev_hash, key, changes)
            if expected != line.hash and line.attested is not None:
                expected, _ = self._link_of(row, details_text, line.attested, line.prev_hash, key, changes)
            if expected != line.hash:
                hint = " (a keyed trail needs its AUDIT_CHAIN_KEY)" if key is None else ""
                raise Tampered(f"{source} line {line.number}: its hash does not match its content{hint}: nothing "
                               f"was imported; --no-verify imports it anyway")

    def _rechain(self, after_id: int, head: str) -> None:
        """Chain every activity after `after_id` anew from `head`, in id order."""
        key = self._chain_key()
        prev = head
        updates = []
        changes = self._comment_change_map()
        for row, details_text, digest in self._rows(since=after_id):
            new, _ = self._link_of(row, details_text, digest, prev, key, changes)
            updates.append((prev, new, row["id"]))
            prev = new
        self.conn.executemany("UPDATE activity SET prev_hash = ?, hash = ? WHERE id = ?", updates)

    def _import_one(self, raw: bytes | dict[str, Any], *, keep_ids: bool, own: str, number: int,
                    as_given: bool = False) -> _Link:
        line = raw if isinstance(raw, dict) else jsontext.parse_object(raw, what="the line")
        activity, key, revision = _activity_from_line(line)
        link = _Link(number, None, *_given_link(line), attested=line.get("attested_revision"),
                     gap=line.get("gap") is True)
        if key.startswith(own):
            local = key[len(own):]
            if local.isdigit() and self.conn.execute("SELECT 1 FROM activity WHERE id = ?", [int(local)]).fetchone():
                return link
        known = self.conn.execute("SELECT id FROM activity WHERE key = ?", [key]).fetchone()
        if known:
            if activity.action == "comment" and link.hash is None:
                self._update_comment(known[0], activity)
            return link
        if keep_ids and isinstance(line.get("id"), int) and not isinstance(line.get("id"), bool):
            taken = self.conn.execute("SELECT 1 FROM activity WHERE id = ?", [line["id"]]).fetchone()
            activity.id = None if taken else line["id"]
        new = self._import_revision(activity, revision, as_given) if revision is not None else None
        link.id = self._insert_activity(activity, key=key, revision=new, link=("", ""))["id"]
        return link

    def _update_comment(self, comment_id: int, seen: Activity) -> None:
        """A comment seen again in an unchained source (an adapter's): its newer state arrives as chained changes.
        (A chained trail carries its comment-edit records itself.)"""
        stored = self.get_activity(comment_id)
        fields = ("comment", "edited_on", "comment_deleted_on")
        after = {name: getattr(seen, name) for name in fields}
        if stored["comment_deleted_on"] or all(stored[name] == after[name] for name in fields):
            return
        action = "comment-delete" if after["comment_deleted_on"] else "comment-edit"
        change = Activity(action, "", "", after["comment_deleted_on"] or after["edited_on"] or "", user=seen.user)
        self._change_comment(comment_id, after, action, change)

    def _import_revision(self, activity: Activity, revision: dict[str, Any], as_given: bool = False) -> NewRevision:
        collection, item = activity.collection, activity.item
        version = revision.get("version")
        known = True
        if version is None:
            head = self._head(collection, item)
            before = head.data if head and activity.action not in CREATES else {}
            base = head.base if head else None
            # A trail that starts mid-history (a filtered export, an export of a pruned store): the state before
            # its first change here is unknown, so its snapshot is taken as given.
            known = head is not None or activity.action in CREATES
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
        elif known and not as_given and not patches.same(patches.apply(before, delta), data):
            raise UsageError("revision data and delta disagree: applying delta to the previous snapshot does not give data")
        return NewRevision(data, delta, base, version)


@dataclass
class _Link:
    """Where an imported line landed (id None: already here) and the chain link it came with."""

    number: int
    id: int | None
    prev_hash: str | None
    hash: str | None
    attested: str | None = None  # the digest a pruned or rewritten revision had, which the hash covers
    gap: bool = False  # the line does not follow the one before in the chain, and says so


def _given_link(line: dict[str, Any]) -> tuple[str | None, str | None]:
    prev, own = line.get("prev_hash"), line.get("hash")
    if prev is None and own is None:
        return None, None
    for name, value in (("prev_hash", prev), ("hash", own)):
        if not isinstance(value, str) or len(value) != 64:
            raise UsageError(f"{name} must be a 64-character hex SHA-256, or both hash fields left out")
    return prev, own


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
