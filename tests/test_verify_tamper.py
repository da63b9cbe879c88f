"""Tamper evidence end to end: a real store file is tampered with through sqlite3 directly, with the store closed (as
an attacker with write access to the file would), and `audit verify` must catch each change with the right kind and
activity id; legitimate histories (record, revert, comments, versions, export/import, checkpoints) must still verify.

Every tampered store is checked three ways: `audit verify` exits 3 and prints one `TAMPERED: <kind> at activity <id>:
...` line, and `--format json` names the same kind and id.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit_cli import chain, jsontext
from audit_cli.cli import app
from audit_cli.models import Activity
from audit_cli.store import AuditStore, codec
from lines import without_trailers

KEY = "correct horse battery staple"
BODY = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 10


# building stores


def ts(n: int) -> str:
    return f"2026-03-01T10:{n // 60:02d}:{n % 60:02d}.123456Z"


class History:
    """Records a known history through the core and keeps the ids by name."""

    def __init__(self, store: AuditStore, collection: str = "articles"):
        self.store = store
        self.ids: dict[str, int] = {}
        self.n = 0
        self.collection = collection  # the one the items are in: another store's items may not be ours

    def record(self, name: str, action: str, collection: str | None = None, item: str = "1", *, data=None,
               replace=False, patch=None, **fields) -> int:
        self.n += 1
        fields.setdefault("user", "alice")
        activity = Activity(action, collection or self.collection, item, ts(self.n), **fields)
        saved = self.store.record(activity, data=data, replace=replace, patch=patch)
        self.ids[name] = saved.activity["id"]
        return self.ids[name]

    def comment(self, name: str, text: str, item: str = "1", user: str = "carol") -> int:
        self.n += 1
        added = self.store.add_comment(Activity("comment", self.collection, item, ts(self.n), user=user,
                                                comment=text))
        self.ids[name] = added["id"]
        return added["id"]

    def last(self) -> int:
        return self.store.conn.execute("SELECT max(id) FROM activity").fetchone()[0]


def base_history(h: History) -> None:
    """Twelve activities: 1 create, 2 login, 3 update, 4 create, 5 comment, 6 update, 7 update, 8 comment,
    9 delete, 10 update, 11 publish, 12 logout."""
    h.record("create1", "create", data={"title": "Hello", "body": BODY, "status": "draft", "tags": ["a"]},
             ip="10.0.0.1", user_agent="curl/8.5", origin="https://cms.example", details={"request": "r1"})
    h.record("login", "login", "directus_users", "bob", user="bob", ip="10.0.0.2")
    h.record("update1", "update", data={"title": "Hello, world"}, user="bob", details={"reason": "typo"})
    h.record("create2", "create", item="2", data={"title": "Second", "body": BODY})
    h.comment("comment1", "Checked with finance")
    h.record("update2", "update", item="2", data={"status": "published"}, comment="ship it")
    h.record("update1b", "update", data={"status": "review"}, details={"ticket": 7})
    h.comment("comment2", "Looks good", item="2")
    h.record("delete2", "delete", item="2")
    h.record("update1c", "update", data={"status": "published"})
    h.record("publish", "publish")
    h.record("logout", "logout", "directus_users", "bob", user="bob")


def build(path: Path, key: str | None = None, extra=None, collection: str = "articles") -> dict[str, int]:
    with AuditStore.open(path, create=True, chain_key=key.encode() if key else None) as store:
        h = History(store, collection)
        base_history(h)
        if extra:
            extra(h)
        assert h.ids["logout"] == 12
        return h.ids


def with_comment_edits(h: History) -> None:
    """13 and 14: two chained edits of comment 5; 15: a chained delete of comment 8."""
    h.ids["edit1"] = _id_after(h, lambda: h.store.edit_comment(5, "Checked with finance and legal",
                                                               activity=Activity("x", "", "", ts(50), user="carol")))
    h.ids["edit2"] = _id_after(h, lambda: h.store.edit_comment(5, "Checked with finance, legal and sales",
                                                               activity=Activity("x", "", "", ts(51), user="carol")))
    h.ids["cdelete"] = _id_after(h, lambda: h.store.delete_comment(8, activity=Activity("x", "", "", ts(52))))


def _id_after(h: History, change) -> int:
    change()
    return h.last()


@contextlib.contextmanager
def opened(path: Path):
    """A raw sqlite3 connection to the store file, committed and closed at the end: the attacker's tool."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("BEGIN")
        yield db
        db.execute("COMMIT")
    finally:
        db.close()


def rows(path: Path) -> list[tuple]:
    with opened(path) as db:
        return db.execute("SELECT * FROM activity ORDER BY id").fetchall()


# an independent recomputation of the chain, from the README's description (for the attacks that rewrite hashes)


def revision_digest(db: sqlite3.Connection, activity_id: int) -> str | None:
    found = db.execute("SELECT version, base, data, delta FROM revisions WHERE activity = ?", [activity_id]).fetchone()
    if found is None:
        return None
    version, base, data, delta = found
    base_text = codec.unpack_base(db.execute("SELECT body FROM bases WHERE id = ?", [base]).fetchone()[0]) \
        if base is not None else None
    text = codec.unpack(data, base_text)
    return chain.revision_digest(text.decode(), codec.delta_text(delta, text), version)


def recompute(db: sqlite3.Connection, after_id: int = 0, key: bytes | None = None) -> None:
    """Rechain every activity after `after_id` from the hash before it, as someone who knows chain.py would."""
    db.row_factory = sqlite3.Row
    prev = db.execute("SELECT hash FROM activity WHERE id <= ? ORDER BY id DESC LIMIT 1", [after_id]).fetchone()
    prev = prev[0] if prev else chain.GENESIS
    for row in db.execute("SELECT * FROM activity WHERE id > ? ORDER BY id", [after_id]).fetchall():
        fields = dict(row)
        assert not fields["edited_on"] and not fields["comment_deleted_on"], "recompute() handles unedited comments"
        new = chain.link(prev, chain.record_bytes(fields, fields["details"], revision_digest(db, row["id"]),
                                                  own_key(db, fields)), key)
        db.execute("UPDATE activity SET prev_hash = ?, hash = ? WHERE id = ?", [prev, new, row["id"]])
        prev = new
    db.row_factory = None


