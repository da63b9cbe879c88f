"""Export: activity as audit/1 JSONL lines (DESIGN.md) or ECS lines (ecs.py), by id, from one snapshot of the store.

An audit/1 line is written as SQLite hands it over: SQLite builds the line's head (every column but the snapshot,
which is packed) with json_object, the same bytes jsontext.dumps writes (checked when an export starts, with a
probe string of every kind of escape; were a build of SQLite ever to differ, the heads are built here instead).
Python then only unpacks the snapshot, marks gaps, and joins bytes: about three times the speed of building each
line from its columns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from .. import chain, jsontext, query, trailer
from ..errors import UsageError
from ..models import ACTIVITY_FIELDS, COMMENT_CHANGES, SCHEMA, LogQuery
from . import codec, damage

FORMATS = ("audit", "ecs")
CHUNK = 1000  # lines joined into one chunk of bytes
# An export of at least SPLIT_MIN ids is written by two processes: a helper writes every other block of BLOCK ids
# and sends it through a pipe, holding up to HELD bytes of it, so that it renders a block while this process renders
# the one before and then copies the helper's out.
SPLIT_MIN = 200_000
BLOCK = 20_000
HELD = 32 * 2**20
BASES_HELD = 32 * 2**20  # bytes of unpacked bases one export keeps
_HEAD_FIELDS = [name for name in ACTIVITY_FIELDS if name != "details"]
_KEY = "coalesce(a.key, ? || '/' || a.id)"  # a local activity is known elsewhere as "<store id>/<id>"
# The head of an audit/1 line, through "hash" and without its closing brace (hash is never null: a quoted string
# ends the object, so rtrim drops only the brace): what export writes, attested_revision, gap and keyed follow.
_HEAD = (f"CAST(rtrim(json_object('schema', '{SCHEMA}'"
         + "".join(f", '{name}', a.{name}" for name in _HEAD_FIELDS)
         + f", 'key', {_KEY}, 'prev_hash', a.prev_hash, 'hash', a.hash), '}}') AS BLOB)")
# An edited comment's first text, which its hash covers: the `before` of the first chained change that names it
# (as verify rebuilds it), when it differs from the text now. A line carries it so that it can be checked without
# its comment-edit records (a filtered export). Looked up only for comments whose state changed; ?1 is the store id
# (the key's parameter, bound first). The text stays JSON as stored (->): json_extract would cut it at a \u0000.
# `{}` wraps it: a column, or the line's member.
_FIRST_TEXT = "(c.details -> '$.before.comment')"
_ORIGINAL = f"""CASE WHEN (a.edited_on IS NOT NULL OR a.comment_deleted_on IS NOT NULL) AND a.action = 'comment'
    THEN (SELECT CASE WHEN json_type(c.details, '$.before.comment') = 'text'
                      AND {_FIRST_TEXT} IS NOT json_quote(a.comment) THEN {{}} END
          FROM activity c WHERE c.collection = a.collection AND c.item = a.item AND c.id > a.id
          AND c.action IN {COMMENT_CHANGES!r} AND json_valid(c.details)
          AND json_extract(c.details, '$.comment') = coalesce(a.key, ?1 || '/' || a.id) ORDER BY c.id LIMIT 1) END"""
_MIDDLE = """CAST(',"details":' || coalesce(a.details, 'null')
               || CASE WHEN r.data IS NULL THEN ',"revision":null}' || char(10) ELSE ',"revision":{"data":' END
             AS BLOB)"""
# A delta packed against its snapshot (codec.pack_delta) comes as its own column, unpacked here, and the tail
# starts after it; one stored as text is in the tail.
_TAIL = """CAST(CASE WHEN r.data IS NULL THEN ''
                    ELSE CASE WHEN typeof(r.delta) = 'blob' THEN '' ELSE ',"delta":' || r.delta END
                    || CASE WHEN r.version IS NULL THEN '' ELSE ',"version":' || json_quote(r.version) END
                    || '}}' || char(10) END AS BLOB)"""
_PACKED_DELTA = "CASE WHEN typeof(r.delta) = 'blob' THEN r.delta END"
_FROM = """FROM (SELECT * FROM activity WHERE {where}) a LEFT JOIN revisions r ON r.activity = a.id
           {attested} ORDER BY a.id"""
_ATTESTED = "LEFT JOIN attested t ON t.activity = a.id"
# The members only some lines have, after the hash, as bytes (NULL for most lines): attested_revision, original_comment.
_ATTESTED_MEMBER = """CASE WHEN t.revision IS NOT NULL THEN ',"attested_revision":' || json_quote(t.revision) END"""
_ORIGINAL_MEMBER = _ORIGINAL.format("""',"original_comment":' || """ + _FIRST_TEXT)
# What the line adds to the trailer's digest (trailer.line_entry), made by SQLite: a third of the time of an f-string.
_ENTRY = "CAST(a.id || ':' || a.hash || char(10) AS BLOB)"
_LINES = (f"SELECT a.id, a.prev_hash, a.hash, {_HEAD}, {{extra}}, {_MIDDLE}, r.base, r.data, {_PACKED_DELTA}, {_TAIL}, "
          f"{_ENTRY} "
          f"{_FROM}")
_COLUMNS = (f"SELECT {', '.join('a.' + name for name in ACTIVITY_FIELDS)}, {_KEY}, a.prev_hash, a.hash, "
            f"{{revision}}, {{original}}, r.version, r.base, r.data, r.delta, {_ENTRY} {_FROM}")
# Every kind of character json_object and orjson might escape differently.
_PROBE = "".join(map(chr, range(0x20))) + "\"\\/\x7f\u00e9\u2028\u2029\U0001f600 \ud7ff\ufeff"


class Part(NamedTuple):
    """Lines written: how many, the first and last ids, their bytes, and what they add to the trailer's digest."""

    count: int
    first_id: int | None
    last_id: int | None
    data: bytes
    entries: bytes


