"""`audit import --format directus`: the real Directus 11.3.5 capture, as an SQLite file and as a JSON folder,
checked against its ground truth (the final tables, the API calls that made each activity)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import Cli
from lines import activity_lines

# The capture ships in the repository (fixtures/directus-11.3.5); AUDIT_DIRECTUS_CAPTURE points at another one.
CAPTURE = Path(os.environ.get("AUDIT_DIRECTUS_CAPTURE")
               or Path(__file__).resolve().parent.parent / "fixtures" / "directus-11.3.5")
SOURCES = {"sqlite": CAPTURE / "directus.db", "json": CAPTURE}


@pytest.fixture(autouse=True, scope="module")
def _capture_is_there():
    if not (CAPTURE / "directus.db").is_file():  # a failure, not a skip: these tests are the importer's proof
        pytest.fail(f"the Directus 11.3.5 capture is not at {CAPTURE}: set AUDIT_DIRECTUS_CAPTURE to its folder")


def table(name: str) -> list[dict]:
    """Ground truth, read straight from the capture's SQLite file (not through the adapter)."""
    with sqlite3.connect(f"file:{CAPTURE / 'directus.db'}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(f"SELECT * FROM {name} ORDER BY 1")]


def api_call_of(activity_id: int) -> dict:
    calls = {c["seq"]: c for c in map(json.loads, (CAPTURE / "api_calls.jsonl").read_text().splitlines())}
    links = {a["activity_id"]: a["api_call_seq"] for a in json.loads((CAPTURE / "activity_to_api_call.json").read_text())}
    return calls[links[activity_id]]


def activities_of_call(predicate) -> list[int]:
    links = json.loads((CAPTURE / "activity_to_api_call.json").read_text())
    calls = {c["seq"]: c for c in map(json.loads, (CAPTURE / "api_calls.jsonl").read_text().splitlines())}
    return [a["activity_id"] for a in links if predicate(calls[a["api_call_seq"]])]


def utc(ms: int) -> str:
    moment = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def emails() -> dict[str, str]:
    return {u["id"]: u["email"] for u in table("directus_users")}


@pytest.fixture(scope="module", params=sorted(SOURCES))
def imported(request, tmp_path_factory) -> Cli:
    """A store with the capture imported, once per source; for tests that only read."""
    cli = Cli(tmp_path_factory.mktemp(request.param) / "audit.db")
    result = cli("import", "--format", "directus", SOURCES[request.param])
    assert "imported 90 activities" in result.stderr
    return cli


@pytest.fixture(params=sorted(SOURCES))
def fresh(request, cli) -> Cli:
    """A store of its own with the capture imported; for tests that write."""
    cli("import", "--format", "directus", SOURCES[request.param])
    return cli


def log(cli: Cli, *args: str) -> dict[int, dict]:
    return {row["id"]: row for row in cli.json("log", "--limit", "-1", "--include-deleted", *args)}


def snapshot(cli: Cli, item, *args: str):
    return json.loads(cli("snapshot", "articles", str(item), *args).stdout)


def history(cli: Cli, item) -> list[dict]:
    return cli.json("history", "articles", str(item))


def decoded(row: dict) -> dict:
    """A row of the final articles table with its JSON column read as JSON."""
    return {**row, "tags": json.loads(row["tags"]) if row["tags"] is not None else None}


# every activity


def test_every_activity_is_there_with_its_user_time_ip_agent_and_origin(imported):
    rows = log(imported)
    users = emails()
    source = [a for a in table("directus_activity") if a["collection"] != "directus_comments"]
    assert len(source) == 85
    for activity in source:
        got = rows[activity["id"]]
        assert got["action"] == activity["action"], activity["id"]
        assert got["collection"] == activity["collection"] and got["item"] == activity["item"]
        assert got["user"] == users[activity["user"]]
        assert got["details"]["user_id"] == activity["user"]
        assert got["timestamp"] == utc(activity["timestamp"])
        assert (got["ip"], got["user_agent"], got["origin"]) == (activity["ip"], activity["user_agent"],
                                                                activity["origin"])
    # The comment activities are the comments, not data changes of a directus_comments collection.
    assert not [r for r in rows.values() if r["collection"] == "directus_comments"]
    # and the 5 comments (4 by the admin, 1 by the editor), and the import's record of the marks it took: the
    # edited and the deleted comment's, which no hash covers (store/marks.py)
    assert len(rows) == 85 + 5 + 1
    (record,) = [r for r in rows.values() if r["action"] == "import"]
    marked = {r["id"]: [r["edited_on"], r["comment_deleted_on"]] for r in rows.values()
              if r["action"] == "comment" and (r["edited_on"] or r["comment_deleted_on"])}
    assert len(marked) == 2 and {entry[0]: entry[1:] for entry in record["details"]["marks"]["comments"]} == marked


def test_times_keep_the_milliseconds_exactly(imported):
    rows = log(imported)
    assert rows[1]["timestamp"] == "2026-11-22T10:38:16.811000Z"
    assert rows[92]["timestamp"] == "2026-11-22T10:38:56.117000Z"
    # a batch call: one activity per item, a millisecond apart, in order
    batch = activities_of_call(lambda call: call["method"] == "PATCH" and call["path"] == "/items/articles"
                               and "keys" in (call["body_summary"] or ""))
    assert batch == [42, 43, 44]
    assert [rows[n]["timestamp"][-8:] for n in batch] == [".102000Z", ".103000Z", ".104000Z"]


def test_the_forwarded_address_and_the_bot_user(imported):
    rows = log(imported)
    assert rows[78]["ip"] == "203.0.113.45" and rows[78]["user"] == "editor@example.com"
    assert api_call_of(78)["extra_headers"]
    assert [r["id"] for r in rows.values() if r["user"] == "sync-bot@example.com"] == [80, 79]


def test_logins_have_no_revision_and_are_on_the_user(imported):
    logins = log(imported, "--action", "login")
    assert sorted(logins) == [1, 69]
    assert logins[69]["collection"] == "directus_users"
    assert logins[69]["item"] == "cdc982aa-a508-47a4-94cc-d947297f7d0e" and logins[69]["user"] == "editor@example.com"
    assert imported.json("show", "69")["revision"] is None


# the final state


def test_every_surviving_article_is_as_the_final_table(imported):
    final = table("articles")
    assert len(final) == 18
    for row in final:
        state = snapshot(imported, row["id"])
        expected = decoded(row)
        assert sorted(state) == sorted(expected), row["id"]
        for field, value in expected.items():
            assert state[field] == value, (row["id"], field)
            assert type(state[field]) is type(value), (row["id"], field)


def test_double_encoded_json_columns_are_decoded_and_history_shows_real_changes(imported):
    # Update revisions hold tags as a string; the history must not show tags changing from array to string.
    rows = history(imported, 1)
    assert [r["activity"] for r in rows] == [9, 29, 30, 31, 73]
    assert [r["changed"] for r in rows[1:]] == [["/status"], ["/title", "/rating"], ["/status", "/rating", "/tags/2"],
                                                ["/rating"]]
    assert snapshot(imported, 16, "--rev", "0")["tags"] is None  # created without tags...
    assert snapshot(imported, 16)["tags"] == ["node", "runtime", "v20"]  # ...then set, double-encoded, in an update


def test_creates_get_the_primary_key_the_later_revisions_carry(imported):
    assert snapshot(imported, 21) == {"id": 21, "title": "Editor's pick: Observability 101",
                                      "body": "Logs, metrics, traces.", "status": "draft", "rating": 3,
                                      "tags": ["observability"]}
    assert history(imported, 2)[1]["changed"] == ["/body"]  # not /id


# comments


def test_comments_are_comment_activities_on_the_commented_items(imported):
    comments = log(imported, "--action", "comment")
    creations = {a["item"]: a for a in table("directus_activity")
                 if a["collection"] == "directus_comments" and a["action"] == "create"}
    assert sorted(comments) == sorted(a["id"] for a in creations.values())
    rows = {c["id"]: c for c in table("directus_comments")}
    users = emails()
    for uuid, creation in creations.items():
        got = comments[creation["id"]]
        assert got["details"]["directus_comment"] == uuid
        assert got["timestamp"] == utc(creation["timestamp"]) and got["user"] == users[creation["user"]]
        assert got["ip"] == creation["ip"] and got["user_agent"] == creation["user_agent"]
        if uuid in rows:
            assert (got["collection"], got["item"], got["comment"]) == (
                rows[uuid]["collection"], rows[uuid]["item"], rows[uuid]["comment"])
    assert comments[75]["item"] == "10" and comments[75]["user"] == "editor@example.com"


def test_a_comment_edit_keeps_the_new_text_and_its_time(imported):
    (edit,) = activities_of_call(lambda call: call["method"] == "PATCH" and call["path"].startswith("/comments/"))
    uuid = api_call_of(edit)["path"].rsplit("/", 1)[1]
    row = next(c for c in table("directus_comments") if c["id"] == uuid)
    comment = next(c for c in log(imported, "--action", "comment").values()
                   if c["details"]["directus_comment"] == uuid)
    assert comment["comment"] == json.loads(api_call_of(edit)["body_summary"])["comment"] == row["comment"]
    assert comment["edited_on"] == utc(row["date_updated"]) == "2026-11-22T10:38:34.278000Z"
    assert comment["details"]["edits"][0]["directus_activity"] == edit
    assert comment["comment_deleted_on"] is None
    assert edit not in log(imported)  # the edit is folded into the comment, not an activity of its own
    others = [c for c in log(imported, "--action", "comment").values() if c["id"] != comment["id"]]
    assert all(c["edited_on"] is None for c in others)


def test_a_deleted_comment_is_soft_deleted_with_its_text(imported):
    (delete,) = activities_of_call(lambda call: call["method"] == "DELETE" and call["path"].startswith("/comments/"))
    uuid = api_call_of(delete)["path"].rsplit("/", 1)[1]
    assert uuid not in {c["id"] for c in table("directus_comments")}  # Directus removed the row
    comment = next(c for c in log(imported, "--action", "comment").values()
                   if c["details"]["directus_comment"] == uuid)
    when = next(a["timestamp"] for a in table("directus_activity") if a["id"] == delete)
    assert comment["comment_deleted_on"] == utc(when)
    assert comment["comment"] == "Second pass: typo in paragraph 2." and comment["item"] == "2"
    assert comment["details"]["deleted"]["directus_activity"] == delete
    visible = {row["id"] for row in imported.json("log", "--action", "comment", "--limit", "-1")}
    assert comment["id"] not in visible and len(visible) == 4


# revert, versions, promote


def test_the_api_revert_is_an_update_back_to_the_reverted_revision(imported):
    (revert,) = activities_of_call(lambda call: call["path"].startswith("/utils/revert/"))
    revision_id = int(api_call_of(revert)["path"].rsplit("/", 1)[1])
    target = next(r for r in table("directus_revisions") if r["id"] == revision_id)
    rows = history(imported, target["item"])
    index = {r["activity"]: r["index"] for r in rows}
    assert rows[index[revert]]["action"] == "update"
    assert snapshot(imported, target["item"], "--rev", str(index[revert])) == \
        snapshot(imported, target["item"], "--rev", str(index[target["activity"]]))
    assert rows[index[revert]]["changed"] == ["/title", "/status"]  # what the revert undid, not every field


def test_version_saves_are_version_revisions_and_leave_main_alone(imported, tmp_path):
    saves = log(imported, "--action", "version_save")
    versions = {v["id"]: v for v in table("directus_versions")}
    source = {r["activity"]: r for r in table("directus_revisions") if r["version"]}
    assert sorted(saves) == sorted(source) == [83, 84, 87]
    for activity, revision in source.items():
        assert saves[activity]["details"]["version"] == versions[revision["version"]]["key"]
        assert saves[activity]["details"]["version_id"] == revision["version"]
    imported("export", "--action", "version_save", "-o", tmp_path / "saves.jsonl")
    lines = {line["id"]: line for line in activity_lines((tmp_path / "saves.jsonl").read_text())}
    assert lines[84]["revision"]["version"] == "draft-v2"
    # saves accumulate: after the second save the version holds what Directus staged in all
    draft = next(v for v in versions.values() if v["key"] == "draft-v2")
    assert lines[84]["revision"]["data"] == json.loads(draft["delta"])
    assert lines[87]["revision"]["data"] == {"title": "Intro to TLS (alt headline)"}
    assert [r["activity"] for r in history(imported, 5)] == [13, 39, 85]  # saves are not on main
    assert snapshot(imported, 10)["title"] == "Intro to TLS"  # erin-ideas was never promoted


def test_the_promote_is_an_update_that_brings_the_staged_fields_to_main(imported):
    (promote,) = activities_of_call(lambda call: call["path"].endswith("/promote"))
    shown = imported.json("show", str(promote))
    assert shown["action"] == "update" and shown["details"]["promoted_version"] == "draft-v2"
    staged = json.loads(next(v for v in table("directus_versions") if v["key"] == "draft-v2")["delta"])
    before = snapshot(imported, 5, "--rev", "-2")
    assert shown["revision"]["data"] == {**before, **staged}
    assert sorted(op["path"] for op in shown["revision"]["delta"]) == sorted("/" + k for k in staged)


def test_the_versions_are_there_as_directus_holds_them(imported):
    listed = {v["key"]: v for v in imported.json("version", "list")}
    for version in table("directus_versions"):
        mine = listed.pop(version["key"])
        assert (mine["collection"], mine["item"], mine["name"]) == (version["collection"], version["item"],
                                                                     version["name"])
        staged = json.loads(version["delta"])
        assert mine["fields"] == sorted(staged)
        compared = imported.json("version", "compare", "articles", version["item"], version["key"])
        assert compared["staged"] == staged
    assert listed == {}
    # draft-v2 was promoted (Directus keeps a promoted version): main has moved on since it was made
    assert [v["outdated"] for v in imported.json("version", "list", "articles", "5")] == [True]


# deletes


@pytest.mark.parametrize("item", [7, 17, 19])
def test_deleted_articles_are_deleted_and_restorable(fresh, item):
    deleted = fresh.fails("snapshot", "articles", str(item), code=1)
    assert "deleted" in deleted
    last = max((r for r in table("directus_revisions") if r["collection"] == "articles" and r["item"] == str(item)),
               key=lambda r: r["id"])
    expected = {"id": item, **json.loads(last["data"])}
    if isinstance(expected["tags"], str):
        expected["tags"] = json.loads(expected["tags"])
    assert snapshot(fresh, item, "--rev", "-2") == expected
    restored = json.loads(fresh("revert", "articles", str(item), "--to", "-2").stdout)
    assert restored == expected
    assert snapshot(fresh, item) == expected
    assert history(fresh, item)[-1]["action"] == "revert"


# idempotence


def test_importing_again_adds_nothing_from_either_form(fresh):
    for source in SOURCES.values():
        result = fresh("import", "--format", "directus", source)
        assert "imported 0 activities" in result.stderr and "90 were already here" in result.stderr
    assert len(log(fresh)) == 90 + 1  # and the first import's record


def grown_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "directus"
    shutil.copytree(CAPTURE, folder)
    for file in folder.iterdir():
        file.chmod(0o644)
    return folder


def append(folder: Path, name: str, *rows: dict) -> None:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(json.loads(path.read_text()) + list(rows)))


