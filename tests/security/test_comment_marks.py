"""Comment marks no hash covers, on comments that came from elsewhere: a Directus import's edited and deleted
comments, and every comment of a copy or a mirror (their rows carry their source's keys). The import that took the
marks lists them in its chained record, and verify holds each imported comment to that list (store/marks.py); T1
with the key, T3 on the exported trail, and the legitimate paths that must still verify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .attack import KEY, audit, build, tamper, verify

DIRECTUS = Path(__file__).resolve().parents[2] / "fixtures" / "directus-11.3.5" / "directus.db"
WHEN = "2026-11-30T09:00:00.000000Z"


def log(path: Path, *args: str, key: str | None = None) -> list[dict]:
    result = audit("--db", path, "log", "--limit", "-1", "--include-deleted", "-f", "json", *args, key=key)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def comments(path: Path, key: str | None = None) -> dict[int, dict]:
    return {row["id"]: row for row in log(path, "--action", "comment", key=key)}


def imported(path: Path, key: str | None = None) -> Path:
    result = audit("--db", path, "import", "--format", "directus", DIRECTUS, key=key)
    assert result.exit_code == 0, result.output
    return path


def marked(path: Path, key: str | None = None) -> tuple[int, int, int]:
    """(edited, deleted, plain): the ids of an edited, a deleted and an untouched imported comment."""
    found = comments(path, key)
    edited = next(i for i, c in found.items() if c["edited_on"])
    deleted = next(i for i, c in found.items() if c["comment_deleted_on"])
    plain = next(i for i, c in found.items() if not c["edited_on"] and not c["comment_deleted_on"])
    return edited, deleted, plain


def caught(path: Path, *args, key: str | None = None) -> dict:
    code, report = verify(path, *args, key=key)
    assert code == 3 and report["failure"]["kind"] == "modified", (code, report)
    return report["failure"]


def import_records(path: Path, key: str | None = None) -> list[dict]:
    return [row["details"] for row in log(path, "--action", "import", key=key)]


# the marks as the import took them


def test_a_directus_import_lists_the_marks_it_took_in_its_chained_record(tmp_path):
    path = imported(tmp_path / "audit.db")
    edited, deleted, _ = marked(path)
    (record,) = import_records(path)
    listed = {entry[0]: entry[1:] for entry in record["marks"]["comments"]}
    found = comments(path)
    assert listed == {i: [found[i]["edited_on"], found[i]["comment_deleted_on"]] for i in (edited, deleted)}
    assert "comments came marked edited or deleted" in record["rechained"]
    assert verify(path)[0] == 0


# T1: the keyed store, the attacker without the key


MARK_CHANGES = {
    "an untouched comment marked deleted (log then hides it)": ("plain", "comment_deleted_on", WHEN),
    "an untouched comment marked edited (show then claims an edit)": ("plain", "edited_on", WHEN),
    "a deleted comment's mark cleared (log shows it again)": ("deleted", "comment_deleted_on", None),
    "an edited comment's time changed": ("edited", "edited_on", WHEN),
    "an edited comment's mark cleared": ("edited", "edited_on", None),
}


@pytest.mark.parametrize("change", list(MARK_CHANGES))
def test_a_changed_mark_on_an_imported_comment_is_caught_with_the_key(tmp_path, change):
    path = imported(tmp_path / "keyed.db", key=KEY)
    ids = dict(zip(("edited", "deleted", "plain"), marked(path, KEY)))
    which, column, value = MARK_CHANGES[change]
    tamper(path, (f"UPDATE activity SET {column} = ? WHERE id = ?", [value, ids[which]]))
    assert caught(path, key=KEY)["id"] == ids[which]


def test_a_changed_list_of_marks_is_caught_with_the_key(tmp_path):
    path = imported(tmp_path / "keyed.db", key=KEY)
    tamper(path, "UPDATE activity SET details = json_set(details, '$.marks.comments', json('[]')) "
                 "WHERE action = 'import'")
    code, report = verify(path, key=KEY)
    assert code == 3, report


def keyed_copy(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """A keyed store of every kind of record, exported whole and imported into an empty store: a copy that kept its
    links, so that every one of its rows carries its source's key."""
    source, trail, copy = tmp_path / "source.db", tmp_path / "trail.jsonl", tmp_path / "copy.db"
    ids = build(source, KEY)
    assert audit("--db", source, "export", "-o", trail, key=KEY).exit_code == 0
    result = audit("--db", copy, "import", trail, key=KEY)
    assert result.exit_code == 0 and "links kept" in result.stderr + result.stdout or verify(copy, key=KEY)[0] == 0
    assert verify(copy, key=KEY)[0] == 0
    return copy, ids


