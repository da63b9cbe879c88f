"""`audit import --format strapi`: Strapi audit-log exports, CSV and JSON (fixtures/strapi/, see its README)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "strapi"
CSV, JSON = FIXTURES / "audit-logs.csv", FIXTURES / "audit-logs.json"
EXPORTS = {"csv": CSV, "json": JSON}
BOOKKEEPING = {"createdAt", "updatedAt", "publishedAt", "createdBy", "updatedBy"}


def rows() -> list[dict]:
    """The export's rows as written (newest first), from the JSON file, read without the adapter."""
    return json.loads(JSON.read_text(encoding="utf-8"))


def log(cli, *args: str) -> dict[int, dict]:
    return {row["id"]: row for row in cli.json("log", "--limit", "-1", *args)}


def snapshot(cli, collection: str, item: str, *args: str):
    return json.loads(cli("snapshot", collection, item, *args).stdout)


@pytest.fixture(params=sorted(EXPORTS))
def imported(request, cli):
    result = cli("import", "--format", "strapi", EXPORTS[request.param])
    assert "imported 20 activities" in result.stderr
    return cli


# what maps to what


def test_the_csv_and_the_json_export_read_the_same():
    def parsed(row):
        return {**row, "payload": json.loads(row["payload"]) if row["payload"] else None,
                **{k: (int(row[k]) if row[k] else None) for k in ("id", "user_id")},
                "origin": row["origin"] or None}

    with CSV.open(encoding="utf-8", newline="") as handle:
        assert [parsed(row) for row in csv.DictReader(handle)] == rows()


def test_every_row_is_an_activity_with_its_user_time_and_origin(imported):
    got = log(imported)
    assert sorted(got) == sorted(row["id"] for row in rows())
    for row in rows():
        activity = got[row["id"]]
        assert activity["action"] == row["action"]
        assert activity["user"] == row["user_email"]
        assert activity["timestamp"] == row["date"].replace("Z", "000Z")
        assert activity["origin"] == row["origin"]
        assert activity["details"]["user_id"] == row["user_id"]
        assert activity["details"]["user_display_name"] == row["user_display_name"]
        assert activity["details"]["strapi_id"] == row["id"]
    # imported oldest first, whatever the file's order: ids follow time
    by_time = sorted(got.values(), key=lambda a: a["timestamp"])
    assert [a["id"] for a in by_time] == sorted(got)


def test_entry_events_are_on_the_model_and_the_entry_id(imported):
    got = log(imported)
    for row in rows():
        if row["action"].startswith("entry."):
            assert (got[row["id"]]["collection"], got[row["id"]]["item"]) == (
                row["payload"]["model"], str(row["payload"]["entry"]["id"]))
            assert got[row["id"]]["details"]["uid"] == row["payload"]["uid"]


@pytest.mark.parametrize("action, collection, item", [
    ("admin.auth.success", "admin::user", {101: "1", 106: "2"}),
    ("admin.logout", "admin::user", {120: "2"}),
    ("user.create", "admin::user", {105: "2"}),
    ("user.update", "admin::user", {117: "2"}),
    ("role.update", "admin::role", {114: "2"}),
    ("media.create", "plugin::upload.file", {110: "7"}),
])
def test_other_events_name_what_they_act_on_and_keep_their_payload(imported, action, collection, item):
    got = log(imported, "--action", action)
    assert {n: (a["collection"], a["item"]) for n, a in got.items()} == {n: (collection, i) for n, i in item.items()}
    source = {row["id"]: row for row in rows()}
    for n in item:
        assert got[n]["details"]["payload"] == source[n]["payload"]
        assert imported.json("show", str(n))["revision"] is None
    if action == "admin.logout":
        assert got[120]["origin"] is None


def test_revisions_are_the_entries_without_bookkeeping(imported):
    assert [r["activity"] for r in imported.json("history", "article", "1")] == [102, 103, 111]
    assert snapshot(imported, "article", "1") == {
        "id": 1, "title": "Hello, Strapi!", "slug": "hello-strapi",
        "body": "First post on the new CMS. Now with a proper intro.", "tags": ["news", "announcements"], "rating": 5}
    assert snapshot(imported, "article", "3") == {
        "id": 3, "title": "Café Müller reopens — Grand opening", "slug": "cafe-muller-reopens",
        "body": "Strapi handles UTF-8: ñ, ü, 東京.\nSecond paragraph, with \"quotes\", commas.", "tags": ["local", "food"],
        "rating": 2}
    assert snapshot(imported, "category", "1")["name"] == "News & announcements"
    changed = [r["changed"] for r in imported.json("history", "article", "1")]
    assert changed[1:] == [["/title", "/body"], ["/tags/1", "/rating"]]  # not updatedAt, updatedBy every time
    shown = imported.json("show", "111")
    assert BOOKKEEPING <= set(shown["details"]["entry_meta"]) and not BOOKKEEPING & set(shown["revision"]["data"])
    assert shown["details"]["entry_meta"]["updatedBy"]["firstname"] == "Grace"


