"""Revisions through the core (AuditStore on a real file): recording, history, snapshot, diff, revert, blame, storage."""

from __future__ import annotations

import json
import random

import jsonpatch
import pytest

from audit_cli import patches
from audit_cli.errors import Conflict, NotFound, UsageError
from audit_cli.models import Activity
from audit_cli.store import AuditStore, codec


def ts(n: int) -> str:
    """A stored timestamp n minutes after 2026-01-01T00:00Z."""
    return f"2026-01-01T{n // 60:02d}:{n % 60:02d}:00.000000Z"


# recording


def test_create_records_a_full_snapshot_and_a_patch_from_empty(store, record):
    done = record("create", data={"title": "Hello", "tags": ["a"], "meta": {"n": 1}}, user="ann")
    assert done.revision is not None
    assert done.revision.data == {"title": "Hello", "tags": ["a"], "meta": {"n": 1}}
    assert done.revision.delta == [
        {"op": "add", "path": "/title", "value": "Hello"},
        {"op": "add", "path": "/tags", "value": ["a"]},
        {"op": "add", "path": "/meta", "value": {"n": 1}},
    ]
    stored = store.revision_of(done.activity["id"])
    assert stored.data == done.revision.data
    assert stored.delta == done.revision.delta


def test_create_without_data_is_an_empty_object(store, record):
    record("create")
    assert store.snapshot("articles", "1") == {}
    assert store.history("articles", "1")[0]["changed"] == []


def test_update_merges_shallowly_and_null_stores_null(store, record):
    record("create", data={"title": "Hello", "body": "text", "meta": {"a": 1, "b": 2}})
    done = record("update", data={"title": None, "meta": {"a": 9}, "new": 0})
    expected = {"title": None, "body": "text", "meta": {"a": 9}, "new": 0}
    assert done.revision.data == expected
    assert store.snapshot("articles", "1") == expected
    assert done.revision.delta == [
        {"op": "replace", "path": "/title", "value": None},
        {"op": "remove", "path": "/meta/b"},
        {"op": "replace", "path": "/meta/a", "value": 9},
        {"op": "add", "path": "/new", "value": 0},
    ]


def test_update_with_replace_takes_the_whole_state(store, record):
    record("create", data={"title": "Hello", "body": "text"})
    done = record("update", data={"title": "Only"}, replace=True)
    assert store.snapshot("articles", "1") == {"title": "Only"}
    assert done.revision.delta == [
        {"op": "remove", "path": "/body"},
        {"op": "replace", "path": "/title", "value": "Only"},
    ]


def test_update_with_a_patch(store, record):
    record("create", data={"tags": ["a", "b"], "a": {"x": 1}, "n": 1})
    done = record("update", patch=[
        {"op": "test", "path": "/n", "value": 1},
        {"op": "add", "path": "/tags/-", "value": "c"},
        {"op": "remove", "path": "/tags/0"},
        {"op": "move", "from": "/a/x", "path": "/x"},
        {"op": "copy", "from": "/tags", "path": "/copy"},
        {"op": "add", "path": "/a~1b", "value": "slash"},
        {"op": "add", "path": "/m~0n", "value": "tilde"},
    ])
    expected = {"tags": ["b", "c"], "a": {}, "n": 1, "x": 1, "copy": ["b", "c"], "a/b": "slash", "m~n": "tilde"}
    assert patches.same(store.snapshot("articles", "1"), expected)
    # the stored delta is recomputed from the two snapshots, and turns one into the other
    assert patches.same(jsonpatch.apply_patch({"tags": ["a", "b"], "a": {"x": 1}, "n": 1}, done.revision.delta),
                        expected)
    assert "/a~1b" in patches.changed_paths(done.revision.delta)
    assert "/m~0n" in patches.changed_paths(done.revision.delta)


def test_a_patch_that_does_not_apply_records_nothing(store, record):
    record("create", data={"n": True})
    with pytest.raises(Conflict, match="patch does not apply"):
        record("update", patch=[{"op": "test", "path": "/n", "value": 1}, {"op": "replace", "path": "/n", "value": 2}])
    assert len(store.history("articles", "1")) == 1
    assert store.conn.execute("SELECT count(*) FROM activity").fetchone()[0] == 1