def own_key(db: sqlite3.Connection, row: dict) -> str:
    """The key a row's hash covers: its own, or "<store id>/<id>" for one recorded in the store."""
    store_id = db.execute("SELECT value FROM settings WHERE key = 'store_id'").fetchone()[0]
    return row.get("key") or f"{store_id}/{row['id']}"


def shift_ids(db: sqlite3.Connection, from_id: int, by: int = 1) -> None:
    """Move activity `from_id` and later up by `by`, with their revisions, making room for an insertion."""
    db.execute("UPDATE activity SET id = -id WHERE id >= ?", [from_id])
    db.execute("UPDATE activity SET id = -id + ? WHERE id < 0", [by])
    db.execute("UPDATE revisions SET activity = -activity WHERE activity >= ?", [from_id])
    db.execute("UPDATE revisions SET activity = -activity + ? WHERE activity < 0", [by])


# running verify


def runner(key: str | None = None) -> CliRunner:
    return CliRunner(env={"AUDIT_USER": "tester", "NO_COLOR": "1", "AUDIT_DB": None, "AUDIT_CHAIN_KEY": key})


def run(path: Path, *args: str, key: str | None = None):
    result = runner(key).invoke(app, ["--db", str(path), *map(str, args)])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def verify_ok(path: Path, *args: str, key: str | None = None) -> dict:
    text = run(path, "verify", *args, key=key)
    assert text.exit_code == 0, text.output
    assert text.stdout.startswith("OK: ") and len(text.stdout.splitlines()) == 1, text.stdout
    result = run(path, "verify", *args, "--format", "json", key=key)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True and "failure" not in report
    return report


def verify_tampered(path: Path, kind: str, at: int, *args: str, key: str | None = None) -> dict:
    """verify exits 3 with one TAMPERED line naming `kind` and `at`, and its JSON report says the same."""
    result = run(path, "verify", *args, "--format", "json", key=key)
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert (report["failure"]["kind"], report["failure"]["id"]) == (kind, at), report["failure"]
    text = run(path, "verify", *args, key=key)
    assert text.exit_code == 3, text.output
    lines = text.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"TAMPERED: {kind} at activity {at}: "), text.stdout
    return report


def cannot_check(path: Path, *args: str, key: str | None = None) -> str:
    """verify exits 1 with one `audit: error: ...` line and nothing on stdout."""
    for extra in ((), ("--format", "json")):
        result = run(path, "verify", *args, *extra, key=key)
        assert result.exit_code == 1, result.output
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("audit: error: "), result.stderr
    return lines[0]


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    path = tmp_path / "audit.db"
    build(path)
    verify_ok(path)
    return path


@pytest.fixture
def keyed(tmp_path: Path) -> Path:
    path = tmp_path / "keyed.db"
    build(path, key=KEY)
    verify_ok(path, key=KEY)
    return path


@pytest.fixture
def commented(tmp_path: Path) -> Path:
    path = tmp_path / "commented.db"
    ids = build(path, extra=with_comment_edits)
    assert (ids["edit1"], ids["edit2"], ids["cdelete"]) == (13, 14, 15)
    verify_ok(path)
    return path


# changing a field


def repack(db: sqlite3.Connection, activity_id: int, change) -> None:
    """Change a revision's snapshot the way the store packs it: unpack against its base, edit, pack again."""
    base, data = db.execute("SELECT base, data FROM revisions WHERE activity = ?", [activity_id]).fetchone()
    base_text = codec.unpack_base(db.execute("SELECT body FROM bases WHERE id = ?", [base]).fetchone()[0])
    snapshot = json.loads(codec.unpack(data, base_text))
    change(snapshot)
    packed = codec.pack(jsontext.dumps(snapshot).encode(), base_text)
    db.execute("UPDATE revisions SET data = ? WHERE activity = ?", [packed, activity_id])


def _set_status(snapshot):
    snapshot["status"] = "archived"


FIELD_CHANGES = {
    "user": (3, "UPDATE activity SET user = 'mallory' WHERE id = 3"),
    "user to null": (3, "UPDATE activity SET user = NULL WHERE id = 3"),
    "timestamp": (6, "UPDATE activity SET timestamp = '2026-03-01T09:00:00.000000Z' WHERE id = 6"),
    "timestamp by a microsecond": (6, "UPDATE activity SET timestamp = replace(timestamp, '123456', '123457') WHERE id = 6"),
    "action": (9, "UPDATE activity SET action = 'soft-delete' WHERE id = 9"),
    "ip": (1, "UPDATE activity SET ip = '10.9.9.9' WHERE id = 1"),
    "user_agent": (1, "UPDATE activity SET user_agent = 'evil/1' WHERE id = 1"),
    "origin": (1, "UPDATE activity SET origin = NULL WHERE id = 1"),
    "collection": (2, "UPDATE activity SET collection = 'users' WHERE id = 2"),
    "item": (4, "UPDATE activity SET item = '3' WHERE id = 4"),
    "a record's comment": (6, "UPDATE activity SET comment = 'held back' WHERE id = 6"),
    "details": (3, """UPDATE activity SET details = '{"reason":"nothing to see"}' WHERE id = 3"""),
    "details added": (10, """UPDATE activity SET details = '{"reason":"routine"}' WHERE id = 10"""),
    "details removed": (7, "UPDATE activity SET details = NULL WHERE id = 7"),
    "details text only (same JSON, spaced)": (3, """UPDATE activity SET details = '{"reason": "typo"}' WHERE id = 3"""),
    "revision delta": (7, """UPDATE revisions SET delta = '[{"op":"replace","path":"/status","value":"x"}]'
                              WHERE activity = 7"""),
    "revision version": (7, "UPDATE revisions SET version = 'draft' WHERE activity = 7"),
    "revision data unpackable": (7, "UPDATE revisions SET data = x'00112233' WHERE activity = 7"),
    "revision removed": (7, "DELETE FROM revisions WHERE activity = 7"),
    "revision given to a login": (2, "INSERT INTO revisions (activity, collection, item, version, base, data, delta) "
                                     "SELECT 2, collection, item, version, base, data, delta FROM revisions "
                                     "WHERE activity = 1"),
    "revision moved to another activity": (6, "UPDATE revisions SET activity = 8 WHERE activity = 6"),
    "comment text in place": (5, "UPDATE activity SET comment = 'Not checked' WHERE id = 5"),
    "comment text and edited_on in place": (5, f"UPDATE activity SET comment = 'Not checked', "
                                               f"edited_on = '{ts(40)}' WHERE id = 5"),
    "comment soft-deleted in place": (5, f"UPDATE activity SET comment_deleted_on = '{ts(40)}' WHERE id = 5"),
}


