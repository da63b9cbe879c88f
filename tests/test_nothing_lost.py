"""Issue 14, "Nothing lost where features meet": each workflow where two features meet keeps everything, through the
CLI on real store files (prune and archive, import and prune, scope and record, revert and prune, cursor exports,
a failed command on a new store)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from conftest import Cli
from lines import activity_lines


def lines(path: Path) -> list[dict]:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return activity_lines(raw)  # (not the trailers each export or archive night ends with)


# A failed command leaves no new file; a delete takes no --data


def test_a_failed_import_into_a_new_store_leaves_no_file_and_no_folder(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"action": "login", "timestamp": "2026-11-20T10:00:00Z", "collection": "u", "item": "a"}\n'
                   '{"action": "login"}\n')
    new = Cli(tmp_path / "new" / "deeper" / "audit.db")
    stderr = new.fails("import", bad, code=1)
    assert "line 2: missing required field 'timestamp'" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]


@pytest.mark.parametrize("args, code", [
    (("record", "update", "-c", "a", "-i", "1", "--data", '{"x": 1}'), 1),
    (("comment", "edit", "3", "text"), 1),
    (("revert", "a", "1", "--to", "0"), 1),
])
def test_a_failed_write_to_a_new_store_leaves_no_file(tmp_path, args, code):
    new = Cli(tmp_path / "audit.db")
    new.fails(*args, code=code)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_command_keeps_a_store_that_was_there(cli, db_path):
    cli("record", "login", "-c", "u", "-i", "a")
    cli.fails("record", "update", "-c", "a", "-i", "1", "--data", '{"x": 1}', code=1)
    assert db_path.exists() and len(cli.json("log")) == 1


def test_a_delete_refuses_data_it_would_ignore(cli):
    cli("record", "create", "a", "1", "--data", '{"t": "x"}')
    stderr = cli.fails("record", "delete", "a", "1", "--data", '{"t": "y"}', code=2)
    assert stderr == ("audit: error: --data goes with create, update and soft-delete, not delete: a delete keeps "
                      "the item's last state as it is (record an update first to change it)\n")
    assert [row["action"] for row in cli.json("log")] == ["create"]


# Import enforces what record enforces; identical lines stay separate events


def write_lines(path: Path, *records: dict) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


LOGIN_FAILED = {"action": "invalid-credentials", "timestamp": "2026-11-20T03:00:01Z", "collection": "directus_users",
                "item": "admin", "ip": "203.0.113.9"}


def test_identical_lines_in_one_file_are_separate_events_and_a_second_import_adds_none(cli, tmp_path):
    burst = write_lines(tmp_path / "burst.jsonl", *[LOGIN_FAILED] * 5)
    assert cli("import", burst).stderr == f"imported 5 activities from {burst}\n"
    assert cli("import", burst).stderr == f"imported 0 activities from {burst}; 5 were already here\n"
    rows = cli.json("log", "--action", "invalid-credentials")
    assert len(rows) == 5 and {row["ip"] for row in rows} == {"203.0.113.9"}
    cli("export", "-o", tmp_path / "e.jsonl")
    keys = [line["key"] for line in lines(tmp_path / "e.jsonl")]
    assert keys[1:] == [f"{keys[0]}#{n}" for n in range(2, 6)] and keys[0].startswith("c:")
    # the export of the copy imports as the same five, and a longer burst adds only what is new
    longer = write_lines(tmp_path / "longer.jsonl", *[LOGIN_FAILED] * 7)
    assert cli("import", longer).stderr == f"imported 2 activities from {longer}; 5 were already here\n"


@pytest.mark.parametrize("line, message", [
    ({"action": "create", "revision": {"data": [1, 2]}}, "revision.data must be a JSON object (an item's state), not an array"),
    ({"action": "create", "revision": {"delta": [{"op": "add", "path": "", "value": "x"}]}},
     "applying revision.delta to the previous state, the item would be a string: an item's state is always a JSON object"),
    ({"action": "login", "revision": {"data": {"a": 1}}},
     "a login line carries a revision, which goes with the data actions (create, update, delete, soft-delete, revert, "
     "promote) and version-save: put other context in details"),
    ({"action": "login", "timestamp": "2d"},
     "timestamp '2d' is not an ISO 8601 time: a trail's times are absolute, such as 2026-11-20T10:00:00Z or "
     "2026-11-20T12:00:00+02:00"),
    ({"action": "login", "timestamp": "yesterday"}, "timestamp 'yesterday' is not an ISO 8601 time"),
    ({"action": "comment", "comment": "x", "edited_on": "now"}, "edited_on 'now' is not an ISO 8601 time"),
])
def test_import_refuses_what_record_refuses(cli, tmp_path, line, message):
    trail = write_lines(tmp_path / "t.jsonl", {"timestamp": "2026-11-20T10:00:00Z", "collection": "articles",
                                               "item": "1", **line})
    stderr = cli.fails("import", trail, code=1)
    assert stderr.startswith(f"audit: error: {trail} line 1: {message}")
    assert stderr.endswith(" (nothing was imported; --skip-invalid imports the rest)\n")
    assert not cli.db_path.exists()


def test_import_refuses_a_create_of_an_item_that_exists_and_takes_one_after_its_delete(cli, tmp_path):
    cli("record", "create", "articles", "1", "--data", '{"title": "here"}')
    create = {"action": "create", "timestamp": "2026-11-20T10:00:00Z", "collection": "articles", "item": "1",
              "revision": {"data": {"title": "other"}}}
    trail = write_lines(tmp_path / "t.jsonl", create)
    stderr = cli.fails("import", trail, code=1)
    assert stderr.startswith(f"audit: error: {trail} line 1: articles 1 already exists (created or changed in "
                             "activity 1): a create needs an item that does not exist yet, or was deleted")
    assert cli("snapshot", "articles", "1").stdout == '{\n  "title": "here"\n}\n'
    deleted = write_lines(tmp_path / "d.jsonl", {**create, "action": "delete", "revision": {"data": {"title": "here"}}},
                          {**create, "timestamp": "2026-11-20T10:00:01Z"})
    cli("import", deleted)
    assert cli("snapshot", "articles", "1").stdout == '{\n  "title": "other"\n}\n'


# Restoring a backup taken before a prune: pruned history stays pruned, and no item goes back in time

PRUNED_NOTE = ("{n} were left out as history this store pruned or older than its items' state here (imported, they "
               "would turn items back in time; a store of their own reads them)")


def pruned_store(cli, tmp_path) -> Path:
    """articles 1 made 60 and changed 50 days ago, a login 50 days ago, a change now; a backup of all that; then a
    prune of what is older than 30 days, archived."""
    cli("record", "create", "articles", "1", "--data", '{"title": "first"}', "--at", "60d")
    cli("record", "update", "articles", "1", "--data", '{"title": "second"}', "--at", "50d")
    cli("record", "login", "-c", "directus_users", "-i", "alice", "--at", "50d")
    cli("record", "update", "articles", "1", "--data", '{"title": "now"}')
    cli("export", "-o", tmp_path / "backup.jsonl")
    cli("prune", "--older-than", "30d", "--archive", tmp_path / "pruned.jsonl", "--yes")
    return tmp_path / "backup.jsonl"


def test_a_backup_from_before_a_prune_imports_nothing_back(cli, tmp_path):
    backup = pruned_store(cli, tmp_path)
    before = cli("export").stdout
    result = cli("import", backup)
    assert result.stderr == f"imported 0 activities from {backup}; 1 was already here; {PRUNED_NOTE.format(n=3)}\n"
    result = cli("import", tmp_path / "pruned.jsonl")
    assert result.stderr == f"imported 0 activities from {tmp_path / 'pruned.jsonl'}; {PRUNED_NOTE.format(n=3)}\n"
    assert cli("export").stdout == before
    assert cli("snapshot", "articles", "1").stdout == '{\n  "title": "now"\n}\n'
    assert cli("verify").stdout.startswith("OK: 2 activities")


def test_a_backup_restored_into_a_store_of_its_own_has_everything(cli, tmp_path):
    backup = pruned_store(cli, tmp_path)
    copy = Cli(tmp_path / "copy.db")
    assert copy("import", backup).stderr == f"imported 4 activities from {backup}\n"
    assert [row["index"] for row in copy.json("history", "articles", "1")] == [0, 1, 2]
    assert copy("snapshot", "articles", "1").stdout == '{\n  "title": "now"\n}\n'


def test_history_from_elsewhere_older_than_a_prune_here_stays_pruned_but_what_is_new_comes(cli, tmp_path):
    keyless = [{k: v for k, v in line.items() if k not in ("key", "hash", "prev_hash", "id")}
               for line in lines(pruned_store(Cli(tmp_path / "source.db"), tmp_path))]
    trail = write_lines(tmp_path / "foreign.jsonl", *keyless)
    cli("import", trail)
    cli("prune", "--older-than", "30d", "--yes")
    assert cli("import", trail).stderr == \
        f"imported 0 activities from {trail}; 1 was already here; {PRUNED_NOTE.format(n=3)}\n"
    assert cli("snapshot", "articles", "1").stdout == '{\n  "title": "now"\n}\n'
    # an item this store never had, and a login newer than the cutoff, are history it did not prune
    old_item = {**keyless[0], "item": "2"}
    recent = {**keyless[2], "timestamp": keyless[3]["timestamp"]}
    more = write_lines(tmp_path / "more.jsonl", old_item, recent)
    assert cli("import", more).stderr == f"imported 2 activities from {more}\n"
    assert cli("snapshot", "articles", "2").stdout == '{\n  "title": "first"\n}\n'


# Revisions after deletes, prunes and scopes


def test_a_deleted_item_is_restored_after_a_prune_removed_all_but_its_delete(cli):
    cli("record", "create", "b", "1", "--data", '{"t": "kept"}', "--at", "60d")
    cli("record", "delete", "b", "1", "--at", "50d")
    cli("record", "login", "-c", "u", "-i", "x")
    cli("prune", "--older-than", "55d", "--yes")
    assert [row["action"] for row in cli.json("history", "b", "1")] == ["delete"]
    stderr = cli.fails("snapshot", "b", "1", code=1)
    assert stderr == ("audit: error: b 1 was deleted at revision 0 (activity 2): the delete keeps the state it "
                      "removed, which `audit diff --activity 2` shows and `audit revert --to 0` restores\n")
    assert cli.json("diff", "--activity", "2")["before"] == {"t": "kept"}
    assert cli("revert", "b", "1", "--to", "-1", "--dry-run").stdout == "[]\n"
    result = cli("revert", "b", "1", "--to", "0")
    assert result.stdout == '{\n  "t": "kept"\n}\n'
    assert cli("snapshot", "b", "1").stdout == '{\n  "t": "kept"\n}\n'
    assert cli.json("show", result.stderr.split()[-1])["details"]["restored"] is True
    assert cli("verify").exit_code == 0


def test_after_delete_and_create_again_every_diff_tells_the_same_story(cli):
    cli("record", "create", "a", "1", "--data", '{"t": "1", "u": 0}')
    cli("record", "delete", "a", "1")
    cli("record", "create", "a", "1", "--data", '{"t": "2"}')
    added = [{"op": "add", "path": "/t", "value": "2"}]
    assert cli.json("diff", "a", "1")["patch"] == added
    assert cli.json("diff", "a", "1", "--from", "1", "--to", "2")["patch"] == added
    removed = [{"op": "remove", "path": "/t"}, {"op": "remove", "path": "/u"}]
    assert cli.json("diff", "a", "1", "--from", "0", "--to", "1")["patch"] == removed
    assert cli.json("diff", "a", "1", "--to", "1")["patch"] == removed
    assert cli.json("diff", "--activity", "2") == {"collection": "a", "item": "1", "activity": 2, "version": None,
                                                   "before": {"t": "1", "u": 0}, "after": {}, "patch": removed}
    assert "(no change)" not in cli("diff", "--activity", "2").stdout
    assert [row["id"] for row in cli.json("log", "--field", "/t")] == [3, 2, 1]
    assert [row["changed"] for row in cli.json("history", "a", "1")] == [["/t", "/u"], [""], ["/t"]]
    assert cli.json("log", "-p", "--action", "delete")[0]["delta"] == removed


def test_a_field_that_leaves_the_scope_is_not_recorded_as_removed_by_the_next_change(cli, tmp_path):
    cli("record", "create", "pages", "1", "--data", '{"title": "a", "blocks": [1, 2]}')
    cli("scope", "set", "pages", "--exclude-fields", "blocks")
    cli("record", "update", "pages", "1", "--data", '{"title": "b"}', "--user", "bob")
    replaced = [{"op": "replace", "path": "/title", "value": "b"}]
    assert cli.json("diff", "--activity", "3")["patch"] == replaced
    assert cli.json("history", "pages", "1")[-1]["changed"] == ["/title"]
    assert [row["id"] for row in cli.json("log", "--field", "/blocks")] == [1]
    assert cli("snapshot", "pages", "1").stdout == '{\n  "title": "b"\n}\n'
    # a change only to what is out of scope changes no revision; a revert restores only what is in scope
    assert "nothing changed on pages 1" in cli("record", "update", "pages", "1", "--data", '{"blocks": [3]}').stderr
    cli("revert", "pages", "1", "--to", "0")
    assert cli.json("diff", "--activity", "5")["patch"] == [{"op": "replace", "path": "/title", "value": "a"}]
    # the trail imports and verifies elsewhere
    cli("export", "-o", tmp_path / "t.jsonl")
    copy = Cli(tmp_path / "copy.db")
    copy("import", tmp_path / "t.jsonl")
    assert copy("verify").exit_code == 0 and copy("snapshot", "pages", "1").stdout == '{\n  "title": "a"\n}\n'


def test_a_snapshot_before_pruned_history_says_it_was_pruned(cli):
    cli("record", "create", "c", "1", "--data", '{"t": "x"}', "--at", "45d")
    cli("record", "update", "c", "1", "--data", '{"t": "y"}', "--at", "35d")
    cli("record", "create", "d", "1", "--data", '{"t": "z"}', "--at", "20d")
    cli("prune", "--older-than", "40d", "--yes")
    first = cli.json("history", "c", "1")[0]["timestamp"]
    stderr = cli.fails("snapshot", "c", "1", "--at", "2000-01-01", code=1)
    assert stderr.startswith(f"audit: error: the history of c 1 before {first} was pruned (a prune removed its "
                             "activity older than ")
    assert stderr.endswith(f": no state of it at 2000-01-01T00:00:00.000000Z is kept; its first kept revision "
                           f"(update) is at {first}\n")
    assert cli("snapshot", "c", "1", "--at", "1d").stdout == '{\n  "t": "y"\n}\n'
    assert cli.fails("snapshot", "d", "1", "--at", "2000-01-01", code=1).startswith(
        "audit: error: the history of d 1 before")  # a prune removed activity from then: it may have been there
    cli("record", "create", "e", "1", "--data", "{}")
    assert cli.fails("snapshot", "e", "1", "--at", "1d", code=1).startswith("audit: error: e 1 did not exist yet at ")


# Nightly prune with an archive: added to, never replaced


def night(cli, n: int) -> None:
    """Something old enough for the next prune of 30 days: a login and an item's first two states."""
    cli("record", "login", "-c", "u", "-i", f"night-{n}", "--at", "40d")
    cli("record", "create", "n", str(n), "--data", '{"v": 0}', "--at", "40d")
    cli("record", "update", "n", str(n), "--data", '{"v": 1}', "--at", "39d")
    cli("record", "update", "n", str(n), "--data", '{"v": 2}')