def test_publish_and_unpublish_are_activities_without_revisions(imported):
    got = log(imported, "--action", "entry.publish,entry.unpublish")
    assert sorted(got) == [108, 112, 119]
    assert all(imported.json("show", str(n))["revision"] is None for n in got)
    assert imported.json("show", "108")["details"]["entry_meta"]["publishedAt"] == "2026-11-20T09:40:00.231Z"


def test_a_delete_keeps_the_last_state(imported):
    shown = imported.json("show", "113")
    assert shown["action"] == "entry.delete"
    assert shown["revision"] == {"data": snapshot(imported, "article", "2", "--rev", "1"), "delta": []}
    assert shown["revision"]["data"]["rating"] == 4


def test_a_deleted_entry_reads_as_deleted_and_revert_restores_it(imported):
    imported.fails("snapshot", "article", "2", code=1)
    restored = json.loads(imported("revert", "article", "2", "--to", "1").stdout)
    assert restored["rating"] == 4


# idempotence


def test_importing_again_or_the_other_form_adds_nothing(imported):
    for export in EXPORTS.values():
        result = imported("import", "--format", "strapi", export)
        assert "imported 0 activities" in result.stderr and "20 were already here" in result.stderr


def test_a_later_export_adds_only_its_new_rows(cli, tmp_path):
    cli("import", "--format", "strapi", CSV)
    newer = {"id": 121, "action": "entry.update", "date": "2026-11-21T08:00:00.000Z", "user_id": 1,
             "user_email": "ada@example.com", "user_display_name": "Ada Lovelace", "origin": None,
             "payload": {"model": "article", "uid": "api::article.article",
                         "entry": {"id": 1, "title": "Hello again", "updatedAt": "2026-11-21T08:00:00.000Z"}}}
    later = tmp_path / "later.json"
    later.write_text(json.dumps([newer] + rows()), encoding="utf-8")
    result = cli("import", "--format", "strapi", later)
    assert "imported 1 activity" in result.stderr and "20 were already here" in result.stderr
    assert snapshot(cli, "article", "1") == {"id": 1, "title": "Hello again"}  # the entry is the whole new state


def test_standard_input_and_json_lines(cli):
    lines = "\n".join(json.dumps(row) for row in rows()) + "\n"
    result = cli("import", "--format", "strapi", "-", input=lines)
    assert "imported 20 activities" in result.stderr


# bad input: the file and row named, nothing imported, unless --skip-invalid


def csv_text() -> str:
    return CSV.read_text(encoding="utf-8")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_line_numbers_count_the_lines_of_a_multiline_row(cli, tmp_path):
    # The media.create payload spans lines 12-22; the row after it starts on line 23.
    text = csv_text()
    lines = text.splitlines(keepends=True)
    assert lines[22].startswith("109,entry.create")
    lines[22] = lines[22].replace('"{""model""', '"{""model"" oops', 1)
    path = write(tmp_path, "bad.csv", "".join(lines))
    message = cli.fails("import", "--format", "strapi", path, code=1)
    assert f"{path} line 23: payload is not valid JSON" in message and "nothing was imported" in message
    assert not cli.db_path.exists()