@pytest.mark.parametrize(("old", "new"), [(1, True), (True, 1), (1, 1.0), (0, False), (None, False), (1.0, 1)])
def test_strict_json_equality_sees_type_changes(store, record, old, new):
    record("create", data={"v": old})
    done = record("update", data={"v": new})
    assert done.revision is not None
    assert done.revision.delta == [{"op": "replace", "path": "/v", "value": new}]
    value = store.snapshot("articles", "1")["v"]
    assert type(value) is type(new) and value == new


def test_an_update_that_changes_nothing_records_the_activity_but_no_revision(store, record):
    record("create", data={"a": 1, "b": [1, 2]})
    done = record("update", data={"a": 1, "b": [1, 2]})
    assert done.revision is None
    assert "nothing changed" in done.note
    assert store.get_activity(done.activity["id"])["action"] == "update"
    assert store.revision_of(done.activity["id"]) is None
    assert len(store.history("articles", "1")) == 1
    noop_patch = record("update", patch=[{"op": "replace", "path": "/a", "value": 1}])
    assert noop_patch.revision is None


def test_soft_delete_is_an_update_that_keeps_the_item(store, record):
    record("create", data={"title": "t", "status": "published"})
    done = record("soft-delete", data={"status": "archived"})
    assert done.revision.delta == [{"op": "replace", "path": "/status", "value": "archived"}]
    assert store.snapshot("articles", "1") == {"title": "t", "status": "archived"}
    assert [h["action"] for h in store.history("articles", "1")] == ["create", "soft-delete"]
    record("update", data={"title": "still live"})
    assert store.snapshot("articles", "1")["title"] == "still live"


def test_delete_keeps_the_last_state(store, record):
    record("create", data={"title": "t", "n": 1})
    record("update", data={"n": 2})
    done = record("delete")
    assert done.revision.data == {"title": "t", "n": 2}
    assert done.revision.delta == []
    assert store.revision("articles", "1", -1).data == {"title": "t", "n": 2}
    with pytest.raises(Conflict, match="deleted"):
        store.snapshot("articles", "1")


@pytest.mark.parametrize("action", ["update", "delete", "soft-delete"])
def test_changing_a_missing_item_is_not_found(store, record, action):
    with pytest.raises(NotFound, match="articles 9 has no recorded state"):
        record(action, item="9", data=None if action == "delete" else {"a": 1})
    assert store.conn.execute("SELECT count(*) FROM activity").fetchone()[0] == 0


@pytest.mark.parametrize("action", ["update", "delete", "soft-delete"])
def test_changing_a_deleted_item_is_refused(store, record, action):
    record("create", data={"a": 1})
    record("delete")
    with pytest.raises(Conflict, match="was deleted in activity 2"):
        record(action, data=None if action == "delete" else {"a": 2})
    assert len(store.history("articles", "1")) == 2


def test_create_of_a_live_item_is_refused(store, record):
    record("create", data={"a": 1})
    with pytest.raises(Conflict, match="already exists"):
        record("create", data={"a": 2})
    assert store.snapshot("articles", "1") == {"a": 1}


def test_create_after_delete_starts_again_from_empty(store, record):
    record("create", data={"a": 1, "b": 2})
    record("delete")
    done = record("create", data={"a": 5})
    assert done.revision.delta == [{"op": "add", "path": "/a", "value": 5}]
    assert store.snapshot("articles", "1") == {"a": 5}


def test_patch_and_create_or_delete_do_not_mix(record):
    with pytest.raises(UsageError, match="^patch goes with update"):
        record("create", patch=[])


def test_revert_and_promote_are_recorded_by_their_own_commands(record):
    with pytest.raises(UsageError, match="audit revert"):
        record("revert")
    with pytest.raises(UsageError, match="audit version promote"):
        record("promote")