def test_importing_a_grown_export_adds_only_the_new_rows(cli, tmp_path):
    folder = grown_copy(tmp_path)
    cli("import", "--format", "directus", folder)
    admin = "d1ac517c-6233-43ef-9bdd-77af8c1c9cda"
    agent = {"ip": "10.1.2.3", "user_agent": "curl/8.5", "origin": None, "user": admin}
    append(folder, "directus_activity",
           {"id": 93, "action": "update", "timestamp": 1795344000123, "collection": "articles", "item": "1", **agent},
           {"id": 94, "action": "login", "timestamp": 1795344001000, "collection": "directus_users", "item": admin,
            **agent},
           {"id": 95, "action": "create", "timestamp": 1795344002000, "collection": "directus_comments",
            "item": "0b7cf0f0-0000-4000-8000-000000000001", **agent})
    data = {"id": 1, "title": "Intro to Kubernetes (2027 edition)", "body": "A short article about Kubernetes. Draft #1.",
            "status": "published", "rating": 4, "tags": json.dumps(["kubernetes", "featured"])}
    append(folder, "directus_revisions",
           {"id": 87, "activity": 93, "collection": "articles", "item": "1", "data": json.dumps(data),
            "delta": json.dumps({"title": data["title"], "tags": data["tags"]}), "parent": None, "version": None},
           {"id": 88, "activity": 95, "collection": "directus_comments", "item": "0b7cf0f0-0000-4000-8000-000000000001",
            "data": json.dumps({"collection": "articles", "item": "1", "comment": "New edition is out."}),
            "delta": "{}", "parent": None, "version": None})
    result = cli("import", "--format", "directus", folder)
    assert "imported 3 activities" in result.stderr and "90 were already here" in result.stderr
    rows = log(cli)
    assert len(rows) == 93 + 1  # and the first import's record (the second took no marks: it writes none)
    assert snapshot(cli, 1) == {**data, "tags": ["kubernetes", "featured"]}
    assert history(cli, 1)[-1]["changed"] == ["/title", "/tags/1"]
    new_comment = next(r for r in rows.values() if r["comment"] == "New edition is out.")
    assert (new_comment["collection"], new_comment["item"], new_comment["ip"]) == ("articles", "1", "10.1.2.3")
    assert "imported 0 activities" in cli("import", "--format", "directus", folder).stderr