@pytest.mark.parametrize("change", FIELD_CHANGES)
def test_a_changed_field_is_modified_at_its_activity(plain, change):
    at, sql = FIELD_CHANGES[change]
    with opened(plain) as db:
        assert db.execute(sql).rowcount == 1
    verify_tampered(plain, "modified", at)


def test_a_revision_snapshot_repacked_with_the_codec_is_modified(plain):
    with opened(plain) as db:
        repack(db, 7, _set_status)
    verify_tampered(plain, "modified", 7)


def test_a_revision_snapshot_and_its_delta_changed_together_is_modified(plain):
    with opened(plain) as db:
        repack(db, 10, lambda s: s.update(status="archived"))
        db.execute("""UPDATE revisions SET delta = '[{"op":"replace","path":"/status","value":"archived"}]'
                      WHERE activity = 10""")
    verify_tampered(plain, "modified", 10)


def test_a_changed_base_body_is_modified_at_the_first_revision_packed_against_it(plain):
    with opened(plain) as db:
        base = db.execute("SELECT base FROM revisions WHERE activity = 1").fetchone()[0]
        first = db.execute("SELECT min(activity) FROM revisions WHERE base = ?", [base]).fetchone()[0]
        body = codec.unpack_base(db.execute("SELECT body FROM bases WHERE id = ?", [base]).fetchone()[0])
        db.execute("UPDATE bases SET body = ? WHERE id = ?",
                   [codec.pack_base(body.replace(b"draft", b"final")), base])
    verify_tampered(plain, "modified", first)


def test_a_revision_removed_and_attested_by_the_attacker_is_modified_at_its_activity(plain):
    """The `attested` table holds the former digests of revisions a prune removed. An attacker who removes a revision
    and attests its digest there himself, with no prune record to match, is caught at that activity."""
    with opened(plain) as db:
        digest = revision_digest(db, 7)
        db.execute("DELETE FROM revisions WHERE activity = 7")
        db.execute("INSERT INTO attested (activity, revision) VALUES (7, ?)", [digest])
    verify_tampered(plain, "modified", 7)


def test_every_row_changed_reports_the_first(plain):
    with opened(plain) as db:
        db.execute("UPDATE activity SET user = 'mallory'")
    verify_tampered(plain, "modified", 1)


# removing rows


@pytest.mark.parametrize("removed", [[6], [6, 7], [2, 3, 4], [1], [1, 2]])
def test_deleted_rows_are_reported_at_the_first_missing_id(plain, removed):
    with opened(plain) as db:
        for activity_id in removed:
            db.execute("DELETE FROM revisions WHERE activity = ?", [activity_id])
            db.execute("DELETE FROM activity WHERE id = ?", [activity_id])
    verify_tampered(plain, "deleted", removed[0])


def test_a_deleted_row_whose_neighbour_is_relinked_is_still_caught(plain):
    """Deleting 6 and pointing 7's prev_hash at 5 breaks 7's own hash: modified at 7."""
    with opened(plain) as db:
        db.execute("DELETE FROM revisions WHERE activity = 6")
        db.execute("DELETE FROM activity WHERE id = 6")
        db.execute("UPDATE activity SET prev_hash = (SELECT hash FROM activity WHERE id = 5) WHERE id = 7")
    verify_tampered(plain, "modified", 7)


@pytest.mark.parametrize("removed", [1, 2, 5])
def test_a_removed_tail_is_truncated_at_the_first_missing_id(plain, removed):
    with opened(plain) as db:
        db.execute("DELETE FROM revisions WHERE activity > ?", [12 - removed])
        db.execute("DELETE FROM activity WHERE id > ?", [12 - removed])
    verify_tampered(plain, "truncated", 13 - removed)


def test_everything_removed_is_truncated_at_1(plain):
    with opened(plain) as db:
        db.execute("DELETE FROM revisions")
        db.execute("DELETE FROM activity")
    verify_tampered(plain, "truncated", 1)


def truncate_and_hide(path: Path, keep: int) -> None:
    with opened(path) as db:
        db.execute("DELETE FROM revisions WHERE activity > ?", [keep])
        db.execute("DELETE FROM activity WHERE id > ?", [keep])
        db.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'activity'", [keep])


@pytest.mark.parametrize("removed", [1, 3])
def test_a_removed_tail_with_sqlite_sequence_fixed_is_caught_only_by_an_anchor(plain, tmp_path, removed):
    anchor = tmp_path / "anchor.json"
    assert run(plain, "checkpoint", "-o", anchor).exit_code == 0
    truncate_and_hide(plain, 12 - removed)
    report = verify_ok(plain)  # without an anchor, a shorter chain is a valid chain: that is why anchors exist
    assert report["checked"] == 12 - removed
    verify_tampered(plain, "truncated", 13 - removed, "--anchor", anchor)


def test_a_store_emptied_with_sqlite_sequence_reset_is_truncated_by_its_anchor(plain, tmp_path):
    anchor = tmp_path / "anchor.json"
    run(plain, "checkpoint", "-o", anchor)
    with opened(plain) as db:
        db.execute("DELETE FROM revisions")
        db.execute("DELETE FROM activity")
        db.execute("DELETE FROM sqlite_sequence WHERE name = 'activity'")
    verify_ok(plain)
    verify_tampered(plain, "truncated", 1, "--anchor", anchor)


