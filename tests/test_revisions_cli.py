"""Revisions through the CLI (CliRunner on a real store file): record, history, snapshot, diff, revert, blame, log."""

from __future__ import annotations

import json

import jsonpatch
import pytest

from audit_cli import patches
from audit_cli.models import Activity
from audit_cli.store import AuditStore


def ts(n: int) -> str:
    return f"2026-01-01T{n // 60:02d}:{n % 60:02d}:00.000000Z"


def rec(cli, action, *args, item="1", collection="articles", **kw):
    """Record through the CLI; returns the new activity id (an int)."""
    result = cli("record", action, "-c", collection, "-i", item, *args, **kw)
    return int(result.stdout.strip())


def snap(cli, *args, item="1"):
    return json.loads(cli("snapshot", "articles", item, *args).stdout)


def seed(db_path, *steps):
    """Record steps through the core, for tests whose subject is not `record` itself (each CLI call costs ~40 ms).

    Each step is (action, data) or (action, data, options): options among item, collection, replace, patch, user,
    timestamp.
    """
    with AuditStore.open(db_path, create=True) as store:
        for action, data, *rest in steps:
            options = dict(rest[0]) if rest else {}
            activity = Activity(action, options.pop("collection", "articles"), options.pop("item", "1"),
                                options.pop("timestamp", ""), user=options.pop("user", None))
            store.record(activity, data=data, **options)


def count_activities(db_path) -> int:
    with AuditStore.open(db_path) as store:
        return store.conn.execute("SELECT count(*) FROM activity").fetchone()[0]


# record


def test_record_create_prints_the_id_and_keeps_the_revision(cli):
    assert rec(cli, "create", "--data", '{"title": "Hello", "n": 1}') == 1
    shown = cli.json("show", "1")
    assert shown["action"] == "create"
    assert shown["revision"] == {
        "data": {"title": "Hello", "n": 1},
        "delta": [{"op": "add", "path": "/title", "value": "Hello"}, {"op": "add", "path": "/n", "value": 1}],
    }


def test_record_json_output_carries_the_revision(cli):
    rec(cli, "create", "--data", '{"a": 1}')
    out = cli.json("record", "update", "-c", "articles", "-i", "1", "--data", '{"a": null}')
    assert out["id"] == 2 and out["action"] == "update"
    assert out["revision"] == {"data": {"a": None}, "delta": [{"op": "replace", "path": "/a", "value": None}]}


def test_update_merges_shallowly_keeping_keys_not_given(cli):
    rec(cli, "create", "--data", '{"title": "Hello", "body": "b", "meta": {"x": 1, "y": 2}}')
    rec(cli, "update", "--data", '{"title": null, "meta": {"x": 3}}')
    assert snap(cli) == {"title": None, "body": "b", "meta": {"x": 3}}


def test_update_replace_takes_the_whole_state(cli):
    rec(cli, "create", "--data", '{"title": "Hello", "body": "b"}')
    rec(cli, "update", "--data", '{"only": true}', "--replace")
    assert snap(cli) == {"only": True}
    assert cli.json("show", "2")["revision"]["delta"] == [
        {"op": "remove", "path": "/title"}, {"op": "remove", "path": "/body"},
        {"op": "add", "path": "/only", "value": True},
    ]


def test_update_with_a_patch_array_ops_move_copy_test_and_escapes(cli):
    rec(cli, "create", "--data", '{"tags": ["a", "b"], "src": {"x": 1}, "n": 1}')
    patch = [
        {"op": "test", "path": "/n", "value": 1},
        {"op": "add", "path": "/tags/1", "value": "ins"},
        {"op": "add", "path": "/tags/-", "value": "end"},
        {"op": "remove", "path": "/tags/0"},
        {"op": "replace", "path": "/tags/0", "value": "INS"},
        {"op": "move", "from": "/src/x", "path": "/x"},
        {"op": "copy", "from": "/tags", "path": "/tags2"},
        {"op": "add", "path": "/a~1b", "value": "slash"},
        {"op": "add", "path": "/m~0n", "value": "tilde"},
        {"op": "replace", "path": "/a~1b", "value": "slash2"},
    ]
    rec(cli, "update", "--patch", json.dumps(patch))
    expected = {"tags": ["INS", "b", "end"], "src": {}, "n": 1, "x": 1, "tags2": ["INS", "b", "end"],
                "a/b": "slash2", "m~n": "tilde"}
    assert snap(cli) == expected
    changed = cli.json("history", "articles", "1")[1]["changed"]
    assert "/a~1b" in changed and "/m~0n" in changed and {"/tags/0", "/tags/2"} <= set(changed)  # into arrays


