"""`audit scope set|show|clear` and what a scope does: at record time (fields kept, track all|activity|none), at
revert time (the scoped fields restored, and which were out of scope said), and for `prune --apply-scopes`.

Real store files, through the CLI (CliRunner) and the core.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from audit_cli import patches, timeparse
from audit_cli.models import Activity
from audit_cli.store import AuditStore

DOC = {"title": "Hello", "body": "long text", "status": "draft", "secret": "s3cr3t"}


def count(db_path: Path, table: str = "activity") -> int:
    """Rows of `table`; for activity, besides the scope's own chained records (scope-set, scope-clear)."""
    where = " WHERE action NOT IN ('scope-set', 'scope-clear')" if table == "activity" else ""
    with AuditStore.open(db_path) as store:
        return store.conn.execute(f"SELECT count(*) FROM {table}{where}").fetchone()[0]


def rec(cli, action, collection="articles", item="1", data=None, **kw):
    args = ["record", action, "-c", collection, "-i", item]
    if data is not None:
        args += ["--data", json.dumps(data)]
    return cli(*args, **kw)


def snap(cli, collection="articles", item="1", *args):
    return json.loads(cli("snapshot", collection, item, *args).stdout)


def verifies(cli) -> None:
    result = cli("verify", ok=False)
    assert result.exit_code == 0 and result.stdout.startswith("OK"), result.output


# set, show, clear


def test_scope_set_show_and_clear(cli, db_path):
    shown = cli.json("scope", "set", "articles", "--exclude-fields", "body, secret", "--keep-revisions", "5")
    assert shown["collection"] == "articles"
    assert shown["exclude_fields"] == ["body", "secret"]
    assert shown["keep_revisions"] == 5
    assert shown.get("track", "all") == "all"
    cli("scope", "set", "sessions", "--track", "activity")
    rows = cli.json("scope", "show")
    assert [r["collection"] for r in rows] == ["articles", "sessions"]
    assert rows[1]["track"] == "activity"
    one = cli.json("scope", "show", "sessions")
    assert [r["collection"] for r in one] == ["sessions"]
    table = cli("scope", "show").stdout
    assert "articles" in table and '["body","secret"]' in table
    result = cli("scope", "clear", "articles")
    assert "articles" in result.stderr
    assert [r["collection"] for r in cli.json("scope", "show")] == ["sessions"]


def test_scope_set_replaces_the_whole_scope(cli):
    cli("scope", "set", "articles", "--fields", "title")
    cli("scope", "set", "articles", "--exclude-fields", "body")
    (row,) = cli.json("scope", "show", "articles")
    assert row["fields"] is None and row["exclude_fields"] == ["body"]


def test_scope_show_with_none_set_is_an_empty_success(cli):
    cli("scope", "set", "x", "--track", "all")
    cli("scope", "clear", "x")
    assert cli.json("scope", "show") == []
    assert cli.json("scope", "show", "articles") == []


@pytest.mark.parametrize("args", [
    ["scope", "set", "articles", "--fields", "title", "--exclude-fields", "body"],
    ["scope", "set", "articles", "--keep-revisions", "0"],
    ["scope", "set", "articles", "--keep-revisions", "-3"],
    ["scope", "set", "articles", "--track", "some"],
    ["scope", "set", "articles", "--keep-revisions", "many"],
    ["scope", "set"],
])
def test_scope_usage_errors_exit_2_with_one_line(cli, db_path, args):
    rec(cli, "create", data=DOC)
    cli.fails(*args, code=2)
    assert cli.json("scope", "show") == []


def test_scope_fields_and_exclude_fields_error_says_what_is_accepted(cli):
    stderr = cli.fails("scope", "set", "articles", "--fields", "a", "--exclude-fields", "b", code=2)
    last = stderr.strip().splitlines()[-1]
    assert "--fields" in last and "--exclude-fields" in last


def test_scope_clear_of_a_collection_without_scope_exits_1(cli, db_path):
    rec(cli, "create", data=DOC)
    stderr = cli.fails("scope", "clear", "articles", code=1)
    assert "articles" in stderr.strip().splitlines()[-1]


def test_scope_show_on_a_missing_store_exits_1_and_creates_nothing(cli, db_path):
    cli.fails("scope", "show", code=1)
    assert not db_path.exists()


# at record time


def test_new_revisions_keep_only_the_scoped_fields(cli, db_path):
    cli("scope", "set", "articles", "--fields", "title,status")
    rec(cli, "create", data=DOC)
    assert snap(cli) == {"title": "Hello", "status": "draft"}
    rec(cli, "update", data={"status": "review", "body": "ignored", "extra": 1})
    assert snap(cli) == {"title": "Hello", "status": "review"}
    shown = cli.json("show", "3")  # 1 is the chained scope-set
    assert shown["revision"]["delta"] == [{"op": "replace", "path": "/status", "value": "review"}]
    verifies(cli)


