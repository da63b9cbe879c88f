"""Detached versions: create, save, list, compare, promote, delete, through the core and the CLI."""

from __future__ import annotations

import json

import jsonpatch
import pytest

from audit_cli import patches
from audit_cli.errors import AuditError, Conflict, NotFound, UsageError
from audit_cli.models import Activity, LogQuery
from audit_cli.store import AuditStore


def act(action="version", user="ann"):
    return Activity(action, "articles", "1", "", user=user)


@pytest.fixture
def item(record):
    """articles 1 with two main revisions; returns the head activity id."""
    record("create", data={"title": "Hello", "body": "text", "n": 1})
    return record("update", data={"n": 2}).activity["id"]


def create(store, key="draft", name=None):
    return store.create_version("articles", "1", key, name=name, activity=act())


def save(store, data, key="draft"):
    return store.save_version("articles", "1", key, data, activity=act())


# core: create


def test_create_starts_from_the_current_main(store, item):
    version = create(store, name="Spring")
    assert (version["key"], version["name"], version["base_activity"], version["staged"]) == ("draft", "Spring", item, {})
    assert version["created_by"] == "ann"
    last = store.get_activity(store.conn.execute("SELECT max(id) FROM activity").fetchone()[0])
    assert last["action"] == "version-create" and last["details"]["version"] == "draft"
    assert len(store.history("articles", "1")) == 2


def test_create_is_refused_on_a_missing_or_deleted_item(store, record):
    with pytest.raises(NotFound, match="has no recorded state"):
        create(store)
    record("create", data={"a": 1})
    record("delete")
    with pytest.raises(Conflict, match="was deleted"):
        create(store)
    assert store.list_versions() == []


def test_create_refuses_a_duplicate_key(store, item):
    create(store)
    with pytest.raises(Conflict, match="already has a version 'draft'"):
        create(store)
    assert [v["key"] for v in store.list_versions()] == ["draft"]
    create(store, key="other")
    assert [v["key"] for v in store.list_versions("articles", "1")] == ["draft", "other"]


@pytest.mark.parametrize("key", ["", "has space", "-lead", "a/b"])
def test_create_refuses_a_bad_key(store, item, key):
    with pytest.raises(UsageError, match="invalid version key"):
        create(store, key=key)


# core: save


def test_save_accumulates_partial_objects_on_the_version_only(store, item):
    create(store)
    history = store.history("articles", "1")
    first = save(store, {"title": "Draft title"})
    assert first.activity["action"] == "version-save"
    assert first.revision.version == "draft"
    assert first.revision.data == {"title": "Draft title"}
    assert first.revision.delta == [{"op": "add", "path": "/title", "value": "Draft title"}]
    second = save(store, {"body": "new body", "title": "Better title"})
    assert second.revision.data == {"title": "Better title", "body": "new body"}
    assert second.revision.delta == [{"op": "replace", "path": "/title", "value": "Better title"},
                                     {"op": "add", "path": "/body", "value": "new body"}]
    stored = store.revision_of(second.activity["id"])
    assert stored.version == "draft" and stored.data == {"title": "Better title", "body": "new body"}
    # main is untouched
    assert store.history("articles", "1") == history
    assert store.snapshot("articles", "1") == {"title": "Hello", "body": "text", "n": 2}
    assert store.list_versions()[0]["fields"] == ["body", "title"]


def test_save_that_changes_nothing_keeps_no_revision(store, item):
    create(store)
    save(store, {"n": 5})
    again = save(store, {"n": 5})
    assert again.revision is None and "already holds" in again.note
    assert store.get_activity(again.activity["id"])["action"] == "version-save"
    strict = save(store, {"n": 5.0})
    assert strict.revision is not None and isinstance(strict.revision.data["n"], float)


def test_save_into_a_missing_version(store, item):
    with pytest.raises(NotFound, match="has no version 'draft'"):
        save(store, {"a": 1})


def test_diff_activity_of_a_version_save(store, item):
    create(store)
    save(store, {"title": "A"})
    second = save(store, {"title": "B"})
    result = store.diff_activity(second.activity["id"])
    assert result["version"] == "draft"
    assert result["before"] == {"title": "A"} and result["after"] == {"title": "B"}


