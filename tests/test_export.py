"""`audit export`: incremental exports with --cursor-file, ECS lines (--format ecs), edited comments' first text
(`original_comment`) in exports without their edits, the progress bar, and the lines SQLite builds being the lines
jsontext would write."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import audit_cli
from audit_cli import ecs, jsonl
from audit_cli.cli import progress as progress_mod
from audit_cli.models import Activity, LogQuery
from audit_cli.store import AuditStore, provenance
from audit_cli.store import export as export_mod
from audit_cli.store import export_helper, helpers
from conftest import Cli
from lines import activity_lines, trailers, without_trailers

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "fixtures" / "sample.jsonl"
BIG = 2**70 + 1
ODD = "ctl \x00\x01\x1f \"quoted\" back\\slash / é \u2028 \U0001f600"


def rich(store: AuditStore) -> None:
    """A history with every kind of line: data actions, events, comments edited and deleted, a version, odd text,
    integers past 64 bits, a non-IP address and a non-URL origin."""
    def record(action, item="1", *, data=None, collection="articles", **fields):
        fields.setdefault("timestamp", "")
        return store.record(Activity(action, collection, item, **fields), data=data)

    record("create", data={"title": "Hello", "n": BIG, "odd": ODD}, user="alice", ip="10.0.0.1",
           user_agent="curl/8.5", origin="https://cms.example.com", details={"request": "r1", "big": BIG})
    record("login", "alice", collection="directus_users", user="alice", ip="::1")
    record("update", data={"title": "Hello, world"}, user="bob", ip="unknown", origin="admin-panel",
           comment="typo", details={"reason": ODD})
    record("invalid-credentials", "mallory", collection="directus_users", ip="203.0.113.9")
    comment = store.add_comment(Activity("comment", "articles", "1", "", user="carol", comment="Looks good"))
    store.edit_comment(comment["id"], "Looks good to me")
    other = store.add_comment(Activity("comment", "articles", "1", "", user="carol", comment="Spam"))
    store.delete_comment(other["id"])
    record("delete", user="bob")
    record("logout", "alice", collection="directus_users", user="alice")


@pytest.fixture
def built(db_path: Path) -> Path:
    with AuditStore.open(db_path, create=True) as store:
        rich(store)
    return db_path


def lines_of(data: bytes) -> list[dict]:
    """The activity lines (not the trailer an audit/1 export ends with)."""
    return activity_lines(data)


def held(cursor: Path) -> str:
    """The id a cursor file holds, once its second word is checked to be the store's identity."""
    activity_id, store = cursor.read_text().split()
    assert cursor.read_text().endswith("\n") and len(store) == 36
    return activity_id


# --cursor-file


def test_a_first_export_with_a_cursor_file_exports_everything_and_writes_the_last_id(cli, tmp_path):
    cli("import", SAMPLE)
    cursor = tmp_path / "export.cursor"
    result = cli("export", "--cursor-file", cursor, "-o", tmp_path / "a.jsonl")
    assert held(cursor) == "27"
    assert len(lines_of((tmp_path / "a.jsonl").read_bytes())) == 27
    assert f"{cursor} now holds 27" in result.stderr


def test_incremental_exports_concatenate_to_the_full_export(cli, tmp_path):
    cli("import", SAMPLE)
    cursor = tmp_path / "c"
    first = cli("export", "--cursor-file", cursor).stdout_bytes
    cli("record", "update", "-c", "articles", "-i", "1", "--data", '{"rating": 2}')
    cli("comment", "add", "articles", "1", "Rated")
    second = cli("export", "--cursor-file", cursor).stdout_bytes
    assert len(lines_of(second)) == 2 and held(cursor) == "29"
    # no gap marked where one export continues the other
    assert without_trailers(first + second) == without_trailers(cli("export").stdout_bytes)
    assert [t["after_id"] for t in trailers(first + second)] == [None, 27]
    assert all("gap" not in line for line in lines_of(second))


def test_nothing_new_exports_nothing_and_keeps_the_cursor(cli, tmp_path):
    cli("import", SAMPLE)
    cursor = tmp_path / "c"
    cli("export", "--cursor-file", cursor, "-o", tmp_path / "a.jsonl")
    result = cli("export", "--cursor-file", cursor, "-o", tmp_path / "b.jsonl")
    assert lines_of((tmp_path / "b.jsonl").read_bytes()) == [] and held(cursor) == "27"
    assert trailers((tmp_path / "b.jsonl").read_bytes())[0]["count"] == 0
    assert "exported 0 activities" in result.stderr


