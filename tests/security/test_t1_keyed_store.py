"""T1: a keyed store, an attacker who can write the file but lacks the key. Every change to what a command prints
or obeys is caught by `audit verify` with the key, except removing the newest rows, which an anchor catches."""

from __future__ import annotations

import pytest

from .attack import KEY, audit, caught, tamper, verify


def test_the_untouched_store_verifies(keyed):
    path, _ = keyed
    assert verify(path, key=KEY)[0] == 0


CHANGES = {
    # columns that a command shows or obeys and that format 1 left to no hash
    "the key column of a recorded activity (an import then skips the activity it names)":
        lambda ids: ("UPDATE activity SET key = 'other-store/99' WHERE id = ?", [ids["update"]]),
    "an imported-looking key cleared": lambda ids: ("UPDATE activity SET key = 'x' WHERE id = ?", [ids["login"]]),
    "comment_deleted_on on an update (log then hides it)":
        lambda ids: ("UPDATE activity SET comment_deleted_on = '2026-11-02T00:00:00.000000Z' WHERE id = ?",
                     [ids["update"]]),
    "edited_on on an update (show then claims an edit)":
        lambda ids: ("UPDATE activity SET edited_on = '2026-11-02T00:00:00.000000Z' WHERE id = ?", [ids["update"]]),
    "edited_on on an unedited comment":
        lambda ids: ("UPDATE activity SET edited_on = '2026-11-02T00:00:00.000000Z' WHERE id = ?",
                     [ids["other_comment"]]),
    "a revision moved to another item": lambda ids: ("UPDATE revisions SET item = '2' WHERE activity = ?",
                                                     [ids["update"]]),
    "a revision moved to another collection": lambda ids: ("UPDATE revisions SET collection = 'pages' "
                                                           "WHERE activity = ?", [ids["update"]]),
    "a row with id 0": lambda ids: ("INSERT INTO activity (id, action, timestamp, collection, item, hash, prev_hash) "
                                    "SELECT 0, action, timestamp, collection, item, hash, prev_hash FROM activity "
                                    "WHERE id = 1", []),
    "a row with a negative id": lambda ids: ("INSERT INTO activity (id, action, timestamp, collection, item, hash, "
                                             "prev_hash) SELECT -5, 'login', timestamp, 'u', 'x', hash, prev_hash "
                                             "FROM activity WHERE id = 1", []),
    "a trigger that deletes future rows": lambda ids: (
        "CREATE TRIGGER forget AFTER INSERT ON activity WHEN new.user = 'mallory' "
        "BEGIN DELETE FROM activity WHERE id = new.id; END", []),
    "a view over the activity": lambda ids: ("CREATE VIEW quiet AS SELECT * FROM activity WHERE user != 'mallory'", []),
    "an extra index": lambda ids: ("CREATE INDEX sneaky ON activity (ip)", []),
    "a user renamed": lambda ids: ("UPDATE activity SET user = 'mallory' WHERE id = ?", [ids["update"]]),
    "a revision's delta changed": lambda ids: ("UPDATE revisions SET delta = '[]' WHERE activity = ?", [ids["update"]]),
    "a middle row deleted": lambda ids: ("DELETE FROM activity WHERE id = ?", [ids["login"]]),
    "a prune plan planted while a prune is said to be unfinished": lambda ids: (
        "INSERT INTO prune_plan (activity, what) VALUES (?, 'activity')", [ids["login"]]),
    "an edited comment's edit time moved": lambda ids: (
        "UPDATE activity SET edited_on = '2026-11-01T11:00:00.000000Z' WHERE id = ?", [ids["comment"]]),
    "an edited comment marked deleted": lambda ids: (
        "UPDATE activity SET comment_deleted_on = '2026-11-01T11:00:00.000000Z' WHERE id = ?", [ids["comment"]]),
    "a revision base's body changed": lambda ids: ("UPDATE bases SET body = zeroblob(10) WHERE id = "
                                                  "(SELECT min(id) FROM bases)", []),
    "a former digest planted for a revision": lambda ids: (
        "INSERT INTO attested (activity, revision) VALUES (?, 'x')", [ids["update"]]),
    "a pruned row planted": lambda ids: ("INSERT INTO pruned (id, digest, hash, prune) VALUES (1000, 'a', 'b', 1)", []),
    "the record of an applied migration removed (the next upgrade runs it again)": lambda ids: (
        "DELETE FROM _sqlite_migrations WHERE name = 'm004_pruned'", []),
    "a revision's item stored as a blob": lambda ids: (
        "UPDATE revisions SET item = CAST(item AS BLOB) WHERE activity = ?", [ids["update"]]),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_each_change_is_caught_with_the_key(keyed, change):
    path, ids = keyed
    tamper(path, CHANGES[change](ids), ("INSERT OR REPLACE INTO settings (key, value) VALUES ('prune_pending', '1')", [])
           if "prune plan" in change else "SELECT 1")
    caught(path, key=KEY)


def test_a_changed_store_id_is_caught(keyed):
    # The store's identity is bound to its chain: every activity recorded here has a key that names it.
    path, _ = keyed
    tamper(path, "UPDATE settings SET value = '00000000-0000-0000-0000-000000000000' WHERE key = 'store_id'")
    caught(path, key=KEY)


def test_the_key_check_removed_and_the_chain_made_again_without_a_key_is_caught_with_the_key(keyed, tmp_path):
    path, _ = keyed
    anchor = tmp_path / "anchor.json"
    assert audit("--db", path, "checkpoint", "-o", anchor, key=KEY).exit_code == 0
    tamper(path, "DELETE FROM settings WHERE key = 'chain_key_check'")
    from .test_t2_anchored_store import rechain

    rechain(path)
    caught(path, key=KEY)
    caught(path, "--anchor", anchor)  # and without the key, by the anchor, which saw a keyed chain


def test_removing_the_newest_rows_is_caught_by_an_anchor(keyed, tmp_path):
    path, ids = keyed
    anchor = tmp_path / "anchor.json"
    assert audit("--db", path, "checkpoint", "-o", anchor, key=KEY).exit_code == 0
    tamper(path, ("DELETE FROM activity WHERE id >= ?", [ids["delete"]]),
           ("DELETE FROM revisions WHERE activity >= ?", [ids["delete"]]),
           ("UPDATE sqlite_sequence SET seq = ? WHERE name = 'activity'", [ids["delete"] - 1]))
    assert verify(path, key=KEY)[0] == 0  # what no verify can tell without an anchor (README, Security)
    assert caught(path, "--anchor", anchor, key=KEY)["kind"] == "truncated"


VERSION_CHANGES = {
    "staged fields rewritten (a later promote writes them to main)": "UPDATE versions SET staged = '{\"title\": \"x\"}'",
    "its base moved (promote then does not refuse)": "UPDATE versions SET base_activity = base_activity + 5",
    "a version deleted": "DELETE FROM versions",
    "a version planted": "INSERT INTO versions (collection, item, key, name, base_activity, staged, created_at) "
                         "VALUES ('articles', '1', 'evil', NULL, 1, '{\"status\": \"published\"}', '2026-11-01')",
}


@pytest.mark.parametrize("change", list(VERSION_CHANGES))
def test_a_changed_versions_table_is_caught(keyed, change):
    path, _ = keyed
    tamper(path, VERSION_CHANGES[change])
    caught(path, key=KEY)


@pytest.mark.parametrize("row", ['("retention", \'{"activity": "1d"}\')', '("scope:articles", \'{"track": "none"}\')'])
def test_a_planted_policy_is_caught_and_never_obeyed(keyed, row):
    path, _ = keyed
    tamper(path, f"INSERT OR REPLACE INTO settings (key, value) VALUES {row}")
    caught(path, key=KEY)
    assert audit("--db", path, "retention", "show", "-f", "json", key=KEY).stdout.strip() in ("{}", "")
    assert audit("--db", path, "scope", "show", "-f", "json", key=KEY).stdout.strip() == "[]"


def test_a_policy_record_changed_is_caught_and_policy_is_what_the_chain_says(keyed):
    path, _ = keyed
    assert audit("--db", path, "retention", "set", "--activity", "3650d", key=KEY).exit_code == 0
    assert audit("--db", path, "scope", "set", "articles", "--track", "all", key=KEY).exit_code == 0
    assert verify(path, key=KEY)[0] == 0
    tamper(path, "UPDATE activity SET details = '{\"policy\":{\"activity\":\"1d\"}}' "
                 "WHERE action = 'retention-set'")
    caught(path, key=KEY)