# adding rows


def test_a_row_inserted_in_the_middle_with_a_valid_hash_is_inserted(plain):
    """The attacker makes room at 7, links a forged row to 6 with a correct hash; 8 (the old 7) still names 6."""
    with opened(plain) as db:
        shift_ids(db, 7)
        db.execute("INSERT INTO activity (id, action, user, timestamp, collection, item, prev_hash, hash) "
                   "VALUES (7, 'login', 'mallory', ?, 'directus_users', 'mallory', '', '')", [ts(7)])
        db.row_factory = sqlite3.Row
        forged = dict(db.execute("SELECT * FROM activity WHERE id = 7").fetchone())
        db.row_factory = None
        prev = db.execute("SELECT hash FROM activity WHERE id = 6").fetchone()[0]
        db.execute("UPDATE activity SET prev_hash = ?, hash = ? WHERE id = 7",
                   [prev, chain.link(prev, chain.record_bytes(forged, None, None, own_key(db, {**forged, "id": 7})))])
    verify_tampered(plain, "inserted", 7)


def test_a_row_inserted_with_a_made_up_hash_is_caught_at_that_row(plain):
    with opened(plain) as db:
        shift_ids(db, 7)
        prev = db.execute("SELECT hash FROM activity WHERE id = 6").fetchone()[0]
        db.execute("INSERT INTO activity (id, action, user, timestamp, collection, item, prev_hash, hash) "
                   "VALUES (7, 'login', 'mallory', ?, 'directus_users', 'mallory', ?, ?)", [ts(7), prev, "f" * 64])
    report = verify_tampered(plain, "modified", 7)
    assert report["checked"] == 6


def test_a_row_appended_to_a_keyed_store_without_the_key_is_modified(keyed):
    with opened(keyed) as db:
        head = db.execute("SELECT hash FROM activity WHERE id = 12").fetchone()[0]
        forged = {"action": "login", "user": "mallory", "timestamp": ts(13), "collection": "directus_users",
                  "item": "mallory"}
        db.execute("INSERT INTO activity (id, action, user, timestamp, collection, item, prev_hash, hash) "
                   "VALUES (13, 'login', 'mallory', ?, 'directus_users', 'mallory', ?, ?)",
                   [ts(13), head, chain.link(head, chain.record_bytes(forged, None, None, own_key(db, {"key": None, "id": 13})))])
    verify_tampered(keyed, "modified", 13, key=KEY)


# reordering


def swap(db: sqlite3.Connection, a: int, b: int) -> None:
    """Swap every column (hashes included) of activities a and b, and their revisions."""
    db.execute("UPDATE activity SET id = -1 WHERE id = ?", [a])
    db.execute("UPDATE activity SET id = ? WHERE id = ?", [a, b])
    db.execute("UPDATE activity SET id = ? WHERE id = -1", [b])
    db.execute("UPDATE revisions SET activity = -1 WHERE activity = ?", [a])
    db.execute("UPDATE revisions SET activity = ? WHERE activity = ?", [a, b])
    db.execute("UPDATE revisions SET activity = ? WHERE activity = -1", [b])


@pytest.mark.parametrize("a, b", [(6, 7), (3, 9), (1, 2), (1, 12), (11, 12)])
def test_two_swapped_rows_are_reordered_at_the_first(plain, a, b):
    swap_ok = rows(plain)
    with opened(plain) as db:
        swap(db, a, b)
    assert len(rows(plain)) == len(swap_ok)
    verify_tampered(plain, "reordered", a)


# rewriting the whole chain


def test_a_consistent_rewrite_of_an_unkeyed_store_passes_verify_but_not_its_anchor(plain, tmp_path):
    anchor = tmp_path / "anchor.json"
    run(plain, "checkpoint", "-o", anchor)
    with opened(plain) as db:
        db.execute("UPDATE activity SET user = 'mallory' WHERE id = 3")
        recompute(db, after_id=2)
    # No key: anyone who can write the file can recompute the chain (README). The anchor is what catches it.
    verify_ok(plain)
    verify_tampered(plain, "head mismatch", 12, "--anchor", anchor)


def test_a_rewrite_that_also_removes_the_anchored_head_is_caught_by_the_anchor(plain, tmp_path):
    anchor = tmp_path / "anchor.json"
    run(plain, "checkpoint", "-o", anchor)
    truncate_and_hide(plain, 10)
    with opened(plain) as db:
        db.execute("UPDATE activity SET user = 'mallory' WHERE id = 3")
        recompute(db, after_id=2)
    verify_ok(plain)
    report = json.loads(run(plain, "verify", "--anchor", anchor, "--format", "json").stdout)
    assert report["failure"]["kind"] == "truncated"


def test_a_rewrite_of_a_keyed_store_without_the_key_is_modified(keyed):
    with opened(keyed) as db:
        db.execute("UPDATE activity SET user = 'mallory' WHERE id = 3")
        recompute(db, after_id=2)  # plain SHA-256: the attacker does not have the key
    verify_tampered(keyed, "modified", 3, key=KEY)


def test_a_full_rewrite_of_a_keyed_store_with_another_key_is_modified(keyed):
    with opened(keyed) as db:
        db.execute("UPDATE activity SET details = NULL WHERE id = 3")
        recompute(db, key=b"a guess")
    verify_tampered(keyed, "modified", 1, key=KEY)


def test_a_keyed_store_unkeyed_by_the_attacker_is_not_ok_with_the_key(keyed):
    """The attacker drops the stored key check and rewrites the chain with plain SHA-256. Whoever verifies with the
    store's key set must not be told OK: the chain is not the keyed chain the store was made with."""
    with opened(keyed) as db:
        db.execute("DELETE FROM settings WHERE key = 'chain_key_check'")
        db.execute("UPDATE activity SET user = 'mallory' WHERE id = 3")
        recompute(db)
    result = run(keyed, "verify", "--format", "json", key=KEY)
    assert result.exit_code == 3, result.output
    assert json.loads(result.stdout)["failure"] == {**json.loads(result.stdout)["failure"], "kind": "modified", "id": 1}