@pytest.mark.parametrize("name", ["pruned.jsonl", "pruned.jsonl.gz"])
def test_an_archive_with_a_fixed_name_keeps_every_night(cli, tmp_path, name):
    archive = tmp_path / name
    for n in (1, 2, 3):
        night(cli, n)
        result = cli("prune", "--older-than", "30d", "--archive", archive, "--yes")
        assert result.stdout.endswith(f"removed 3 activities and 2 revisions; added them to {archive}\n")
    held = lines(archive)
    assert [(line["action"], line["item"]) for line in held] == [
        (action, item) for n in (1, 2, 3) for action, item in (("login", f"night-{n}"), ("create", str(n)),
                                                                 ("update", str(n)))]
    assert (archive.read_bytes()[:2] == b"\x1f\x8b") is name.endswith(".gz")
    assert oct(archive.stat().st_mode & 0o777) == "0o600"
    # a trail of three parts of the chain: checked as a partial trail, and it imports whole into a store of its own
    checked = cli("verify", "--partial", archive)
    assert checked.exit_code == 0 and checked.stdout.startswith("OK: 9 lines checked; 2 gaps marked")
    copy = Cli(tmp_path / "copy.db")
    assert copy("import", archive).stderr == f"imported 9 activities from {archive}\n"
    logged = copy.json("log")  # with the copy's own record of the import, which chained the nights anew
    assert [line["id"] for line in held] == sorted(row["id"] for row in logged if row["action"] != "import")
    assert [row["action"] for row in logged].count("import") == 1
    # and into the store it came from, it brings nothing back
    assert PRUNED_NOTE.format(n=9) in cli("import", archive).stderr


