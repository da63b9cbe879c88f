"""`audit prune` on real store files, through the core (`store.prune(..., now=)`) and through the CLI.

One known history (below) is pruned every way the issue names: by age, by count, both, per collection, by scope,
and by the stored policy. Each kind has its expected result written out by hand from the rules in README "Retention
and scope" (not computed the way the code computes it), and after each one: the newest revision of every item is
still there, every kept revision still reads (snapshot, diff, revert), `audit verify` passes (also after several
prunes, and after export then import), the dry run's summary equals the real run's, an archive imported into a fresh
store gives back what went, and tampering after a prune is still caught.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit_cli import patches, timeparse
from lines import activity_lines, trailers
from audit_cli.models import Activity, LogQuery
from audit_cli.store import AuditStore, codec, provenance

# "now" for the whole module: the CLI prunes against the real clock, the core against NOW; every event sits at
# least a day away from every cutoff used (60d, 90d), so the seconds between the two never matter.
NOW = timeparse.utcnow().replace(microsecond=0)
BODY = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 8


def ago(days: float) -> str:
    return timeparse.format_ts(NOW - timedelta(days=days))


# (name, days ago, action, collection, item, data or comment text), oldest first; ids follow this order.
EVENTS = [
    ("p2c", 200, "create", "pages", "2", {"title": "lonely", "body": BODY}),
    ("li120", 120, "login", "users", "alice", None),
    ("c110", 110, "comment", "articles", "1", "an old note"),
    ("a1c", 100, "create", "articles", "1", {"title": "v0", "body": BODY, "status": "draft"}),
    ("p1c", 99.5, "create", "pages", "1", {"x": 0, "body": BODY}),
    ("a2c", 95, "create", "articles", "2", {"title": "second", "body": BODY, "status": "draft"}),
    # a comment and its edit, both older than every cutoff: they go together
    ("c95", 94.5, "comment", "users", "alice", "old, and edited"),
    ("e95", 92, "comment-edit", "users", "alice", ("c95", "old, and edited long ago")),
    ("a1u91", 91, "update", "articles", "1", {"title": "v1"}),
    ("p1u89", 89, "update", "pages", "1", {"x": 1}),
    ("c88", 88, "comment", "articles", "1", "to be edited"),
    ("a2u85", 85, "update", "articles", "2", {"status": "review"}),
    ("a1u80", 80, "update", "articles", "1", {"status": "review"}),
    ("a2d75", 75, "delete", "articles", "2", None),
    ("a1u70", 70, "update", "articles", "1", {"title": "v2"}),
    ("p1u65", 65, "update", "pages", "1", {"x": 2}),
    ("lo61", 61, "logout", "users", "alice", None),
    ("li59", 59, "login", "users", "bob", None),
    ("a1u50", 50, "update", "articles", "1", {"status": "published"}),
    ("e88", 40, "comment-edit", "articles", "1", ("c88", "edited later")),
    ("c30", 30, "comment", "articles", "1", "a recent note"),
    # back-dated: an edit older than the cutoff, of a comment that stays; it must stay with it
    ("e30", 70, "comment-edit", "articles", "1", ("c30", "a recent note, edited")),
    ("a1u29", 29, "update", "articles", "1", {"title": "v3"}),
    ("p1u20", 20, "update", "pages", "1", {"x": 3}),
    ("a1u10", 10, "update", "articles", "1", {"title": "v4"}),
    ("a3c", 5, "create", "articles", "3", {"title": "new"}),
    ("lo1", 1, "logout", "users", "bob", None),
]
NAMES = [e[0] for e in EVENTS]
ID = {name: n for n, name in enumerate(NAMES, 1)}
ITEMS = [("articles", "1"), ("articles", "2"), ("articles", "3"), ("pages", "1"), ("pages", "2")]

# What each kind removes, by hand from the README's rules.
# Activities that go whole (with their revisions), and activities that stay but lose their revision. A comment and
# the chained records of its edits go together or stay together (verify rebuilds its first text from them): c88 is
# old but was edited (e88) since every cutoff, so it stays; c95 and its edit e95 are both old, so both go.
AGE_60 = {"li120", "c110", "a1c", "p1c", "a2c", "a1u91", "p1u89", "a2u85", "a1u80", "a1u70", "p1u65", "lo61",
          "c95", "e95"}
COUNT_2 = {"a1c", "a1u91", "a1u80", "a1u70", "a1u50", "a2c", "p1c", "p1u89"}
# both: a revision goes only when older than 60d AND not among its item's newest 2 (a2u85, a2d75, p1u65 stay)
BOTH_60_2 = {"li120", "c110", "a1c", "p1c", "a2c", "a1u91", "p1u89", "a1u80", "a1u70", "lo61", "c95", "e95"}
PAGES_60 = {"p1c", "p1u89", "p1u65"}
SCOPE_REVISIONS = {"a1c", "a1u91", "a1u80", "a1u70", "a1u50", "a2c"}  # articles keep 2 per item by scope
POLICY_WHOLE = {"li120", "c110", "a1c", "p1c", "a2c", "a1u91", "c95", "e95"}  # --activity 90d, keeping each item's newest 2
POLICY_REVISIONS = {"p1u89", "a1u80", "a1u70"}  # --revisions 60d, keeping each item's newest 2

# kind: (CLI arguments, core keyword arguments, setup through the CLI, activities gone whole, revisions gone alone)
KINDS = {
    "age": (["--older-than", "60d"], {"older_than": "60d"}, [], AGE_60, set()),
    "count": (["--keep-revisions", "2"], {"keep_revisions": 2}, [], set(), COUNT_2),
    "both": (["--older-than", "60d", "--keep-revisions", "2"], {"older_than": "60d", "keep_revisions": 2}, [],
             BOTH_60_2, set()),
    "collection": (["--collection", "pages", "--older-than", "60d"], {"collection": "pages", "older_than": "60d"},
                   [], PAGES_60, set()),
    "scope": (["--apply-scopes"], {"apply_scopes": True},
              [["scope", "set", "articles", "--exclude-fields", "body", "--keep-revisions", "2"]],
              set(), SCOPE_REVISIONS),
    "policy": ([], {}, [["retention", "set", "--activity", "90d", "--revisions", "60d", "--keep-revisions", "2"]],
               POLICY_WHOLE, POLICY_REVISIONS),
}


def build(store: AuditStore) -> None:
    for name, days, action, collection, item, payload in EVENTS:
        when = ago(days)
        if action == "comment":
            saved = store.add_comment(Activity("comment", collection, item, when, user="carol", comment=payload))
        elif action == "comment-edit":
            target, text = payload
            saved = store.edit_comment(ID[target], text, activity=Activity("comment-edit", "", "", when, user="carol"))
            saved = {"id": store.conn.execute("SELECT max(id) FROM activity").fetchone()[0]}
        else:
            data = payload if action in ("create", "update") else None
            saved = store.record(Activity(action, collection, item, when, user="alice"), data=data).activity
        assert saved["id"] == ID[name], (name, saved["id"])


@pytest.fixture
def built(db_path: Path) -> Path:
    with AuditStore.open(db_path, create=True) as store:
        build(store)
    return db_path


def setup(cli, kind: str) -> None:
    for args in KINDS[kind][2]:
        cli(*args)


class State:
    """What a store holds: activities by id, and main-line and version revisions by activity id."""

    def __init__(self, db_path: Path):
        with AuditStore.open(db_path) as store:
            self.activities = {row[0]: row for row in store.conn.execute(
                "SELECT id, action, user, timestamp, collection, item, comment, details, hash FROM activity")}
            self.revisions = {a: store.revision_of(a).data for (a,) in store.conn.execute(
                "SELECT activity FROM revisions")}
            self.newest = {}
            for collection, item in ITEMS:
                row = store.conn.execute(
                    "SELECT max(activity) FROM revisions WHERE collection = ? AND item = ? AND version IS NULL",
                    [collection, item]).fetchone()
                self.newest[(collection, item)] = row[0]
            self.plan = store.conn.execute("SELECT count(*) FROM prune_plan").fetchone()[0]

    def ids(self) -> set[int]:
        return set(self.activities)


def names(ids) -> set[str]:
    return {NAMES[i - 1] for i in ids if i <= len(NAMES)}


def prune_ids(state: State) -> set[int]:
    return {i for i, row in state.activities.items() if row[1] == "prune"}


def check_removed(before: State, after: State, whole: set[str], revisions: set[str]) -> None:
    gone = before.ids() - after.ids()
    assert names(gone) == whole
    assert gone == {ID[n] for n in whole}
    lost = {a for a in before.revisions if a in after.activities and a not in after.revisions}
    assert names(lost) == revisions


def check_newest_survive(before: State, after: State) -> None:
    for key, newest in before.newest.items():
        assert after.newest[key] == newest, f"{key}: newest revision {newest} is gone"
        assert newest in after.revisions


def check_verifies(cli) -> dict:
    result = cli("verify", "--format", "json", ok=False)
    report = json.loads(result.stdout)
    assert result.exit_code == 0 and report["ok"], report
    return report


# each kind, through the core and through the CLI


@pytest.mark.parametrize("kind", list(KINDS))
def test_core_prune_removes_exactly_what_the_rules_say(kind, built, cli):
    setup(cli, kind)
    _, kwargs, _, whole, revisions = KINDS[kind]
    before = State(built)
    with AuditStore.open(built) as store:
        summary = store.prune(now=NOW, **kwargs)
    after = State(built)
    check_removed(before, after, whole, revisions)
    assert summary["activities"] == len(whole)
    assert summary["revisions"] == len(revisions) + sum(1 for n in whole if ID[n] in before.revisions)
    new = prune_ids(after) - prune_ids(before)
    assert new == {summary["prune_id"]}, "one chained prune record"
    assert after.plan == 0
    check_newest_survive(before, after)
    report = check_verifies(cli)
    assert "pruned" in report


@pytest.mark.parametrize("kind", list(KINDS))
def test_cli_prune_removes_exactly_what_the_rules_say(kind, built, cli):
    setup(cli, kind)
    args, _, _, whole, revisions = KINDS[kind]
    before = State(built)
    summary = cli.json("prune", *args, "--yes")
    after = State(built)
    check_removed(before, after, whole, revisions)
    assert summary["activities"] == len(whole)
    by = {(row["collection"], row["action"]): row for row in summary["removed"]}
    assert sum(row["activities"] for row in by.values()) == len(whole)
    assert summary["dry_run"] is False
    check_newest_survive(before, after)
    check_verifies(cli)


def test_age_prune_table_output_names_collections_and_actions(built, cli):
    out = cli("prune", "--older-than", "60d", "--yes").stdout
    for word in ("articles", "pages", "users", "login", "comment", "update"):
        assert word in out
    assert f"removed {len(AGE_60)} activities" in out


def test_age_prune_keeps_an_old_item_whose_only_revision_is_its_newest(built):
    with AuditStore.open(built) as store:
        store.prune(older_than="60d", now=NOW)
        assert store.snapshot("pages", "2") == {"title": "lonely", "body": BODY}
        # the delete of articles 2 is its newest revision: it stays, and a revert can still restore the item
        assert [r["action"] for r in store.history("articles", "2")] == ["delete"]


def test_a_comment_and_its_chained_edits_go_together_or_stay_together(built, cli):
    with AuditStore.open(built) as store:
        store.prune(older_than="60d", now=NOW)
        # e30 is older than the cutoff but edits c30, which stays: it must stay
        assert store.get_activity(ID["e30"])["action"] == "comment-edit"
        assert store.get_activity(ID["c30"])["comment"] == "a recent note, edited"
        # c88 is older than the cutoff but was edited since (e88): both stay
        assert store.get_activity(ID["c88"])["comment"] == "edited later"
        assert store.get_activity(ID["e88"])["action"] == "comment-edit"
        # c95 and its edit e95 are both old: both went
        remaining = {i for (i,) in store.conn.execute("SELECT id FROM activity")}
        assert ID["c95"] not in remaining and ID["e95"] not in remaining
    check_verifies(cli)


def test_collection_prune_leaves_other_collections_alone(built, cli):
    before = State(built)
    cli("prune", "--collection", "pages", "--older-than", "60d", "--yes")
    after = State(built)
    for i, row in before.activities.items():
        if row[4] != "pages":
            assert after.activities.get(i) == row


def test_both_is_age_and_count_together_not_either(built):
    """django-reversion's "keep 30 days and at least N older": an old revision among the newest N stays."""
    with AuditStore.open(built) as store:
        store.prune(older_than="60d", keep_revisions=2, now=NOW)
        kept = [r["activity"] for r in store.history("pages", "1")]
        assert kept == [ID["p1u65"], ID["p1u20"]]  # p1u65 is 65 days old, but among the newest 2
        assert [r["activity"] for r in store.history("articles", "2")] == [ID["a2u85"], ID["a2d75"]]
        assert [r["activity"] for r in store.history("articles", "1")] == [
            ID["a1u50"], ID["a1u29"], ID["a1u10"]]  # a1u50 is beyond the newest 2, but younger than 60d