def test_patch_from_a_file_and_from_stdin(cli, tmp_path):
    rec(cli, "create", "--data", '{"n": 1}')
    path = tmp_path / "p.json"
    path.write_text('[{"op": "replace", "path": "/n", "value": 2}]')
    rec(cli, "update", "--patch", f"@{path}")
    assert snap(cli) == {"n": 2}
    rec(cli, "update", "--patch", "-", input='[{"op": "add", "path": "/m", "value": [1]}]')
    assert snap(cli) == {"n": 2, "m": [1]}
    data = tmp_path / "d.json"
    data.write_text('{"n": 3}')
    rec(cli, "update", "--data", f"@{data}")
    assert snap(cli) == {"n": 3, "m": [1]}


def test_a_failing_patch_is_exit_1_and_writes_nothing(cli, db_path):
    rec(cli, "create", "--data", '{"n": true}')
    err = cli.fails("record", "update", "-c", "articles", "-i", "1", "--patch",
                    '[{"op": "test", "path": "/n", "value": 1}, {"op": "replace", "path": "/n", "value": 0}]', code=1)
    assert "patch does not apply" in err
    err = cli.fails("record", "update", "-c", "articles", "-i", "1", "--patch",
                    '[{"op": "remove", "path": "/missing"}]', code=1)
    assert "/missing" in err
    assert count_activities(db_path) == 1
    assert snap(cli) == {"n": True}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--patch", '{"op": "add"}'], "JSON array"),
        (["--patch", '[{"op": "nope", "path": "/a"}]'], "needs an op"),
        (["--data", "[1, 2]"], "JSON object"),
        (["--data", "{bad"], "not valid JSON"),
        (["--data", "{}", "--patch", "[]"], "not both"),
        (["--replace"], "--replace goes with --data"),
    ],
)
def test_bad_update_payloads_are_usage_errors(cli, args, message):
    rec(cli, "create", "--data", '{"n": 1}')
    err = cli.fails("record", "update", "-c", "articles", "-i", "1", *args, code=2)
    assert message in err


@pytest.mark.parametrize(("old", "new"), [("1", "true"), ("true", "1"), ("1", "1.0"), ("0", "false"), ("1.0", "1")])
def test_strict_json_equality_through_the_cli(cli, old, new):
    rec(cli, "create", "--data", f'{{"v": {old}}}')
    result = cli("record", "update", "-c", "articles", "-i", "1", "--data", f'{{"v": {new}}}')
    assert "nothing changed" not in result.stderr
    assert len(cli.json("history", "articles", "1")) == 2
    assert cli("snapshot", "articles", "1").stdout.split() == ["{", f'"v":', f"{new}", "}"]


def test_an_update_that_changes_nothing_says_so(cli, db_path):
    rec(cli, "create", "--data", '{"a": 1, "b": 1.5}')
    result = cli("record", "update", "-c", "articles", "-i", "1", "--data", '{"a": 1, "b": 1.5}')
    assert result.stdout.strip() == "2"
    assert "nothing changed on articles 1: no revision recorded" in result.stderr
    assert cli.json("show", "2")["revision"] is None
    assert cli.json("log")[0]["action"] == "update"
    assert len(cli.json("history", "articles", "1")) == 1


def test_delete_keeps_the_last_state_and_snapshot_refuses(cli):
    rec(cli, "create", "--data", '{"a": 1}')
    rec(cli, "update", "--data", '{"a": 2}')
    rec(cli, "delete")
    assert cli.json("show", "3")["revision"] == {"data": {"a": 2}, "delta": []}
    err = cli.fails("snapshot", "articles", "1", code=1)
    assert "deleted at revision 2" in err and "revert" in err


@pytest.mark.parametrize("action", ["update", "delete", "soft-delete"])
def test_changing_a_missing_item_is_exit_1(cli, action):
    rec(cli, "create", "--data", '{"a": 1}')  # the store exists, the item does not
    args = [] if action == "delete" else ["--data", '{"a": 1}']
    err = cli.fails("record", action, "-c", "articles", "-i", "404", *args, code=1)
    assert "articles 404 has no recorded state" in err