def test_an_archive_that_is_one_chain_from_the_first_activity_verifies_whole(cli, tmp_path):
    # A prune removes the oldest history: an archive never reaches its store's head, and one whose lines are one
    # chain from the first activity is proven whole up to its last line, without --partial; the report says what
    # the file alone cannot show (a later prune's lines cut from its end).
    archive = tmp_path / "pruned.jsonl"
    for n in (1, 2, 3):
        cli("record", "login", "-c", "u", "-i", f"night-{n}", "--at", f"{50 - n}d")
    cli("record", "login", "-c", "u", "-i", "today")
    cli("prune", "--older-than", "30d", "--archive", archive, "--yes")
    checked = cli("verify", archive)
    assert checked.stdout.startswith("OK: 3 activities") and "a prune archive: every activity from the first to " \
        "activity 3, one chain, the lines of 1 prune each as its trailer sealed them" in checked.stdout
    assert "a later prune's lines cut from its end would not show here" in checked.stdout
    assert cli.json("verify", archive)["archive"].startswith("a prune archive")
    # without its first line it starts after a line it does not hold: partial, as any piece
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(archive.read_text().splitlines(keepends=True)[1:]))
    assert cli("verify", cut, ok=False).exit_code in (1, 3)


def test_nights_of_an_archive_with_what_their_prunes_kept_between_are_partial_and_say_why(cli, tmp_path):
    archive = tmp_path / "pruned.jsonl"
    for n in (1, 2):
        night(cli, n)  # each night's newest revision stays, between this night's lines and the next's
        cli("prune", "--older-than", "30d", "--archive", archive, "--yes")
    assert "pass --partial" in cli.fails("verify", archive, code=1)
    said = cli("verify", "--partial", archive).stdout
    assert "(where its prunes kept activities then, each prune's own record among them, which later prunes may " \
        "have added after them)" in said
    assert "it starts at the chain's first activity" in said