class Export:
    """An export under way: iterate it for chunks of JSONL bytes (whole lines); `count` and `last_id` then say what
    it wrote. An audit/1 export ends with its trailer line (trailer.py) unless `sealed` is false. `progress(done,
    total)` is called every few thousand lines."""

    def __init__(self, store: Any, q: LogQuery, *, fmt: str = "audit",
                 progress: Callable[[int, int], None] | None = None, helper: bool = True, sealed: bool = True,
                 segment: trailer.Segment | None = None):
        if fmt not in FORMATS:
            raise UsageError(f"unknown export {{format}} {fmt!r}: use {', '.join(FORMATS)}", params=("format",), value=fmt)
        # A copy: the export fills in its own bounds, which are not the caller's filters (nor the trailer's).
        self.store, self.q, self.fmt, self.progress = store, dataclasses.replace(q), fmt, progress
        self.helper = helper  # may a big export have a helper process write every other block
        self.sealed = sealed and fmt == "audit"  # ECS documents go to log pipelines, which take only events
        self.count = 0
        self.last_id: int | None = None
        self.previous = chain.GENESIS  # the hash of the last line written (or of the line before the first)
        self.bases = _Bases(store)
        self.segment = segment or trailer.Segment()  # shared by exports that end in one trailer (an archive)
        self.head_id = 0  # the newest activity in the export's snapshot
        self.unsealed_key = False  # a keyed store's trailer, sealed without the key (none was given)

    def __iter__(self) -> Iterator[bytes]:
        conn = self.store.conn
        own = not conn.in_transaction
        if own:  # a read transaction: the whole export sees one snapshot even while others write
            conn.execute("BEGIN")
        else:  # inside the caller's transaction: what it wrote is not committed, so no other process can see it
            self.helper = False
        try:
            yield from self._chunks()
        finally:
            if own:
                conn.execute("COMMIT")

    def _chunks(self) -> Iterator[bytes]:
        store, q, conn = self.store, self.q, self.store.conn
        filters = _filters(q)
        last = self.head_id = conn.execute("SELECT coalesce(max(id), 0) FROM activity").fetchone()[0]
        q.max_id = last if q.max_id is None else min(q.max_id, last)
        q.sort, q.limit, q.include_deleted, q.comment_changes = ["id"], None, True, True
        clause, params = query.where(q)
        total = conn.execute(f"SELECT count(*) FROM activity WHERE {clause}", params).fetchone()[0] \
            if self.progress is not None else 0
        after = q.after_id or 0
        previous = _first_previous(conn, q)
        blocks = [(after, q.max_id)]
        helper = None
        if self.helper and q.max_id - after > SPLIT_MIN and Path(str(store.path)).is_file():
            # Imported here: the helper's module builds on this one, and its process imports it first (imported
            # at the end of this module instead, the helper process failed on the cycle, and every big export ran
            # in one process: 112,000 lines/s against 174,000).
            from .export_helper import _Helper

            blocks = [(low, min(low + BLOCK, q.max_id)) for low in range(after, q.max_id, BLOCK)]
            helper = _Helper.start(store, q, self.fmt, blocks, last)
        done = 0
        try:
            for number, (low, high) in enumerate(blocks):
                if helper is not None and number % 2:  # the helper's block
                    for end, hash_, part in helper.frames():
                        if part.count:
                            low, previous = part.last_id, hash_  # where this process goes on from if it stops
                            done = self._written(part, done, total)
                            yield part.data
                        if end:
                            break
                    else:  # it stopped, or saw another snapshot: the rest is written here
                        helper.stop()
                        helper = None
                    if helper is not None:
                        continue
                for part in self._part(dataclasses.replace(q, after_id=low, max_id=high), previous):
                    done = self._written(part, done, total)
                    yield part.data
                previous = self.previous
        finally:  # an export stopped early (an error, an interrupt) stops its helper too
            if helper is not None:
                helper.stop()
        if self.sealed:
            yield self.trailer(filters)
        if self.progress is not None:
            self.progress(done, total)

    def _written(self, part: Part, done: int, total: int) -> int:
        count = part.count
        self.count += count
        if part.last_id is not None:
            self.last_id = part.last_id
        self.segment.add(count, part.first_id, part.last_id, part.entries)
        if self.progress is not None and done & ~4095 != (done + count) & ~4095:
            self.progress(done + count, total)
        return done + count

    def trailer(self, filters: dict[str, Any]) -> bytes:
        """The trailer line of the lines written (into `segment`), once the export is done: the store's head is its
        newest activity in this export's snapshot."""
        store, head_id = self.store, self.head_id
        row = store.conn.execute("SELECT hash FROM activity WHERE id = ?", [head_id]).fetchone()
        keyed = store._setting("chain_key_check") is not None
        key = store.chain_key if keyed else None
        if key is not None and chain.key_check(key) != store._setting("chain_key_check"):
            key = None  # not this store's key: a seal made with it would only be reported as forged
        self.unsealed_key = keyed and key is None
        return trailer.make(self.segment, store=store.store_id(), head_id=head_id,
                            head_hash=row[0] if row else chain.GENESIS, keyed=keyed, key=key,
                            after_id=self.q.after_id, filters=filters)

    def _part(self, q: LogQuery, previous: str) -> Iterator[Part]:
        """The Parts of the lines of ids after q.after_id up to q.max_id, the line before having hash
        `previous`; `self.previous` follows the last line yielded."""
        store, conn = self.store, self.store.conn
        clause, params = query.where(q)
        self.previous = previous
        keyed = store._setting("chain_key_check") is not None
        attested = conn.execute("SELECT 1 FROM attested LIMIT 1").fetchone() is not None
        edited = conn.execute(f"SELECT 1 FROM activity WHERE action IN {COMMENT_CHANGES!r} LIMIT 1").fetchone()
        parts = {"where": clause, "attested": _ATTESTED if attested else "",
                 "revision": "t.revision" if attested else "NULL",
                 "original": _ORIGINAL.format(_FIRST_TEXT) if edited else "NULL",
                 "extra": _extra([m for m, present in ((_ATTESTED_MEMBER, attested), (_ORIGINAL_MEMBER, edited))
                                  if present])}
        params = [store.store_id(), *params]  # the store id comes first, in the select list
        if self.fmt == "ecs":
            return self._python(_fill(_COLUMNS, parts), params, keyed, _ecs_line)
        if sqlite_writes_as_jsontext(conn):
            # Stored text is joined in as bytes, never decoded: a damaged row's must not reach the file.
            return damage.checked(store, self._audit(_fill(_LINES, parts), params, keyed))
        # this SQLite escapes differently from jsontext: build the heads here
        return self._python(_fill(_COLUMNS, parts), params, keyed, _audit_line)

    def _audit(self, sql: str, params: list, keyed: bool) -> Iterator[Part]:
        unpack, base_text, delta_text = codec.unpack, self.bases.text, codec.delta_text
        previous = self.previous
        mark = b',"keyed":true' if keyed else b""
        lines: list[bytes] = []
        add = lines.append
        entries: list[bytes] = []
        entry = entries.append
        count = activity_id = 0
        for activity_id, prev_hash, hash_, head, extra, middle, base, data, packed, tail, sealed in \
                self.store.conn.execute(sql, params):
            entry(sealed)
            add(head)
            if extra is not None:  # a pruned or rewritten revision's digest, an edited comment's first text
                add(extra)
            if prev_hash != previous:  # filtered out or pruned before it: say so, or an import would see a break
                add(b',"gap":true')
            previous = hash_
            if mark:  # an HMAC chain: checking it takes the key
                add(mark)
            add(middle)
            if data is not None:
                text = unpack(data, base_text(base) if base is not None else None)
                add(text)
                if packed is not None:
                    add(b',"delta":')
                    add(delta_text(packed, text).encode())
                add(tail)
            count += 1
            if count == CHUNK:
                self.previous = previous
                yield _joined(entries, activity_id, b"".join(lines))
                lines.clear()
                entries.clear()
                count = 0
        self.previous = previous
        if count:
            yield _joined(entries, activity_id, b"".join(lines))

    def _python(self, sql: str, params: list, keyed: bool,
                line: Callable[..., str]) -> Iterator[Part]:
        """Lines built here from the columns: ECS lines, or audit/1 lines when SQLite cannot build them."""
        names = (*ACTIVITY_FIELDS, "key", "prev_hash", "hash", "attested_revision", "original_comment")
        unpack, base_text = codec.unpack, self.bases.text
        previous = self.previous
        lines: list[str] = []
        entries: list[bytes] = []
        activity_id = 0
        for values in self.store.conn.execute(sql, params):
            record = dict(zip(names, values))
            version, base, data, delta, sealed = values[len(names):]
            entries.append(sealed)
            if record["original_comment"] is not None:  # as stored: JSON text
                record["original_comment"] = jsontext.loads(record["original_comment"])
            record["gap"] = record["prev_hash"] != previous
            record["keyed"] = keyed
            previous = record["hash"]
            revision = None
            if data is not None:
                text = unpack(data, base_text(base) if base is not None else None)
                revision = (text.decode(), codec.delta_text(delta, text), version)
            activity_id = record["id"]
            lines.append(line(record, revision))
            if len(lines) == CHUNK:
                self.previous = previous
                yield _joined(entries, activity_id, "".join(lines).encode())
                lines.clear()
                entries.clear()
        self.previous = previous
        if lines:
            yield _joined(entries, activity_id, "".join(lines).encode())