@pytest.mark.parametrize("action", ["update", "delete", "soft-delete"])
def test_changing_a_deleted_item_is_exit_1(cli, action):
    rec(cli, "create", "--data", '{"a": 1}')
    rec(cli, "delete")
    args = [] if action == "delete" else ["--data", '{"a": 2}']
    err = cli.fails("record", action, "-c", "articles", "-i", "1", *args, code=1)
    assert "was deleted" in err and "audit revert" in err


def test_create_of_a_live_item_is_refused(cli):
    rec(cli, "create", "--data", '{"a": 1}')
    err = cli.fails("record", "create", "-c", "articles", "-i", "1", "--data", '{"a": 2}', code=1)
    assert "already exists" in err
    assert snap(cli) == {"a": 1}


def test_a_state_is_always_an_object_and_a_patch_that_makes_it_anything_else_is_refused(cli):
    rec(cli, "create", "--data", '{"a": 1}')
    for value in ('[1, 2]', '"x"', 'null', '3'):
        err = cli.fails("record", "update", "-c", "articles", "-i", "1", "--patch",
                        f'[{{"op": "replace", "path": "", "value": {value}}}]', code=2)
        kind = {"[1, 2]": "an array", '"x"': "a string", "null": "null", "3": "a number"}[value]
        assert err == f"audit: error: the new state of articles 1 would be {kind}: an item's state is always a JSON object\n"
    assert snap(cli) == {"a": 1} and len(cli.json("history", "articles", "1")) == 1
    rec(cli, "update", "--data", '{"a": 2}', "--replace")
    assert snap(cli) == {"a": 2}


def test_soft_delete_through_the_cli(cli):
    rec(cli, "create", "--data", '{"status": "published", "t": 1}')
    rec(cli, "soft-delete", "--data", '{"status": "archived"}')
    assert snap(cli) == {"status": "archived", "t": 1}
    assert [r["action"] for r in cli.json("history", "articles", "1")] == ["create", "soft-delete"]


# history


def test_history_table_and_json(cli):
    rec(cli, "create", "--data", '{"a": 1, "m": {"x": 1}}', "--user", "ann", "--at", ts(1))
    rec(cli, "update", "--data", '{"m": {"x": 2}}', "--user", "bob", "--at", ts(2))
    rec(cli, "delete", "--user", "cy", "--at", ts(3))
    rows = cli.json("history", "articles", "1")
    assert rows == [
        {"index": 0, "activity": 1, "action": "create", "user": "ann", "timestamp": ts(1), "changed": ["/a", "/m"]},
        {"index": 1, "activity": 2, "action": "update", "user": "bob", "timestamp": ts(2), "changed": ["/m/x"]},
        {"index": 2, "activity": 3, "action": "delete", "user": "cy", "timestamp": ts(3), "changed": [""]},
    ]
    table = cli("history", "articles", "1").stdout.splitlines()
    assert table[0].split() == ["index", "activity", "action", "user", "timestamp", "changed"]
    assert table[2].split() == ["0", "1", "create", "ann", ts(1), '["/a","/m"]']
    assert table[3].split() == ["1", "2", "update", "bob", ts(2), '["/m/x"]']


def test_history_changed_paths_are_unambiguous_in_table_and_csv(cli):
    # Space-joined, "/a b" and "/a", "/b" read alike; as a JSON array of pointers they cannot.
    rec(cli, "create", "--data", '{"a b": 1, "": 2}', "--at", ts(1))
    rec(cli, "update", "--data", '{"a": 1, "b": 2}', "--at", ts(2))
    import csv as csv_, io, json as json_
    rows = list(csv_.DictReader(io.StringIO(cli("history", "articles", "1", "--format", "csv").stdout)))
    assert [sorted(json_.loads(row["changed"])) for row in rows] == [["/", "/a b"], ["/a", "/b"]]  # "/" is key ""
    table = cli("history", "articles", "1").stdout
    assert '"/a b"' in table and '["/a","/b"]' in table


def test_history_of_an_unknown_item_is_exit_1(cli):
    rec(cli, "create", "--data", '{"a": 1}')
    assert "has no revisions" in cli.fails("history", "articles", "nope", code=1)


# snapshot


