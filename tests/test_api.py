"""The Python API (audit_cli.open, Store): its surface, its typed results, batches, and its checks, which are the
CLI's: the same bad input is the same error class and message through either, the CLI saying flags where the
library says its argument names."""

from __future__ import annotations

import io
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

import audit_cli
from audit_cli.cli import app


@pytest.fixture
def path(tmp_path):
    return tmp_path / "audit.db"


@pytest.fixture
def store(path):
    with audit_cli.open(path) as opened:
        opened.record("create", "articles", "1", data={"title": "Hello", "body": "Text"}, user="alice",
                      timestamp="2026-01-01T10:00:00Z")
        opened.record("update", "articles", "1", data={"title": "Hello, world"}, user="bob",
                      timestamp="2026-01-02T10:00:00Z")
        yield opened


def test_every_public_name_resolves_and_importing_the_package_stays_cheap():
    for name in audit_cli.__all__:
        assert getattr(audit_cli, name) is not None, name
    assert issubclass(audit_cli.NotFound, audit_cli.AuditError) and issubclass(audit_cli.Tampered, audit_cli.AuditError)
    loaded = subprocess.run([sys.executable, "-c", "import sys, audit_cli; print(sorted(m for m in sys.modules "
                             "if m.split('.')[0] in ('audit_cli', 'typer', 'sqlite3', 'orjson')))"],
                            capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['audit_cli']"


def test_a_memory_store_makes_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with audit_cli.open(":memory:") as store:
        store.record("login", "users", "alice")
        assert store.count() == 1 and store.info().activities == 1 and store.verify().ok
    assert list(tmp_path.iterdir()) == []


def test_times_are_normalised_in_the_core_so_queries_find_them(store):
    given = store.record("login", "users", "carol", timestamp="2026-01-03 10:00").activity
    assert given.timestamp == "2026-01-03T10:00:00.000000Z"
    aware = datetime(2026, 1, 3, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert store.record("login", "users", "dan", timestamp=aware).activity.timestamp == "2026-01-03T10:00:00.000000Z"
    assert [a.item for a in store.query(since="2026-01-03", action="login", sort="id")] == ["carol", "dan"]
    with pytest.raises(audit_cli.UsageError, match="has no time zone"):
        store.record("login", "users", "erin", timestamp=datetime(2026, 1, 3))


def test_results_are_typed_records(store, tmp_path):
    rows = list(store.query(collection="articles"))
    assert all(isinstance(row, audit_cli.Activity) for row in rows) and [r.action for r in rows] == ["update", "create"]
    assert store.count(user=["alice", "bob"]) == 2
    assert [(c.group, c.count) for c in store.stats(by="user")] == [("alice", 1), ("bob", 1)]
    shown = store.show(rows[0].id)
    assert shown.activity.user == "bob" and shown.revision.delta[0]["path"] == "/title"
    assert [entry.changed for entry in store.history("articles", 1)] == [["/title", "/body"], ["/title"]]
    assert store.diff("articles", "1").patch == [{"op": "replace", "path": "/title", "value": "Hello, world"}]
    assert store.change(rows[0].id).before["title"] == "Hello"
    assert {entry.path: entry.user for entry in store.blame("articles", "1")} == {"/body": "alice", "/title": "bob"}
    assert store.snapshot("articles", "1", rev=0)["title"] == "Hello"
    assert store.plan_revert("articles", "1", to=0).after["title"] == "Hello"
    reverted = store.revert("articles", "1", to=0, user="carol", comment="typo")
    assert reverted.activity.action == "revert" and reverted.revision.data["title"] == "Hello"


def test_comments_versions_retention_scopes(store):
    comment = store.comments.add("articles", 1, "Checked", user="dan")
    assert store.comments.edit(comment.id, "Checked twice").comment == "Checked twice"
    assert store.comments.delete(comment.id).comment_deleted_on is not None
    version = store.versions.create("articles", "1", "draft", name="Rewrite", user="erin")
    assert isinstance(version, audit_cli.Version) and version.fields == [] and not version.outdated
    assert store.versions.save("articles", "1", "draft", {"title": "Draft"}).revision.data == {"title": "Draft"}
    assert store.versions.compare("articles", "1", "draft").result["title"] == "Draft"
    assert [v.fields for v in store.versions.list("articles")] == [["title"]]
    assert store.versions.promote("articles", "1", "draft").revision.data["title"] == "Draft"
    assert store.retention.set(activity="365d", keep_revisions=2) == audit_cli.Retention("365d", None, 2)
    assert store.retention.get().activity == "365d"
    assert store.scopes.set("articles", exclude_fields=["body"]).exclude_fields == ["body"]
    assert [s.collection for s in store.scopes.list()] == ["articles"]
    store.scopes.clear("articles")
    store.retention.clear()
    assert store.scopes.get("articles") is None and store.retention.get() is None


def test_export_and_import_through_paths_file_objects_and_a_cursor(store, tmp_path):
    buffer = io.BytesIO()
    assert store.export_to(buffer).count == 2
    with audit_cli.open(":memory:") as copy:
        buffer.seek(0)
        assert copy.import_from(buffer).added == 2 and copy.verify().ok
    cursor = tmp_path / "export.cursor"
    first = store.export_to(tmp_path / "one.jsonl", cursor=cursor)
    store.record("login", "users", "alice")
    second = store.export_to(tmp_path / "two.jsonl.gz", cursor=cursor)
    assert (first.count, first.cursor, second.count, second.cursor) == (2, 2, 1, 3)
    with audit_cli.open(tmp_path / "copy.db") as copy:
        assert copy.import_from(tmp_path / "one.jsonl").added == 2
        assert copy.import_from(str(tmp_path / "two.jsonl.gz")).added == 1


def test_prune_verify_and_checkpoint(store, tmp_path):
    anchor = store.checkpoint()
    assert (anchor.count, anchor.head_id) == (2, 2)
    store.record("login", "users", "alice")
    assert store.verify(anchor=anchor).ok and store.verify(anchor=anchor.to_dict()).ok
    (tmp_path / "anchor.json").write_text(__import__("json").dumps(anchor.to_dict()))
    assert store.verify(anchor=tmp_path / "anchor.json").ok
    planned = store.prune(older_than="30d", dry_run=True)
    assert (planned.activities, planned.revisions, planned.dry_run) == (1, 1, True)  # the create; the update stays
    archive = io.BytesIO()
    pruned = store.prune(keep_revisions=1, archive=archive, user="ops")
    assert pruned.revisions == 1 and not pruned.dry_run and store.verify().ok


def test_a_batch_commits_once_and_a_failed_record_inside_is_undone_alone(store, path):
    other = sqlite3.connect(path)
    with store.batch():
        for n in range(50):
            store.record("login", "users", f"u{n}")
        with pytest.raises(audit_cli.NotFound):
            store.record("update", "articles", "missing", data={"a": 1})
        assert other.execute("SELECT count(*) FROM activity").fetchone()[0] == 2  # nothing committed yet
    assert other.execute("SELECT count(*) FROM activity").fetchone()[0] == 52
    with pytest.raises(RuntimeError), store.batch():
        store.record("login", "users", "gone")
        raise RuntimeError("the application failed")
    assert store.count(action="login") == 50 and store.verify().ok


def test_a_single_record_is_in_the_store_when_it_returns(store, path):
    store.record("login", "users", "alice")
    assert sqlite3.connect(path).execute("SELECT count(*) FROM activity").fetchone()[0] == 3


# The same bad input through the CLI and through the library: (CLI arguments, library call).
SAME = {
    "data and patch": (["record", "update", "articles", "1", "--data", '{"a": 1}', "--patch", "[]"],
                       lambda s: s.record("update", "articles", "1", data={"a": 1}, patch=[])),
    "replace without data": (["record", "update", "articles", "1", "--replace"],
                             lambda s: s.record("update", "articles", "1", replace=True)),
    "data not an object": (["record", "update", "articles", "1", "--data", "[1]"],
                           lambda s: s.record("update", "articles", "1", data=[1])),
    "data on login": (["record", "login", "users", "alice", "--data", "{}"],
                      lambda s: s.record("login", "users", "alice", data={})),
    "patch on create": (["record", "create", "articles", "2", "--patch", "[]"],
                        lambda s: s.record("create", "articles", "2", patch=[])),
    "data on delete": (["record", "delete", "articles", "1", "--data", "{}"],
                       lambda s: s.record("delete", "articles", "1", data={})),
    "a bad patch": (["record", "update", "articles", "1", "--patch", '[{"op": "nope"}]'],
                    lambda s: s.record("update", "articles", "1", patch=[{"op": "nope"}])),
    "a bad action": (["record", "Bad", "articles", "1"], lambda s: s.record("Bad", "articles", "1")),
    "an action of its own command": (["record", "revert", "articles", "1"],
                                     lambda s: s.record("revert", "articles", "1")),
    "a comment without text": (["record", "comment", "articles", "1"], lambda s: s.record("comment", "articles", "1")),
    "a bad time": (["record", "login", "users", "a", "--at", "not a time"],
                   lambda s: s.record("login", "users", "a", timestamp="not a time")),
    "rev and at": (["snapshot", "articles", "1", "--rev", "0", "--at", "now"],
                   lambda s: s.snapshot("articles", "1", rev=0, at="now")),
    "no such revision": (["diff", "articles", "1", "--to", "5"], lambda s: s.diff("articles", "1", end=5)),
    "revert too far": (["revert", "articles", "1", "--to", "9"], lambda s: s.revert("articles", "1", to=9)),
    "no such item": (["history", "articles", "404"], lambda s: s.history("articles", "404")),
    "a bad since": (["log", "--since", "soon"], lambda s: list(s.query(since="soon"))),
    "a bad sort": (["log", "--sort", "nope"], lambda s: list(s.query(sort="nope"))),
    "a bad filter": (["log", "--filter", '{"nope": {"_eq": 1}}'], lambda s: list(s.query(filter={"nope": {"_eq": 1}}))),
    "a bad filter operator": (["log", "--filter", '{"user": {"_like": 1}}'],
                              lambda s: list(s.query(filter={"user": {"_like": 1}}))),
    "a bad field": (["log", "--field", "title"], lambda s: list(s.query(field="title"))),
    "an empty retention": (["retention", "set"], lambda s: s.retention.set()),
    "keep no revisions": (["retention", "set", "--keep-revisions", "0"], lambda s: s.retention.set(keep_revisions=0)),
    "an age before year 1": (["retention", "set", "--activity", "999999d"],
                             lambda s: s.retention.set(activity="999999d")),
    "fields and exclude": (["scope", "set", "articles", "--fields", "a", "--exclude-fields", "b"],
                           lambda s: s.scopes.set("articles", fields=["a"], exclude_fields=["b"])),
    "prune too far back": (["prune", "--older-than", "3000y", "--yes"], lambda s: s.prune(older_than="3000y")),
    "edit a non-comment": (["comment", "edit", "1", "new text"], lambda s: s.comments.edit(1, "new text")),
    "no such activity": (["show", "99"], lambda s: s.show(99)),
    "a bad cursor file": (["export", "--cursor-file", "{tmp}"], lambda s: s.export_to(io.BytesIO(), cursor="{tmp}")),
}
# How the CLI says the library's argument names.
FLAGS = {"timestamp": "--at", "end": "--to", "start": "--from", "cursor": "--cursor-file"}


@pytest.mark.parametrize("case", list(SAME))
def test_the_cli_and_the_library_refuse_the_same_input_alike(case, store, path, tmp_path):
    args, call = SAME[case]
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    with pytest.raises(audit_cli.AuditError) as caught:
        call(_Tmp(store, str(tmp_path)))
    result = CliRunner(env={"AUDIT_USER": "tester", "AUDIT_DB": None}).invoke(app, ["--db", str(path), *args])
    said = caught.value.worded(lambda name: FLAGS.get(name, "--" + name.replace("_", "-")))
    assert (result.exit_code, result.stderr) == (caught.value.exit_code, f"audit: error: {said}\n")
    if caught.value.params:  # the library's own words name its arguments, never a flag
        assert "--" not in str(caught.value)


class _Tmp:
    """The store, with "{tmp}" in a text argument standing for the test's folder (as in the CLI's arguments)."""

    def __init__(self, store, tmp: str):
        self._s, self._tmp = store, tmp

    def __getattr__(self, name):
        value = getattr(self._s, name)
        if not callable(value):
            return value

        def call(*args, **kwargs):
            swap = lambda v: v.replace("{tmp}", self._tmp) if isinstance(v, str) else v  # noqa: E731
            return value(*map(swap, args), **{k: swap(v) for k, v in kwargs.items()})

        return call


def test_bad_values_only_the_library_can_be_given(store):
    with pytest.raises(audit_cli.UsageError, match="^data cannot be stored as JSON"):
        store.record("update", "articles", "1", data={"when": datetime.now()})
    with pytest.raises(audit_cli.UsageError, match="^details cannot be stored as JSON"):
        store.record("login", "users", "a", details={"x": float("nan")})
    with pytest.raises(audit_cli.UsageError, match="^limit must be 0 or more"):
        list(store.query(limit=-1))
    with pytest.raises(audit_cli.UsageError, match="^unknown format 'xml'"):
        store.export_to(io.BytesIO(), format="xml")
    with pytest.raises(audit_cli.UsageError, match="^invalid synchronous"):
        audit_cli.open(":memory:", synchronous="sometimes")
    with pytest.raises(audit_cli.StoreError):
        audit_cli.open(store.path.parent / "missing.db", create=False)


def test_an_item_given_as_a_number_is_its_text_everywhere_so_the_chain_holds(store):
    store.record("create", "articles", 7, data={"a": 1})
    store.record("update", "articles", 7, data={"a": 2})
    assert store.revert("articles", 7, to=0).activity.item == "7"
    assert len(store.history("articles", 7)) == 3 and store.snapshot("articles", 7) == {"a": 1}
    trail = io.BytesIO()
    store.export_to(trail)
    trail.seek(0)
    with audit_cli.open(":memory:") as copy:
        assert copy.import_from(trail).added == 5 and copy.verify().ok
    assert not trail.closed  # the caller's file object is the caller's to close


def test_a_bad_query_is_refused_when_made_not_when_first_read(store):
    with pytest.raises(audit_cli.UsageError, match="invalid time 'soon'"):
        store.query(since="soon")
    unread = store.query(action="login")  # nothing is read until iterated: writers and checkpoints go on
    store.record("login", "users", "alice")
    assert [a.item for a in unread] == ["alice"]


def test_an_exported_trail_verifies_offline(store, tmp_path):
    anchor = store.checkpoint()
    store.export_to(tmp_path / "trail.jsonl.gz")
    checked = audit_cli.verify_file(tmp_path / "trail.jsonl.gz", anchor=anchor)
    assert checked.ok and checked.partial is None
    piece = store.export_to(tmp_path / "piece.jsonl", action="update")  # filtered: partial by design
    assert piece.count == 1 and audit_cli.verify_file(tmp_path / "piece.jsonl").partial


def test_every_public_method_documents_every_argument():
    import inspect

    from audit_cli.api import manage

    for owner in (audit_cli.Store, manage.Comments, manage.Versions, manage.Retention, manage.Scopes):
        for name, method in inspect.getmembers(owner, inspect.isfunction):
            if name.startswith("_"):
                continue
            doc = inspect.getdoc(method) or ""
            arguments = [p.name for p in inspect.signature(method).parameters.values()
                         if p.name != "self" and p.kind is not p.VAR_KEYWORD]
            assert doc and all(f"{a}" in doc for a in arguments), f"{owner.__name__}.{name}: {arguments}"
    assert all(inspect.getdoc(getattr(audit_cli, name)) for name in audit_cli.__all__ if name != "__version__")