def test_items_are_independent(store, record):
    record("create", item="1", data={"a": 1})
    record("create", item="2", data={"a": 2})
    record("create", collection="pages", item="1", data={"a": 3})
    record("update", item="1", data={"a": 10})
    assert store.snapshot("articles", "1") == {"a": 10}
    assert store.snapshot("articles", "2") == {"a": 2}
    assert store.snapshot("pages", "1") == {"a": 3}
    assert len(store.history("articles", "2")) == 1


# history


def test_history_lists_revisions_oldest_first_with_changed_paths(store, record):
    record("create", data={"a": 1, "m": {"x": 1}}, user="ann", timestamp=ts(1))
    record("update", data={"a": 1}, user="bob", timestamp=ts(2))  # no change: no revision
    record("update", data={"m": {"x": 2}, "a/b": 1}, user="bob", timestamp=ts(3))
    record("delete", user="cy", timestamp=ts(4))
    rows = store.history("articles", "1")
    assert rows == [
        {"index": 0, "activity": 1, "action": "create", "user": "ann", "timestamp": ts(1), "changed": ["/a", "/m"]},
        {"index": 1, "activity": 3, "action": "update", "user": "bob", "timestamp": ts(3),
         "changed": ["/m/x", "/a~1b"]},
        {"index": 2, "activity": 4, "action": "delete", "user": "cy", "timestamp": ts(4), "changed": [""]},
    ]


def test_history_of_an_unknown_item_is_not_found(store):
    with pytest.raises(NotFound, match="has no revisions"):
        store.history("articles", "404")


def test_revision_by_positive_and_negative_index(store, record):
    for n in range(4):
        record("create" if n == 0 else "update", data={"n": n})
    for n in range(4):
        assert store.revision("articles", "1", n).data == {"n": n}
        assert store.revision("articles", "1", n - 4).data == {"n": n}
    for bad in (4, -5):
        with pytest.raises(NotFound, match="takes 0 to 3, or -1 to -4"):
            store.revision("articles", "1", bad)


# snapshot


def test_snapshot_by_rev_and_at(store, record):
    record("create", data={"n": 0}, timestamp=ts(10))
    record("update", data={"n": 1}, timestamp=ts(20))
    record("update", data={"n": 2}, timestamp=ts(30))
    assert store.snapshot("articles", "1") == {"n": 2}
    assert store.snapshot("articles", "1", rev=0) == {"n": 0}
    assert store.snapshot("articles", "1", rev=-2) == {"n": 1}
    assert store.snapshot("articles", "1", at=ts(10)) == {"n": 0}
    assert store.snapshot("articles", "1", at=ts(25)) == {"n": 1}
    assert store.snapshot("articles", "1", at=ts(30)) == {"n": 2}
    assert store.snapshot("articles", "1", at=ts(999)) == {"n": 2}
    with pytest.raises(NotFound, match="did not exist yet"):
        store.snapshot("articles", "1", at=ts(9))


def test_snapshot_at_a_deleted_point(store, record):
    record("create", data={"n": 0}, timestamp=ts(10))
    record("delete", timestamp=ts(20))
    record("create", data={"n": 5}, timestamp=ts(30))
    assert store.snapshot("articles", "1", at=ts(15)) == {"n": 0}
    with pytest.raises(Conflict, match="deleted at revision 1"):
        store.snapshot("articles", "1", at=ts(25))
    with pytest.raises(Conflict, match="deleted"):
        store.snapshot("articles", "1", rev=1)
    assert store.snapshot("articles", "1", at=ts(30)) == {"n": 5}


# diff


def test_diff_defaults_to_the_last_change(store, record):
    record("create", data={"a": 1, "b": 1})
    record("update", data={"a": 2})
    record("update", data={"b": 3})
    result = store.diff("articles", "1")
    assert (result["from"], result["to"]) == (1, 2)
    assert result["patch"] == [{"op": "replace", "path": "/b", "value": 3}]


def test_diff_of_a_single_revision_is_from_nothing(store, record):
    record("create", data={"a": 1})
    result = store.diff("articles", "1")
    assert result["from"] is None and result["to"] == 0
    assert result["before"] == {}
    assert result["patch"] == [{"op": "add", "path": "/a", "value": 1}]


