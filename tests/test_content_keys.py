"""Keys of lines that come without one (docs/format.md, "Identity and idempotency"): `c:` and the first 128 bits of
the SHA-256 of the line's canonical content, base64url; keys of the older form (`sha256:` and all 64 hex digits),
which earlier releases made, still name the same lines."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from audit_cli import jsonl, jsontext
from audit_cli.models import ACTIVITY_FIELDS
from audit_cli.store import AuditStore

LINES = [{"action": "invalid-credentials", "timestamp": "2026-11-20T03:00:01Z", "collection": "directus_users",
          "item": "admin", "ip": "203.0.113.9"}] * 3 + [
    {"action": "create", "timestamp": "2026-11-20T03:00:02.000000Z", "collection": "posts", "item": "1",
     "user": "ann", "revision": {"data": {"title": "Hello", "ü": "✓"}}},
    {"action": "update", "timestamp": "2026-11-20T03:00:03.000000Z", "collection": "posts", "item": "1",
     "user": "bob", "revision": {"data": {"title": "Hello again", "ü": "✓"}}},
]


def digest(line: dict) -> bytes:
    """The SHA-256 of the line's canonical content, as docs/format.md says: every activity field but id, as the line
    gives it, and the revision."""
    content = {name: line.get(name) for name in ACTIVITY_FIELDS if name != "id"}
    content["revision"] = line.get("revision")
    return hashlib.sha256(jsontext.canonical(content).encode()).digest()


def numbered(keys: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for key in keys:
        seen[key] = seen.get(key, 0) + 1
        out.append(key if seen[key] == 1 else f"{key}#{seen[key]}")
    return out


def write(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def imported(store: AuditStore, path: Path) -> dict:
    return store.import_lines(jsonl.read_lines(str(path)), source=path.name)


def keys_of(store: AuditStore) -> list[str]:
    return [key for (key,) in store.conn.execute("SELECT key FROM activity ORDER BY id")]


def test_a_line_without_a_key_is_keyed_by_128_bits_of_its_content(tmp_path):
    with AuditStore.open(tmp_path / "audit.db", create=True) as store:
        assert imported(store, write(tmp_path / "a.jsonl", LINES))["added"] == 5
        expected = numbered(["c:" + base64.urlsafe_b64encode(digest(line)[:16]).rstrip(b"=").decode()
                             for line in LINES])
        assert keys_of(store) == expected
        assert all(len(key.partition("#")[0]) == 24 for key in expected)  # 71 in the older form
        assert imported(store, write(tmp_path / "a.jsonl", LINES))["added"] == 0


def test_lines_keyed_in_the_older_form_are_not_imported_again(tmp_path):
    """A store that holds the older keys (an earlier release imported the file, or an export of such a store was
    imported here): the same lines without keys add nothing, and more of them add only what is new."""
    older = numbered(["sha256:" + digest(line).hex() for line in LINES])
    with AuditStore.open(tmp_path / "audit.db", create=True) as store:
        keyed = [{**line, "key": key} for line, key in zip(LINES, older)]
        assert imported(store, write(tmp_path / "old.jsonl", keyed))["added"] == 5
        again = imported(store, write(tmp_path / "a.jsonl", LINES))
        assert (again["added"], again["duplicates"]) == (0, 5)
        longer = LINES[:3] * 2 + LINES[3:]  # three more failed logins: the 4th to 6th of that content
        assert imported(store, write(tmp_path / "b.jsonl", longer))["added"] == 3
        added = keys_of(store)[5:]
        base = "c:" + base64.urlsafe_b64encode(digest(LINES[0])[:16]).rstrip(b"=").decode()
        assert added == [f"{base}#{n}" for n in (4, 5, 6)]
        assert store.verify()["ok"]


def test_an_older_key_matches_only_its_own_line_and_number(tmp_path):
    """Another line's older key, or the same content's with another `#n`, is not taken for the line."""
    other = LINES[3]
    with AuditStore.open(tmp_path / "audit.db", create=True) as store:
        keyed = [{**other, "key": "sha256:" + digest(other).hex()},
                 {**LINES[0], "key": "sha256:" + digest(LINES[0]).hex() + "#2"}]
        assert imported(store, write(tmp_path / "old.jsonl", keyed))["added"] == 2
        result = imported(store, write(tmp_path / "a.jsonl", LINES[:1] + LINES[4:]))
        assert (result["added"], result["duplicates"]) == (2, 0)  # the first login (#1), and the update