def test_a_keyed_anchor_catches_a_store_unkeyed_by_the_attacker(keyed, tmp_path):
    anchor = tmp_path / "anchor.json"
    assert run(keyed, "checkpoint", "-o", anchor, key=KEY).exit_code == 0
    assert json.loads(anchor.read_text())["keyed"] is True
    with opened(keyed) as db:
        db.execute("DELETE FROM settings WHERE key = 'chain_key_check'")
        recompute(db)
    result = run(keyed, "verify", "--anchor", anchor, "--format", "json")
    assert result.exit_code == 3, result.output
    failure = json.loads(result.stdout)["failure"]
    assert failure["kind"] == "modified" and "carries no key" in failure["message"]  # the anchor binds keyed-ness


def test_a_keyed_store_rekeyed_by_the_attacker_cannot_be_checked_without_an_anchor_but_fails_its_anchor(keyed,
                                                                                                        tmp_path):
    """The attacker swaps the stored key check for one of their own key and rewrites the chain with it. Without an
    anchor that looks like a wrong key (exit 1: cannot check). With the anchor, whose head no longer matches, it is
    provably a rewrite: a wrong key would leave the anchored head's hash as it was."""
    anchor = tmp_path / "anchor.json"
    assert run(keyed, "checkpoint", "-o", anchor, key=KEY).exit_code == 0
    with opened(keyed) as db:
        db.execute("UPDATE settings SET value = ? WHERE key = 'chain_key_check'", [chain.key_check(b"mallory")])
        db.execute("UPDATE activity SET user = 'mallory' WHERE id = 3")
        recompute(db, key=b"mallory")
    cannot_check(keyed, key=KEY)
    verify_tampered(keyed, "head mismatch", 12, "--anchor", anchor, key=KEY)


# comments and their chained edits


def test_a_chained_comment_edit_verifies_and_keeps_the_original_text_provable(commented):
    report = verify_ok(commented)
    assert report["checked"] == 15
    with opened(commented) as db:
        assert db.execute("SELECT comment, edited_on FROM activity WHERE id = 5").fetchone() == \
            ("Checked with finance, legal and sales", ts(51))
        before = json.loads(db.execute("SELECT details FROM activity WHERE id = 13").fetchone()[0])["before"]
    assert before["comment"] == "Checked with finance"


COMMENT_CHANGES = {
    # A comment that was legitimately edited, changed again in place.
    "edited comment's text in place": (5, "UPDATE activity SET comment = 'Not checked' WHERE id = 5"),
    "edited comment's edited_on": (5, f"UPDATE activity SET edited_on = '{ts(59)}' WHERE id = 5"),
    "edited comment un-edited": (5, "UPDATE activity SET comment = 'Checked with finance', edited_on = NULL "
                                    "WHERE id = 5"),
    "deleted comment undeleted": (8, "UPDATE activity SET comment_deleted_on = NULL WHERE id = 8"),
    "deleted comment's text": (8, "UPDATE activity SET comment = 'Looks bad' WHERE id = 8"),
    # The chained records themselves.
    "comment-edit's after text": (14, "UPDATE activity SET details = json_set(details, '$.after.comment', "
                                      "'Checked with nobody') WHERE id = 14"),
    "comment-edit's before text": (13, "UPDATE activity SET details = json_set(details, '$.before.comment', "
                                       "'Not checked') WHERE id = 13"),
    "comment-edit's after text, and the comment to match": (
        14, "UPDATE activity SET details = json_set(details, '$.after.comment', 'Checked with nobody') WHERE id = 14; "
            "UPDATE activity SET comment = 'Checked with nobody' WHERE id = 5"),
    "comment-edit's extra detail": (13, "UPDATE activity SET details = json_set(details, '$.why', 'x') WHERE id = 13"),
    "comment-edit's user": (13, "UPDATE activity SET user = 'mallory' WHERE id = 13"),
    "comment-edit pointed at another comment": (13, "UPDATE activity SET details = json_set(details, '$.comment', "
                                                    "'elsewhere/8') WHERE id = 13"),
    "comment-delete's timestamp": (15, f"UPDATE activity SET timestamp = '{ts(58)}' WHERE id = 15"),
}


@pytest.mark.parametrize("change", COMMENT_CHANGES)
def test_a_changed_comment_or_comment_change_is_modified_at_the_changed_record(commented, change):
    at, sql = COMMENT_CHANGES[change]
    with opened(commented) as db:
        for statement in sql.split(";"):
            assert db.execute(statement).rowcount == 1
    verify_tampered(commented, "modified", at)


def test_a_removed_comment_edit_is_deleted(commented):
    with opened(commented) as db:
        db.execute("DELETE FROM activity WHERE id = 13")
    verify_tampered(commented, "deleted", 13)


def test_a_comment_edit_hidden_by_restoring_the_text_and_removing_its_records(commented):
    """Removing both chained edits of comment 5 and restoring its first text: the gap they leave is caught."""
    with opened(commented) as db:
        db.execute("DELETE FROM activity WHERE id IN (13, 14)")
        db.execute("UPDATE activity SET comment = 'Checked with finance', edited_on = NULL WHERE id = 5")
    verify_tampered(commented, "deleted", 13)


# keyed stores


def test_a_keyed_store_verifies_with_its_key(keyed):
    report = verify_ok(keyed, key=KEY)
    assert report["checked"] == 12 and report.get("keyed") is True


@pytest.mark.parametrize("key", [None, "", "the wrong key"])
def test_a_keyed_store_without_its_key_cannot_be_checked(keyed, key):
    message = cannot_check(keyed, key=key)
    assert "AUDIT_CHAIN_KEY" in message


