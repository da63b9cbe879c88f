"""The hash chain itself (audit_cli/chain.py): what a hash covers, how links are made, and that the hashes a real
store writes are exactly what the README documents, recomputed here independently with hashlib, hmac and the
stdlib's json (no audit_cli code in the recomputation), as a verifier written elsewhere would.

README: hash = SHA-256(prev_hash + SHA-256(canonical(record))), record = action, user, timestamp, ip, user_agent,
origin, collection, item, its original comment, its details (the stored JSON text), a digest of its revision's data,
delta and version, and its key ("<store id>/<id>" for one recorded in the store), in canonical JSON (sorted keys, no
spaces, UTF-8); the first links to 64 zeros; the local id is left out. A keyed store uses HMAC-SHA-256 with
AUDIT_CHAIN_KEY. Format 1 (rows written before keys were covered) was SHA-256(prev_hash + canonical(record without
key)); verify accepts it for such rows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_cli import chain, jsontext
from audit_cli.models import Activity
from audit_cli.store import AuditStore, codec

FIELDS = ("action", "user", "timestamp", "ip", "user_agent", "origin", "collection", "item", "comment")
SAMPLE = {"action": "update", "user": "alice", "timestamp": "2026-11-20T10:00:00.000000Z", "ip": "10.0.0.1",
          "user_agent": "curl/8.5", "origin": "https://cms", "collection": "articles", "item": "42",
          "comment": "why"}


def reference_record(fields: dict, details_text: str | None, digest: str | None, key: str | None = "k/1") -> bytes:
    record = {name: fields.get(name) for name in FIELDS}
    record["details"] = details_text
    record["revision"] = digest
    if key is not None:  # format 1 had no key
        record["key"] = key
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def reference_link(prev: str, record: bytes, key: bytes | None = None) -> str:
    message = prev.encode() + hashlib.sha256(record).hexdigest().encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def reference_format1_link(prev: str, record: bytes, key: bytes | None = None) -> str:
    if key is None:
        return hashlib.sha256(prev.encode() + record).hexdigest()
    return hmac.new(key, prev.encode() + record, hashlib.sha256).hexdigest()


def reference_digest(data_text: str, delta_text: str, version: str | None) -> str:
    text = data_text + "\n" + delta_text + ("" if version is None else "\n" + version)
    return hashlib.sha256(text.encode()).hexdigest()


# chain.py's pieces


def test_genesis_is_64_zeros():
    assert chain.GENESIS == "0" * 64


def test_link_is_sha256_of_prev_hash_then_the_record_digest():
    record = chain.record_bytes(SAMPLE, '{"a":1}', None, "k/1")
    digest = hashlib.sha256(record).hexdigest()
    assert chain.link(chain.GENESIS, record) == hashlib.sha256(b"0" * 64 + digest.encode()).hexdigest()
    assert chain.link_digest(chain.GENESIS, digest) == chain.link(chain.GENESIS, record)


def test_a_format1_link_is_over_the_record_without_its_key():
    record = chain.record_bytes(SAMPLE, '{"a":1}', None, "k/1")
    legacy = reference_record(SAMPLE, '{"a":1}', None, key=None)
    assert chain.format1_link("ab" * 32, record) == reference_format1_link("ab" * 32, legacy)
    assert chain.format1_link("ab" * 32, record, b"k") == reference_format1_link("ab" * 32, legacy, b"k")
    assert chain.format1_link("ab" * 32, record) != chain.link("ab" * 32, record)


def test_matching_link_accepts_either_format_and_nothing_else():
    record = chain.record_bytes(SAMPLE, None, None, "k/1")
    new, old = chain.link("ab" * 32, record, b"k"), chain.format1_link("ab" * 32, record, b"k")
    assert chain.matching_link("ab" * 32, record, b"k", new) == new
    assert chain.matching_link("ab" * 32, record, b"k", old) == old
    assert chain.matching_link("ab" * 32, record, b"k", "cd" * 32) == new
    assert chain.matching_link("ab" * 32, record, b"k", None) == new
    other = chain.record_bytes(SAMPLE, None, None, "k/2")  # another key: a format-2 link no longer matches
    assert chain.matching_link("ab" * 32, other, b"k", new) != new


def test_a_keyed_link_is_hmac_sha256_with_the_key():
    record = chain.record_bytes(SAMPLE, None, None, "k/1")
    digest = hashlib.sha256(record).hexdigest().encode()
    assert chain.link("ab" * 32, record, b"k") == hmac.new(b"k", b"ab" * 32 + digest, hashlib.sha256).hexdigest()
    assert chain.link("ab" * 32, record, b"k") != chain.link("ab" * 32, record, b"k2")
    assert chain.link("ab" * 32, record, b"k") != chain.link("ab" * 32, record)


def test_record_bytes_are_canonical_json_of_the_documented_fields():
    record = chain.record_bytes({**SAMPLE, "comment": "naïve ✓"}, '{"b":1, "a":2}', "d" * 64, "k/1")
    assert record == reference_record({**SAMPLE, "comment": "naïve ✓"}, '{"b":1, "a":2}', "d" * 64)
    parsed = json.loads(record)
    assert list(parsed) == sorted(parsed)
    assert set(parsed) == set(FIELDS) | {"details", "revision", "key"}
    assert record.startswith(b'{"action":"update","collection":"articles","comment":')  # no spaces between tokens
    assert "naïve ✓".encode() in record  # UTF-8, not \u escapes


@settings(max_examples=100, deadline=None)
@given(st.lists(st.none() | st.text(max_size=5), min_size=13, max_size=13), st.none() | st.text(max_size=64))
def test_record_bytes_of_columns_is_record_bytes(values, revision):
    """The import's positional form (ACTIVITY_FIELDS order) gives the very bytes of the dict form."""
    from audit_cli.models import ACTIVITY_FIELDS

    row = dict(zip(ACTIVITY_FIELDS, values))
    assert chain.record_bytes_of_columns(values, revision, "k") == chain.record_bytes(row, row["details"], revision, "k")