@pytest.mark.parametrize("line, change, reason", [
    (7, lambda t: t.replace("115,entry.create,", "115,entry.create,extra,", 1), "9 fields where the header has 8"),
    (7, lambda t: t.replace("115,entry.create,2026-11-20T10:20:05.300Z", "115,entry.create,last tuesday", 1),
     "date 'last tuesday' is not a time"),
    (7, lambda t: t.replace("115,entry.create,", "115,Entry Create,", 1), "action 'Entry Create' is not a slug"),
    (7, lambda t: t.replace("115,entry.create,", "x115,entry.create,", 1), "id 'x115' is not an integer"),
    (31, lambda t: t.replace("115,entry.create,", "101,entry.create,", 1), "id 101 appears twice (first at"),
    (3, lambda t: t.replace('""entry"":{""id"":3,', '""entry"":{""ID"":3,', 1),
     "the payload of entry.publish has no entry.id"),
])
def test_a_bad_row_names_the_file_and_line_and_imports_nothing(cli, tmp_path, line, change, reason):
    path = write(tmp_path, "bad.csv", change(csv_text()))
    message = cli.fails("import", "--format", "strapi", path, code=1)
    assert f"{path} line {line}: {reason}" in message and "nothing was imported" in message
    assert not cli.db_path.exists()


def test_skip_invalid_imports_the_rest_and_reports_each_bad_row(cli, tmp_path):
    text = csv_text().replace("115,entry.create,", "115,entry.create,extra,", 1)
    text = text.replace("102,entry.create,", "102,entry.create,2026-13-45T00:00:00Z,", 1)
    path = write(tmp_path, "bad.csv", text)
    result = cli("import", "--format", "strapi", "--skip-invalid", path)
    reports = [line for line in result.stderr.splitlines() if line.startswith("skipped ")]
    assert [r.split(": ", 1)[0] for r in reports] == [f"skipped {path} line 7", f"skipped {path} line 30"]
    assert "imported 18 activities" in result.stderr
    assert "skipped 2 invalid lines" in result.stderr
    assert 102 not in log(cli) and 115 not in log(cli) and 103 in log(cli)


def test_an_unterminated_quote_is_a_bad_row(cli, tmp_path):
    path = write(tmp_path, "bad.csv", csv_text() + '121,admin.logout,2026-11-21T00:00:00Z,1,a@b.c,A,,"{\n')
    message = cli.fails("import", "--format", "strapi", path, code=1)
    assert f"{path} line 32: not valid CSV" in message


def test_missing_columns_are_named(cli, tmp_path):
    path = write(tmp_path, "bad.csv", csv_text().replace("user_email,", "email,", 1).replace(",payload\n", ",data\n", 1))
    message = cli.fails("import", "--format", "strapi", path, code=1)
    assert "missing columns user_email, payload" in message and "id, action, date" in message


def test_bad_json_exports(cli, tmp_path):
    entries = rows()
    entries[3] = "not an object"
    path = write(tmp_path, "bad.json", json.dumps(entries, indent=2))
    message = cli.fails("import", "--format", "strapi", path, code=1)
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if '"not an object"' in text)
    assert f"{path} line {line}: an entry must be an object" in message

    truncated = write(tmp_path, "truncated.json", JSON.read_text(encoding="utf-8")[:5000])
    assert "not valid JSON" in cli.fails("import", "--format", "strapi", truncated, code=1)
    assert "cannot read" in cli.fails("import", "--format", "strapi", tmp_path / "missing.csv", code=1)
    assert not cli.db_path.exists()


def test_a_payload_that_is_not_an_object(cli, tmp_path):
    entries = rows()
    entries[0]["payload"] = [1, 2]
    path = write(tmp_path, "bad.json", json.dumps(entries))
    assert "payload must be a JSON object" in cli.fails("import", "--format", "strapi", path, code=1)
    entries[0]["payload"] = "{not json"
    path = write(tmp_path, "bad.json", json.dumps(entries))
    assert "line 1: payload is not valid JSON" in cli.fails("import", "--format", "strapi", path, code=1)


def test_entries_from_a_bare_uid_and_unknown_events(cli, tmp_path):
    base = {"user_id": None, "user_email": None, "user_display_name": None, "origin": None}
    entries = [
        {"id": 1, "action": "entry.create", "date": "2026-01-01T00:00:00Z", **base,
         "payload": {"uid": "plugin::users-permissions.user", "entry": {"id": 9, "username": "zoe"}}},
        {"id": 2, "action": "webhook.trigger", "date": "2026-01-01T00:00:01Z", **base, "user_id": 4, "payload": None},
    ]
    path = write(tmp_path, "events.json", json.dumps(entries))
    cli("import", "--format", "strapi", path)
    got = log(cli)
    assert (got[1]["collection"], got[1]["item"]) == ("user", "9")
    assert snapshot(cli, "user", "9") == {"id": 9, "username": "zoe"}
    assert (got[2]["collection"], got[2]["item"], got[2]["user"]) == ("strapi", "-", "4")