def test_count_prune_keeps_activities_and_drops_only_revisions(built, cli):
    before = State(built)
    cli("prune", "--keep-revisions", "2", "--yes")
    after = State(built)
    assert before.ids() <= after.ids()
    for collection, item in ITEMS:
        history = cli.json("history", collection, item)
        assert len(history) <= 2
    # the activity of a dropped revision is still in the log
    assert cli.json("show", str(ID["a1c"]))["action"] == "create"


# scope rewrite


def test_apply_scopes_rewrites_kept_revisions_to_the_scope(built, cli):
    setup(cli, "scope")
    before = State(built)
    summary = cli.json("prune", "--apply-scopes", "--yes")
    after = State(built)
    assert 4 <= summary["rewritten"] <= 5
    for activity, data in after.revisions.items():
        row = after.activities[activity]
        if row[4] == "articles":
            assert "body" not in data, (activity, data)
            assert data == {k: v for k, v in before.revisions[activity].items() if k != "body"}
        else:
            assert data == before.revisions[activity], "pages has no scope: untouched"
    # every kept revision is readable, and the stored deltas still add up from the first kept one (re-based)
    with AuditStore.open(built) as store:
        for item in ("1", "2", "3"):
            state: object = {}
            for entry in store.history("articles", item):
                revision = store.revision_of(entry["activity"])
                state = patches.apply({} if entry["action"] == "create" else state, revision.delta)
                assert state == revision.data, (item, entry)
    check_verifies(cli)