def test_a_cursor_past_the_newest_id_is_an_error_not_an_empty_export_forever(cli, tmp_path):
    cli("record", "login", "-c", "u", "-i", "x")
    cursor = tmp_path / "c"
    cursor.write_text("5\n")  # past everything there is: a cursor of a store rebuilt since
    stderr = cli.fails("export", "--cursor-file", cursor, "-o", tmp_path / "out.jsonl", code=1)
    assert stderr == (f"audit: error: cursor file {cursor} holds activity 5, past the newest this store ever had (1): "
                      "it was written for another store, or this one was rebuilt since; delete it to export from "
                      "the start\n")
    assert cursor.read_text() == "5\n" and not (tmp_path / "out.jsonl").exists()


def test_a_cursor_file_names_its_store_and_another_store_refuses_it(cli, tmp_path):
    cli("record", "login", "-c", "u", "-i", "x")
    cursor = tmp_path / "c"
    cli("export", "--cursor-file", cursor, "-o", tmp_path / "a.jsonl")
    store_id = cli.json("info")["store_id"]
    assert cursor.read_text() == f"1 {store_id}\n"
    other = Cli(tmp_path / "other.db")
    for _ in range(3):
        other("record", "login", "-c", "u", "-i", "y")
    stderr = other.fails("export", "--cursor-file", cursor, "-o", tmp_path / "b.jsonl", code=1)
    assert stderr == (f"audit: error: cursor file {cursor} was written for another store ({store_id}), not this one "
                      f"({other.json('info')['store_id']}): keep one cursor file per store and output, or delete "
                      "it to export from the start\n")
    assert not (tmp_path / "b.jsonl").exists()


def test_a_cursor_file_of_an_older_release_holding_the_id_alone_still_works(cli, tmp_path):
    cli("import", SAMPLE)
    cursor = tmp_path / "c"
    cursor.write_text("25\n")
    assert len(lines_of(cli("export", "--cursor-file", cursor).stdout_bytes)) == 2
    assert held(cursor) == "27"


def test_the_cursor_follows_the_last_exported_activity_of_a_filtered_export(cli, tmp_path):
    cli("import", SAMPLE)
    cursor = tmp_path / "c"
    exported = lines_of(cli("export", "-c", "articles", "--cursor-file", cursor).stdout_bytes)
    assert {line["collection"] for line in exported} == {"articles"}
    assert held(cursor) == f"{exported[-1]['id']}"
    cli("record", "login", "-c", "directus_users", "-i", "zed")
    cli("record", "update", "-c", "articles", "-i", "1", "--data", '{"rating": 1}')
    again = lines_of(cli("export", "-c", "articles", "--cursor-file", cursor).stdout_bytes)
    assert [line["action"] for line in again] == ["update"] and held(cursor) == f"{again[0]['id']}"


@pytest.mark.parametrize("content", ["abc\n", "", "12abc", "-3", "1.5", "١٢", "99999999999999999999"])
def test_a_cursor_file_that_is_not_an_id_is_a_clear_error_and_writes_nothing(cli, tmp_path, content):
    cli("import", SAMPLE)
    cursor = tmp_path / "c"
    cursor.write_text(content)
    stderr = cli.fails("export", "--cursor-file", cursor, "-o", tmp_path / "out.jsonl", code=1)
    assert "does not hold an activity id" in stderr and "delete it to export from the start" in stderr
    assert not (tmp_path / "out.jsonl").exists() and cursor.read_text() == content


def test_a_cursor_file_may_have_spaces_around_the_id(cli, tmp_path):
    cli("import", SAMPLE)
    cursor = tmp_path / "c"
    cursor.write_text("  25 \n")
    assert len(lines_of(cli("export", "--cursor-file", cursor).stdout_bytes)) == 2
    assert held(cursor) == "27"


def test_a_cursor_file_in_a_missing_folder_fails_before_anything(cli, tmp_path):
    cli("import", SAMPLE)
    stderr = cli.fails("export", "--cursor-file", tmp_path / "no" / "c", "-o", tmp_path / "out.jsonl", code=1)
    assert "cannot write" in stderr and not (tmp_path / "out.jsonl").exists()