@pytest.mark.parametrize("name", FIELDS)
def test_every_documented_field_is_covered(name):
    before = chain.record_bytes(SAMPLE, None, None, "k/1")
    assert chain.record_bytes({**SAMPLE, name: "other"}, None, None, "k/1") != before
    assert chain.record_bytes({**SAMPLE, name: None}, None, None, "k/1") != before


def test_details_revision_and_key_are_covered():
    base = chain.record_bytes(SAMPLE, '{"a":1}', "d" * 64, "k/1")
    assert chain.record_bytes(SAMPLE, '{"a":2}', "d" * 64, "k/1") != base
    assert chain.record_bytes(SAMPLE, '{"a": 1}', "d" * 64, "k/1") != base  # the stored text, as written
    assert chain.record_bytes(SAMPLE, None, "d" * 64, "k/1") != base
    assert chain.record_bytes(SAMPLE, '{"a":1}', "e" * 64, "k/1") != base
    assert chain.record_bytes(SAMPLE, '{"a":1}', None, "k/1") != base
    assert chain.record_bytes(SAMPLE, '{"a":1}', "d" * 64, "k/2") != base


@pytest.mark.parametrize("name", ["id", "edited_on", "comment_deleted_on", "hash", "prev_hash"])
def test_the_local_id_and_the_mutable_comment_state_are_not_covered(name):
    # The id changes on import into a busy store; edited_on and comment_deleted_on change with chained edits (and
    # verify checks them against those).
    assert chain.record_bytes({**SAMPLE, name: "x"}, None, None, "k") == chain.record_bytes(SAMPLE, None, None, "k")