def test_a_line_changed_in_an_earlier_night_of_an_archive_is_caught(cli, tmp_path):
    archive = tmp_path / "pruned.jsonl"
    for n in (1, 2):
        night(cli, n)
        cli("prune", "--older-than", "30d", "--archive", archive, "--yes")
    archive.write_text(archive.read_text().replace('"night-1"', '"night-x"', 1))
    assert cli("verify", "--partial", archive, ok=False).exit_code == 3


def test_an_archive_that_lacks_its_last_newline_is_added_to_on_a_line_of_its_own(cli, tmp_path):
    archive = tmp_path / "pruned.jsonl"
    night(cli, 1)
    cli("prune", "--older-than", "30d", "--archive", archive, "--yes")
    archive.write_bytes(archive.read_bytes().rstrip(b"\n"))
    night(cli, 2)
    cli("prune", "--older-than", "30d", "--archive", archive, "--yes")
    assert len(lines(archive)) == 6


def test_a_bare_prune_from_cron_archives_where_the_retention_policy_says(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    policy = cli.json("retention", "set", "--activity", "30d", "--archive", "nightly.jsonl.gz")
    assert policy == {"activity": "30d", "archive": str(tmp_path / "nightly.jsonl.gz")}
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # cron runs in another folder
    for n in (1, 2):
        night(cli, n)
        assert cli("prune").stdout.endswith(f"added them to {tmp_path / 'nightly.jsonl.gz'}\n")
    assert len(lines(tmp_path / "nightly.jsonl.gz")) == 6
    # the policy, archive and all, is a chained record; a prune with limits of its own names its own archive
    record = cli.json("log", "--action", "retention-set")[0]
    assert record["details"] == {"policy": {"activity": "30d", "archive": str(tmp_path / "nightly.jsonl.gz")}}
    night(cli, 3)
    assert "added them" not in cli("prune", "--older-than", "30d").stdout
    assert len(lines(tmp_path / "nightly.jsonl.gz")) == 6
    assert cli("verify").exit_code == 0


@pytest.mark.parametrize("value, message", [
    ("-", "audit: error: --archive takes the path of a file that each prune adds what it removes to\n"),
    ("", "audit: error: --archive takes the path of a file that each prune adds what it removes to\n"),
])
def test_a_retention_archive_must_be_a_file(cli, value, message):
    assert cli.fails("retention", "set", "--activity", "30d", "--archive", value, code=2) == message


def test_a_retention_archive_in_a_missing_folder_is_refused_when_set(cli, tmp_path):
    stderr = cli.fails("retention", "set", "--activity", "30d", "--archive", tmp_path / "no" / "a.jsonl", code=1)
    assert "cannot write" in stderr and not cli.db_path.exists()


# The workflows the README promises, end to end


def test_cursor_pieces_to_a_mirror_hold_everything_once_and_a_rebuilt_source_stops_them(cli, tmp_path):
    mirror = Cli(tmp_path / "mirror.db")
    cursor = tmp_path / "cursor"

    def ship(n):
        cli("export", "--cursor-file", cursor, "-o", tmp_path / f"piece-{n}.jsonl")
        mirror("import", tmp_path / f"piece-{n}.jsonl")

    night(cli, 1)
    ship(1)
    cli("prune", "--older-than", "30d", "--archive", tmp_path / "pruned.jsonl", "--yes")
    night(cli, 2)
    ship(2)
    ship(3)  # nothing new: an empty piece
    assert activity_lines((tmp_path / "piece-3.jsonl").read_bytes()) == []  # only its trailer
    assert len(mirror.json("log", "--limit", "-1")) == 4 + 1 + 4  # night 1, the prune, night 2
    assert mirror("verify").exit_code == 0
    # the source rebuilt from its own export: a new store, whose ids the old cursor does not speak for
    cli("export", "-o", tmp_path / "whole.jsonl")
    rebuilt = Cli(tmp_path / "rebuilt.db")
    rebuilt("import", tmp_path / "whole.jsonl")
    stderr = rebuilt.fails("export", "--cursor-file", cursor, "-o", tmp_path / "piece-4.jsonl", code=1)
    assert "was written for another store" in stderr and not (tmp_path / "piece-4.jsonl").exists()


def test_a_deleted_item_comes_back_with_revert_to_its_delete_after_every_other_revision_went(cli):
    cli("record", "create", "b", "1", "--data", '{"t": "first"}', "--at", "90d")
    cli("record", "update", "b", "1", "--data", '{"t": "last"}', "--at", "80d")
    cli("record", "delete", "b", "1", "--at", "70d")
    cli("record", "login", "-c", "u", "-i", "x")
    cli("prune", "--older-than", "75d", "--yes")
    cli("prune", "--keep-revisions", "1", "--yes")
    assert cli("revert", "b", "1", "--to", "-1").stdout == '{\n  "t": "last"\n}\n'
    assert [row["action"] for row in cli.json("history", "b", "1")] == ["delete", "revert"]
    assert cli("verify").exit_code == 0


def test_a_prune_that_cannot_record_itself_archives_nothing(cli, tmp_path):
    cli.runner.env["AUDIT_CHAIN_KEY"] = "secret"
    night(cli, 1)
    del cli.runner.env["AUDIT_CHAIN_KEY"]
    stderr = cli.fails("prune", "--older-than", "30d", "--archive", tmp_path / "pruned.jsonl", "--yes", code=1)
    assert stderr == "audit: error: this store's chain is keyed: set AUDIT_CHAIN_KEY to the store's key\n"
    assert not (tmp_path / "pruned.jsonl").exists()
    cli.runner.env["AUDIT_CHAIN_KEY"] = "secret"
    cli("prune", "--older-than", "30d", "--archive", tmp_path / "pruned.jsonl", "--yes")
    assert len(lines(tmp_path / "pruned.jsonl")) == 3  # each line once


def test_a_mirror_sent_an_old_export_of_history_its_source_pruned_keeps_its_items_state(cli, tmp_path):
    backup = pruned_store(cli, tmp_path)  # the source pruned articles 1's first two states before shipping them
    mirror = Cli(tmp_path / "mirror.db")
    cli("export", "--cursor-file", tmp_path / "cursor", "-o", tmp_path / "piece.jsonl")
    mirror("import", tmp_path / "piece.jsonl")
    result = mirror("import", backup)
    # the mirror holds the source's chain as it was (its first piece, whole), so the source's prune speaks for it:
    # the old login stays pruned too
    assert result.stderr == f"imported 0 activities from {backup}; 1 was already here; {PRUNED_NOTE.format(n=3)}\n"
    assert mirror("snapshot", "articles", "1").stdout == '{\n  "title": "now"\n}\n'
    assert mirror("verify").exit_code == 0
    # a mirror that holds other history too chains what it imports anew, and still keeps the item's state
    other = Cli(tmp_path / "other.db")
    other("record", "login", "-c", "u", "-i", "first")
    other("import", tmp_path / "piece.jsonl")
    result = other("import", backup)
    assert result.stderr == f"imported 1 activity from {backup}; 1 was already here; {PRUNED_NOTE.format(n=2)}\n"
    assert other("snapshot", "articles", "1").stdout == '{\n  "title": "now"\n}\n'
    assert [row["item"] for row in other.json("log", "-c", "directus_users")] == ["alice"]  # no item state: in
    assert other("verify").exit_code == 0