def test_new_revisions_drop_excluded_fields(cli):
    cli("scope", "set", "articles", "--exclude-fields", "body,secret")
    rec(cli, "create", data=DOC)
    assert snap(cli) == {"title": "Hello", "status": "draft"}
    rec(cli, "update", data={"secret": "new", "title": "Hi"})
    assert snap(cli) == {"title": "Hi", "status": "draft"}
    assert [h["changed"] for h in cli.json("history", "articles", "1")][-1] == ["/title"]


def test_a_scope_applies_from_then_on_not_to_earlier_revisions(cli):
    rec(cli, "create", data=DOC)
    cli("scope", "set", "articles", "--exclude-fields", "body")
    assert snap(cli, "articles", "1", "--rev", "0") == DOC
    rec(cli, "update", data={"title": "Hi"})
    assert "body" not in snap(cli)
    assert snap(cli, "articles", "1", "--rev", "0") == DOC


def test_track_activity_keeps_the_activity_but_no_revision(cli, db_path):
    cli("scope", "set", "sessions", "--track", "activity")
    result = rec(cli, "create", "sessions", "s1", data={"token": "x"})
    assert result.exit_code == 0
    new_id = int(result.stdout.strip())
    assert "activity" in result.stderr and "revision" in result.stderr
    shown = cli.json("show", str(new_id))
    assert shown["action"] == "create" and shown.get("revision") is None
    assert count(db_path, "revisions") == 0
    cli.fails("history", "sessions", "s1", code=1)
    # non-data actions are recorded as usual, and updates too (without revisions)
    assert rec(cli, "login", "sessions", "s1").exit_code == 0
    assert rec(cli, "update", "sessions", "s1", data={"token": "y"}).exit_code == 0
    assert count(db_path) == 3 and count(db_path, "revisions") == 0
    verifies(cli)


@pytest.mark.parametrize("action,data", [("create", {"token": "x"}), ("login", None), ("update", {"a": 1})])
def test_track_none_keeps_nothing_exits_0_and_says_so(cli, db_path, action, data):
    rec(cli, "create", "articles", "1", data=DOC)
    cli("scope", "set", "sessions", "--track", "none")
    result = rec(cli, action, "sessions", "s1", data=data)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == ""
    assert "nothing" in result.stderr and "sessions" in result.stderr
    assert count(db_path) == 1
    assert [a["action"] for a in cli.json("log", "-c", "sessions")] == ["scope-set"]  # only the scope's own record
    verifies(cli)


def test_track_none_through_the_core_returns_no_id_and_a_note(store):
    store.set_scope("sessions", {"track": "none"})
    recorded = store.record(Activity("create", "sessions", "1", ""), data={"a": 1})
    assert recorded.activity["id"] is None
    assert recorded.note
    assert store.conn.execute("SELECT action FROM activity").fetchall() == [("scope-set",)]


def test_track_none_json_output_is_still_a_success(cli, db_path):
    cli("scope", "set", "sessions", "--track", "none")
    result = cli("record", "create", "-c", "sessions", "-i", "1", "--data", "{}", "--format", "json")
    assert result.exit_code == 0
    assert count(db_path) == 0


def test_clearing_a_scope_tracks_everything_again(cli, db_path):
    cli("scope", "set", "articles", "--exclude-fields", "body")
    rec(cli, "create", data=DOC)
    cli("scope", "clear", "articles")
    rec(cli, "update", data={"title": "Hi", "body": "back"})
    assert snap(cli) == {**DOC, "title": "Hi", "body": "back"}
    cli("scope", "set", "sessions", "--track", "none")
    cli("scope", "clear", "sessions")
    assert rec(cli, "login", "sessions", "s1").stdout.strip().isdigit()


# revert on a scoped collection


@pytest.fixture
def scoped_history(cli):
    rec(cli, "create", data=DOC)  # revision 0: everything
    rec(cli, "update", data={"title": "Second", "body": "changed"})  # revision 1
    cli("scope", "set", "articles", "--exclude-fields", "body,secret")
    rec(cli, "update", data={"status": "published"})  # revision 2: scoped
    return cli


def test_revert_restores_the_scoped_fields_and_says_which_were_out_of_scope(scoped_history):
    cli = scoped_history
    result = cli("revert", "articles", "1", "--to", "0")
    restored = json.loads(result.stdout)
    assert restored == {"title": "Hello", "status": "draft"}
    assert snap(cli) == restored
    # "says which were out of scope": on stderr, naming each field
    assert "body" in result.stderr and "secret" in result.stderr, result.stderr
    assert "scope" in result.stderr
    reverted = cli.json("log", "--action", "revert")[0]
    assert sorted(reverted["details"]["out_of_scope"]) == ["body", "secret"]
    verifies(cli)