@pytest.mark.parametrize("column", ["comment_deleted_on", "edited_on"])
def test_a_mark_set_on_a_comment_of_a_copy_is_caught_with_the_key(tmp_path, column):
    copy, ids = keyed_copy(tmp_path)
    tamper(copy, (f"UPDATE activity SET {column} = ? WHERE id = ?", [WHEN, ids["other_comment"]]))
    assert caught(copy, key=KEY)["id"] == ids["other_comment"]


def test_a_mark_set_on_a_comment_of_a_mirror_is_caught(tmp_path):
    source, mirror, cursor = tmp_path / "source.db", tmp_path / "mirror.db", tmp_path / "cursor"
    build(source)
    for n in range(2):
        piece = tmp_path / f"piece{n}.jsonl"
        assert audit("--db", source, "export", "--cursor-file", cursor, "-o", piece).exit_code == 0
        assert audit("--db", mirror, "import", piece).exit_code == 0
        audit("--db", source, "comment", "add", "articles", "1", f"piece {n}")
    assert verify(mirror)[0] == 0
    newest = max(comments(mirror))
    tamper(mirror, ("UPDATE activity SET comment_deleted_on = ? WHERE id = ?", [WHEN, newest]))
    caught(mirror)


# the paths that must still verify


def test_comments_imported_then_edited_and_deleted_here_verify(tmp_path):
    path = imported(tmp_path / "keyed.db", key=KEY)
    edited, _, plain = marked(path, KEY)
    for args in (("edit", str(edited), "edited here"), ("delete", str(edited)), ("delete", str(plain))):
        result = audit("--db", path, "comment", *args, key=KEY)
        assert result.exit_code == 0, result.output
    code, report = verify(path, key=KEY)
    assert code == 0, report
    tamper(path, ("UPDATE activity SET comment_deleted_on = NULL WHERE id = ?", [plain]))
    caught(path, key=KEY)


def test_a_whole_export_of_a_directus_import_verifies_and_copies(tmp_path):
    path, trail = imported(tmp_path / "audit.db"), tmp_path / "trail.jsonl"
    assert audit("--db", path, "export", "-o", trail).exit_code == 0
    code, report = verify(tmp_path / "none.db", trail)
    assert code == 0 and "partial" not in report, report
    copy = tmp_path / "copy.db"
    assert audit("--db", copy, "import", trail).exit_code == 0
    assert verify(copy)[0] == 0
    assert import_records(copy) == import_records(path)  # the source's record, kept with its links: it vouches
    assert comments(copy) == comments(path)


