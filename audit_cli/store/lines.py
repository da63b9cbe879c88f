"""Pure helpers of an import's hot path: checking an audit/1 line, its JSON text, applying its delta, and a bloom
filter. No store, no I/O (store/importer.py drives them; snapshots are packed by store/codec.py)."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime
from typing import Any

import orjson

from .. import jsontext, patches, timeparse
from ..errors import UsageError
from ..models import ACTION_PATTERN, ACTIVITY_FIELDS, DATA_ACTIONS, REVISION_ACTIONS, SCHEMA


# The key of a line without one: this and the first 128 bits of the SHA-256 of its canonical content, base64url
# (22 characters): 24 bytes in the row and again in the key index, where `sha256:` and 64 hex digits took 71
# (docs/format.md). Keys of that older form, which earlier releases made, stay valid (legacy_bounds).
CONTENT_KEY = "c:"
LEGACY_KEY = "sha256:"
_TEXT_FIELDS = ("user", "ip", "user_agent", "origin", "comment", "edited_on", "comment_deleted_on")
_STORED_TS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")


class Bloom:
    """A set that may answer "maybe" for what it never held, in a fixed 2**bits bits, `probes` probes a value
    (double hashing of its 64-bit hash). The default, 16 MiB and 6 probes, says "maybe" for one absent key in
    about 10**8 after a million, one in 15,000 after five million (the importer then makes its key index again)."""

    def __init__(self, bits: int = 27, probes: int = 6):
        self.mask = (1 << bits) - 1
        self.bits = bytearray(1 << (bits - 3))
        self.probes = range(probes)

    def _positions(self, value: Any) -> list[int]:
        h = hash(value) & 0xFFFFFFFFFFFFFFFF
        first, step, mask = h & 0xFFFFFFFF, (h >> 32) | 1, self.mask
        return [(first + n * step) & mask for n in self.probes]

    def add(self, value: Any) -> None:
        bits = self.bits
        for i in self._positions(value):
            bits[i >> 3] |= 1 << (i & 7)

    def add_new(self, value: Any) -> bool:
        """Add `value`; whether it was certainly not there before. An import asks this of every key: one pass over
        the probes where a check and an add took two, and a tenth of the importing process's time (py-spy)."""
        h = hash(value) & 0xFFFFFFFFFFFFFFFF
        first, step, mask, bits = h & 0xFFFFFFFF, (h >> 32) | 1, self.mask, self.bits
        new = False
        for n in self.probes:
            i = (first + n * step) & mask
            bit = 1 << (i & 7)
            if not bits[i >> 3] & bit:
                bits[i >> 3] |= bit
                new = True
        return new

    def __contains__(self, value: Any) -> bool:
        bits = self.bits
        for i in self._positions(value):
            if not bits[i >> 3] >> (i & 7) & 1:
                return False
        return True


def stored_time(text: str, what: str = "timestamp") -> str:
    """timeparse.absolute, without parsing what is already in the stored form."""
    if _STORED_TS.fullmatch(text):
        try:
            datetime.fromisoformat(text[:-1])
            return text
        except ValueError:
            pass
    return timeparse.absolute(text, what=what)