class _Bases:
    """Unpacked revision bases for one export: an export reads every base of every item, where the store's small
    cache would thrash; bounded in bytes."""

    def __init__(self, store: Any):
        self.store = store
        self.held: dict[int, bytes] = {}
        self.size = 0

    def text(self, base: int) -> bytes:
        text = self.held.get(base)
        if text is None:
            text = self.store.snapshots.base_text(base)
            self.size += len(text)
            if self.size > BASES_HELD:
                self.held.clear()
                self.size = len(text)
            self.held[base] = text
        return text


def archive_lines(store: Any, ids: list[int], chunks: Callable[[list[int]], Iterator[list[int]]]) -> Iterator[bytes]:
    """The lines of the activities `ids` (a prune's archive), read in `chunks` of ids, then one trailer for them
    all."""
    segment = trailer.Segment()
    export = None
    for chunk in chunks(ids):
        export = Export(store, LogQuery(filter={"id": {"_in": chunk}}), sealed=False, helper=False, segment=segment)
        for data in export:
            yield from data.splitlines(keepends=True)
    if export is not None:
        yield export.trailer({"pruned": True})


def _joined(entries: list[bytes], last_id: int, data: bytes) -> Part:
    first = entries[0]
    return Part(len(entries), int(first[:first.index(b":")]), last_id, data, b"".join(entries))


