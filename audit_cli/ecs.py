"""Elastic Common Schema (ECS 8.11) lines for log pipelines: `audit export --format ecs`.

One JSON object per activity, nested the way Elasticsearch, Filebeat and Logstash expect ECS documents. Members that
would be null are left out. Every field outside `audit.*` is an ECS 8.11 field with the type and the allowed values
ECS gives it (tests/test_ecs.py checks each one against a copy of ECS's own definitions); `audit.*` is this tool's
custom field set, mapped by integrations/elasticsearch/. The mapping (also in `audit export --help` and README.md):

| audit/1 | ECS |
| --- | --- |
| timestamp | `@timestamp` |
| action | `event.action`, and `event.category` / `event.type` / `event.outcome` from `CATEGORIES` |
| (constant) | `event.dataset: "audit"`, `event.kind: "event"`, `ecs.version` |
| action (what it did to the item) | `audit.change`: creation, change or deletion |
| (summary) | `message`: who did what to which item, from where |
| key | `event.id` (stable across stores) |
| id | `event.sequence` (this store's order) |
| user | `user.name`, `user.email` when it is an email address, `related.user` |
| ip | `source.address` as given; `source.ip` (and `source.port`) when it parses as an address, `related.ip` |
| user_agent | `user_agent.original` |
| origin | `http.request.referrer` when it is a URL; always `audit.origin` |
| collection, item, comment, edited_on, comment_deleted_on | `audit.collection`, `audit.item`, `audit.comment`, ... |
| details | `audit.details` when an object (flattened in the index template), else `audit.details_json`, its text |
| revision | `audit.revision` (`data`, `delta`, `version`; free JSON too: not indexed) |
| hash, prev_hash, gap, keyed, attested_revision | `audit.hash`, `audit.prev_hash`, `audit.gap`, `audit.keyed`, ... |

Pure functions: the store hands over a row and the JSON texts it keeps, and gets a line back.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from typing import Any, NamedTuple

from . import jsontext

ECS_VERSION = "8.11.0"
DATASET = "audit"


class Category(NamedTuple):
    """How ECS classifies an action: `event.category`, `event.type` (a list, as ECS normalizes both), the outcome
    when the action itself says it (a failed login), and `audit.change` (what the action did to its item)."""

    category: str
    types: tuple[str, ...]
    outcome: str | None = None
    change: str | None = None


def _database(change: str = "change") -> Category:
    # ECS 8.11 allows only access, change, info and error with `database`: a created or deleted row is a change to
    # the database, and what happened to the item itself goes in audit.change (and event.action).
    return Category("database", ("change",), None, change)


_LIFECYCLE = {"create": "creation", "update": "change", "delete": "deletion", "publish": "change",
              "unpublish": "change"}

# Every action the tool writes or imports under its own name (models.WELL_KNOWN_ACTIONS, the chained comment
# records, versions, Directus's and Strapi's names), by name.
CATEGORIES: dict[str, Category] = {
    **{action: _database() for action in (
        "update", "revert", "promote", "publish", "unpublish", "status-update", "version-save", "version_save",
        "comment-edit", "entry.update", "entry.publish", "entry.unpublish")},
    **{action: _database("creation") for action in ("create", "entry.create", "comment", "version-create")},
    **{action: _database("deletion") for action in (
        "delete", "soft-delete", "entry.delete", "comment-delete", "version-delete", "prune")},
    "upload": Category("file", ("creation",), None, "creation"),
    "login": Category("authentication", ("start",), "success"),
    "admin.auth.success": Category("authentication", ("start",), "success"),
    "logout": Category("authentication", ("end",), "success"),
    "admin.logout": Category("authentication", ("end",), "success"),
    "invalid-credentials": Category("authentication", ("start",), "failure"),
}
# Strapi's admin events, `<object>.<create|update|delete|...>`, by their object.
_PREFIXES: dict[str, tuple[str, tuple[str, ...]]] = {
    "media": ("file", ()), "media-folder": ("file", ()),
    "user": ("iam", ("user",)), "role": ("iam", ("admin",)), "permission": ("iam", ("admin",)),
    "content-type": ("configuration", ()), "component": ("configuration", ()), "locale": ("configuration", ()),
}
# What an action this tool does not know gets: something happened to an item of the audited data.
DEFAULT = Category("database", ("info",))


@lru_cache(maxsize=1024)
def categorize(action: str) -> Category:
    """The ECS classification of `action`: from `CATEGORIES`, Strapi's `<object>.<verb>` admin events, or
    `DEFAULT`."""
    known = CATEGORIES.get(action)
    if known is not None:
        return known
    head, _, verb = action.rpartition(".")
    if head in _PREFIXES and verb in _LIFECYCLE:
        category, types = _PREFIXES[head]
        change = _LIFECYCLE[verb]
        # iam and file take creation/deletion as types of their own; configuration too.
        return Category(category, types + (change,), None, change)
    return DEFAULT


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_HOST_PORT = re.compile(r"\[(?P<v6>[^\]]+)\](?::(?P<port6>\d{1,5}))?|(?P<v4>[0-9.]+):(?P<port4>\d{1,5})")


@lru_cache(maxsize=4096)
def parse_address(text: str) -> tuple[str, int | None] | None:
    """(IP, port or None) for an address as a request gives it: an IPv4 or IPv6 address, one in brackets or with a
    port, with or without an IPv6 zone id (`fe80::1%eth0`, which ECS's `ip` type and strict IP columns refuse, so it
    is dropped); None when it is no address (`unknown`, a host name)."""
    text, port = text.strip(), None
    bracketed = _HOST_PORT.fullmatch(text)
    if bracketed:
        text = bracketed["v6"] or bracketed["v4"]
        given = bracketed["port6"] or bracketed["port4"]
        port = int(given) if given else None
        if port is not None and not 0 < port < 65536:
            return None
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    # Python 3.13 writes a mapped IPv4 address dotted, older ones in hex: the same on every Python.
    return (f"::ffff:{mapped}" if mapped is not None else str(address)), port


_PHRASES = {"creation": "created", "deletion": "deleted", "change": "changed"}
_OWN_PHRASES = {
    "update": "updated", "soft-delete": "soft-deleted", "revert": "reverted", "promote": "promoted a version of",
    "publish": "published", "unpublish": "unpublished", "entry.publish": "published",
    "entry.unpublish": "unpublished", "status-update": "changed the status of", "comment": "commented on",
    "comment-edit": "edited a comment on", "comment-delete": "deleted a comment on",
    "version-create": "created a version of", "version-save": "saved a version of",
    "version_save": "saved a version of", "version-delete": "deleted a version of", "upload": "uploaded",
    "prune": "pruned", "login": "logged in as", "admin.auth.success": "logged in as", "logout": "logged out as",
    "admin.logout": "logged out as", "invalid-credentials": "failed to log in as",
}
_MESSAGE_LIMIT = 240


def message(row: dict[str, Any], category: Category) -> str:
    """A one-line summary for people: `alice updated articles/1 from 10.0.0.1: typo`."""
    phrase = _OWN_PHRASES.get(row["action"])
    if phrase is None:
        phrase = _PHRASES[category.change] if category.change else f"did {row['action']} on"
    text = f"{row.get('user') or 'someone'} {phrase} {row['collection']}/{row['item']}"
    if row.get("ip") is not None:
        text += f" from {row['ip']}"
    if row.get("comment"):
        text += f": {row['comment']}"
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT - 3] + "..."


def _event(row: dict[str, Any], category: Category) -> dict[str, Any]:
    event: dict[str, Any] = {"action": row["action"], "dataset": DATASET, "kind": "event",
                             "category": [category.category], "type": list(category.types)}
    if category.outcome is not None:
        event["outcome"] = category.outcome
    event["id"], event["sequence"] = row["key"], row["id"]
    return event


def document(row: dict[str, Any]) -> dict[str, Any]:
    """The ECS document for an exported activity, without `audit.details` and `audit.revision` (which `line` adds
    as the JSON texts the store keeps, unparsed)."""
    category = categorize(row["action"])
    doc: dict[str, Any] = {"@timestamp": row["timestamp"], "ecs": {"version": ECS_VERSION},
                           "event": _event(row, category), "message": message(row, category)}
    users, ips = [], []
    user = row.get("user")
    if user is not None:
        doc["user"] = {"name": user, "email": user} if _EMAIL.fullmatch(user) else {"name": user}
        users.append(user)
    if category.category == "authentication" and row["item"] not in users:
        users.append(row["item"])  # the account logged in to, or tried
    ip = row.get("ip")
    if ip is not None:
        doc["source"] = {"address": ip}
        parsed = parse_address(ip)
        if parsed is not None:
            doc["source"]["ip"] = parsed[0]
            ips.append(parsed[0])
            if parsed[1] is not None:
                doc["source"]["port"] = parsed[1]
    if users or ips:
        doc["related"] = {name: values for name, values in (("user", users), ("ip", ips)) if values}
    if row.get("user_agent") is not None:
        doc["user_agent"] = {"original": row["user_agent"]}
    origin = row.get("origin")
    if origin is not None and "://" in origin:
        doc["http"] = {"request": {"referrer": origin}}
    audit = {"collection": row["collection"], "item": row["item"]}
    if category.change is not None:
        audit["change"] = category.change
    for name in ("origin", "comment", "edited_on", "comment_deleted_on", "attested_revision"):
        if row.get(name) is not None:
            audit[name] = row[name]
    audit["hash"], audit["prev_hash"] = row["hash"], row["prev_hash"]
    if row.get("gap"):
        audit["gap"] = True
    if row.get("keyed"):
        audit["keyed"] = True
    doc["audit"] = audit
    return doc


def line(row: dict[str, Any], details_text: str | None, revision: tuple[str, str, str | None] | None) -> str:
    """One ECS line (with its newline). `details_text` is the stored JSON text or None; `revision` is (data text,
    delta text, version) or None. The texts are embedded as they are, so numbers keep every digit."""
    text = jsontext.dumps(document(row))
    assert text.endswith("}}")
    tail = ""
    if details_text is not None and details_text.startswith("{"):
        tail += ',"details":' + details_text
    elif details_text is not None:
        # Elasticsearch's flattened type takes objects only: other details (a list, a string) go as their text.
        tail += ',"details_json":' + jsontext.dumps(details_text)
    if revision is not None:
        data, delta, version = revision
        tail += ',"revision":{"data":' + data + ',"delta":' + delta
        tail += (',"version":' + jsontext.dumps(version) if version is not None else "") + "}"
    return text[:-2] + tail + "}}\n"


def flat_keys(doc: Any, prefix: str = "") -> list[str]:
    """Dotted paths of an ECS document's members (down to, not into, audit.details and audit.revision): what a
    pipeline's field list sees."""
    if not isinstance(doc, dict) or prefix in ("audit.details.", "audit.revision."):
        return [prefix[:-1]]
    return [key for name, value in doc.items() for key in flat_keys(value, f"{prefix}{name}.")]