def test_snapshot_rev_negative_and_at(cli):
    rec(cli, "create", "--data", '{"n": 0}', "--at", ts(10))
    rec(cli, "update", "--data", '{"n": 1}', "--at", ts(20))
    rec(cli, "update", "--data", '{"n": 2}', "--at", ts(30))
    assert snap(cli) == {"n": 2}
    assert snap(cli, "--rev", "0") == {"n": 0}
    assert snap(cli, "--rev", "-2") == {"n": 1}
    assert snap(cli, "-r", "-3") == {"n": 0}
    assert snap(cli, "--at", "2026-01-01T00:25:00Z") == {"n": 1}
    assert snap(cli, "--at", "2026-01-01T00:20:00+00:00") == {"n": 1}
    assert snap(cli, "--at", "2026-01-01T02:20:00+02:00") == {"n": 1}
    assert snap(cli, "--at", "now") == {"n": 2}
    err = cli.fails("snapshot", "articles", "1", "--at", "2026-01-01T00:05:00Z", code=1)
    assert "did not exist yet" in err
    assert "no revision 3" in cli.fails("snapshot", "articles", "1", "--rev", "3", code=1)
    assert "no revision -4" in cli.fails("snapshot", "articles", "1", "--rev", "-4", code=1)
    cli.fails("snapshot", "articles", "1", "--rev", "0", "--at", "now", code=2)
    cli.fails("snapshot", "articles", "1", "--at", "not a time", code=2)


def test_snapshot_at_a_deleted_point_is_exit_1(cli):
    rec(cli, "create", "--data", '{"n": 0}', "--at", ts(10))
    rec(cli, "delete", "--at", ts(20))
    err = cli.fails("snapshot", "articles", "1", "--at", ts(25), code=1)
    assert "was deleted" in err
    assert snap(cli, "--at", ts(15)) == {"n": 0}
    assert "was deleted" in cli.fails("snapshot", "articles", "1", "--rev", "-1", code=1)


def test_snapshot_of_a_missing_store_is_exit_1(cli):
    assert "no audit store" in cli.fails("snapshot", "articles", "1", code=1)


# diff


@pytest.fixture
def four(db_path):
    """An item with four revisions (recorded through the core, to keep the CLI tests fast); returns their states."""
    states = [{"a": 1, "m": {"x": 1}, "l": [1]}, {"a": True, "m": {"x": 1}, "l": [1]},
              {"a": True, "m": {"x": 1.0, "y": None}, "l": [1, 2]}, {"b": "new/~", "m": {}}]
    seed(db_path, ("create", states[0]), *[("update", state, {"replace": True}) for state in states[1:]])
    return states


def test_diff_default_is_the_last_change(cli, four):
    result = cli.json("diff", "articles", "1")
    assert (result["from"], result["to"]) == (2, 3)
    assert result["before"] == four[2] and result["after"] == four[3]
    assert patches.same(jsonpatch.apply_patch(four[2], result["patch"]), four[3])


@pytest.mark.parametrize(("start", "end"), [("0", "3"), ("3", "0"), ("0", "-1"), ("-4", "-3"), ("1", "2"), ("-2", "1")])
def test_diff_patch_turns_from_into_to(cli, four, start, end):
    out = cli("diff", "articles", "1", "--from", start, "--to", end, "--format", "patch").stdout
    patch = json.loads(out)
    assert isinstance(patch, list) and patch
    snapshot_from = snap(cli, "--rev", start)
    snapshot_to = snap(cli, "--rev", end)
    assert snapshot_from == four[int(start)] and snapshot_to == four[int(end)]
    assert patches.same(jsonpatch.apply_patch(snapshot_from, patch), snapshot_to)


def test_diff_patch_sees_strict_changes(cli, four):
    patch = json.loads(cli("diff", "articles", "1", "--from", "0", "--to", "1", "--format", "patch").stdout)
    assert patch == [{"op": "replace", "path": "/a", "value": True}]
    patch = json.loads(cli("diff", "articles", "1", "--from", "1", "--to", "2", "--format", "patch").stdout)
    assert patch == [{"op": "replace", "path": "/m/x", "value": 1.0}, {"op": "add", "path": "/m/y", "value": None},
                     {"op": "add", "path": "/l/1", "value": 2}]  # into the array: only what was added
    assert isinstance(patch[0]["value"], float)


def test_diff_of_the_same_revision_is_empty(cli, four):
    assert json.loads(cli("diff", "articles", "1", "--from", "1", "--to", "1", "--format", "patch").stdout) == []
    text = cli("diff", "articles", "1", "--from", "1", "--to", "1").stdout
    assert "(no change)" in text