@pytest.mark.parametrize(("start", "end"), [(0, 3), (3, 0), (0, -1), (-4, -2), (1, 1), (2, 0), (None, 1), (0, None)])
def test_diff_between_any_two_revisions(store, record, start, end):
    states = [{"a": 1, "m": {"x": 1}}, {"a": 2, "m": {"x": 1}}, {"a": 2, "m": {"y": True}}, {"b": [1, 2]}]
    record("create", data=states[0])
    for state in states[1:]:
        record("update", data=state, replace=True)
    result = store.diff("articles", "1", start=start, end=end)
    to = 3 if end is None else end % 4
    frm = to - 1 if start is None else start % 4
    assert (result["from"], result["to"]) == (frm, to)
    assert result["before"] == states[frm] and result["after"] == states[to]
    assert patches.same(jsonpatch.apply_patch(states[frm], result["patch"]), states[to])
    if frm == to:
        assert result["patch"] == []


def test_diff_out_of_range_is_not_found(store, record):
    record("create", data={"a": 1})
    with pytest.raises(NotFound, match="start takes 0 to 0"):
        store.diff("articles", "1", start=3)
    with pytest.raises(NotFound, match="end takes 0 to 0"):
        store.diff("articles", "1", end=-2)


def test_diff_of_one_activity(store, record):
    record("create", data={"a": 1})
    done = record("update", data={"a": 2, "b": 1})
    result = store.diff_activity(done.activity["id"])
    assert result["before"] == {"a": 1}
    assert result["after"] == {"a": 2, "b": 1}
    assert result["patch"] == [{"op": "replace", "path": "/a", "value": 2}, {"op": "add", "path": "/b", "value": 1}]


def test_diff_of_an_activity_without_a_revision(store, record):
    record("create", data={"a": 1})
    noop = record("update", data={"a": 1})
    login = record("login", collection="users", item="ann")
    for activity in (noop, login):
        with pytest.raises(NotFound, match="changed no data"):
            store.diff_activity(activity.activity["id"])
    with pytest.raises(NotFound, match="no activity with id 99"):
        store.diff_activity(99)


def test_diff_of_a_create_after_delete_starts_from_empty(store, record):
    """The patch of `diff --activity` must turn its `before` into its `after`; a create's delta is from {}."""
    record("create", data={"a": 1, "b": 2})
    record("delete")
    again = record("create", data={"a": 5})
    result = store.diff_activity(again.activity["id"])
    assert patches.same(jsonpatch.apply_patch(result["before"], result["patch"]), result["after"])
    assert result["before"] == {}


# revert


def test_revert_makes_an_old_revision_current_and_names_it(store, record):
    first = record("create", data={"title": "one", "n": 1})
    record("update", data={"title": "two"})
    record("update", data={"n": 2, "extra": True})
    done = store.revert("articles", "1", to=0, activity=Activity("revert", "articles", "1", "", user="ann"))
    assert done.activity["action"] == "revert"
    assert done.activity["user"] == "ann"
    assert done.activity["details"] == {"reverted_to": {"index": 0, "activity": first.activity["id"]}}
    assert store.get_activity(done.activity["id"])["details"]["reverted_to"]["index"] == 0
    assert done.revision.data == {"title": "one", "n": 1}
    assert patches.same(jsonpatch.apply_patch({"title": "two", "n": 2, "extra": True}, done.revision.delta),
                        {"title": "one", "n": 1})
    assert store.snapshot("articles", "1") == {"title": "one", "n": 1}
    rows = store.history("articles", "1")
    assert [r["action"] for r in rows] == ["create", "update", "update", "revert"]


def test_revert_with_a_negative_index(store, record):
    record("create", data={"n": 0})
    second = record("update", data={"n": 1})
    record("update", data={"n": 2})
    done = store.revert("articles", "1", to=-2)
    assert store.snapshot("articles", "1") == {"n": 1}
    assert done.activity["details"]["reverted_to"] == {"index": 1, "activity": second.activity["id"]}


def test_revert_keeps_details_given(store, record):
    record("create", data={"n": 0})
    record("update", data={"n": 1})
    done = store.revert("articles", "1", to=0,
                        activity=Activity("revert", "articles", "1", "", details={"reason": "typo"}))
    assert done.activity["details"]["reason"] == "typo"
    assert done.activity["details"]["reverted_to"]["index"] == 0