def test_a_comment_edited_after_the_first_import_is_updated_by_the_next(cli, tmp_path):
    folder = grown_copy(tmp_path)
    cli("import", "--format", "directus", folder)
    uuid = "d0dcbb68-cf2d-4577-987f-5f746b6ffff2"
    comments = json.loads((folder / "directus_comments.json").read_text())
    row = next(c for c in comments if c["id"] == uuid)
    row.update(comment="Add a section about hash chains and anchors.", date_updated=1795344000500)
    (folder / "directus_comments.json").write_text(json.dumps(comments))
    append(folder, "directus_activity",
           {"id": 93, "action": "update", "timestamp": 1795344000501, "collection": "directus_comments", "item": uuid,
            "user": "d1ac517c-6233-43ef-9bdd-77af8c1c9cda", "ip": None, "user_agent": None, "origin": None})
    cli("import", "--format", "directus", folder)
    comment = log(cli)[48]
    assert comment["comment"] == row["comment"] and comment["edited_on"] == utc(1795344000500)


def test_an_imported_directus_trail_verifies(imported):
    imported("verify")


# what is and is not decoded; users without directus_users


def test_only_json_columns_are_decoded(cli, tmp_path):
    folder = grown_copy(tmp_path)
    admin = "d1ac517c-6233-43ef-9bdd-77af8c1c9cda"
    append(folder, "directus_activity",
           {"id": 93, "action": "update", "timestamp": 1795344000123, "collection": "articles", "item": "2",
            "user": admin, "ip": None, "user_agent": None, "origin": None})
    data = {"id": 2, "title": '["looks", "like", "json"]', "body": "{not json", "status": "review", "rating": 3,
            "tags": '"just a string"'}
    append(folder, "directus_revisions",
           {"id": 87, "activity": 93, "collection": "articles", "item": "2", "data": json.dumps(data),
            "delta": "{}", "parent": None, "version": None})
    cli("import", "--format", "directus", folder)
    assert snapshot(cli, 2) == data  # title and body are text columns; tags holds no array or object