def test_a_tampered_keyed_store_without_its_key_still_cannot_be_checked(keyed):
    with opened(keyed) as db:
        db.execute("UPDATE activity SET user = 'mallory' WHERE id = 3")
    cannot_check(keyed)
    cannot_check(keyed, key="the wrong key")
    verify_tampered(keyed, "modified", 3, key=KEY)


def test_a_keyed_store_refuses_writes_without_its_key(keyed):
    result = run(keyed, "record", "login", "-c", "u", "-i", "x")
    assert result.exit_code == 1 and "AUDIT_CHAIN_KEY" in result.stderr
    assert len(rows(keyed)) == 12
    verify_ok(keyed, key=KEY)


def test_a_key_set_on_an_unkeyed_store_is_refused_for_writes(plain):
    result = run(plain, "record", "login", "-c", "u", "-i", "x", key=KEY)
    assert result.exit_code == 1 and "AUDIT_CHAIN_KEY" in result.stderr
    assert len(rows(plain)) == 12


# legitimate histories still verify


def cli_ok(path: Path, *args: str, key: str | None = None, input: str | None = None):
    result = runner(key).invoke(app, ["--db", str(path), *map(str, args)], input=input)
    assert result.exit_code == 0, f"audit {' '.join(map(str, args))} exited {result.exit_code}:\n{result.output}"
    return result


def rich_history(path: Path, key: str | None = None) -> None:
    """Through the CLI: every data action, reverts (one restoring a deleted item), comments with several edits and a
    delete, and a version created, saved, promoted and another deleted."""
    c = lambda *args: cli_ok(path, *args, key=key)  # noqa: E731
    c("record", "create", "-c", "articles", "-i", "1", "--data", json.dumps({"title": "Hi", "body": BODY, "n": 1}),
      "--ip", "10.0.0.1", "--user-agent", "ua/1", "--origin", "https://o", "--details", '{"req": "a"}', "--at", ts(1))
    c("record", "update", "-c", "articles", "-i", "1", "--data", '{"title": "Hi there"}', "--comment", "why")
    c("record", "update", "-c", "articles", "-i", "1", "--patch", '[{"op": "add", "path": "/tags", "value": ["x"]}]')
    c("record", "update", "-c", "articles", "-i", "1", "--replace", "--data", '{"title": "Replaced", "n": 2}')
    c("record", "soft-delete", "-c", "articles", "-i", "1", "--data", '{"status": "hidden"}')
    c("record", "create", "-c", "articles", "-i", "2", "--data", '{"title": "Two", "ü": "ünïcode ✓"}')
    c("record", "update", "-c", "articles", "-i", "2", "--data", '{"title": null}')
    c("record", "delete", "-c", "articles", "-i", "2")
    c("revert", "articles", "2", "--to", "1")  # restores the deleted item
    c("revert", "articles", "1", "--to", "0", "--comment", "back to the start")
    c("record", "login", "-c", "directus_users", "-i", "bob", "--user", "bob", "--ip", "10.0.0.9")
    c("record", "entry.update", "-c", "api::article.article", "-i", "7", "--details", '{"payload": [1, 2, {"a": null}]}')
    c("comment", "add", "articles", "1", "First thought")
    c("comment", "add", "articles", "2", "Second thought")
    comment = int(json.loads(cli_ok(path, "log", "--action", "comment", "--limit", "1", "--sort", "id",
                                    "--format", "json", key=key).stdout)[0]["id"])
    for text in ("First thought, revised", "First thought, revised again", "Final thought"):
        c("comment", "edit", comment, text)
    c("comment", "delete", comment + 1)
    c("version", "create", "articles", "1", "draft")
    c("version", "save", "articles", "1", "draft", "--data", '{"title": "Draft title"}')
    c("version", "save", "articles", "1", "draft", "--data", '{"body": "Draft body"}')
    c("version", "promote", "articles", "1", "draft")
    c("version", "create", "articles", "2", "scrap")
    c("version", "save", "articles", "2", "scrap", "--data", '{"title": "Scrapped"}')
    c("version", "delete", "articles", "2", "scrap")
    c("record", "logout", "-c", "directus_users", "-i", "bob", "--user", "bob")


def test_a_rich_legitimate_history_verifies(tmp_path):
    path = tmp_path / "rich.db"
    rich_history(path)
    report = verify_ok(path)
    actions = [r[1] for r in rows(path)]
    assert {"create", "update", "soft-delete", "delete", "revert", "comment", "comment-edit", "comment-delete",
            "version-create", "version-save", "promote", "version-delete", "login", "logout"} <= set(actions)
    assert report["checked"] == len(actions) and report["head_id"] == len(actions)
    assert report["head"] == rows(path)[-1][-2]  # the hash column


def test_a_rich_keyed_history_verifies_with_its_key(tmp_path):
    path = tmp_path / "rich.db"
    rich_history(path, key=KEY)
    verify_ok(path, key=KEY)
    cannot_check(path)


def test_verify_does_not_write(plain):
    before = plain.read_bytes()
    verify_ok(plain)
    assert plain.read_bytes() == before


def test_an_empty_store_verifies(tmp_path):
    path = tmp_path / "empty.db"
    AuditStore.open(path, create=True).close()
    report = verify_ok(path)
    assert (report["checked"], report["head"]) == (0, chain.GENESIS)


# export and import


def export(path: Path, target: Path | None = None, key: str | None = None) -> bytes:
    if target is None:
        return cli_ok(path, "export", key=key).stdout_bytes
    cli_ok(path, "export", "-o", target, key=key)
    return target.read_bytes()


def chain_columns(path: Path) -> list[tuple]:
    with opened(path) as db:
        return db.execute("SELECT id, prev_hash, hash FROM activity ORDER BY id").fetchall()


@pytest.fixture
def rich(tmp_path: Path) -> Path:
    path = tmp_path / "rich.db"
    rich_history(path)
    return path