def test_diff_text_shows_old_and_new_per_field(cli, four):
    text = cli("diff", "articles", "1", "--from", "0", "--to", "2", "--format", "text").stdout.splitlines()
    assert text[0] == "articles 1: revision 0 -> revision 2"
    assert "\x1b[" not in "\n".join(text)
    assert text[1:] == ["/a", "  - 1", "  + true", "/m/x", "  - 1", "  + 1.0", "/m/y", "  + null",
                        "/l/1", "  + 2"]


def test_diff_text_of_the_first_revision(cli, db_path):
    seed(db_path, ("create", {"t": "x"}))
    text = cli("diff", "articles", "1").stdout.splitlines()
    assert text == ["articles 1: (nothing) -> revision 0", "/t", '  + "x"']


def test_diff_out_of_range_is_exit_1(cli, four):
    assert "--from takes 0 to 3" in cli.fails("diff", "articles", "1", "--from", "9", code=1)
    assert "--to takes 0 to 3" in cli.fails("diff", "articles", "1", "--to", "-5", code=1)


def test_diff_activity(cli, db_path):
    seed(db_path, ("create", {"a": 1}), ("update", {"a": 2, "b": [1]}))
    result = cli.json("diff", "--activity", "2")
    assert result["activity"] == 2
    assert result["before"] == {"a": 1} and result["after"] == {"a": 2, "b": [1]}
    assert result["patch"] == [{"op": "replace", "path": "/a", "value": 2}, {"op": "add", "path": "/b", "value": [1]}]
    patch = json.loads(cli("diff", "--activity", "2", "--format", "patch").stdout)
    assert patches.same(jsonpatch.apply_patch({"a": 1}, patch), {"a": 2, "b": [1]})


def test_diff_activity_text(cli, db_path):
    seed(db_path, ("create", {"a": 1}), ("update", {"a": 2, "b": [1]}))
    text = cli("diff", "--activity", "2").stdout.splitlines()
    assert text[0] == "activity 2 on articles 1"
    assert text[1:] == ["/a", "  - 1", "  + 2", "/b", "  + [1]"]


def test_diff_activity_without_a_revision_is_exit_1(cli, db_path):
    seed(db_path, ("create", {"a": 1}), ("update", {"a": 1}), ("login", None, {"collection": "users", "item": "ann"}))
    assert "changed no data" in cli.fails("diff", "--activity", "2", code=1)
    assert "changed no data" in cli.fails("diff", "--activity", "3", code=1)
    assert "no activity with id 42" in cli.fails("diff", "--activity", "42", code=1)


def test_diff_usage_errors(cli, four):
    cli.fails("diff", "articles", "1", "--activity", "1", code=2)
    cli.fails("diff", code=2)
    cli.fails("diff", "articles", "1", "--format", "yaml", code=2)


def test_diff_activity_of_a_create_after_delete(cli, db_path):
    """`diff --activity` of a re-create: its patch (from {}) must turn `before` into `after`."""
    seed(db_path, ("create", {"a": 1, "b": 2}), ("delete", None), ("create", {"a": 5}))
    result = cli.json("diff", "--activity", "3")
    assert result["after"] == {"a": 5}
    assert patches.same(jsonpatch.apply_patch(result["before"], result["patch"]), result["after"])


# revert


def test_revert_prints_the_new_state_and_records_a_revert(cli, db_path):
    seed(db_path, ("create", {"title": "one", "n": 1}), ("update", {"title": "two"}), ("update", {"n": 2}))
    result = cli("revert", "articles", "1", "--to", "0", "--user", "ann", "--comment", "undo")
    assert json.loads(result.stdout) == {"title": "one", "n": 1}
    assert "recorded revert as activity 4" in result.stderr
    shown = cli.json("show", "4")
    assert shown["action"] == "revert" and shown["user"] == "ann" and shown["comment"] == "undo"
    assert shown["details"]["reverted_to"] == {"index": 0, "activity": 1}
    assert shown["revision"]["data"] == {"title": "one", "n": 1}
    assert patches.same(jsonpatch.apply_patch({"title": "two", "n": 2}, shown["revision"]["delta"]),
                        {"title": "one", "n": 1})
    assert snap(cli) == {"title": "one", "n": 1}
    assert cli.json("history", "articles", "1")[-1]["action"] == "revert"