def test_apply_scopes_with_fields_keeps_only_those_fields(built, cli):
    cli("scope", "set", "articles", "--fields", "title,status")
    cli("prune", "--apply-scopes", "--yes")
    for item in ("1", "3"):
        assert set(json.loads(cli("snapshot", "articles", item).stdout)) <= {"title", "status"}
    check_verifies(cli)


def test_apply_scopes_only_with_collection_touches_that_collection(built, cli):
    cli("scope", "set", "articles", "--exclude-fields", "body", "--keep-revisions", "1")
    cli("scope", "set", "pages", "--exclude-fields", "body", "--keep-revisions", "1")
    before = State(built)
    cli("prune", "--apply-scopes", "--collection", "pages", "--yes")
    after = State(built)
    for activity, data in before.revisions.items():
        if before.activities[activity][4] == "articles":
            assert after.revisions[activity] == data
    assert names(a for a in before.revisions if a not in after.revisions) == {"p1c", "p1u89", "p1u65"}
    check_verifies(cli)


# dry run


@pytest.mark.parametrize("kind", list(KINDS))
def test_dry_run_summary_equals_the_real_runs_and_writes_nothing(kind, built, cli):
    setup(cli, kind)
    args = KINDS[kind][0]
    before = State(built)
    files = {p.name: p.read_bytes() for p in built.parent.iterdir() if p.name == built.name}
    dry = cli.json("prune", *args, "--dry-run")
    assert State(built).activities == before.activities
    assert State(built).revisions == before.revisions
    assert {p.name: p.read_bytes() for p in built.parent.iterdir() if p.name == built.name} == files
    real = cli.json("prune", *args, "--yes")
    assert dry["dry_run"] is True and real["dry_run"] is False
    for key in ("removed", "activities", "revisions", "rewritten"):
        assert dry[key] == real[key], key
    # the policy echoes the limits; its cutoffs are computed from the clock, a moment apart
    assert set(dry["policy"]) == set(real["policy"])