# core: list and compare


def test_list_marks_outdated_versions(store, item, record):
    create(store)
    assert store.list_versions()[0]["outdated"] is False
    record("update", data={"n": 2})  # no change: main did not move
    assert store.list_versions()[0]["outdated"] is False
    store.add_comment(Activity("comment", "articles", "1", "", comment="hi"))
    assert store.list_versions()[0]["outdated"] is False
    record("update", data={"n": 3})
    assert store.list_versions()[0]["outdated"] is True


def test_list_filters_by_collection_and_item(store, item, record):
    record("create", item="2", data={"a": 1})
    record("create", collection="pages", item="1", data={"a": 1})
    create(store)
    store.create_version("articles", "2", "draft", name=None, activity=Activity("v", "articles", "2", ""))
    store.create_version("pages", "1", "x", name=None, activity=Activity("v", "pages", "1", ""))
    assert [(v["collection"], v["item"], v["key"]) for v in store.list_versions()] == \
        [("articles", "1", "draft"), ("articles", "2", "draft"), ("pages", "1", "x")]
    assert [(v["item"], v["key"]) for v in store.list_versions("articles")] == [("1", "draft"), ("2", "draft")]
    assert [(v["item"], v["key"]) for v in store.list_versions("articles", "2")] == [("2", "draft")]
    assert store.list_versions("nothing") == []


def test_compare_shows_main_staged_result_and_patch(store, item, record):
    create(store)
    save(store, {"title": "New", "extra": [1]})
    result = store.compare_version("articles", "1", "draft")
    main = {"title": "Hello", "body": "text", "n": 2}
    assert result["outdated"] is False
    assert result["main"] == main
    assert result["staged"] == {"title": "New", "extra": [1]}
    assert result["result"] == {"title": "New", "body": "text", "n": 2, "extra": [1]}
    assert patches.same(jsonpatch.apply_patch(main, result["patch"]), result["result"])
    record("update", data={"body": "moved"})
    moved = store.compare_version("articles", "1", "draft")
    assert moved["outdated"] is True
    assert moved["result"] == {"title": "New", "body": "moved", "n": 2, "extra": [1]}


# core: promote


def test_promote_merges_staged_onto_main_as_a_promote(store, item):
    create(store)
    save(store, {"title": "New", "n": None})
    done = store.promote_version("articles", "1", "draft", fields=None, force=False, activity=act())
    assert done.activity["action"] == "promote"
    assert done.activity["details"]["version"] == "draft"
    assert done.revision.data == {"title": "New", "body": "text", "n": None}
    assert done.revision.delta == [{"op": "replace", "path": "/title", "value": "New"},
                                   {"op": "replace", "path": "/n", "value": None}]
    assert store.snapshot("articles", "1") == {"title": "New", "body": "text", "n": None}
    rows = store.history("articles", "1")
    assert [r["action"] for r in rows] == ["create", "update", "promote"]
    assert rows[-1]["activity"] == done.activity["id"]
    assert store.list_versions() == []  # fully promoted


def test_promote_refuses_when_main_moved_unless_forced(store, item, record):
    create(store)
    save(store, {"title": "New"})
    record("update", data={"body": "moved"})
    with pytest.raises(Conflict, match="changed since version 'draft' was made"):
        store.promote_version("articles", "1", "draft", fields=None, force=False, activity=act())
    assert store.snapshot("articles", "1") == {"title": "Hello", "body": "moved", "n": 2}
    assert len(store.history("articles", "1")) == 3
    store.promote_version("articles", "1", "draft", fields=None, force=True, activity=act())
    assert store.snapshot("articles", "1") == {"title": "New", "body": "moved", "n": 2}


def test_promote_some_fields_keeps_the_rest(store, item, record):
    create(store)
    save(store, {"title": "New", "body": "new body", "n": 9})
    done = store.promote_version("articles", "1", "draft", fields=["title", "n"], force=False, activity=act())
    assert done.activity["details"]["fields"] == ["n", "title"]
    assert store.snapshot("articles", "1") == {"title": "New", "body": "text", "n": 9}
    [version] = store.list_versions()
    assert version["fields"] == ["body"] and version["outdated"] is False
    assert store.compare_version("articles", "1", "draft")["staged"] == {"body": "new body"}
    # the rest promotes later, without --force: the version now stands on the new main
    store.promote_version("articles", "1", "draft", fields=None, force=False, activity=act())
    assert store.snapshot("articles", "1") == {"title": "New", "body": "new body", "n": 9}
    assert store.list_versions() == []