def test_a_failed_export_leaves_the_cursor_and_no_output(cli, tmp_path, monkeypatch):
    cli("import", SAMPLE)
    cursor = tmp_path / "c"
    cursor.write_text("10\n")

    def broken(self, *args):
        yield from []
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(export_mod.Export, "_audit", broken)
    cli.fails("export", "--cursor-file", cursor, "-o", tmp_path / "out.jsonl", code=1)
    assert cursor.read_text() == "10\n" and not (tmp_path / "out.jsonl").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_the_cursor_is_written_atomically_beside_itself(tmp_path):
    from audit_cli import cursor

    path = tmp_path / "c"
    cursor.write(str(path), 7, "s1")
    cursor.write(str(path), 8, "s1")
    assert cursor.read(str(path)) == cursor.Cursor(8, "s1") and sorted(p.name for p in tmp_path.iterdir()) == ["c"]
    assert cursor.read(str(tmp_path / "absent")) is None


def test_core_export_after_an_id_marks_no_gap_when_it_continues_and_one_when_it_does_not(built):
    with AuditStore.open(built) as store:
        whole = lines_of(b"".join(store.export(LogQuery())))
        rest = lines_of(b"".join(store.export(LogQuery(after_id=3))))
        assert rest == whole[3:]
        filtered = lines_of(b"".join(store.export(LogQuery(after_id=1, actions=["update"]))))
        assert [line["id"] for line in filtered] == [3] and filtered[0]["gap"] is True


# --format ecs

ECS_KEYS = {
    "create": {"@timestamp", "ecs.version", "event.action", "event.dataset", "event.kind", "event.category",
               "event.type", "event.id", "event.sequence", "message", "user.name", "related.user", "related.ip",
               "source.address", "source.ip", "user_agent.original", "http.request.referrer", "audit.collection",
               "audit.item", "audit.change", "audit.origin", "audit.hash", "audit.prev_hash", "audit.details",
               "audit.revision"},
    "login": {"@timestamp", "ecs.version", "event.action", "event.dataset", "event.kind", "event.category",
              "event.type", "event.outcome", "event.id", "event.sequence", "message", "user.name", "related.user",
              "related.ip", "source.address", "source.ip", "audit.collection", "audit.item", "audit.hash",
              "audit.prev_hash"},
    "update": {"@timestamp", "ecs.version", "event.action", "event.dataset", "event.kind", "event.category",
               "event.type", "event.id", "event.sequence", "message", "user.name", "related.user",
               "source.address", "audit.collection", "audit.item", "audit.change", "audit.origin", "audit.comment",
               "audit.hash", "audit.prev_hash", "audit.details", "audit.revision"},
    "comment": {"@timestamp", "ecs.version", "event.action", "event.dataset", "event.kind", "event.category",
                "event.type", "event.id", "event.sequence", "message", "user.name", "related.user",
                "audit.collection", "audit.item", "audit.change", "audit.comment", "audit.edited_on", "audit.hash",
                "audit.prev_hash"},
}


def ecs_lines(cli, *args) -> list[dict]:
    return lines_of(cli("export", "--format", "ecs", *args).stdout_bytes)


def test_ecs_lines_have_exactly_the_documented_keys(cli, built):
    docs = ecs_lines(cli)
    seen = {}
    for doc in docs:
        seen.setdefault(doc["event"]["action"], set(ecs.flat_keys(doc)))
    for action, keys in ECS_KEYS.items():
        assert seen[action] == keys, action


def test_ecs_values_map_the_audit_fields(cli, built):
    audit_lines = lines_of(cli("export").stdout_bytes)
    docs = ecs_lines(cli)
    assert len(docs) == len(audit_lines)
    for line, doc in zip(audit_lines, docs):
        assert doc["@timestamp"] == line["timestamp"] and doc["event"]["action"] == line["action"]
        assert doc["event"]["dataset"] == "audit" and doc["event"]["id"] == line["key"]
        assert doc["event"]["sequence"] == line["id"]
        assert doc.get("user", {}).get("name") == line["user"]
        assert doc.get("source", {}).get("address") == line["ip"]
        assert doc.get("user_agent", {}).get("original") == line["user_agent"]
        audit = doc["audit"]
        assert (audit["collection"], audit["item"], audit["hash"], audit["prev_hash"]) == \
            (line["collection"], line["item"], line["hash"], line["prev_hash"])
        assert audit.get("details") == line["details"] and audit.get("revision") == line["revision"]
        assert audit.get("comment") == line["comment"] and audit.get("origin") == line["origin"]
        outside = {**doc, "audit": {k: v for k, v in audit.items() if k not in ("details", "revision")}}
        assert None not in _values(outside)  # nulls are left out (free JSON keeps its own)
    by_action = {doc["event"]["action"]: doc for doc in docs}
    assert by_action["login"]["source"] == {"address": "::1", "ip": "::1"}
    assert by_action["update"]["source"] == {"address": "unknown"}  # not an IP: no source.ip
    assert "http" not in by_action["update"]  # origin not a URL: only audit.origin
    assert by_action["create"]["http"] == {"request": {"referrer": "https://cms.example.com"}}
    assert (by_action["invalid-credentials"]["event"]["outcome"], by_action["logout"]["event"]["type"]) == \
        ("failure", ["end"])
    assert all(by_action[a]["event"]["category"] == ["database"] and by_action[a]["event"]["type"] == ["change"]
               for a in ("create", "update", "delete", "comment", "comment-edit", "comment-delete"))
    assert [by_action[a]["audit"]["change"] for a in ("create", "update", "delete", "comment-delete")] == \
        ["creation", "change", "deletion", "deletion"]
    assert by_action["update"]["message"] == "bob updated articles/1 from unknown: typo"