def test_export_then_import_into_an_empty_store_keeps_the_chain(rich, tmp_path):
    exported = tmp_path / "trail.jsonl"
    original = export(rich, exported)
    copy = tmp_path / "copy.db"
    cli_ok(copy, "import", exported)
    assert chain_columns(copy) == chain_columns(rich)
    assert verify_ok(copy)["head"] == verify_ok(rich)["head"]
    assert without_trailers(export(copy)) == without_trailers(original)  # (the trailer names who exported it)
    assert rows(copy) == [row[:13] + (row[13] or f"{_store_id(rich)}/{row[0]}",) + row[14:] for row in rows(rich)]


def _store_id(path: Path) -> str:
    with opened(path) as db:
        return db.execute("SELECT value FROM settings WHERE key = 'store_id'").fetchone()[0]


def test_export_then_import_of_a_gzipped_trail_keeps_the_chain(rich, tmp_path):
    exported = tmp_path / "trail.jsonl.gz"
    export(rich, exported)
    copy = tmp_path / "copy.db"
    cli_ok(copy, "import", exported)
    assert chain_columns(copy) == chain_columns(rich)
    assert without_trailers(export(copy)) == without_trailers(gzip.decompress(exported.read_bytes()))


def test_a_keyed_trail_imported_into_an_empty_store_with_its_key_verifies(tmp_path):
    source = tmp_path / "keyed.db"
    rich_history(source, key=KEY)
    exported = tmp_path / "trail.jsonl"
    export(source, exported, key=KEY)
    copy = tmp_path / "copy.db"
    cli_ok(copy, "import", exported, key=KEY)
    assert chain_columns(copy) == chain_columns(source)
    verify_ok(copy, key=KEY)
    cannot_check(copy)


def test_import_into_a_non_empty_store_chains_anew_and_keeps_source_keys(rich, tmp_path):
    exported = tmp_path / "trail.jsonl"
    export(rich, exported)
    target = tmp_path / "target.db"
    build(target, collection="pages")  # items of its own: an import refuses a create of an item that exists
    cli_ok(target, "import", exported)
    report = verify_ok(target)
    n = len(rows(rich))
    assert report["checked"] == 12 + n + 1  # and the record of the import, which chained them anew
    assert rows(target)[-1][1] == "import"
    source_id = _store_id(rich)
    imported = rows(target)[12:-1]
    assert [r[13] for r in imported] == [f"{source_id}/{i}" for i in range(1, n + 1)]
    assert imported[0][15] == rows(target)[11][14]  # chained onto the target's head
    lines = [json.loads(line) for line in export(target).splitlines()[12:12 + n]]
    assert [line["key"] for line in lines] == [f"{source_id}/{i}" for i in range(1, n + 1)]
    before = rows(target)
    result = cli_ok(target, "import", exported)
    assert rows(target) == before, result.output
    verify_ok(target)


def test_an_import_appended_to_an_imported_store_verifies(rich, tmp_path):
    """Two trails imported one after the other, then more recorded: one chain."""
    exported = tmp_path / "trail.jsonl"
    export(rich, exported)
    other = tmp_path / "other.db"
    build(other, extra=with_comment_edits, collection="pages")
    other_export = tmp_path / "other.jsonl"
    export(other, other_export)
    target = tmp_path / "target.db"
    cli_ok(target, "import", other_export)
    cli_ok(target, "import", exported)
    cli_ok(target, "comment", "edit", 5, "edited after import")
    cli_ok(target, "record", "update", "-c", "articles", "-i", "1", "--data", '{"after": "import"}')
    verify_ok(target)


def test_a_broken_chain_stops_the_import_with_the_line_and_keeps_nothing(rich, tmp_path):
    exported = tmp_path / "trail.jsonl"
    lines = export(rich, exported).splitlines(keepends=True)
    line = json.loads(lines[3])
    line["user"] = "mallory"
    lines[3] = (json.dumps(line) + "\n").encode()
    exported.write_bytes(b"".join(lines))
    for target in (tmp_path / "empty.db", tmp_path / "busy.db"):
        if target.name == "busy.db":
            build(target, collection="pages")
        before = rows(target) if target.exists() else []
        result = run(target, "import", exported)
        assert result.exit_code != 0, result.output
        assert result.exit_code in (1, 3)
        message = result.stderr.strip().splitlines()
        assert len(message) == 1 and "line 4" in message[0], result.stderr
        assert (rows(target) if target.exists() else []) == before


def test_a_removed_line_stops_the_import_with_the_line(rich, tmp_path):
    exported = tmp_path / "trail.jsonl"
    lines = export(rich, exported).splitlines(keepends=True)
    exported.write_bytes(b"".join(lines[:5] + lines[6:]))
    target = tmp_path / "empty.db"
    result = run(target, "import", exported)
    assert result.exit_code != 0
    assert "line 6" in result.stderr.strip().splitlines()[-1]
    assert not target.exists() or rows(target) == []


# offline verify of an exported file


@pytest.mark.parametrize("name", ["trail.jsonl", "trail.jsonl.gz"])
def test_an_export_verifies_offline(rich, tmp_path, name):
    exported = tmp_path / name
    export(rich, exported)
    nowhere = tmp_path / "no-store.db"
    report = verify_ok(nowhere, exported)
    assert report["head"] == verify_ok(rich)["head"]
    assert report["checked"] == len(rows(rich))
    assert not nowhere.exists()


def write_lines(path: Path, lines: list[bytes]) -> None:
    data = b"".join(lines)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)


def exported_lines(rich: Path) -> list[bytes]:
    return export(rich).splitlines(keepends=True)


@pytest.mark.parametrize("name", ["trail.jsonl", "trail.jsonl.gz"])
def test_an_export_with_an_edited_line_fails_offline(rich, tmp_path, name):
    lines = exported_lines(rich)
    assert b'"user":"tester"' in lines[4]
    lines[4] = lines[4].replace(b'"user":"tester"', b'"user":"mallor"')
    path = tmp_path / name
    write_lines(path, lines)
    verify_tampered(tmp_path / "none.db", "modified", 5, path)


@pytest.mark.parametrize("name", ["trail.jsonl", "trail.jsonl.gz"])
def test_an_export_with_a_removed_line_fails_offline(rich, tmp_path, name):
    lines = exported_lines(rich)
    path = tmp_path / name
    write_lines(path, lines[:5] + lines[6:])
    verify_tampered(tmp_path / "none.db", "deleted", 6, path)