def test_dry_run_table_says_would(built, cli):
    out = cli("prune", "--older-than", "60d", "--dry-run").stdout
    assert f"would remove {len(AGE_60)} activities" in out


# archive


def exported_identity(line: dict) -> tuple:
    return (line["action"], line["user"], line["timestamp"], line["collection"], line["item"],
            json.dumps(line["details"], sort_keys=True), json.dumps((line.get("revision") or {}).get("data"),
                                                                    sort_keys=True))


def identity(row, revision) -> tuple:
    _, action, user, timestamp, collection, item, _comment, details, _ = row
    return (action, user, timestamp, collection, item,
            json.dumps(json.loads(details) if details else None, sort_keys=True), json.dumps(revision, sort_keys=True))


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
@pytest.mark.parametrize("kind", ["age", "count", "both", "policy"])
def test_archive_then_import_restores_what_was_pruned(kind, suffix, built, cli, tmp_path):
    setup(cli, kind)
    args, _, _, whole, revisions = KINDS[kind]
    before = State(built)
    archive = tmp_path / f"pruned{suffix}"
    cli("prune", *args, "--archive", archive, "--yes")
    after = State(built)
    assert archive.exists()
    if suffix.endswith(".gz"):
        assert archive.read_bytes()[:2] == b"\x1f\x8b"
    lines = activity_lines((gzip.open if suffix.endswith(".gz") else open)(archive, "rt").read())
    assert {line["id"] for line in lines} == {ID[n] for n in whole | revisions}
    assert [t["count"] for t in trailers((gzip.open if suffix.endswith(".gz") else open)(archive, "rt").read())] \
        == [len(lines)]
    # import into a fresh store: it holds exactly what went, as it was
    fresh = tmp_path / "restored.db"
    result = cli.runner.invoke(_app(), ["--db", str(fresh), "import", str(archive)])
    assert result.exit_code == 0, result.output
    restored = State(fresh)
    expected = sorted(identity(before.activities[ID[n]], before.revisions.get(ID[n])) for n in whole | revisions)
    # (but for the record of the import itself, which chained the archive's lines anew: they have gaps)
    got = sorted(identity(row, restored.revisions.get(i)) for i, row in restored.activities.items()
                 if row[1] != "import")
    assert got == expected
    # the comments come back with the text they had when they went
    for n in whole:
        if before.activities[ID[n]][1] == "comment":
            assert any(row[6] == before.activities[ID[n]][6] for row in restored.activities.values())
    assert after.plan == 0


def test_archive_to_an_unwritable_path_removes_nothing(built, cli, tmp_path):
    before = State(built)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for target in (tmp_path / "missing" / "pruned.jsonl", blocker / "pruned.jsonl.gz", tmp_path):
        stderr = cli.fails("prune", "--older-than", "60d", "--archive", target, "--yes", code=1)
        assert str(target) in stderr or "write" in stderr
        after = State(built)
        assert after.activities == before.activities
        assert after.revisions == before.revisions
    check_verifies(cli)


def test_archive_that_fails_half_way_removes_nothing(built):
    before = State(built)

    def archive(lines):
        for n, _ in enumerate(lines):
            if n == 3:
                raise OSError(28, "No space left on device")

    with AuditStore.open(built) as store, pytest.raises(OSError):
        store.prune(older_than="60d", archive=archive, now=NOW)
    after = State(built)
    assert after.activities == before.activities and after.revisions == before.revisions and after.plan == 0


# every kept revision still reads