def test_without_directus_users_the_user_is_the_uuid(cli, tmp_path):
    folder = grown_copy(tmp_path)
    (folder / "directus_users.json").unlink()
    cli("import", "--format", "directus", folder)
    rows = log(cli)
    assert rows[69]["user"] == "cdc982aa-a508-47a4-94cc-d947297f7d0e"
    assert rows[69]["details"]["user_id"] == rows[69]["user"]


# bad sources


def test_a_source_that_is_not_directus_is_exit_1(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    assert "directus_activity.json" in cli.fails("import", "--format", "directus", tmp_path / "empty", code=1)
    (tmp_path / "notes.txt").write_text("hello")
    assert "not an SQLite database" in cli.fails("import", "--format", "directus", tmp_path / "notes.txt", code=1)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    assert "no directus_activity table" in cli.fails("import", "--format", "directus", other, code=1)
    assert "cannot read" in cli.fails("import", "--format", "directus", tmp_path / "missing.db", code=1)
    assert not cli.db_path.exists()  # nothing was created for a source that could not be read


def test_stdin_and_an_unknown_format_are_usage_errors(cli):
    assert "not standard input" in cli.fails("import", "--format", "directus", "-", code=2)
    result = cli("import", "--format", "wordpress", "x", ok=False)
    assert result.exit_code == 2 and "wordpress" in result.stderr


def test_a_bad_row_stops_the_import_naming_it_unless_skip_invalid(cli, tmp_path):
    folder = grown_copy(tmp_path)
    revisions = json.loads((folder / "directus_revisions.json").read_text())
    broken = next(r for r in revisions if r["activity"] == 30)
    broken["data"] = '{"id": 1, "title": '
    (folder / "directus_revisions.json").write_text(json.dumps(revisions))
    message = cli.fails("import", "--format", "directus", folder, code=1)
    assert "directus_activity.json id 30" in message and "not valid JSON" in message
    assert "nothing was imported" in message
    assert not cli.db_path.exists()  # the store the failed import made is gone again
    result = cli("import", "--format", "directus", "--skip-invalid", folder)
    assert "skipped" in result.stderr and "id 30" in result.stderr and "imported 89 activities" in result.stderr
    assert 30 not in log(cli)


def test_a_folder_file_that_is_not_an_array_is_exit_1(cli, tmp_path):
    folder = grown_copy(tmp_path)
    (folder / "directus_activity.json").write_text('{"id": 1}')
    assert "not a JSON array" in cli.fails("import", "--format", "directus", folder, code=1)