# Line 2 is `record update -c articles -i 1 --data '{"title": "Hi there"}' --comment why`. Each edit keeps the line
# valid JSON of the same shape; whatever the importer would make of it, the file was tampered with: exit 3, not 1.
LINE_EDITS = {
    "action": (rb'"action":"update"', rb'"action":"updatx"'),
    "action to another data action": (rb'"action":"update"', rb'"action":"create"'),
    "collection": (rb'"collection":"articles"', rb'"collection":"articlez"'),
    "item": (rb'"item":"1"', rb'"item":"3"'),
    "timestamp to another instant": (rb'"timestamp":"YYYY-', rb'"timestamp":"2199-'),
    "timestamp to no instant": (rb'"timestamp":"YYYY-', rb'"timestamp":"YYYYx'),
    "revision data": (rb'"data":{"title":"Hi there"', rb'"data":{"title":"Hi thera"'),
    "revision delta": (rb'"value":"Hi there"', rb'"value":"Hi thera"'),
    "comment": (rb'"comment":"why"', rb'"comment":"who"'),
}


@pytest.mark.parametrize("edit", LINE_EDITS)
def test_an_export_with_one_field_of_a_line_changed_is_tampered_offline(rich, tmp_path, edit):
    old, new = LINE_EDITS[edit]
    lines = exported_lines(rich)
    assert json.loads(lines[1])["id"] == 2
    year = json.loads(lines[1])["timestamp"][:4].encode()  # recorded now: whatever this year is
    old, new = old.replace(b"YYYY", year), new.replace(b"YYYY", year)
    assert lines[1].count(old) == 1, (old, lines[1])
    lines[1] = lines[1].replace(old, new)
    json.loads(lines[1])
    path = tmp_path / "trail.jsonl"
    write_lines(path, lines)
    verify_tampered(tmp_path / "none.db", "modified", 2, path)


def test_an_export_with_its_last_line_removed_fails_offline_by_its_trailer(rich, tmp_path):
    """The trailer counts the lines: a shorter trail is a cut one."""
    path = tmp_path / "trail.jsonl"
    lines = exported_lines(rich)
    write_lines(path, lines[:-2] + lines[-1:])
    result = run(tmp_path / "none.db", "verify", path)
    assert result.exit_code == 3 and result.stdout.startswith("TAMPERED: deleted"), result.output


def test_an_export_without_its_trailer_is_partial_offline(rich, tmp_path):
    """Without its trailer a file has nothing to compare its length with: partial, and OK only when asked for."""
    path = tmp_path / "trail.jsonl"
    write_lines(path, exported_lines(rich)[:-1])
    result = run(tmp_path / "none.db", "verify", path)
    assert result.exit_code == 1 and "no trailer" in result.stdout, result.output
    assert run(tmp_path / "none.db", "verify", path, "--partial").exit_code == 0


def test_an_export_with_two_lines_swapped_fails_offline(rich, tmp_path):
    lines = exported_lines(rich)
    lines[3], lines[4] = lines[4], lines[3]
    path = tmp_path / "trail.jsonl"
    write_lines(path, lines)
    result = run(tmp_path / "none.db", "verify", path)
    assert result.exit_code == 3 and result.stdout.startswith("TAMPERED: "), result.output


def test_a_keyed_export_verifies_offline_only_with_its_key(tmp_path):
    source = tmp_path / "keyed.db"
    rich_history(source, key=KEY)
    path = tmp_path / "trail.jsonl"
    export(source, path, key=KEY)
    verify_ok(tmp_path / "none.db", path, key=KEY)
    cannot_check(tmp_path / "none.db", path)


def test_offline_verify_of_a_missing_file_cannot_check(tmp_path):
    cannot_check(tmp_path / "none.db", tmp_path / "missing.jsonl")


# checkpoints


def test_checkpoint_then_more_records_verifies_against_the_anchor(plain, tmp_path):
    anchor = tmp_path / "anchor.json"
    result = cli_ok(plain, "checkpoint", "-o", anchor)
    written = json.loads(anchor.read_text())
    assert (written["head_id"], written["count"]) == (12, 12)
    assert written["head_hash"] == rows(plain)[-1][14]
    assert "anchor" in result.stderr
    verify_ok(plain, "--anchor", anchor)
    cli_ok(plain, "record", "update", "-c", "articles", "-i", "1", "--data", '{"n": 1}')
    cli_ok(plain, "comment", "edit", 5, "edited after the checkpoint")
    report = verify_ok(plain, "--anchor", anchor)
    assert report["checked"] == 14 and report.get("anchored") is True


def test_checkpoint_to_stdout_is_the_anchor(plain):
    anchor = json.loads(cli_ok(plain, "checkpoint").stdout)
    assert anchor["schema"] == "audit-anchor/1" and anchor["head_id"] == 12


def test_an_anchor_of_another_store_is_refused(plain, tmp_path):
    other = tmp_path / "other.db"
    build(other)
    anchor = tmp_path / "anchor.json"
    cli_ok(other, "checkpoint", "-o", anchor)
    message = cannot_check(plain, "--anchor", anchor)
    assert "another store" in message


def test_an_anchor_that_is_not_an_anchor_is_refused(plain, tmp_path):
    anchor = tmp_path / "anchor.json"
    anchor.write_text('{"schema": "something/1"}')
    cannot_check(plain, "--anchor", anchor)
    result = run(plain, "verify", "--anchor", tmp_path / "missing.json")
    assert result.exit_code in (1, 2) and result.stderr.strip().splitlines()[-1].startswith("audit: error: ")


def test_a_keyed_store_checkpoints_and_verifies_its_anchor_with_its_key(keyed, tmp_path):
    anchor = tmp_path / "anchor.json"
    cli_ok(keyed, "checkpoint", "-o", anchor, key=KEY)
    verify_ok(keyed, "--anchor", anchor, key=KEY)
    cannot_check(keyed, "--anchor", anchor)