def test_promote_unknown_fields_is_a_usage_error(store, item):
    create(store)
    save(store, {"title": "New"})
    with pytest.raises(UsageError, match="stages no nope"):
        store.promote_version("articles", "1", "draft", fields=["nope"], force=False, activity=act())
    assert len(store.history("articles", "1")) == 2


def test_promote_of_values_main_already_has(store, item):
    create(store)
    save(store, {"title": "Hello"})
    done = store.promote_version("articles", "1", "draft", fields=None, force=False, activity=act())
    assert done.revision is None and "no revision" in done.note
    assert len(store.history("articles", "1")) == 2


def test_promote_is_refused_on_a_deleted_item(store, item, record):
    create(store)
    save(store, {"title": "New"})
    record("delete")
    with pytest.raises(Conflict, match="was deleted"):
        store.promote_version("articles", "1", "draft", fields=None, force=True, activity=act())


# core: delete


def test_delete_removes_the_version_and_leaves_main(store, item):
    create(store)
    save(store, {"title": "New"})
    note = store.delete_version("articles", "1", "draft", activity=act())
    assert note["action"] == "version-delete" and note["details"]["version"] == "draft"
    assert store.list_versions() == []
    assert store.snapshot("articles", "1") == {"title": "Hello", "body": "text", "n": 2}
    with pytest.raises(NotFound):
        store.delete_version("articles", "1", "draft", activity=act())
    create(store)  # the key can be used again
    assert store.compare_version("articles", "1", "draft")["staged"] == {}


# CLI


@pytest.fixture
def main_item(db_path):
    with AuditStore.open(db_path, create=True) as store:
        store.record(Activity("create", "articles", "1", ""), data={"title": "Hello", "body": "text"})  # 1


def test_cli_version_lifecycle(cli, main_item):
    created = cli.json("version", "create", "articles", "1", "draft", "--name", "Spring rewrite")
    assert (created["key"], created["name"], created["base_activity"], created["staged"]) == \
        ("draft", "Spring rewrite", 1, {})
    assert created["created_by"] == "tester"
    saved = cli("version", "save", "articles", "1", "draft", "--data", '{"title": "Spring"}')
    save_id = int(saved.stdout.strip())
    shown = cli.json("show", str(save_id))
    assert shown["action"] == "version-save"
    assert shown["revision"] == {"data": {"title": "Spring"},
                                 "delta": [{"op": "add", "path": "/title", "value": "Spring"}]}
    out = cli.json("version", "save", "articles", "1", "draft", "--data", '{"body": "new"}')
    assert out["revision"]["data"] == {"title": "Spring", "body": "new"}
    # main's history is unchanged
    assert [r["activity"] for r in cli.json("history", "articles", "1")] == [1]
    assert json.loads(cli("snapshot", "articles", "1").stdout) == {"title": "Hello", "body": "text"}

    [listed] = cli.json("version", "list", "articles", "1")
    assert (listed["key"], listed["fields"], listed["outdated"]) == ("draft", ["body", "title"], False)
    table = cli("version", "list").stdout.splitlines()
    assert table[0].split()[:6] == ["collection", "item", "key", "name", "fields", "outdated"]
    assert '["body","title"]' in table[2] and "false" in table[2]  # JSON, not Python's False

    compared = cli.json("version", "compare", "articles", "1", "draft")
    assert compared["outdated"] is False
    assert compared["main"] == {"title": "Hello", "body": "text"}
    assert compared["staged"] == {"title": "Spring", "body": "new"}
    assert compared["result"] == {"title": "Spring", "body": "new"}
    assert patches.same(jsonpatch.apply_patch(compared["main"], compared["patch"]), compared["result"])
    text = cli("version", "compare", "articles", "1", "draft").stdout
    assert "/title" in text and '- "Hello"' in text and '+ "Spring"' in text

    promoted = cli.json("version", "promote", "articles", "1", "draft")
    assert promoted["action"] == "promote"
    assert promoted["revision"]["data"] == {"title": "Spring", "body": "new"}
    history = cli.json("history", "articles", "1")
    assert [r["action"] for r in history] == ["create", "promote"]
    assert json.loads(cli("snapshot", "articles", "1").stdout) == {"title": "Spring", "body": "new"}
    assert cli.json("version", "list") == []