def test_revert_json_output_says_which_were_out_of_scope(scoped_history):
    result = scoped_history("revert", "articles", "1", "--to", "1", "--format", "json")
    assert json.loads(result.stdout)["revision"]["data"] == {"title": "Second", "status": "draft"}
    assert "body" in result.stderr and "secret" in result.stderr


def test_revert_dry_run_says_which_are_out_of_scope(scoped_history):
    result = scoped_history("revert", "articles", "1", "--to", "0", "--dry-run", "--format", "json")
    plan = json.loads(result.stdout)
    assert plan["after"] == {"title": "Hello", "status": "draft"}
    assert "body" in (plan.get("note") or "") + result.stderr


def test_revert_through_the_core_returns_the_out_of_scope_note(db_path):
    with AuditStore.open(db_path, create=True) as store:
        store.record(Activity("create", "articles", "1", ""), data=DOC)
        store.set_scope("articles", {"fields": ["title"]})
        store.record(Activity("update", "articles", "1", ""), data={"title": "B"})
        recorded = store.revert("articles", "1", to=0)
        assert recorded.revision.data == {"title": "Hello"}
        assert all(field in recorded.note for field in ("body", "status", "secret"))
        assert store.verify()["ok"]


def test_revert_with_everything_in_scope_says_nothing_about_scope(cli):
    cli("scope", "set", "articles", "--exclude-fields", "unused")
    rec(cli, "create", data=DOC)
    rec(cli, "update", data={"title": "B"})
    result = cli("revert", "articles", "1", "--to", "0")
    assert "scope" not in result.stderr
    assert json.loads(result.stdout) == DOC


# prune --apply-scopes with a scope count only


def test_scope_keep_count_alone_drops_revisions_past_it_and_rewrites_none(db_path, cli):
    now = timeparse.utcnow()
    with AuditStore.open(db_path, create=True) as store:
        for n in range(6):
            when = timeparse.format_ts(now - timedelta(days=10 - n))
            store.record(Activity("create" if n == 0 else "update", "articles", "1", when), data={"n": n, **DOC})
            store.record(Activity("create" if n == 0 else "update", "pages", "1", when), data={"n": n})
    cli("scope", "set", "articles", "--keep-revisions", "3")
    dry = cli.json("prune", "--apply-scopes", "--dry-run")
    summary = cli.json("prune", "--apply-scopes", "--yes")
    assert summary["revisions"] == dry["revisions"] == 3
    assert summary["rewritten"] == dry["rewritten"] == 0
    assert [h["activity"] for h in cli.json("history", "articles", "1")] == [7, 9, 11]
    assert len(cli.json("history", "pages", "1")) == 6, "no scope: untouched"
    assert snap(cli, "articles", "1", "--rev", "0") == {"n": 3, **DOC}
    verifies(cli)


def test_apply_scopes_with_no_scopes_set_removes_nothing(cli, db_path):
    rec(cli, "create", data=DOC)
    rec(cli, "update", data={"title": "B"})
    summary = cli.json("prune", "--apply-scopes", "--yes")
    assert summary["activities"] == summary["revisions"] == summary["rewritten"] == 0
    assert len(cli.json("history", "articles", "1")) == 2


def test_apply_scopes_rewrites_revisions_recorded_before_the_scope(cli, db_path):
    rec(cli, "create", data=DOC)
    rec(cli, "update", data={"title": "B", "secret": "t0p"})
    rec(cli, "update", data={"status": "published"})
    cli("scope", "set", "articles", "--fields", "title,status")
    summary = cli.json("prune", "--apply-scopes", "--yes")
    assert summary["rewritten"] == 3
    history = cli.json("history", "articles", "1")
    assert len(history) == 3
    states = [snap(cli, "articles", "1", "--rev", str(h["index"])) for h in history]
    assert states == [{"title": "Hello", "status": "draft"}, {"title": "B", "status": "draft"},
                      {"title": "B", "status": "published"}]
    # the deltas now describe the scoped states (the secret's change is gone from history)
    assert history[1]["changed"] == ["/title"]
    with AuditStore.open(db_path) as store:
        state: object = {}
        for h in store.history("articles", "1"):
            revision = store.revision_of(h["activity"])
            state = patches.apply(state, revision.delta)
            assert state == revision.data
    # and a second run has nothing left to rewrite
    again = cli.json("prune", "--apply-scopes", "--yes")
    assert again["rewritten"] == 0
    verifies(cli)