def test_revert_negative_index_and_json_format(cli, db_path):
    seed(db_path, ("create", {"n": 0}), ("update", {"n": 1}), ("update", {"n": 2}))
    out = cli.json("revert", "articles", "1", "--to", "-2")
    assert out["action"] == "revert"
    assert out["details"]["reverted_to"] == {"index": 1, "activity": 2}
    assert out["revision"] == {"data": {"n": 1}, "delta": [{"op": "replace", "path": "/n", "value": 1}]}


def test_revert_restores_a_deleted_item_whole(cli, db_path):
    doc = {"title": "t", "body": {"nested": [1, {"deep": True}]}, "a/b": None}
    seed(db_path, ("create", doc), ("delete", None))
    result = cli("revert", "articles", "1", "--to", "0")
    assert json.loads(result.stdout) == doc
    assert snap(cli) == doc
    assert cli.json("show", "3")["details"]["restored"] is True
    rec(cli, "update", "--data", '{"title": "again"}')
    assert snap(cli)["title"] == "again"


def test_revert_refuses_a_no_op(cli, db_path):
    seed(db_path, ("create", {"n": 0}), ("update", {"n": 1}))
    err = cli.fails("revert", "articles", "1", "--to", "-1", code=1)
    assert "nothing to revert" in err
    assert count_activities(db_path) == 2


def test_revert_to_a_delete_revision_restores_what_it_removed(cli, db_path):
    seed(db_path, ("create", {"n": 0}), ("delete", None))
    assert cli("revert", "articles", "1", "--to", "1").stdout == '{\n  "n": 0\n}\n'
    assert count_activities(db_path) == 3


def test_revert_dry_run_prints_the_patch_and_writes_nothing(cli, db_path):
    seed(db_path, ("create", {"n": 0}), ("update", {"n": 1, "x": [1]}))
    result = cli("revert", "articles", "1", "--to", "0", "--dry-run")
    patch = json.loads(result.stdout)
    assert patch == [{"op": "remove", "path": "/x"}, {"op": "replace", "path": "/n", "value": 0}]
    assert patches.same(jsonpatch.apply_patch({"n": 1, "x": [1]}, patch), {"n": 0})
    assert "dry run" in result.stderr
    assert count_activities(db_path) == 2
    assert snap(cli) == {"n": 1, "x": [1]}
    plan = cli.json("revert", "articles", "1", "--to", "0", "--dry-run")
    assert plan["after"] == {"n": 0} and plan["to"] == 0
    assert count_activities(db_path) == 2


def test_revert_dry_run_of_a_deleted_item(cli, db_path):
    seed(db_path, ("create", {"n": 0}), ("delete", None))
    result = cli("revert", "articles", "1", "--to", "0", "--dry-run")
    assert json.loads(result.stdout) == []
    assert "restore" in result.stderr
    assert count_activities(db_path) == 2
    cli.fails("snapshot", "articles", "1", code=1)


def test_revert_out_of_range_is_exit_1(cli, db_path):
    seed(db_path, ("create", {"n": 0}))
    assert "--to takes 0 to 0" in cli.fails("revert", "articles", "1", "--to", "3", code=1)
    assert "nothing to revert" in cli.fails("revert", "articles", "1", "--to", "0", "--dry-run", code=1)
    cli.fails("revert", "articles", "1", code=2)


# blame


def test_blame_json_every_leaf(cli, db_path):
    seed(db_path,
         ("create", {"title": "a", "meta": {"author": "ann", "tags": [1]}, "n": 1}, {"user": "ann", "timestamp": ts(1)}),
         ("update", {"meta": {"author": "bob", "tags": [1]}}, {"user": "bob", "timestamp": ts(2)}))
    rec(cli, "update", "--patch", '[{"op": "add", "path": "/x~1y", "value": {"z": 0}}]', "--user", "cy",
        "--at", ts(3))
    rows = {row["path"]: row for row in cli.json("blame", "articles", "1")}
    assert set(rows) == {"/title", "/meta/author", "/meta/tags", "/n", "/x~1y/z"}
    assert rows["/title"] == {"path": "/title", "activity": 1, "action": "create", "user": "ann",
                              "timestamp": ts(1), "value": "a"}
    assert (rows["/meta/author"]["activity"], rows["/meta/author"]["user"], rows["/meta/author"]["timestamp"]) == \
        (2, "bob", ts(2))
    assert rows["/meta/tags"]["activity"] == 1
    assert rows["/x~1y/z"]["activity"] == 3 and rows["/x~1y/z"]["user"] == "cy"
    table = cli("blame", "articles", "1").stdout.splitlines()
    assert table[0].split() == ["path", "activity", "action", "user", "timestamp", "value"]
    assert any(line.split()[:4] == ["/meta/author", "2", "update", "bob"] for line in table[2:])