def test_revert_refuses_a_no_op(store, record):
    record("create", data={"n": 0})
    record("update", data={"n": 1})
    record("update", data={"n": 0})
    with pytest.raises(Conflict, match="already as it was at revision 0"):
        store.revert("articles", "1", to=0)
    assert len(store.history("articles", "1")) == 3


def test_revert_restores_a_deleted_item_whole(store, record):
    record("create", data={"title": "t", "body": {"long": "x" * 50}, "tags": [1, 2]})
    record("update", data={"title": "t2"})
    record("delete")
    done = store.revert("articles", "1", to=1)
    assert done.activity["details"]["restored"] is True
    assert done.revision.delta == []
    assert store.snapshot("articles", "1") == {"title": "t2", "body": {"long": "x" * 50}, "tags": [1, 2]}
    record("update", data={"title": "live again"})
    assert store.snapshot("articles", "1")["title"] == "live again"


def test_revert_of_a_deleted_item_to_an_older_state(store, record):
    record("create", data={"n": 0, "keep": "k"})
    record("update", data={"n": 1, "new": 1})
    record("delete")
    done = store.revert("articles", "1", to=0)
    assert store.snapshot("articles", "1") == {"n": 0, "keep": "k"}
    assert patches.same(jsonpatch.apply_patch({"n": 1, "keep": "k", "new": 1}, done.revision.delta),
                        {"n": 0, "keep": "k"})


def test_revert_to_a_delete_revision_restores_the_state_it_removed(store, record):
    record("create", data={"n": 0})
    record("update", data={"n": 1})
    record("delete")
    recorded = store.revert("articles", "1", to=-1)
    assert recorded.revision.data == {"n": 1} and recorded.activity["details"]["restored"] is True
    assert recorded.activity["details"]["reverted_to"] == {"index": 2, "activity": 3}
    with pytest.raises(Conflict, match="already as it was at revision 2"):
        store.revert("articles", "1", to=2)
    assert store.snapshot("articles", "1") == {"n": 1}


def test_revert_dry_run_writes_nothing(store, record):
    record("create", data={"n": 0})
    record("update", data={"n": 1, "x": None})
    count = store.conn.execute("SELECT count(*) FROM activity").fetchone()[0]
    plan = store.revert("articles", "1", to=0, dry_run=True)
    assert plan["patch"] == [{"op": "remove", "path": "/x"}, {"op": "replace", "path": "/n", "value": 0}]
    assert plan["after"] == {"n": 0}
    assert plan["restores"] is False
    assert store.conn.execute("SELECT count(*) FROM activity").fetchone()[0] == count
    assert store.snapshot("articles", "1") == {"n": 1, "x": None}


def test_revert_out_of_range_and_unknown_item(store, record):
    record("create", data={"n": 0})
    with pytest.raises(NotFound, match=": to takes 0 to 0"):
        store.revert("articles", "1", to=5)
    with pytest.raises(NotFound):
        store.revert("articles", "nope", to=0)


# blame


def test_blame_every_leaf_with_its_last_change(store, record):
    record("create", data={"title": "a", "meta": {"author": "ann", "tags": ["x"]}, "n": 1}, user="ann",
           timestamp=ts(1))
    record("update", data={"meta": {"author": "bob", "tags": ["x"]}}, user="bob", timestamp=ts(2))
    record("update", data={"n": 2, "a/b": {"c~d": 0}}, user="cy", timestamp=ts(3))
    rows = {row["path"]: row for row in store.blame("articles", "1")}
    assert set(rows) == {"/title", "/meta/author", "/meta/tags", "/n", "/a~1b/c~0d"}
    assert (rows["/title"]["activity"], rows["/title"]["user"], rows["/title"]["timestamp"]) == (1, "ann", ts(1))
    assert (rows["/meta/author"]["activity"], rows["/meta/author"]["user"]) == (2, "bob")
    assert rows["/meta/author"]["value"] == "bob"
    assert rows["/meta/tags"]["activity"] == 1 and rows["/meta/tags"]["value"] == ["x"]
    assert (rows["/n"]["activity"], rows["/n"]["action"], rows["/n"]["value"]) == (3, "update", 2)
    assert rows["/a~1b/c~0d"]["activity"] == 3