def test_cli_diff_activity_of_a_version_save(cli, main_item):
    cli("version", "create", "articles", "1", "draft")
    cli("version", "save", "articles", "1", "draft", "--data", '{"title": "A"}')
    save_id = cli("version", "save", "articles", "1", "draft", "--data", '{"title": "B"}').stdout.strip()
    result = cli.json("diff", "--activity", save_id)
    assert result["version"] == "draft"
    assert (result["before"], result["after"]) == ({"title": "A"}, {"title": "B"})
    text = cli("diff", "--activity", save_id).stdout.splitlines()
    # the change one version-save made: not a promotion onto main
    assert "promoted" not in text[0]
    assert text[0].startswith(f"activity {save_id} on articles 1")
    assert text[1:] == ["/title", '  - "A"', '  + "B"']


def test_cli_create_refusals(cli, main_item):
    assert "has no recorded state" in cli.fails("version", "create", "articles", "404", "draft", code=1)
    cli("version", "create", "articles", "1", "draft")
    assert "already has a version" in cli.fails("version", "create", "articles", "1", "draft", code=1)
    cli("record", "delete", "-c", "articles", "-i", "1")
    assert "was deleted" in cli.fails("version", "create", "articles", "1", "other", code=1)
    assert "invalid version key" in cli.fails("version", "create", "articles", "1", "a b", code=2)


def test_cli_save_needs_a_json_object(cli, main_item):
    cli("version", "create", "articles", "1", "draft")
    assert "JSON object" in cli.fails("version", "save", "articles", "1", "draft", "--data", "[1]", code=2)
    assert "has no version" in cli.fails("version", "save", "articles", "1", "nope", "--data", "{}", code=1)


def test_cli_promote_outdated_force_and_fields(cli, main_item):
    cli("version", "create", "articles", "1", "draft")
    cli("version", "save", "articles", "1", "draft", "--data", '{"title": "T2", "body": "B2", "x": 1}')
    cli("record", "update", "-c", "articles", "-i", "1", "--data", '{"body": "moved"}')
    assert cli.json("version", "list")[0]["outdated"] is True
    assert cli.json("version", "compare", "articles", "1", "draft")["outdated"] is True
    assert "outdated" in cli("version", "compare", "articles", "1", "draft").stderr
    err = cli.fails("version", "promote", "articles", "1", "draft", code=1)
    assert "changed since version 'draft' was made" in err and "--force" in err
    assert json.loads(cli("snapshot", "articles", "1").stdout) == {"title": "Hello", "body": "moved"}
    out = cli.json("version", "promote", "articles", "1", "draft", "--fields", "title,x", "--force")
    assert out["revision"]["data"] == {"title": "T2", "body": "moved", "x": 1}
    [left] = cli.json("version", "list", "articles", "1")
    assert left["fields"] == ["body"] and left["outdated"] is False
    assert "stages no nope" in cli.fails("version", "promote", "articles", "1", "draft", "--fields", "nope", code=2)


def test_cli_delete(cli, main_item):
    cli("version", "create", "articles", "1", "draft")
    cli("version", "save", "articles", "1", "draft", "--data", '{"title": "x"}')
    result = cli("version", "delete", "articles", "1", "draft")
    assert "deleted version 'draft'" in result.stderr
    assert cli.json("version", "list") == []
    assert json.loads(cli("snapshot", "articles", "1").stdout) == {"title": "Hello", "body": "text"}
    assert cli.json("log", "--action", "version-delete")[0]["details"] == {"version": "draft"}
    assert "has no version" in cli.fails("version", "delete", "articles", "1", "draft", code=1)


# an imported trail brings its versions