def _values(value):
    if isinstance(value, dict):
        for inner in value.values():
            yield from _values(inner)
    elif not isinstance(value, list):
        yield value


def test_ecs_keeps_big_integers_and_odd_text_exactly(cli, built):
    text = cli("export", "--format", "ecs").stdout
    create = next(line for line in text.split("\n") if "\"action\":\"create\"" in line)
    assert str(BIG) in create and "1.18" not in create
    doc = json.loads(create)
    assert doc["audit"]["revision"]["data"]["odd"] == ODD and doc["audit"]["details"]["big"] == BIG


def test_ecs_marks_gaps_and_keyed_chains(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIT_CHAIN_KEY", "k")
    cli.runner.env["AUDIT_CHAIN_KEY"] = "k"
    cli("import", SAMPLE, "--no-verify")
    docs = ecs_lines(cli, "--action", "update")
    assert docs[0]["audit"]["gap"] is True and all(doc["audit"]["keyed"] is True for doc in docs)


def test_ecs_with_a_cursor_file(cli, tmp_path):
    cli("import", SAMPLE)
    cursor = tmp_path / "c"
    assert len(ecs_lines(cli, "--cursor-file", cursor)) == 27 and held(cursor) == "27"
    assert ecs_lines(cli, "--cursor-file", cursor) == []


def test_every_ecs_field_is_documented_in_the_help_and_the_readme(cli, built):
    help_text = cli("export", "--help").stdout
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Export and import"):]
    section = section[:section.index("\n## ", 5)]
    keys = set().union(*(ecs.flat_keys(doc) for doc in ecs_lines(cli)))
    for key in keys:
        last = key.rsplit(".", 1)[-1]
        assert last in help_text, key
        assert key in section or f".{last}" in section, key


def test_a_bad_format_is_a_usage_error(cli, built):
    assert "audit" in cli.fails("export", "--format", "csv", code=2)


# what SQLite builds is what jsontext would


def test_sql_built_lines_are_the_lines_built_in_python(built, monkeypatch):
    queries = [LogQuery(), LogQuery(actions=["update", "comment"]), LogQuery(after_id=2)]
    with AuditStore.open(built) as store:
        fast = [b"".join(store.export(q)) for q in queries]
        monkeypatch.setattr(export_mod, "sqlite_writes_as_jsontext", lambda conn: False)
        slow = [b"".join(store.export(q)) for q in (LogQuery(), LogQuery(actions=["update", "comment"]),
                                                       LogQuery(after_id=2))]
    assert slow == fast and str(BIG).encode() in fast[0] and b'"gap":true' in fast[1]


def test_sqlite_json_object_escapes_as_jsontext_does():
    conn = sqlite3.connect(":memory:")
    assert export_mod.sqlite_writes_as_jsontext(conn)
    for text in [ODD, "".join(map(chr, range(0x80, 0x800, 7))), "\U0010ffff", ""]:
        assert conn.execute("SELECT json_object('k', ?)", [text]).fetchone()[0] == \
            export_mod.jsontext.dumps({"k": text})


def test_an_export_inside_a_transaction_reads_that_transaction(built):
    with AuditStore.open(built) as store, store._writing():
        assert len(lines_of(b"".join(store.export_lines(LogQuery())))) == store.conn.execute(
            "SELECT count(*) FROM activity").fetchone()[0]


# edited comments in an export that lacks their edits: the line carries the first text, which its hash covers


@pytest.fixture
def edited(cli) -> dict[str, int]:
    """Comments edited twice, edited with odd text, never edited, and deleted; the edits all come after every
    comment, so that --action comment and --until 1d hold the comments but none of their edits."""
    cli("record", "create", "-c", "articles", "-i", "1", "--data", '{"title": "v0"}', "--at", "5d")
    ids = {"twice": cli.json("comment", "add", "articles", "1", "first text", "--at", "4d")["id"]}
    cli("record", "update", "-c", "articles", "-i", "1", "--data", '{"title": "v1"}', "--at", "3d")
    for name, text in (("odd", ODD), ("never", "never edited"), ("deleted", "deleted, not edited")):
        ids[name] = cli.json("comment", "add", "articles", "1", text, "--at", "2d")["id"]
    cli("comment", "edit", str(ids["twice"]), "second text")
    cli("comment", "edit", str(ids["twice"]), "third text")
    cli("comment", "edit", str(ids["odd"]), ODD + " fixed")
    cli("comment", "delete", str(ids["deleted"]))
    cli("record", "update", "-c", "articles", "-i", "1", "--data", '{"title": "v2"}')
    return ids


def import_into(cli, tmp_path: Path, trail: Path, name: str):
    return cli.runner.invoke(_app(), ["--db", str(tmp_path / f"{name}.db"), "import", str(trail)])


def verify_offline(cli, trail: Path):
    result = cli.runner.invoke(_app(), ["verify", str(trail), "--partial", "--format", "json"])
    return result.exit_code, json.loads(result.stdout)


def _app():
    from audit_cli.cli import app

    return app


PARTS = {"only the comments": ["--action", "comment"], "up to a day ago": ["--until", "1d"]}


@pytest.mark.parametrize("part", list(PARTS))
def test_an_export_without_a_comment_s_edits_imports_and_verifies(part, edited, cli, tmp_path):
    trail = tmp_path / "part.jsonl"
    cli("export", *PARTS[part], "-o", trail)
    lines = {line["id"]: line for line in lines_of(trail.read_bytes())}
    assert not any(line["action"] == "comment-edit" for line in lines.values())
    assert lines[edited["twice"]]["original_comment"] == "first text"  # the first text, not the one between
    assert lines[edited["twice"]]["comment"] == "third text"
    assert lines[edited["odd"]]["original_comment"] == ODD
    assert "original_comment" not in lines[edited["never"]] and "original_comment" not in lines[edited["deleted"]]
    result = import_into(cli, tmp_path, trail, "copy")
    assert result.exit_code == 0, result.output
    copy = Cli(tmp_path / "copy.db")
    assert copy.json("verify")["ok"]
    assert {row["id"]: row["comment"] for row in copy.json("log", "--action", "comment", "--include-deleted")} == {
        edited["twice"]: "third text", edited["odd"]: ODD + " fixed", edited["never"]: "never edited",
        edited["deleted"]: "deleted, not edited"}
    code, report = verify_offline(cli, trail)
    assert code == 0 and report["ok"], report
    # The deleted one too: no hash covers its mark, only its chained delete would.
    assert "3 edited or deleted comments came without their edit records" in report["partial"], report["partial"]


def test_a_whole_chain_without_a_comment_s_edits_is_chained_anew_as_a_copy_could_not_check_it(edited, cli, tmp_path):
    trail = tmp_path / "until.jsonl"
    cli("export", "--until", "1d", "-o", trail)
    assert not any(line.get("gap") for line in lines_of(trail.read_bytes()))
    assert import_into(cli, tmp_path, trail, "copy").exit_code == 0
    with AuditStore.open(tmp_path / "copy.db") as copy, AuditStore.open(cli.db_path) as original:
        assert not provenance.copied(copy.conn)  # chained here: not a copy
        hashes = dict(copy.conn.execute("SELECT id, hash FROM activity"))
        before = dict(original.conn.execute("SELECT id, hash FROM activity WHERE id < ?", [edited["twice"]]))
        assert {i: h for i, h in hashes.items() if i < edited["twice"]} == before
        assert hashes[edited["twice"]] != original.conn.execute(
            "SELECT hash FROM activity WHERE id = ?", [edited["twice"]]).fetchone()[0]
        assert copy.verify()["ok"]


@pytest.mark.parametrize("part", [*PARTS, "everything"])
def test_a_changed_original_comment_is_tampering(part, edited, cli, tmp_path):
    trail = tmp_path / "trail.jsonl"
    cli("export", *PARTS.get(part, []), "-o", trail)
    text = trail.read_text()
    assert text.count('"original_comment":"first text"') == 1
    trail.write_text(text.replace('"original_comment":"first text"', '"original_comment":"First text"'))
    result = import_into(cli, tmp_path, trail, "copy")
    assert result.exit_code == 1 and "its hash does not match its content" in result.stderr, result.output
    code, report = verify_offline(cli, trail)
    assert code == 3 and not report["ok"], report


def test_an_original_comment_that_is_not_a_string_is_refused_with_the_line(edited, cli, tmp_path):
    trail = tmp_path / "trail.jsonl"
    cli("export", "--action", "comment", "-o", trail)
    trail.write_text(trail.read_text().replace('"original_comment":"first text"', '"original_comment":5'))
    result = import_into(cli, tmp_path, trail, "copy")
    assert result.exit_code == 1 and "line 1: original_comment must be a string" in result.stderr, result.output


def test_files_without_original_comment_import_as_before(edited, cli, tmp_path):
    def old(trail: Path) -> Path:
        lines = lines_of(trail.read_bytes())
        for line in lines:
            line.pop("original_comment", None)
        older = trail.with_name("old-" + trail.name)
        older.write_text("".join(json.dumps(line) + "\n" for line in lines))
        return older

    whole, part = tmp_path / "whole.jsonl", tmp_path / "part.jsonl"
    cli("export", "-o", whole)
    cli("export", "--action", "comment", "-o", part)
    assert import_into(cli, tmp_path, old(whole), "whole").exit_code == 0
    copy, original = Cli(tmp_path / "whole.db").json("verify"), cli.json("verify")
    assert copy["ok"] and copy["head"] == original["head"]
    assert verify_offline(cli, old(whole))[0] == 0
    # without the first text, and without the edits that tell it, the edited comments' hashes cannot be checked
    refused = import_into(cli, tmp_path, old(part), "part")
    assert refused.exit_code == 1 and "its hash does not match its content" in refused.stderr


def test_sql_built_lines_are_the_lines_built_in_python_with_both_optional_members(edited, cli, monkeypatch):
    cli("prune", "--keep-revisions", "1", "--yes")  # attested revision digests, beside the edited comments
    queries = [LogQuery(), LogQuery(actions=["comment"]), LogQuery(after_id=3)]
    with AuditStore.open(cli.db_path) as store:
        fast = [b"".join(store.export(q)) for q in queries]
        monkeypatch.setattr(export_mod, "sqlite_writes_as_jsontext", lambda conn: False)
        slow = [b"".join(store.export(q)) for q in queries]
    assert slow == fast
    assert b'"attested_revision":' in fast[0] and fast[1].count(b'"original_comment":') == 2


# the progress bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_on_a_terminal_after_a_moment(monkeypatch):
    monkeypatch.setattr(progress_mod, "SHOW_AFTER", 0)
    stream = Terminal()
    with progress_mod.Progress("exporting", stream=stream) as bar:
        bar.export(4096, 10000)
        bar.export(10000, 10000)
    assert "exporting" in stream.getvalue() and "activities" in stream.getvalue()


def test_progress_is_silent_when_quiet_or_not_a_terminal_or_quick(monkeypatch):
    for kwargs, delay in (({"quiet": True, "stream": Terminal()}, 0), ({"stream": io.StringIO()}, 0),
                          ({"stream": Terminal()}, 60)):
        monkeypatch.setattr(progress_mod, "SHOW_AFTER", delay)
        with progress_mod.Progress("importing", **kwargs) as bar:
            bar.import_(5000, 100, 1000)
        assert kwargs["stream"].getvalue() == ""


def test_rich_is_imported_only_when_a_bar_is_drawn(tmp_path):
    import subprocess

    code = ("import sys; from audit_cli.cli import progress as p; "
            "b = p.Progress('x'); b.export(1, 2); b.close(); print('rich' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_core_reports_progress_through_the_callbacks(tmp_path, monkeypatch):
    monkeypatch.setattr(export_mod, "CHUNK", 10)
    store_path = tmp_path / "s.db"
    big = tmp_path / "big.jsonl"
    with AuditStore.open(store_path, create=True) as store:
        for n in range(5000):
            store.record(Activity("login", "u", str(n), ""))
        seen: list[tuple] = []
        list(store.export(LogQuery(), progress=lambda done, total: seen.append((done, total))))
        assert seen[-1] == (5000, 5000) and any(4096 <= done < 5000 for done, _ in seen)
        big.write_bytes(b"".join(store.export(LogQuery())))
    with AuditStore.open(tmp_path / "t.db", create=True) as copy:
        calls: list[tuple] = []
        copy.import_lines(jsonl.read_lines(str(big)), source="big",
                          progress=lambda lines, position, size: calls.append((lines, position, size)))
    assert calls[0][0] == 4096 and 0 < calls[0][1] <= calls[0][2] == big.stat().st_size
    assert calls[-1] == (5000, big.stat().st_size, big.stat().st_size)


def test_the_cli_prints_no_bar_when_stderr_is_not_a_terminal(cli, tmp_path):
    result = cli("import", SAMPLE)
    assert result.stderr.strip().splitlines() == [f"imported 27 activities from {SAMPLE}"]
    result = cli("export", "-o", tmp_path / "out.jsonl", "--quiet")
    assert result.stderr.strip().splitlines() == [f"exported 27 activities to {tmp_path / 'out.jsonl'}"]
    assert cli("import", SAMPLE, "-q").stderr.strip().startswith("imported 0 activities")


# the export's helper process (the upper half of a big export)


@pytest.fixture
def split(monkeypatch):
    """Every export split, in blocks of a few ids, the helper writing every other one."""
    monkeypatch.setattr(export_mod, "SPLIT_MIN", 2)
    monkeypatch.setattr(export_mod, "BLOCK", 3)


@pytest.mark.parametrize("query", [{}, {"actions": ["update", "comment"]}, {"after_id": 3}, {"users": ["nobody"]}])
@pytest.mark.parametrize("fmt", ["audit", "ecs"])
def test_a_split_export_writes_what_one_process_does(built, split, query, fmt):
    with AuditStore.open(built) as store:
        alone = export_mod.Export(store, LogQuery(**query), fmt=fmt, helper=False)
        expected = b"".join(alone)
        both = export_mod.Export(store, LogQuery(**query), fmt=fmt)
        assert b"".join(both) == expected
        assert (both.count, both.last_id) == (alone.count, alone.last_id)


def test_the_helper_process_writes_its_blocks(built, split, monkeypatch):
    """The split is real: the helper process starts, imports its module on its own, and sends frames (when it could
    not, the export wrote everything itself, the same bytes at half the speed, and no other test could tell)."""
    frames = export_helper._Helper.frames
    sent = []

    def counted(self):
        for frame in frames(self):
            sent.append(frame)
            yield frame

    monkeypatch.setattr(export_helper._Helper, "frames", counted)
    with AuditStore.open(built) as store:
        assert b"".join(export_mod.Export(store, LogQuery())) == \
            b"".join(export_mod.Export(store, LogQuery(), helper=False))
    assert sent and any(end for end, _, _ in sent)


def test_a_split_export_through_the_cli_with_a_cursor(cli, tmp_path, split):
    cli("import", SAMPLE)
    cursor = tmp_path / "c"
    cursor.write_text("5\n")
    out = cli("export", "--cursor-file", cursor).stdout_bytes
    assert without_trailers(out) == b"".join(without_trailers(cli("export").stdout_bytes).splitlines(keepends=True)[5:])
    assert held(cursor) == "27"


def test_a_helper_that_sees_another_snapshot_leaves_the_export_to_this_process(built, split, monkeypatch):
    start = export_helper._Helper.start.__func__

    def late(cls, store, *args):  # another process writes after this export began
        with AuditStore.open(built) as other:
            other.record(Activity("login", "directus_users", "late", ""))
        return start(cls, store, *args)

    monkeypatch.setattr(export_helper._Helper, "start", classmethod(late))
    with AuditStore.open(built) as store:
        before = b"".join(export_mod.Export(store, LogQuery(), helper=False))
        rows = store.conn.execute("SELECT count(*) FROM activity").fetchone()[0]
        exported = export_mod.Export(store, LogQuery())
        assert b"".join(exported) == before and exported.count == rows  # the snapshot it started with
        assert b"late" not in before


def test_a_helper_that_fails_leaves_the_export_to_this_process(built, split, monkeypatch):
    monkeypatch.setattr(export_helper, "_HELPER", "import sys; sys.exit(3)")
    with AuditStore.open(built) as store:
        assert b"".join(export_mod.Export(store, LogQuery())) == \
            b"".join(export_mod.Export(store, LogQuery(), helper=False))


@pytest.mark.exports_tampered
@pytest.mark.parametrize("hash_", ["e" * 70, "é" * 64, ""])
def test_a_split_export_of_a_tampered_store_writes_what_one_process_does(built, split, hash_):
    # A hash of any length and text, which the next line continues: the helper hands the hash of the last line of
    # its block (ids 4-6) on as it is, so that the next block knows that line 7 is no gap.
    with sqlite3.connect(built) as db:
        db.execute("UPDATE activity SET hash = ? WHERE id = 6", [hash_])
        db.execute("UPDATE activity SET prev_hash = ? WHERE id = 7", [hash_])
    with AuditStore.open(built) as store:
        expected = b"".join(export_mod.Export(store, LogQuery(), helper=False))
        assert b"".join(export_mod.Export(store, LogQuery())) == expected
        assert b'"gap":true' not in expected


@pytest.mark.parametrize("frames", [0, 1, 2, 5])
def test_a_helper_that_dies_part_way_leaves_the_rest_to_this_process(built, split, monkeypatch, frames):
    # A helper that sends a frame for every two lines (blocks in parts), and dies after `frames` of them.
    monkeypatch.setattr(export_helper, "_HELPER", f"""
import os
from audit_cli.store import export, export_helper
export.CHUNK = 2
export_helper.HELD = 1
send, sent = export_helper._send, []
def dying(*args):
    if len(sent) == {frames}:
        os._exit(5)
    sent.append(send(*args))
export_helper._send = dying
export_helper.helper()""")
    with AuditStore.open(built) as store:
        alone = export_mod.Export(store, LogQuery(), helper=False)
        expected = b"".join(alone)
        both = export_mod.Export(store, LogQuery())
        assert b"".join(both) == expected
        assert (both.count, both.last_id) == (alone.count, alone.last_id)


def test_an_export_inside_a_write_transaction_uses_no_helper(built, split, monkeypatch):
    monkeypatch.setattr(export_helper._Helper, "start", classmethod(lambda *a: pytest.fail("a helper was started")))
    with AuditStore.open(built) as store, store._writing():
        store.record(Activity("login", "directus_users", "uncommitted", ""))
        assert b"uncommitted" in b"".join(store.export_lines(LogQuery()))


def test_an_export_stopped_early_stops_its_helper(built, split, monkeypatch):
    started = []
    start = export_helper._Helper.start.__func__

    def keep(cls, *args):
        started.append(start(cls, *args))
        return started[-1]

    monkeypatch.setattr(export_helper._Helper, "start", classmethod(keep))
    with AuditStore.open(built) as store:
        chunks = iter(export_mod.Export(store, LogQuery()))
        next(chunks)
        chunks.close()
    assert started and started[0].process.returncode is not None and started[0].process.stdout.closed


# incremental pieces (--cursor-file) imported one by one


def _pieces(cli, tmp_path) -> tuple[Path, Path]:
    cli("import", SAMPLE)
    cursor = tmp_path / "cursor"
    first, second = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    cli("export", "--cursor-file", cursor, "-o", first)
    cli("record", "update", "-c", "articles", "-i", "1", "--data", '{"title": "later"}')
    cli("comment", "add", "articles", "1", "after the first piece")
    cli("export", "--cursor-file", cursor, "-o", second)
    return first, second


def test_pieces_imported_one_by_one_continue_the_same_chain(cli, tmp_path):
    first, second = _pieces(cli, tmp_path)
    copy = Cli(tmp_path / "copy.db")
    copy("import", first)
    copy("import", second)
    assert copy("verify").stdout.startswith("OK")
    head = lambda c: json.loads(c("verify", "--format", "json").stdout)["head"]  # noqa: E731
    assert head(copy) == head(cli)  # the same links, not a chain made anew
    assert copy("import", second).stderr.startswith("imported 0 activities")


def test_a_later_piece_alone_imports_and_verifies_offline_as_a_part(cli, tmp_path):
    _, second = _pieces(cli, tmp_path)
    alone = Cli(tmp_path / "alone.db")
    alone("import", second)
    assert alone("verify").stdout.startswith("OK")
    report = json.loads(cli("verify", second, "--partial", "--format", "json").stdout)
    assert report["ok"] and "starts after a line it does not hold" in report["partial"]


def test_a_piece_with_a_line_cut_from_its_middle_is_still_refused(cli, tmp_path):
    first, _ = _pieces(cli, tmp_path)
    lines = first.read_bytes().splitlines(keepends=True)
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b"".join(lines[:5] + lines[6:]))
    result = Cli(tmp_path / "other.db")("import", cut, ok=False)
    assert result.exit_code == 1 and "the chain is broken" in result.stderr and "line 6" in result.stderr
    report = cli("verify", cut, ok=False)
    assert report.exit_code == 3


def test_a_helper_started_in_a_folder_holding_another_audit_cli_imports_its_own(tmp_path):
    """`python -c` looks in the working folder first: a helper started in a checkout of another version imported
    that one (and its importer failed on the first frame it did not understand)."""
    (tmp_path / "audit_cli").mkdir()
    (tmp_path / "audit_cli" / "__init__.py").write_text("raise SystemExit('the other audit_cli')\n")
    process = helpers.start("import audit_cli, sys; sys.stdout.write(audit_cli.__file__)", cwd=tmp_path,
                            stdout=subprocess.PIPE)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0 and Path(out.decode()).resolve() == Path(audit_cli.__file__).resolve()