def _filters(q: LogQuery) -> dict[str, Any]:
    """What chose an export's lines, as its trailer states them: the filters given (times already absolute), and
    the id a --limit stopped at."""
    chosen = {name: getattr(q, name) for name in ("actions", "users", "collections", "items", "since", "until",
                                                  "search", "filter") if getattr(q, name)}
    if q.max_id is not None:
        chosen["max_id"] = q.max_id
    return chosen


def _first_previous(conn: Any, q: LogQuery) -> str:
    """The hash the first line of an export follows: an incremental export's is the line at its cursor."""
    if q.after_id is None:
        return chain.GENESIS
    row = conn.execute("SELECT hash FROM activity WHERE id = ?", [q.after_id]).fetchone()
    return row[0] if row else chain.GENESIS


def sqlite_writes_as_jsontext(conn: Any) -> bool:
    """Whether this SQLite's json_object escapes text exactly as jsontext.dumps does (every build seen so far)."""
    return conn.execute("SELECT json_object('k', ?)", [_PROBE]).fetchone()[0] == jsontext.dumps({"k": _PROBE})


def _extra(members: list[str]) -> str:
    """The optional members as one bytes column: NULL where a line has none (most lines, so the loop skips it)."""
    if not members:
        return "NULL"
    if len(members) == 1:
        return f"CAST({members[0]} AS BLOB)"
    joined = " || ".join(f"coalesce({member}, '')" for member in members)
    return f"CAST(nullif({joined}, '') AS BLOB)"


def _fill(template: str, parts: dict[str, str]) -> str:
    for name, value in parts.items():
        template = template.replace("{" + name + "}", value)
    return template


def _audit_line(record: dict[str, Any], revision: tuple[str, str, str | None] | None) -> str:
    head = {"schema": SCHEMA, **{name: record[name] for name in _HEAD_FIELDS},
            "key": record["key"], "prev_hash": record["prev_hash"], "hash": record["hash"]}
    if record["attested_revision"] is not None:
        head["attested_revision"] = record["attested_revision"]
    if record["original_comment"] is not None:
        head["original_comment"] = record["original_comment"]
    if record["gap"]:
        head["gap"] = True
    if record["keyed"]:
        head["keyed"] = True
    details = record["details"]
    line = jsontext.dumps(head)[:-1] + ',"details":' + (details if details is not None else "null")
    if revision is None:
        return line + ',"revision":null}\n'
    data, delta, version = revision
    line += ',"revision":{"data":' + data + ',"delta":' + delta
    return line + (',"version":' + jsontext.dumps(version) if version is not None else "") + "}}\n"


def _ecs_line(record: dict[str, Any], revision: tuple[str, str, str | None] | None) -> str:
    from .. import ecs

    return ecs.line(record, record["details"], revision)