def _versions_life(store, record):
    """articles 1 with a version partly promoted (body left staged), one deleted, and one staged as it is."""
    create(store, name="Spring")
    save(store, {"title": "Hello, spring"})
    save(store, {"body": "new text"})
    store.promote_version("articles", "1", "draft", fields=["title"], force=False, activity=act())
    create(store, key="gone")
    save(store, {"n": 9}, key="gone")
    store.delete_version("articles", "1", "gone", activity=act())
    record("update", data={"n": 3})
    create(store, key="later", name="Later")
    save(store, {"n": 4}, key="later")


def _comparable(store):
    return [{**v, "staged": store.compare_version(v["collection"], v["item"], v["key"])["staged"]}
            for v in store.list_versions()]


def test_an_imported_trail_brings_its_versions(store, item, record, tmp_path):
    _versions_life(store, record)
    trail = b"".join(store.export_lines(LogQuery()))
    expected = _comparable(store)
    assert [(v["key"], v["fields"]) for v in expected] == [("draft", ["body"]), ("later", ["n"])]
    with AuditStore.open(tmp_path / "copy.db", create=True) as copy:
        copy.import_lines(enumerate(trail.splitlines(keepends=True), 1), source="t")
        assert _comparable(copy) == expected  # ids kept: the same bases, times and authors
        copy.import_lines(enumerate(trail.splitlines(keepends=True), 1), source="t")  # adds nothing
        assert _comparable(copy) == expected
        # and the copy goes on with them
        copy.promote_version("articles", "1", "later", fields=None, force=False, activity=act())
        assert copy.revision("articles", "1", -1).data["n"] == 4


def test_versions_imported_into_a_store_with_its_own_history_follow_its_ids(store, item, record, tmp_path):
    _versions_life(store, record)
    trail = b"".join(store.export_lines(LogQuery()))
    with AuditStore.open(tmp_path / "other.db", create=True) as other:
        other.record(Activity("create", "pages", "9", ""), data={"x": 1})
        other.import_lines(enumerate(trail.splitlines(keepends=True), 1), source="t")
        copied = {v["key"]: v for v in other.list_versions()}
        assert sorted(copied) == ["draft", "later"] and copied["later"]["name"] == "Later"
        # based on the copy's own activity: its head when the version was made
        head = other.history("articles", "1")[-1]["activity"]
        assert copied["later"]["base_activity"] == head and not copied["later"]["outdated"]
        assert other.compare_version("articles", "1", "draft")["staged"] == {"body": "new text"}


def test_a_trail_without_its_version_creates_starts_each_version_from_its_first_save(store, item, record, tmp_path):
    _versions_life(store, record)
    filtered = list(store.export_lines(LogQuery(actions=["create", "update", "promote", "version-save"])))
    with AuditStore.open(tmp_path / "copy.db", create=True) as copy:
        copy.import_lines(enumerate(filtered, 1), source="t")
        staged = {v["key"]: copy.compare_version("articles", "1", v["key"])["staged"] for v in copy.list_versions()}
    # "gone" was never deleted, as far as this trail tells; "draft" still gave its title to the promote
    assert staged == {"draft": {"body": "new text"}, "gone": {"n": 9}, "later": {"n": 4}}


def test_hand_made_version_records_that_are_not_ours_import_and_stage_nothing(tmp_path):
    def line(action, details=None, revision=None):
        return json.dumps({"action": action, "timestamp": "2026-01-01T00:00:00Z", "collection": "articles",
                           "item": "1", "details": details, "revision": revision}).encode() + b"\n"

    lines = [line("create", revision={"data": {"a": 1}}),
             line("version-create", True),  # details that are no object
             line("version-create", {"version": 5}),  # a key that is no string
             line("promote", {"version": "v", "fields": [{"x": 1}]}, {"data": {"a": 2}})]
    with AuditStore.open(tmp_path / "t.db", create=True) as store:
        with pytest.raises(AuditError, match="line 1: revision.data must be a JSON object"):  # staged is one too
            store.import_lines([(1, line("version-save", {"version": "v"}, {"data": [1, 2], "version": "v"}))],
                               source="t")
        assert store.import_lines(enumerate(lines, 1), source="t")["added"] == 4
        assert store.list_versions() == []