@pytest.mark.parametrize("kind", list(KINDS))
def test_diff_snapshot_and_revert_work_on_every_kept_revision(kind, built, cli):
    setup(cli, kind)
    before = State(built)
    cli("prune", *KINDS[kind][0], "--yes")
    after = State(built)
    for collection, item in ITEMS:
        history = cli.json("history", collection, item)
        assert history, (collection, item)
        for entry in history:
            index, activity = entry["index"], entry["activity"]
            expected = after.revisions[activity]
            if kind != "scope":
                assert expected == before.revisions[activity]
            if entry["action"] == "delete":
                cli.fails("snapshot", collection, item, "--rev", index, code=1)
            else:
                assert json.loads(cli("snapshot", collection, item, "--rev", index).stdout) == expected
            if index > 0:  # after a delete the item is not there: nothing, though the delete keeps its state
                diff = cli.json("diff", collection, item, "--from", index - 1, "--to", index)
                state = {} if entry["action"] == "delete" else expected
                assert diff["after"] == state
                assert patches.apply(diff["before"], diff["patch"]) == state
            if entry["action"] == "delete":
                continue
            result = cli("revert", collection, item, "--to", index, "--dry-run", "--format", "json", ok=False)
            if index == len(history) - 1:
                assert result.exit_code == 1  # already the current state: a no-op revert
            else:
                assert result.exit_code == 0, result.output
                assert json.loads(result.stdout)["after"] == expected
        # a real revert to the oldest kept revision (restoring the item when it is deleted) records and verifies
        first = history[0]
        if len(history) > 1 and first["action"] != "delete":
            cli("revert", collection, item, "--to", 0)
            assert json.loads(cli("snapshot", collection, item).stdout) == after.revisions[first["activity"]]
    check_verifies(cli)


# verify


def test_verify_passes_after_several_prunes_in_a_row(built, cli):
    with AuditStore.open(built) as store:
        store.prune(keep_revisions=3, now=NOW)
        store.prune(older_than="90d", now=NOW)
        store.prune(older_than="60d", collection="pages", now=NOW)
    cli("scope", "set", "articles", "--exclude-fields", "body", "--keep-revisions", "2")
    cli("prune", "--apply-scopes", "--yes")
    cli("record", "update", "-c", "articles", "-i", "1", "--data", '{"title": "after the prunes"}')
    with AuditStore.open(built) as store:
        store.prune(older_than="60d", keep_revisions=1, now=NOW)
        store.prune(older_than="60d", now=NOW)  # nothing left to go: no record, still verifies
    cli("comment", "add", "articles", "1", "after all that")
    report = check_verifies(cli)
    assert "pruned up to activity" in report["pruned"]
    check_newest_survive(State(built), State(built))


def test_each_prune_names_its_boundary_and_removed_counts(built, cli):
    cli("prune", "--older-than", "60d", "--yes")
    show = cli.json("log", "--action", "prune")
    assert len(show) == 1
    details = show[0]["details"]
    assert details["boundary"]["id"] == max(ID[n] for n in AGE_60)
    assert details["removed"]["activities"] == len(AGE_60)