def test_a_directus_import_exported_into_a_store_with_history_verifies(tmp_path):
    path, trail, other = imported(tmp_path / "audit.db"), tmp_path / "trail.jsonl", tmp_path / "other.db"
    assert audit("--db", path, "export", "-o", trail).exit_code == 0
    assert audit("--db", other, "record", "create", "-c", "notes", "-i", "1", "--data", '{"n": 1}').exit_code == 0
    assert audit("--db", other, "import", trail).exit_code == 0
    code, report = verify(other)
    assert code == 0, report
    # Chained anew at other ids, the carried record names ids that are not this store's: the new one lists them.
    newest = import_records(other)[0]
    mine = {c["details"].get("directus_comment"): i for i, c in comments(other).items()}
    theirs = {c["details"].get("directus_comment"): c for c in comments(path).values()}
    assert {entry[0] for entry in newest["marks"]["comments"]} == {
        mine[uuid] for uuid, c in theirs.items() if c["edited_on"] or c["comment_deleted_on"]}
    deleted = next(mine[uuid] for uuid, c in theirs.items() if c["comment_deleted_on"])
    tamper(other, ("UPDATE activity SET comment_deleted_on = NULL WHERE id = ?", [deleted]))
    caught(other)


def test_an_upgrade_lists_the_marks_it_verified_and_verify_holds_them(tmp_path):
    """A store of the previous release, whose Directus import wrote no record of the marks it took: the upgrade
    takes them as the old release verified them, in its own chained record, and verify holds them from then on."""
    from .test_upgrade import as_schema_3

    path = imported(tmp_path / "old.db", key=KEY)
    found = comments(path, KEY)
    # As the previous release left it: no import record (removing the newest row is what no verify can tell).
    tamper(path, "DELETE FROM activity WHERE action = 'import'",
           "UPDATE sqlite_sequence SET seq = (SELECT max(id) FROM activity) WHERE name = 'activity'")
    as_schema_3(path)
    assert verify(path, key=KEY)[0] == 0  # upgraded on open
    (upgrade,) = [row["details"] for row in log(path, "--action", "upgrade", key=KEY)]
    assert {entry[0]: entry[1:] for entry in upgrade["marks"]["comments"]} == {
        i: [c["edited_on"], c["comment_deleted_on"]] for i, c in found.items()
        if c["edited_on"] or c["comment_deleted_on"]}
    _, deleted, _ = marked(path, KEY)
    tamper(path, ("UPDATE activity SET comment_deleted_on = NULL WHERE id = ?", [deleted]))
    assert caught(path, key=KEY)["id"] == deleted


# T3: the trail in transit


def _mark_line(rows: list[str], pick, column: str, value) -> None:
    for n, row in enumerate(rows):
        line = json.loads(row)
        if line.get("action") == "comment" and pick(line):
            line[column] = value
            rows[n] = json.dumps(line) + "\n"
            return
    raise AssertionError("no such comment line")


TRAIL_CHANGES = {
    "an untouched comment marked deleted": (lambda c: not c.get("edited_on") and not c.get("comment_deleted_on"),
                                            "comment_deleted_on", WHEN),
    "a deleted comment's mark cleared": (lambda c: c.get("comment_deleted_on"), "comment_deleted_on", None),
    "an edited comment's time changed": (lambda c: c.get("edited_on"), "edited_on", WHEN),
}


@pytest.mark.parametrize("change", list(TRAIL_CHANGES))
def test_a_changed_mark_in_a_directus_import_s_trail_is_caught(tmp_path, change):
    path, trail = imported(tmp_path / "audit.db"), tmp_path / "trail.jsonl"
    assert audit("--db", path, "export", "-o", trail).exit_code == 0
    rows = trail.read_text().splitlines(keepends=True)
    _mark_line(rows, *TRAIL_CHANGES[change])
    trail.write_text("".join(rows))
    for args in ((), ("--partial",)):
        code, report = verify(tmp_path / "none.db", trail, *args)
        assert code == 3 and report["failure"]["kind"] == "modified", (args, report)
    copy = tmp_path / "copy.db"
    result = audit("--db", copy, "import", trail)
    if result.exit_code == 0:  # taken on the import's word, which the chain then says
        assert verify(copy)[0] == 0
        assert "comments came without their edit records" in import_records(copy)[0]["rechained"]
    else:
        assert result.exit_code in (1, 3) and "Traceback" not in result.output
        assert not copy.exists()
