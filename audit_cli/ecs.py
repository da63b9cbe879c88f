"""Elastic Common Schema (ECS) lines for log pipelines: `audit export --format ecs`.

One JSON object per activity, nested the way Elasticsearch, Filebeat and Logstash expect ECS documents. Members that
would be null are left out. The mapping (also in `audit export --help` and README.md):

| audit/1 | ECS |
| --- | --- |
| timestamp | `@timestamp` |
| action | `event.action` |
| (constant) | `event.dataset: "audit"`, `event.kind: "event"`, `ecs.version` |
| action | `event.category` / `event.type` / `event.outcome`: authentication for login, logout and invalid-credentials (start/end, success/failure); database for the data actions (creation, change, deletion) |
| key | `event.id` (stable across stores) |
| id | `event.sequence` (this store's order) |
| user | `user.name` |
| ip | `source.address`, and `source.ip` when it is an IP address |
| user_agent | `user_agent.original` |
| origin | `http.request.referrer` when it is a URL; always `audit.origin` |
| collection, item, comment, edited_on, comment_deleted_on | `audit.collection`, `audit.item`, `audit.comment`, `audit.edited_on`, `audit.comment_deleted_on` |
| details | `audit.details` (free JSON: map it as `flattened`, or `enabled: false`) |
| revision | `audit.revision` (`data`, `delta`, `version`; free JSON too) |
| hash, prev_hash, gap, keyed, attested_revision | `audit.hash`, `audit.prev_hash`, `audit.gap`, `audit.keyed`, `audit.attested_revision` |

Pure functions: the store hands over a row and the JSON texts it keeps, and gets a line back.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from . import jsontext
from .models import CREATES, DATA_ACTIONS, DELETES

ECS_VERSION = "8.11.0"
DATASET = "audit"
# action -> (event.category, event.type, event.outcome)
_AUTHENTICATION = {
    "login": ("authentication", "start", "success"),
    "logout": ("authentication", "end", "success"),
    "invalid-credentials": ("authentication", "start", "failure"),
}


@lru_cache(maxsize=4096)
def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _classify(action: str) -> dict[str, Any]:
    if action in _AUTHENTICATION:
        category, kind, outcome = _AUTHENTICATION[action]
        return {"category": [category], "type": [kind], "outcome": outcome}
    if action in DATA_ACTIONS or action in CREATES or action in DELETES:
        kind = "creation" if action in CREATES else "deletion" if action in DELETES else "change"
        return {"category": ["database"], "type": [kind]}
    return {}


def document(row: dict[str, Any]) -> dict[str, Any]:
    """The ECS document for an exported activity, without `audit.details` and `audit.revision` (which `line` adds
    as the JSON texts the store keeps, unparsed)."""
    doc: dict[str, Any] = {"@timestamp": row["timestamp"], "ecs": {"version": ECS_VERSION}}
    doc["event"] = {"action": row["action"], "dataset": DATASET, "kind": "event", **_classify(row["action"]),
                    "id": row["key"], "sequence": row["id"]}
    if row.get("user") is not None:
        doc["user"] = {"name": row["user"]}
    ip = row.get("ip")
    if ip is not None:
        doc["source"] = {"address": ip, "ip": ip} if _is_ip(ip) else {"address": ip}
    if row.get("user_agent") is not None:
        doc["user_agent"] = {"original": row["user_agent"]}
    origin = row.get("origin")
    if origin is not None and "://" in origin:
        doc["http"] = {"request": {"referrer": origin}}
    audit = {"collection": row["collection"], "item": row["item"]}
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
    if details_text is not None:
        tail += ',"details":' + details_text
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