def test_blame_after_revert(store, record):
    record("create", data={"a": 1, "b": 1})
    record("update", data={"a": 2})
    record("update", data={"b": 2})
    done = store.revert("articles", "1", to=1)
    rows = {row["path"]: row for row in store.blame("articles", "1")}
    assert rows["/b"]["activity"] == done.activity["id"] and rows["/b"]["action"] == "revert"
    assert rows["/b"]["value"] == 1
    assert rows["/a"]["activity"] == 2


def test_blame_of_a_deleted_item_is_refused(store, record):
    record("create", data={"a": 1})
    record("delete")
    with pytest.raises(Conflict, match="deleted"):
        store.blame("articles", "1")


# storage


def _doc(rnd: random.Random) -> dict:
    words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor".split()
    return {f"field_{i:02d}": {"text": " ".join(rnd.choice(words) for _ in range(8)), "n": i, "tags": ["t", str(i)]}
            for i in range(22)}


def _stored_sizes(store, collection, item):
    data, delta = store.conn.execute(
        "SELECT sum(length(data)), sum(length(delta)) FROM revisions WHERE collection = ? AND item = ?",
        [collection, item]).fetchone()
    bases = store.conn.execute(
        "SELECT coalesce(sum(length(body)), 0), count(*) FROM bases WHERE id IN "
        "(SELECT base FROM revisions WHERE collection = ? AND item = ?)", [collection, item]).fetchone()
    return data, delta, bases


def test_small_edits_to_a_large_document_stay_small(store, record):
    rnd = random.Random(7)
    doc = _doc(rnd)
    size = len(json.dumps(doc, separators=(",", ":")))
    assert 1800 <= size <= 2600
    record("create", item="big", data=doc)
    full = size
    states = [json.loads(json.dumps(doc))]
    for k in range(150):
        key = f"field_{rnd.randrange(22):02d}"
        doc[key] = {**doc[key], "n": 1000 + k}
        record("update", item="big", data={key: doc[key]})
        states.append(json.loads(json.dumps(doc)))
        full += len(json.dumps(doc, separators=(",", ":")))
    data, delta, (base_bytes, base_count) = _stored_sizes(store, "articles", "big")
    assert len(states) == 151
    # the revisions' own bytes, and everything including the shared bases, against plain full snapshots
    assert data + delta < 0.15 * full, (data, delta, full)
    assert data + delta + base_bytes <= 0.20 * full, (data, delta, base_bytes, full)
    assert data / 151 < 0.1 * size
    assert base_count <= 3  # a new base only when packing against the old one stops paying (codec.REBASE_RATIO)
    with AuditStore.open(store.path) as fresh:
        for n, state in enumerate(states):
            assert fresh.revision("articles", "big", n).data == state


def test_drifting_documents_rebase_and_every_revision_reads_back(store, record):
    rnd = random.Random(11)
    docs = {"a": _doc(rnd), "b": _doc(rnd)}
    states = {"a": [], "b": []}
    for item, doc in docs.items():
        record("create", item=item, data=doc)
        states[item].append(json.loads(json.dumps(doc)))
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    for k in range(120):
        item = "a" if k % 3 else "b"
        doc = docs[item]
        key = f"field_{k % 22:02d}"
        # fresh random text each time: the document drifts away from any old base
        doc[key] = {**doc[key], "text": "".join(rnd.choice(alphabet) for _ in range(60))}
        if k % 17 == 0:
            record("update", item=item, data=doc, replace=True)
        else:
            record("update", item=item, data={key: doc[key]})
        states[item].append(json.loads(json.dumps(doc)))
    record("delete", item="b")
    states["b"].append(states["b"][-1])
    bases_a = store.conn.execute("SELECT count(DISTINCT base) FROM revisions WHERE item = 'a'").fetchone()[0]
    bases_b = store.conn.execute("SELECT count(DISTINCT base) FROM revisions WHERE item = 'b'").fetchone()[0]
    assert bases_a > 1 and bases_b > 1, (bases_a, bases_b)
    shared = store.conn.execute(
        "SELECT count(*) FROM (SELECT base FROM revisions GROUP BY base HAVING count(DISTINCT item) > 1)").fetchone()[0]
    assert shared == 0
    with AuditStore.open(store.path) as fresh:  # a cold cache: bases come from the file
        for item, expected in states.items():
            assert len(fresh.history("articles", item)) == len(expected)
            for n, state in enumerate(expected):
                revision = fresh.revision("articles", item, n)
                assert revision.data == state, (item, n)
                previous = {} if n == 0 else expected[n - 1]
                assert patches.same(jsonpatch.apply_patch(previous, revision.delta), state)
        restored = fresh.revert("articles", "b", to=3)
        assert restored.revision.data == states["b"][3]
    with AuditStore.open(store.path) as fresh:
        assert fresh.snapshot("articles", "b") == states["b"][3]


