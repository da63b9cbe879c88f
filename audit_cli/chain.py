"""The hash chain: what each activity's hash covers, and how links are made.

    hash = SHA-256(prev_hash + canonical(record))            (HMAC-SHA-256 with the key, for a keyed store)

`record` is the activity as it was written: action, user, timestamp, ip, user_agent, origin, collection, item,
comment (its original text), details (the stored JSON text) and revision (a digest of its data and delta texts, or
null), in canonical JSON (jsontext.canonical: sorted keys, no spaces, UTF-8). The local id is not part of it: ids
change when a trail is imported into a store that has activity, and leaving them out lets verify tell a reordering
from an edit. The first activity links to GENESIS, or to the boundary a prune attests.
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


def record_bytes(fields: dict[str, Any], details_text: str | None, revision: str | None) -> bytes:
    # The canonical form, built with its keys already in sorted order: every value is text or null, so this is
    # exactly jsontext.canonical(record) (a test holds the two equal) without sorting a million times.
    get = fields.get
    return orjson.dumps({
        "action": get("action"), "collection": get("collection"), "comment": get("comment"), "details": details_text,
        "ip": get("ip"), "item": get("item"), "origin": get("origin"), "revision": revision,
        "timestamp": get("timestamp"), "user": get("user"), "user_agent": get("user_agent"),
    })


def record_bytes_of_columns(values: Any, revision: str | None) -> bytes:
    """record_bytes of an activity's columns in models.ACTIVITY_FIELDS order (details as its text), with no dict in
    between: the import's hot path (a test holds the two equal)."""
    _, action, user, timestamp, ip, user_agent, origin, collection, item, comment, details = values[:11]
    return orjson.dumps({
        "action": action, "collection": collection, "comment": comment, "details": details, "ip": ip,
        "item": item, "origin": origin, "revision": revision, "timestamp": timestamp, "user": user,
        "user_agent": user_agent,
    })


def link(prev_hash: str, record: bytes, key: bytes | None = None) -> str:
    if key is None:
        return hashlib.sha256(prev_hash.encode() + record).hexdigest()
    return hmac.new(key, prev_hash.encode() + record, hashlib.sha256).hexdigest()


def key_check(key: bytes) -> str:
    return hmac.new(key, _KEY_CHECK, hashlib.sha256).hexdigest()
