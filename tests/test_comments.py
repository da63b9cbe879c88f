"""Comments on items: add, edit (edited_on), soft delete (comment_deleted_on), through the core and the CLI."""

from __future__ import annotations

import pytest

from audit_cli.errors import Conflict, NotFound, UsageError
from audit_cli.models import Activity, LogQuery
from audit_cli.store import AuditStore


def comment(store, text, item="1", user="ann"):
    return store.add_comment(Activity("comment", "articles", item, "", user=user, comment=text))


def log_ids(store, **kw):
    return [row["id"] for row in store.log(LogQuery(limit=None, **kw)).rows]


# core


def test_add_records_a_comment_activity(store, record):
    record("create", data={"a": 1})
    added = comment(store, "Checked with finance")
    got = store.get_activity(added["id"])
    assert (got["action"], got["collection"], got["item"], got["comment"], got["user"]) == \
        ("comment", "articles", "1", "Checked with finance", "ann")
    assert got["edited_on"] is None and got["comment_deleted_on"] is None
    assert store.revision_of(added["id"]) is None
    assert len(store.history("articles", "1")) == 1


@pytest.mark.parametrize("text", ["", "   ", None])
def test_add_needs_text(store, text):
    with pytest.raises(UsageError, match="needs text"):
        comment(store, text)


def test_edit_changes_the_text_and_sets_edited_on(store):
    added = comment(store, "first")
    edited = store.edit_comment(added["id"], "second")
    assert edited["comment"] == "second"
    assert edited["edited_on"] is not None and edited["edited_on"] >= added["timestamp"]
    assert edited["timestamp"] == added["timestamp"]
    again = store.edit_comment(added["id"], "third")
    assert again["comment"] == "third" and again["edited_on"] >= edited["edited_on"]
    assert store.get_activity(added["id"])["comment"] == "third"


def test_delete_is_soft_and_hides_from_the_log(store):
    keep = comment(store, "keep")
    gone = comment(store, "gone")
    deleted = store.delete_comment(gone["id"])
    assert deleted["comment_deleted_on"] is not None
    assert deleted["comment"] == "gone"
    assert store.get_activity(gone["id"])["comment_deleted_on"] == deleted["comment_deleted_on"]
    assert log_ids(store) == [keep["id"]]
    assert log_ids(store, include_deleted=True) == [gone["id"], keep["id"]]


def test_only_comments_can_be_edited_or_deleted(store, record):
    done = record("create", data={"a": 1})
    login = record("login", collection="users", item="ann")
    for activity_id in (done.activity["id"], login.activity["id"]):
        with pytest.raises(UsageError, match="not a comment"):
            store.edit_comment(activity_id, "x")
        with pytest.raises(UsageError, match="not a comment"):
            store.delete_comment(activity_id)
        assert store.get_activity(activity_id)["comment"] is None
        assert store.get_activity(activity_id)["edited_on"] is None


def test_a_deleted_comment_cannot_be_edited_or_deleted_again(store):
    added = comment(store, "text")
    deleted = store.delete_comment(added["id"])
    with pytest.raises(Conflict, match="was deleted"):
        store.edit_comment(added["id"], "new")
    with pytest.raises(Conflict, match="was deleted"):
        store.delete_comment(added["id"])
    got = store.get_activity(added["id"])
    assert got["comment"] == "text" and got["edited_on"] is None
    assert got["comment_deleted_on"] == deleted["comment_deleted_on"]


def test_edit_needs_text_and_an_existing_id(store):
    added = comment(store, "text")
    with pytest.raises(UsageError, match="needs text"):
        store.edit_comment(added["id"], " ")
    with pytest.raises(NotFound, match="no activity with id 99"):
        store.edit_comment(99, "x")
    with pytest.raises(NotFound):
        store.delete_comment(99)


# CLI


def test_cli_add_edit_delete(cli, db_path):
    result = cli("comment", "add", "articles", "42", "Checked the figures", "--user", "ann")
    comment_id = result.stdout.strip()
    assert comment_id == "1"
    added = cli.json("show", comment_id)
    assert (added["action"], added["item"], added["comment"], added["user"]) == \
        ("comment", "42", "Checked the figures", "ann")
    edited = cli.json("comment", "edit", comment_id, "Checked with legal too")
    assert edited["comment"] == "Checked with legal too" and edited["edited_on"]
    assert cli.json("show", comment_id)["comment"] == "Checked with legal too"
    assert [row["id"] for row in cli.json("log")] == [1]
    deleted = cli.json("comment", "delete", comment_id)
    assert deleted["comment_deleted_on"]
    assert cli.json("log") == []
    rows = cli.json("log", "--include-deleted")
    assert [row["id"] for row in rows] == [1]
    assert rows[0]["comment_deleted_on"] == deleted["comment_deleted_on"]


def test_cli_add_json_format(cli):
    out = cli.json("comment", "add", "articles", "1", "hello")
    assert out["action"] == "comment" and out["comment"] == "hello" and out["id"] == 1
    assert out["revision"] is None


def test_cli_deleted_comments_hidden_among_other_activity(cli, db_path):
    with AuditStore.open(db_path, create=True) as store:
        store.record(Activity("create", "articles", "1", ""), data={"a": 1})
        comment(store, "one")
        comment(store, "two")
    cli("comment", "delete", "2")
    assert [row["id"] for row in cli.json("log")] == [3, 1]
    assert [row["id"] for row in cli.json("log", "--include-deleted")] == [3, 2, 1]
    assert [row["id"] for row in cli.json("log", "--action", "comment")] == [3]


def test_cli_refuses_editing_or_deleting_other_activities(cli, db_path):
    with AuditStore.open(db_path, create=True) as store:
        store.record(Activity("create", "articles", "1", ""), data={"a": 1})
    for args in (("comment", "edit", "1", "x"), ("comment", "delete", "1")):
        result = cli(*args, ok=False)
        assert result.exit_code in (1, 2), result.output
        assert "not a comment" in result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith("audit: error: ")
    shown = cli.json("show", "1")
    assert shown["comment"] is None and shown["edited_on"] is None and shown["comment_deleted_on"] is None


def test_cli_refuses_editing_a_deleted_comment(cli):
    cli("comment", "add", "articles", "1", "text")
    cli("comment", "delete", "1")
    assert "was deleted" in cli.fails("comment", "edit", "1", "new", code=1)
    assert "was deleted" in cli.fails("comment", "delete", "1", code=1)
    assert cli.json("log", "--include-deleted")[0]["comment"] == "text"


def test_cli_errors(cli):
    assert "no audit store" in cli.fails("comment", "edit", "1", "x", code=1)
    cli("comment", "add", "articles", "1", "text")
    assert "no activity with id 7" in cli.fails("comment", "edit", "7", "x", code=1)
    assert "needs text" in cli.fails("comment", "add", "articles", "1", "  ", code=2)
    assert "needs text" in cli.fails("comment", "edit", "1", "", code=2)
    cli.fails("comment", "edit", "abc", "x", code=2)