def test_codec_round_trips_with_and_without_a_base():
    base = json.dumps({"k": "v" * 300, "n": list(range(50))}).encode()
    text = base.replace(b'"n"', b'"m"')
    packed = codec.pack(text, base)
    assert codec.unpack(packed, base) == text
    assert len(packed) < len(codec.pack(text, None)) / 3
    assert codec.unpack(codec.pack(text, None), None) == text
    assert codec.unpack_base(codec.pack_base(base)) == base
    assert codec.worth_rebasing(b"x" * 200, 100) is True
    assert codec.worth_rebasing(b"x" * 60, 100) is False


def test_values_read_back_exactly(store, record):
    doc = {"big": 2**70, "neg": -(2**65), "f": 1.0, "g": 0.1, "e": 1e-7, "t": True, "z": 0, "null": None,
           "u": "é✓😀\u0000", "nested": [[], {}, [{"": ""}]]}
    record("create", data=doc)
    with AuditStore.open(store.path) as fresh:
        got = fresh.snapshot("articles", "1")
    assert patches.same(got, doc)


def test_a_rolled_back_write_leaves_no_stale_base_behind(db_path, store):
    """A base written in a transaction that rolled back must not be read back from a cache afterwards: another
    connection may since have stored a different base under the same id."""
    from audit_cli.store.connection import writing

    with pytest.raises(RuntimeError):
        with writing(store.conn):
            store.record(Activity("create", "articles", "x", ""), data={"x": "X" * 300})
            raise RuntimeError("the caller's transaction fails (an import line, say)")
    assert store.conn.execute("SELECT count(*) FROM bases").fetchone()[0] == 0
    with AuditStore.open(db_path) as other:
        other.record(Activity("create", "articles", "z", ""), data={"z": "Z" * 300, "n": 0})
    assert store.snapshot("articles", "z") == {"z": "Z" * 300, "n": 0}
    store.record(Activity("update", "articles", "z", ""), data={"n": 1})
    with AuditStore.open(db_path) as fresh:
        assert fresh.snapshot("articles", "z") == {"z": "Z" * 300, "n": 1}


def test_a_large_snapshot_is_packed_alone_and_reads_back(store, record, monkeypatch):
    """A snapshot of codec.LARGE bytes or more gets no base (a dictionary only helps inside zlib's window) and the
    fast level; every read, the chain and the next small revision work as for any other."""
    monkeypatch.setattr(codec, "LARGE", 2_000)
    big = {"body": ["x" * 50 + str(n) for n in range(100)]}
    record("create", data=big)
    record("update", data={"title": "t"})
    record("update", patch=[{"op": "replace", "path": "/body", "value": ["short"]}])
    rows = store.conn.execute("SELECT base FROM revisions ORDER BY activity").fetchall()
    assert [row[0] is None for row in rows] == [True, True, False]
    assert store.snapshot("articles", "1", rev=0) == big
    assert store.snapshot("articles", "1", rev=1) == {**big, "title": "t"}
    assert store.snapshot("articles", "1") == {"body": ["short"], "title": "t"}
    assert store.verify()["ok"]