def test_revision_digest_covers_data_delta_and_version():
    digest = chain.revision_digest('{"a":1}', '[{"op":"add","path":"/a","value":1}]')
    assert digest == reference_digest('{"a":1}', '[{"op":"add","path":"/a","value":1}]', None)
    assert chain.revision_digest('{"a":2}', '[{"op":"add","path":"/a","value":1}]') != digest
    assert chain.revision_digest('{"a":1}', "[]") != digest
    assert chain.revision_digest('{"a":1}', '[{"op":"add","path":"/a","value":1}]', "draft") != digest
    assert chain.revision_digest('{"a":1}', '[{"op":"add","path":"/a","value":1}]', "") != digest


def test_the_key_check_is_not_the_key():
    check = chain.key_check(b"secret")
    assert len(check) == 64 and "secret" not in check
    assert check != chain.key_check(b"secret2")


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries({name: st.none() | TEXT for name in FIELDS}), st.none() | TEXT,
       st.none() | st.text("0123456789abcdef", min_size=64, max_size=64))
def test_record_bytes_match_the_stdlib_canonical_form_for_any_text(fields, details, digest):
    """A verifier written with any standard JSON library gets the same bytes: control characters, quotes,
    backslashes, U+2028, astral characters and DEL all serialize as the stdlib's ensure_ascii=False form."""
    assert chain.record_bytes(fields, details, digest, "k/1") == reference_record(fields, details, digest)


# a real store's hashes, recomputed independently


def build(path: Path, key: bytes | None = None) -> None:
    def at(n):
        return f"2026-03-01T10:00:{n:02d}.000001Z"

    with AuditStore.open(path, create=True, chain_key=key) as store:
        def rec(n, action, item="1", data=None, **kw):
            return store.record(Activity(action, "articles", item, at(n), user="alice", **kw), data=data)

        rec(1, "create", data={"title": "Hello", "body": "x" * 300, "ü": "✓"}, ip="10.0.0.1",
            details={"z": 1, "a": [1, 2]})
        rec(2, "update", data={"title": "Hello, world"}, comment="typo", origin="https://o", user_agent="ua")
        rec(3, "login", "bob")
        rec(4, "create", "2", data={"n": 2 ** 70})
        comment = store.add_comment(Activity("comment", "articles", "1", at(5), user="carol", comment="First"))
        store.edit_comment(comment["id"], "Second", activity=Activity("x", "", "", at(6)))
        store.edit_comment(comment["id"], "Third", activity=Activity("x", "", "", at(7)))
        rec(8, "update", data={"status": "review"})
        store.delete_comment(comment["id"], activity=Activity("x", "", "", at(9)))
        store.revert("articles", "1", to=0, activity=Activity("revert", "", "", at(10), user="bob"))
        store.create_version("articles", "1", "draft", name=None, activity=Activity("v", "", "", at(11)))
        store.save_version("articles", "1", "draft", {"title": "Draft"}, activity=Activity("v", "", "", at(12)))
        store.promote_version("articles", "1", "draft", fields=None, force=False, activity=Activity("v", "", "", at(13)))
        rec(14, "delete", "2")


def stored(path: Path) -> tuple[list[dict], dict[int, tuple]]:
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    activities = [dict(row) for row in db.execute("SELECT * FROM activity ORDER BY id")]
    revisions = {}
    for row in db.execute("SELECT r.activity, r.version, r.data, r.delta, b.body FROM revisions r "
                          "LEFT JOIN bases b ON b.id = r.base"):
        base = codec.unpack_base(row["body"]) if row["body"] is not None else None
        text = codec.unpack(row["data"], base)
        revisions[row["activity"]] = (text.decode(), codec.delta_text(row["delta"], text), row["version"])
    store_id = db.execute("SELECT value FROM settings WHERE key = 'store_id'").fetchone()[0]
    db.close()
    for activity in activities:
        activity["store_id"] = store_id
    return activities, revisions