def test_blame_after_revert_and_restore(cli, db_path):
    seed(db_path, ("create", {"a": 1, "b": 1}), ("update", {"a": 2}), ("update", {"b": 2}), ("delete", None))
    cli("revert", "articles", "1", "--to", "1")  # activity 5: b back to 1, a stays 2
    rows = {row["path"]: row for row in cli.json("blame", "articles", "1")}
    assert (rows["/b"]["activity"], rows["/b"]["action"], rows["/b"]["value"]) == (5, "revert", 1)
    assert (rows["/a"]["activity"], rows["/a"]["value"]) == (2, 2)


def test_blame_of_a_deleted_item_is_exit_1(cli, db_path):
    seed(db_path, ("create", {"a": 1}), ("delete", None))
    assert "deleted" in cli.fails("blame", "articles", "1", code=1)


# log --field and -p


@pytest.fixture
def fielded(db_path):
    seed(db_path,
         ("create", {"title": "t", "meta": {"a": 1, "b": 1}, "a_b": 0, "acb": 0}),  # 1
         ("update", {"title": "t2"}),  # 2
         ("update", None, {"patch": [{"op": "replace", "path": "/meta/a", "value": 2}]}),  # 3
         ("update", {"meta": "flat"}),  # 4: replaces the parent of /meta/a
         ("update", {"acb": 1}),  # 5
         ("login", None, {"collection": "users", "item": "ann"}),  # 6
         ("update", {"title": "t2"}),  # 7: no change, no revision
         ("create", {"title": "other item"}, {"item": "2"}))  # 8


def ids(rows):
    return [row["id"] for row in rows]


def test_log_field_only_activities_touching_the_path(cli, fielded):
    assert ids(cli.json("log", "--field", "/title")) == [8, 2, 1]
    assert ids(cli.json("log", "--field", "/title", "--item", "1")) == [2, 1]
    # a parent path takes in changes below it
    assert ids(cli.json("log", "--field", "/meta")) == [4, 3, 1]
    # a child path takes in changes to its parents
    assert ids(cli.json("log", "--field", "/meta/a")) == [4, 3, 1]
    assert ids(cli.json("log", "--field", "/meta/b")) == [4, 1]
    # _ is not a wildcard
    assert ids(cli.json("log", "--field", "/a_b")) == [1]
    assert ids(cli.json("log", "--field", "/acb")) == [5, 1]
    assert cli.json("log", "--field", "/nothing") == []


def test_log_field_escaped_keys(cli, db_path):
    seed(db_path, ("create", {"a/b": 1, "a": {"b": 1}, "m~n": 1}), ("update", {"a/b": 2}),
         ("update", {"a": {"b": 2}}), ("update", {"m~n": 2}))
    assert ids(cli.json("log", "--field", "/a~1b")) == [2, 1]
    assert ids(cli.json("log", "--field", "/a/b")) == [3, 1]
    assert ids(cli.json("log", "--field", "/m~0n")) == [4, 1]


def test_log_field_must_be_a_pointer(cli, fielded):
    assert "JSON Pointer" in cli.fails("log", "--field", "title", code=2)


def test_log_patch_shows_each_delta(cli, fielded):
    rows = {row["id"]: row for row in cli.json("log", "-p")}
    assert rows[2]["delta"] == [{"op": "replace", "path": "/title", "value": "t2"}]
    assert rows[4]["delta"] == [{"op": "replace", "path": "/meta", "value": "flat"}]
    assert rows[6]["delta"] is None
    assert rows[7]["delta"] is None
    table = cli("log", "--patch", "--item", "1", "--action", "update").stdout.splitlines()
    assert "delta" not in table[0]  # below each row, in full, as git log -p does
    at = next(n for n, line in enumerate(table) if line.split()[:1] == ["2"])
    assert [line.strip() for line in table[at + 1:at + 4]] == ["/title", '- "t"', '+ "t2"']
    assert "delta" not in cli("log").stdout.splitlines()[0]
    rows = cli.json("log", "-p", "--field", "/meta/a")
    assert [row["delta"] for row in rows][1] == [{"op": "replace", "path": "/meta/a", "value": 2}]
