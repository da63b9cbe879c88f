"""The hash chain: what each activity's hash covers, and how links are made.

    hash = SHA-256(prev_hash + SHA-256(canonical(record)))   (HMAC-SHA-256 with the key, for a keyed store)

`record` is the activity as it was written: action, user, timestamp, ip, user_agent, origin, collection, item,
comment (its original text), details (the stored JSON text), revision (a digest of its data, delta and version, or
null) and key (its identity everywhere: "<store id>/<id>" for one recorded here), in canonical JSON
(jsontext.canonical: sorted keys, no spaces, UTF-8). The local id is not part of it: ids change when a trail is
imported into a store that has activity, and leaving them out lets verify tell a reordering from an edit; the key
is, so that an activity cannot be passed off as another (an import skips keys it holds), and since a local key
names the store, the store's identity is bound to its chain. The first activity links to GENESIS, or to the
boundary a prune attests.

A link covers the record's digest rather than the record, so that the digest alone can stand in for a record that
was lawfully removed or rewritten (an attested revision today; a redacted field later) without another format.

Format 1 (before key was covered): hash = SHA-256(prev_hash + canonical(record without key)). Rows and trails
written so keep their links, and verify accepts a link of either format for a row: a format-1 link cannot be made
for a row without the key (keyed) or without changing every later link (which an anchor shows), and a format-2
record never has a format-1 link, so accepting both weakens only what format 1 never covered: those rows' keys.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson

GENESIS = "0" * 64
RECORD_FIELDS = ("action", "user", "timestamp", "ip", "user_agent", "origin", "collection", "item", "comment")
# What a keyed store keeps so that a wrong key is reported as such, not as every record modified.
_KEY_CHECK = b"audit chain key check"


def revision_digest(data_text: str | bytes, delta_text: str, version: str | None = None) -> str:
    digest = hashlib.sha256(data_text if isinstance(data_text, bytes) else data_text.encode())
    digest.update(b"\n")
    digest.update(delta_text.encode())
    if version is not None:
        digest.update(b"\n" + version.encode())
    return digest.hexdigest()


def record_bytes(fields: dict[str, Any], details_text: str | None, revision: str | None, key: str) -> bytes:
    # The canonical form, built with its keys already in sorted order: every value is text or null, so this is
    # exactly jsontext.canonical(record) (a test holds the two equal) without sorting a million times.
    get = fields.get
    return orjson.dumps({
        "action": get("action"), "collection": get("collection"), "comment": get("comment"), "details": details_text,
        "ip": get("ip"), "item": get("item"), "key": key, "origin": get("origin"), "revision": revision,
        "timestamp": get("timestamp"), "user": get("user"), "user_agent": get("user_agent"),
    })


def record_bytes_of_columns(values: Any, revision: str | None, key: str) -> bytes:
    """record_bytes of an activity's columns in models.ACTIVITY_FIELDS order (details as its text), with no dict in
    between: the import's hot path (a test holds the two equal)."""
    _, action, user, timestamp, ip, user_agent, origin, collection, item, comment, details = values[:11]
    return orjson.dumps({
        "action": action, "collection": collection, "comment": comment, "details": details, "ip": ip,
        "item": item, "key": key, "origin": origin, "revision": revision, "timestamp": timestamp, "user": user,
        "user_agent": user_agent,
    })


def link(prev_hash: str, record: bytes, key: bytes | None = None) -> str:
    """The format-2 link of a record (record_bytes) after prev_hash."""
    return link_digest(prev_hash, hashlib.sha256(record).hexdigest(), key)


def link_digest(prev_hash: str, record_digest: str, key: bytes | None = None) -> str:
    """The link of a record known only by its digest (the hex SHA-256 of its record_bytes)."""
    message = prev_hash.encode() + record_digest.encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def format1_link(prev_hash: str, record: bytes, key: bytes | None = None) -> str:
    """The link format 1 made of the same record: over its bytes, without its key."""
    legacy = orjson.loads(record)
    del legacy["key"]
    message = prev_hash.encode() + orjson.dumps(legacy)
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def matching_link(prev_hash: str, record: bytes, key: bytes | None, given: str | None) -> str:
    """The link the record has after prev_hash: `given` when it is the record's link in either format, else the
    format-2 link (which a check then finds differs from `given`)."""
    new = link(prev_hash, record, key)
    if given is None or new == given or format1_link(prev_hash, record, key) != given:
        return new
    return given


def key_check(key: bytes) -> str:
    return hmac.new(key, _KEY_CHECK, hashlib.sha256).hexdigest()