def original_comment(activity: dict, activities: list[dict]) -> str | None:
    """A comment's text as first written: the `before` of its first chained edit or delete, if any."""
    if activity["action"] != "comment":
        return activity["comment"]
    me = activity["key"] or f"{activity['store_id']}/{activity['id']}"
    for later in activities:
        if later["id"] > activity["id"] and later["action"] in ("comment-edit", "comment-delete"):
            details = json.loads(later["details"])
            if details.get("comment") == me:
                return details["before"]["comment"]
    return activity["comment"]


def recomputed(path: Path, key: bytes | None = None) -> list[tuple[str, str]]:
    activities, revisions = stored(path)
    prev, out = "0" * 64, []
    for activity in activities:
        fields = {**activity, "comment": original_comment(activity, activities)}
        revision = revisions.get(activity["id"])
        digest = reference_digest(*revision) if revision else None
        own = activity["key"] or f"{activity['store_id']}/{activity['id']}"
        new = reference_link(prev, reference_record(fields, activity["details"], digest, own), key)
        out.append((prev, new))
        prev = new
    return out


@pytest.mark.parametrize("key", [None, b"the key"])
def test_a_real_store_holds_exactly_the_documented_hashes(tmp_path, key):
    path = tmp_path / "audit.db"
    build(path, key)
    activities, _ = stored(path)
    assert [(a["prev_hash"], a["hash"]) for a in activities] == recomputed(path, key)
    assert {"comment-edit", "comment-delete", "revert", "promote", "version-save"} <= {a["action"] for a in activities}
    with AuditStore.open(path, chain_key=key) as store:
        report = store.verify()
    assert report["ok"] and report["head"] == activities[-1]["hash"]


def test_a_keyed_store_does_not_hold_its_key(tmp_path):
    path = tmp_path / "audit.db"
    key = b"a very recognisable chain key 0123456789"
    build(path, key)
    for name in (path, Path(f"{path}-wal")):
        if name.exists():
            assert key not in name.read_bytes()
            assert key.hex().encode() not in name.read_bytes()


def test_the_hash_covers_content_not_packing(tmp_path):
    """Re-packing a revision against another base (what a future compaction may do) keeps the chain valid."""
    path = tmp_path / "audit.db"
    build(path)
    db = sqlite3.connect(path)
    (activity, text), = [(a, codec.unpack(d, codec.unpack_base(b)))
                         for a, d, b in db.execute("SELECT r.activity, r.data, b.body FROM revisions r "
                                                   "JOIN bases b ON b.id = r.base WHERE r.activity = 2")]
    base = db.execute("INSERT INTO bases (body) VALUES (?)", [codec.pack_base(b"{}")]).lastrowid
    db.execute("UPDATE revisions SET base = ?, data = ? WHERE activity = ?", [base, codec.pack(text, b"{}"), activity])
    db.commit()
    db.close()
    with AuditStore.open(path) as store:
        assert store.verify()["ok"]


def test_record_bytes_of_an_activity_as_the_store_wrote_it(store, record):
    """The core's own insert path: a recorded activity's hash is the link of its fields, details text and digest."""
    saved = record("create", data={"b": 1, "a": [1, 2]}, user="u", details={"y": 1, "x": 2}).activity
    row = store.conn.execute("SELECT prev_hash, hash, details FROM activity WHERE id = ?", [saved["id"]]).fetchone()
    assert row[2] == jsontext.dumps({"y": 1, "x": 2})  # details kept as given, not re-sorted
    data_text = jsontext.dumps({"b": 1, "a": [1, 2]})
    delta_text = codec.delta_text(store.conn.execute(
        "SELECT delta FROM revisions WHERE activity = ?", [saved["id"]]).fetchone()[0], data_text.encode())
    assert delta_text == jsontext.dumps([{"op": "add", "path": "/b", "value": 1}, {"op": "add", "path": "/a",
                                                                                 "value": [1, 2]}])
    digest = reference_digest(data_text, delta_text, None)
    assert row[0] == "0" * 64
    own = f"{store.store_id()}/{saved['id']}"
    assert row[1] == reference_link(row[0], reference_record(saved, row[2], digest, own))