def check_line(line: dict[str, Any]) -> tuple[list[Any], str, dict[str, Any] | None]:
    """The activity's columns (ACTIVITY_FIELDS order; id None, details as JSON text), its key, and its revision.

    Every check and message of the audit/1 format, in a fixed order (the first problem found is the one reported).
    """
    get = line.get
    schema = get("schema", SCHEMA)
    if schema != SCHEMA:
        raise UsageError(f"schema {schema!r} is not supported: this version reads {SCHEMA}")
    action, timestamp, collection, item = get("action"), get("timestamp"), get("collection"), get("item")
    if action is None or timestamp is None or collection is None or item is None:
        name = next(n for n, v in (("action", action), ("timestamp", timestamp), ("collection", collection),
                                   ("item", item)) if v is None)
        raise UsageError(f"missing required field {name!r} (required: action, timestamp, collection, item)")
    if type(item) is int:
        item = str(item)
    if type(action) is not str or type(collection) is not str or type(timestamp) is not str:
        for name, value in (("action", action), ("collection", collection), ("timestamp", timestamp)):
            if not isinstance(value, str):
                raise UsageError(f"{name} must be a string, not {jsontext.type_name(value)}")
    if not isinstance(item, str):
        raise UsageError(f"item must be a string (or an integer), not {jsontext.type_name(item)}")
    if not ACTION_PATTERN.fullmatch(action):
        raise UsageError(f"invalid action {action!r}: actions are lowercase slugs such as update")
    user, ip, agent, origin, comment = get("user"), get("ip"), get("user_agent"), get("origin"), get("comment")
    edited_on, deleted_on = get("edited_on"), get("comment_deleted_on")
    for name, value in zip(_TEXT_FIELDS, (user, ip, agent, origin, comment, edited_on, deleted_on)):
        if value is not None and type(value) is not str:
            raise UsageError(f"{name} must be a string or null, not {jsontext.type_name(value)}")
    if action == "comment" and not comment:
        raise UsageError("a comment activity needs its comment text")
    if (edited_on or deleted_on) and action != "comment":
        # Commands read these marks, and only a comment's chained edits make them.
        raise UsageError(f"this {action} line is marked as an edited or deleted comment: edited_on and "
                         "comment_deleted_on belong to comment lines")
    revision = get("revision")
    if revision is not None and type(revision) is not dict:
        raise UsageError(f"revision must be an object or null, not {jsontext.type_name(revision)}")
    details = get("details")
    if revision is not None and action not in REVISION_ACTIONS:
        raise UsageError(f"a {action} line carries a revision, which goes with the data actions "
                         f"({', '.join(DATA_ACTIONS)}) and version-save: put other context in details")
    if revision is not None and revision.get("data") is not None and type(revision["data"]) is not dict:
        raise UsageError(f"revision.data must be a JSON object (an item's state), not "
                         f"{jsontext.type_name(revision['data'])}")
    values = [None, action, user, stored_time(timestamp), ip, agent, origin, collection, item, comment,
              None if details is None else jsontext.dumps(details),
              stored_time(edited_on, "edited_on") if edited_on else None,
              stored_time(deleted_on, "comment_deleted_on") if deleted_on else None]
    key = get("key")
    if key is None:
        content = {name: get(name) for name in ACTIVITY_FIELDS if name != "id"}
        content["revision"] = revision
        try:  # jsontext.canonical's text, as bytes without a round trip through str
            text = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            text = jsontext.canonical(content).encode()
        key = content_key(hashlib.sha256(text).digest())
    elif type(key) is not str:
        raise UsageError(f"key must be a string, not {jsontext.type_name(key)}")
    if revision is not None and action not in DATA_ACTIONS and "version" not in revision:
        if action == "version-save" and isinstance(details, dict) and isinstance(details.get("version"), str):
            revision = {**revision, "version": details["version"]}
    return values, key, revision


def content_key(digest: bytes) -> str:
    return CONTENT_KEY + base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def content_bits(key: str) -> int:
    """The first 64 bits of a content key's digest (one made here, content_key)."""
    return int.from_bytes(base64.urlsafe_b64decode(key[2:14])[:8], "big")


def legacy_bounds(key: str) -> tuple[str, str, str] | None:
    """For a content key (`c:`, with its `#n`), the range of keys of the older form (`sha256:` and 64 hex digits)
    whose digest begins with its 128 bits, and the `#n` such a key must end in: what an earlier release
    made of the same line. None for another key."""
    if not key.startswith(CONTENT_KEY):
        return None
    body, mark, nth = key[len(CONTENT_KEY):].partition("#")
    if len(body) != 22:
        return None
    try:
        prefix = LEGACY_KEY + base64.urlsafe_b64decode(body + "==").hex()
    except ValueError:
        return None
    return prefix, prefix + "g", mark + nth  # hex digits sort below "g"


def given_link(line: dict[str, Any]) -> tuple[str | None, str | None]:
    """The line's (prev_hash, hash), both or neither."""
    prev, own = line.get("prev_hash"), line.get("hash")
    if prev is None and own is None:
        return None, None
    for name, value in (("prev_hash", prev), ("hash", own)):
        if not isinstance(value, str) or len(value) != 64:
            raise UsageError(f"{name} must be a 64-character hex SHA-256, or both hash fields left out")
    return prev, own


def dump(value: Any) -> tuple[bytes, bool]:
    """Compact JSON bytes as jsontext.dumps writes them, and whether orjson reads them back exactly (it does unless
    an integer is past 64 bits, which orjson cannot write either)."""
    try:
        return orjson.dumps(value), True
    except TypeError:
        return jsontext.dumps(value).encode(), False


def load(text: bytes, exact: bool) -> Any:
    """A fresh object from JSON this program wrote (`exact`: orjson may read it)."""
    return orjson.loads(text) if exact else jsontext.loads(text)


def apply(before: bytes | None, exact: bool, delta: list[dict[str, Any]]) -> Any:
    """The state after `delta`, from the previous snapshot's JSON text (None: nothing before), as patches.apply:
    on a fresh parse, and without copying the delta's values (each line's delta is parsed for this alone)."""
    return patches.apply_in_place(load(before, exact) if before is not None else {}, delta, copy_values=False)