@pytest.mark.parametrize("kind", list(KINDS))
def test_verify_after_prune_then_export_then_import_into_an_empty_store(kind, built, cli, tmp_path):
    setup(cli, kind)
    cli("prune", *KINDS[kind][0], "--yes")
    trail = tmp_path / "trail.jsonl.gz"
    cli("export", "-o", trail)
    # offline, without a store
    offline = cli.runner.invoke(_app(), ["verify", str(trail), "--format", "json"])
    assert offline.exit_code == 0, offline.output
    assert json.loads(offline.stdout)["ok"]
    fresh = tmp_path / "copy.db"
    imported = cli.runner.invoke(_app(), ["--db", str(fresh), "import", str(trail)])
    assert imported.exit_code == 0, imported.output
    result = cli.runner.invoke(_app(), ["--db", str(fresh), "verify", "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["ok"], result.output
    original, copy = State(built), State(fresh)
    assert {i: row[:8] for i, row in copy.activities.items()} == {i: row[:8] for i, row in original.activities.items()}
    assert copy.revisions == original.revisions


@pytest.mark.parametrize("kind", ["age", "count", "scope"])
def test_export_of_a_pruned_store_imports_into_an_empty_store_with_the_same_chain(kind, built, cli, tmp_path):
    """DESIGN: into an empty store an import keeps the ids and reproduces the chain exactly."""
    setup(cli, kind)
    cli("prune", *KINDS[kind][0], "--yes")
    trail = tmp_path / "trail.jsonl"
    cli("export", "-o", trail)
    fresh = tmp_path / "copy.db"
    assert cli.runner.invoke(_app(), ["--db", str(fresh), "import", str(trail)]).exit_code == 0
    original, copy = State(built), State(fresh)
    assert {i: row[8] for i, row in copy.activities.items()} == {i: row[8] for i, row in original.activities.items()}
    result = cli.runner.invoke(_app(), ["--db", str(fresh), "verify", "--format", "json"])
    assert "pruned" in json.loads(result.stdout), "the copy should still say how much was pruned, and when"


# an export with gaps keeps its links only when its own latest prune record accounts for every one of them


def exported_lines(cli, tmp_path: Path, *args: str) -> list[dict]:
    """The export's activity lines: what a trail without its trailer holds, so that what follows tests what the
    lines alone prove (a trailer shows any of the changes made here: test_a_trailer_shows_...)."""
    trail = tmp_path / "export.jsonl"
    cli("export", "-o", trail, *args)
    return activity_lines(trail.read_text())


def import_fresh(cli, tmp_path: Path, lines: list[dict], name: str = "copy"):
    """`audit import` of `lines` into a new store: (the CLI result, the store's path)."""
    trail = tmp_path / f"{name}.jsonl"
    trail.write_text("".join(json.dumps(line) + "\n" for line in lines))
    fresh = tmp_path / f"{name}.db"
    return cli.runner.invoke(_app(), ["--db", str(fresh), "import", str(trail)]), fresh


def verify_json(db_path: Path) -> dict:
    result = CliRunner(env={"AUDIT_DB": None, "AUDIT_CHAIN_KEY": None}).invoke(
        _app(), ["--db", str(db_path), "verify", "--format", "json"])
    return json.loads(result.stdout)


def test_a_store_pruned_by_age_then_by_count_keeps_its_chain_and_attested_digests(pruned, cli, tmp_path):
    result, fresh = import_fresh(cli, tmp_path, exported_lines(cli, tmp_path))
    assert result.exit_code == 0, result.output
    assert {i: row[8] for i, row in State(fresh).activities.items()} == \
        {i: row[8] for i, row in State(pruned).activities.items()}
    original, copy = verify_json(pruned), verify_json(fresh)
    assert copy["ok"] and (copy["head"], copy["pruned"]) == (original["head"], original["pruned"])
    with sqlite3.connect(pruned) as source, sqlite3.connect(fresh) as target:
        attested = source.execute("SELECT activity, revision FROM attested ORDER BY activity").fetchall()
        assert attested and target.execute("SELECT activity, revision FROM attested ORDER BY activity").fetchall() \
            == attested


def test_a_keyed_pruned_store_keeps_its_chain_in_a_copy_made_with_its_key(tmp_path):
    with AuditStore.open(tmp_path / "source.db", create=True, chain_key=b"k1") as source:
        build(source)
        source.prune(older_than="60d", now=NOW)
        lines = list(source.export_lines(LogQuery()))
        original = source.verify()
    with AuditStore.open(tmp_path / "copy.db", create=True, chain_key=b"k1") as copy:
        result = copy.import_lines(enumerate(lines, 1), source="trail.jsonl")
        report = copy.verify()
    assert result["links_kept"] and result["gaps"] == 3
    assert report["ok"] and report["keyed"] and (report["head"], report["pruned"]) == (original["head"],
                                                                                       original["pruned"])


def test_pieces_of_a_pruned_store_exported_with_a_cursor_keep_its_chain(built, cli, tmp_path):
    cli("prune", "--older-than", "60d", "--yes")
    cursor, first, second = tmp_path / "cursor", tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    cli("export", "--cursor-file", cursor, "-o", first)
    cli("record", "update", "-c", "articles", "-i", "1", "--data", '{"title": "after the export"}')
    cli("comment", "add", "articles", "1", "and a note")
    cli("export", "--cursor-file", cursor, "-o", second)
    whole = tmp_path / "whole.jsonl"
    whole.write_bytes(first.read_bytes() + second.read_bytes())
    fresh = tmp_path / "copy.db"
    assert cli.runner.invoke(_app(), ["--db", str(fresh), "import", str(whole)]).exit_code == 0
    copy, original = verify_json(fresh), verify_json(built)
    assert copy["ok"] and (copy["head"], copy["pruned"]) == (original["head"], original["pruned"])


def _without(*names: str):
    return lambda lines: [line for line in lines if line["id"] not in {ID[n] for n in names}]


def _cut_the_end(lines):
    assert lines[-1]["action"] == "prune"
    return lines[:-1]


def _marked(name: str, **changes):
    def change(lines):
        for line in lines:
            if line["id"] == ID[name]:
                line.update(changes)
        return lines
    return change


def _then(*steps):
    def run(lines):
        for step in steps:
            lines = step(lines)
        return lines
    return run


# An age-pruned trail (survivors p2c, c88, a2d75 below the boundary lo61; li59 onwards kept whole), changed so that
# its gaps are not the ones its prune record accounts for: chained anew, or refused, never kept.
UNCOVERED = {
    "a kept line removed, its gap marked": _then(_without("a1u29"), _marked("p1u20", gap=True)),
    "a survivor removed": _without("a2d75"),
    "the survivors left out (as --since would)": _without("p2c", "c88", "a2d75"),
    "the prune record cut off the end": _cut_the_end,
    "the line after the boundary removed": _then(_without("li59"), _marked("a1u50", gap=True)),
    "a gap marked where the kept chain runs on": _marked("a1u10", gap=True),
}
REFUSED = {
    "a kept line removed, no gap marked": _without("a1u29"),
    "a survivor changed": _marked("a2d75", user="mallory"),
    "a kept line changed": _marked("a1u50", user="mallory"),
}


@pytest.mark.parametrize("change", list(UNCOVERED))
def test_a_pruned_trail_whose_gaps_its_prune_does_not_account_for_is_chained_anew(change, built, cli, tmp_path):
    cli("prune", "--older-than", "60d", "--yes")
    lines = UNCOVERED[change](exported_lines(cli, tmp_path))
    result, fresh = import_fresh(cli, tmp_path, lines)
    assert result.exit_code == 0, result.output
    check_chained_anew(built, fresh, lines)


def check_chained_anew(built: Path, fresh: Path, lines: list[dict]) -> None:
    with AuditStore.open(fresh) as copy:
        assert not provenance.copied(copy.conn)  # chained here: not a copy
        first = copy.conn.execute("SELECT prev_hash FROM activity ORDER BY id LIMIT 1").fetchone()[0]
        assert first == "0" * 64, "chained anew from the start"
        last = copy.conn.execute("SELECT action, details FROM activity ORDER BY id DESC LIMIT 1").fetchone()
        assert last[0] == "import" and "rechained" in json.loads(last[1]), "the import says it chained them anew"
    copy, original = verify_json(fresh), verify_json(built)
    assert copy["ok"] and "pruned" not in copy, "a copy chained anew does not pass as the pruned store"
    assert copy["head"] != original["head"] and copy["checked"] == len(lines) + 1


@pytest.mark.parametrize("change", [name for name in UNCOVERED if "gap marked where" not in name] + list(REFUSED))
def test_a_trailer_shows_lines_removed_or_changed_in_a_pruned_trail(change, built, cli, tmp_path):
    cli("prune", "--older-than", "60d", "--yes")
    trail = tmp_path / "export.jsonl"
    cli("export", "-o", trail)
    *lines, last = trail.read_text().splitlines()
    changed = {**UNCOVERED, **REFUSED}[change]([json.loads(line) for line in lines])
    trail.write_text("".join(json.dumps(line) + "\n" for line in changed) + last + "\n")
    result = cli.runner.invoke(_app(), ["--db", str(tmp_path / "copy.db"), "import", str(trail)])
    assert result.exit_code == 1 and "nothing was imported" in result.stderr, result.output
    assert cli("verify", trail, ok=False).exit_code == 3


@pytest.mark.parametrize("change", list(REFUSED))
def test_a_pruned_trail_broken_or_changed_is_refused(change, built, cli, tmp_path):
    cli("prune", "--older-than", "60d", "--yes")
    result, fresh = import_fresh(cli, tmp_path, REFUSED[change](exported_lines(cli, tmp_path)))
    assert result.exit_code == 1 and "nothing was imported" in result.stderr, result.output
    assert not Path(fresh).exists()  # nor the store the failed import made


@pytest.mark.parametrize("args", [["--action", "update"], ["--filter", '{"action": {"_neq": "login"}}'],
                                  ["--collection", "articles"]])
def test_a_filtered_export_of_a_pruned_store_is_chained_anew(args, built, cli, tmp_path):
    cli("prune", "--older-than", "60d", "--yes")
    lines = exported_lines(cli, tmp_path, *args)
    result, fresh = import_fresh(cli, tmp_path, lines)
    assert result.exit_code == 0, result.output
    check_chained_anew(built, fresh, lines)


def _app():
    from audit_cli.cli import app

    return app


# tampering after a prune is still caught


def tampered(cli, db_path: Path, sql: str, params=()) -> dict:
    with sqlite3.connect(db_path) as conn:
        conn.execute(sql, params)
    result = cli("verify", "--format", "json", ok=False)
    report = json.loads(result.stdout)
    assert result.exit_code == 3, result.output
    assert not report["ok"]
    text = cli("verify", ok=False)
    assert text.exit_code == 3 and text.stdout.startswith("TAMPERED: ")
    return report["failure"]


@pytest.fixture
def pruned(built, cli) -> Path:
    cli("prune", "--older-than", "60d", "--yes")  # boundary: lo61; survivors below it: p2c, a2d75
    cli("prune", "--keep-revisions", "2", "--yes")  # attests the revisions it drops
    check_verifies(cli)
    return built


def test_deleting_a_survivor_below_the_boundary_is_caught(pruned, cli):
    failure = tampered(cli, pruned, "DELETE FROM activity WHERE id = ?", [ID["p2c"]])
    assert failure["kind"] == "deleted"


def test_deleting_a_survivor_and_its_revision_below_the_boundary_is_caught(pruned, cli):
    with sqlite3.connect(pruned) as conn:
        conn.execute("DELETE FROM revisions WHERE activity = ?", [ID["a2d75"]])
    failure = tampered(cli, pruned, "DELETE FROM activity WHERE id = ?", [ID["a2d75"]])
    assert failure["kind"] == "deleted"


def test_editing_a_survivor_below_the_boundary_is_caught(pruned, cli):
    failure = tampered(cli, pruned, "UPDATE activity SET user = 'mallory' WHERE id = ?", [ID["p2c"]])
    assert failure == {**failure, "kind": "modified", "id": ID["p2c"]}


def test_editing_the_attested_table_is_caught(pruned, cli):
    failure = tampered(cli, pruned, "UPDATE attested SET revision = ? WHERE activity = ?", ["0" * 64, ID["a1u50"]])
    assert failure["kind"] == "modified"


def test_deleting_from_the_attested_table_is_caught(pruned, cli):
    tampered(cli, pruned, "DELETE FROM attested WHERE activity = ?", [ID["a1u50"]])


def test_attesting_a_kept_revision_then_changing_it_is_caught(pruned, cli):
    """An attacker who knows a kept revision's digest adds it to `attested`, then rewrites the revision."""
    with AuditStore.open(pruned) as store:
        from audit_cli import chain

        base, data, delta = store.conn.execute("SELECT base, data, delta FROM revisions WHERE activity = ?",
                                               [ID["a1u10"]]).fetchone()
        text = store.snapshots.text(base, data)
        digest = chain.revision_digest(text, codec.delta_text(delta, text))
    with sqlite3.connect(pruned) as conn:
        conn.execute("INSERT INTO attested (activity, revision) VALUES (?, ?)", [ID["a1u10"], digest])
    failure = tampered(cli, pruned, "UPDATE revisions SET delta = '[]' WHERE activity = ?", [ID["a1u10"]])
    assert failure["kind"] == "modified"


def test_editing_a_prune_records_details_is_caught(pruned, cli):
    with sqlite3.connect(pruned) as conn:
        prune_id, details = conn.execute(
            "SELECT id, details FROM activity WHERE action = 'prune' ORDER BY id DESC LIMIT 1").fetchone()
    changed = json.loads(details)
    changed["removed"]["activities"] = 0
    failure = tampered(cli, pruned, "UPDATE activity SET details = ? WHERE id = ?", [json.dumps(changed), prune_id])
    assert failure["kind"] == "modified"


def test_moving_a_prunes_boundary_is_caught(pruned, cli):
    with sqlite3.connect(pruned) as conn:
        prune_id, details = conn.execute(
            "SELECT id, details FROM activity WHERE action = 'prune' ORDER BY id DESC LIMIT 1").fetchone()
        survivor_hash = conn.execute("SELECT hash FROM activity WHERE id = ?", [ID["li59"]]).fetchone()[0]
    changed = json.loads(details)
    changed["boundary"] = {"id": ID["li59"], "hash": survivor_hash}
    tampered(cli, pruned, "UPDATE activity SET details = ? WHERE id = ?", [json.dumps(changed), prune_id])


def test_deleting_the_latest_prune_record_is_caught(pruned, cli):
    tampered(cli, pruned, "DELETE FROM activity WHERE id = (SELECT max(id) FROM activity WHERE action = 'prune')")


def test_deleting_above_the_boundary_after_a_prune_is_caught(pruned, cli):
    failure = tampered(cli, pruned, "DELETE FROM activity WHERE id = ?", [ID["a1u29"]])
    assert failure["kind"] == "deleted" and failure["id"] == ID["a1u29"]


def test_a_fake_pending_plan_does_not_hide_a_deletion(pruned, cli):
    with sqlite3.connect(pruned) as conn:
        conn.execute("INSERT INTO prune_plan (activity, what) VALUES (?, 'activity')", [ID["p2c"]])
        conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('prune_pending', '1')")
    tampered(cli, pruned, "DELETE FROM activity WHERE id = ?", [ID["p2c"]])


# vacuum


def test_vacuum_reports_bytes_freed_and_still_verifies(built, cli):
    summary = cli.json("prune", "--older-than", "60d", "--vacuum", "--yes")
    assert isinstance(summary["bytes_freed"], int)
    assert "vacuum freed" in cli("prune", "--older-than", "30d", "--vacuum", "--yes").stdout
    check_verifies(cli)


def test_nothing_past_the_limits_records_nothing(built, cli):
    cli("prune", "--older-than", "1000d", "--yes")
    assert not prune_ids(State(built))
    check_verifies(cli)


def test_prune_of_a_copy_with_a_wal_left_behind(built, cli, tmp_path):
    """A store copied with its -wal (as a backup tool might) prunes and verifies the same."""
    copy = tmp_path / "copy" / "audit.db"
    copy.parent.mkdir()
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{built}{suffix}").exists():
            shutil.copy(f"{built}{suffix}", f"{copy}{suffix}")
    with AuditStore.open(copy) as store:
        store.prune(older_than="60d", now=NOW)
        assert store.verify()["ok"]


# keyed chains and imported stores


def test_a_keyed_store_verifies_after_a_prune_only_with_its_key(tmp_path, cli, monkeypatch):
    db = tmp_path / "keyed.db"
    with AuditStore.open(db, create=True, chain_key=b"correct horse") as store:
        build(store)
        store.prune(older_than="60d", keep_revisions=2, now=NOW)
        store.prune(keep_revisions=1, now=NOW)
        assert store.verify()["ok"]
    monkeypatch.setenv("AUDIT_CHAIN_KEY", "correct horse")
    keyed = cli.runner.invoke(_app(), ["--db", str(db), "verify"], env={"AUDIT_CHAIN_KEY": "correct horse"})
    assert keyed.exit_code == 0, keyed.output
    unkeyed = cli.runner.invoke(_app(), ["--db", str(db), "verify"], env={"AUDIT_CHAIN_KEY": None})
    assert unkeyed.exit_code == 1, unkeyed.output


def test_a_store_imported_from_a_full_export_prunes_and_verifies(built, cli, tmp_path):
    trail = tmp_path / "full.jsonl"
    cli("export", "-o", trail)
    copy = tmp_path / "copy.db"
    assert cli.runner.invoke(_app(), ["--db", str(copy), "import", str(trail)]).exit_code == 0
    with AuditStore.open(copy) as store:
        before = State(copy)
        store.prune(older_than="60d", now=NOW)
        store.prune(keep_revisions=2, now=NOW)
        assert store.verify()["ok"], store.verify()
    check_removed(before, State(copy), AGE_60 | set(), {"a1u50"})
