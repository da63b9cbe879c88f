"""T3: an exported trail edited in transit. `audit verify FILE` (with the key for a keyed trail, with --anchor when
given) catches modified, inserted, deleted and reordered lines and a cut head or tail; a trail that is partial by
design says so and exits 0 only when --partial asks for a partial check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .attack import KEY, audit, verify


@pytest.fixture
def trail(plain, tmp_path) -> tuple[Path, Path]:
    path, _ = plain
    out, anchor = tmp_path / "trail.jsonl", tmp_path / "anchor.json"
    assert audit("--db", path, "export", "-o", out).exit_code == 0
    assert audit("--db", path, "checkpoint", "-o", anchor).exit_code == 0
    return out, anchor


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def offline(trail: Path, *args, key: str | None = None) -> tuple[int, dict]:
    return verify(trail.parent / "none.db", trail, *args, key=key)


def test_the_whole_trail_verifies_with_and_without_its_anchor(trail):
    out, anchor = trail
    assert offline(out)[0] == 0
    assert offline(out, "--anchor", anchor)[0] == 0


def edited(out: Path, change) -> Path:
    rows = lines(out)
    change(rows)
    out.write_text("".join(rows))
    return out


def _modify(rows):
    doc = json.loads(rows[3])
    doc["user"] = "mallory"
    rows[3] = json.dumps(doc) + "\n"


def _insert(rows):
    doc = json.loads(rows[3])
    rows.insert(4, json.dumps({**doc, "id": 100, "key": "x/100"}) + "\n")


EDITS = {
    "a line modified": _modify,
    "a line deleted": lambda rows: rows.pop(4),
    "two lines swapped": lambda rows: rows.insert(3, rows.pop(4)),
    "a line inserted": _insert,
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_an_edited_whole_trail_is_caught(trail, edit):
    out, _ = trail
    code, report = offline(edited(out, EDITS[edit]))
    assert code == 3, (code, report)


@pytest.mark.parametrize("cut", ["tail", "head"])
def test_a_cut_trail_fails_its_anchor(trail, cut):
    out, anchor = trail
    edited(out, (lambda rows: rows.pop()) if cut == "tail" else (lambda rows: rows.pop(0)))
    code, _ = offline(out, "--anchor", anchor)
    assert code in (1, 3) and code != 0


def test_a_cut_head_is_caught_by_the_trailer_even_as_a_partial_check(trail):
    out, _ = trail
    edited(out, lambda rows: rows.pop(0))
    assert offline(out)[0] == 3
    assert offline(out, "--partial")[0] == 3


def test_a_cut_tail_is_caught_by_the_trailer(trail):
    out, _ = trail
    edited(out, lambda rows: rows.pop(-2))  # the last activity, the trailer kept
    assert offline(out, "--partial")[0] == 3


def test_a_trail_without_its_trailer_is_partial_at_best(trail):
    """Its end is not proven: exit 1, and with --partial 0 only because its lines are one chain from the first."""
    out, _ = trail
    edited(out, lambda rows: rows.pop())
    code, report = offline(out)
    assert code == 1 and "no trailer" in report["partial"]
    assert offline(out, "--partial")[0] == 0


@pytest.mark.parametrize("cut", ["head", "a middle line, its gap marked"])
def test_lines_cut_with_the_trailer_stripped_are_never_accepted(trail, cut):
    """No trailer covers them, and their chain is broken: a removed line cannot be told from a filtered one, so
    not even a partial check passes."""
    out, _ = trail

    def change(rows):
        rows.pop()
        if cut == "head":
            rows.pop(0)
        else:
            rows.pop(4)
            rows[4] = json.dumps({**json.loads(rows[4]), "gap": True}) + "\n"

    code, report = offline(edited(out, change), "--partial")
    assert code == 1 and "uncovered" in report, report


def test_a_filtered_export_is_partial_and_says_so(plain, tmp_path):
    path, _ = plain
    out = tmp_path / "updates.jsonl"
    audit("--db", path, "export", "-a", "update", "-o", out)
    code, report = offline(out)
    assert code == 1 and report.get("partial") or "partial" in report.get("error", "")
    code, report = offline(out, "--partial")
    assert code == 0 and "filtered" in report["partial"]


def test_a_missing_anchor_file_is_an_error_not_ok(trail, tmp_path):
    out, _ = trail
    code, report = offline(out, "--anchor", tmp_path / "missing.json")
    assert code == 1 and "cannot read" in report["error"]


def test_a_keyed_trail_needs_its_key_and_catches_a_change_with_it(keyed, tmp_path):
    path, _ = keyed
    out = tmp_path / "keyed.jsonl"
    assert audit("--db", path, "export", "-o", out, key=KEY).exit_code == 0
    assert offline(out)[0] == 1
    assert offline(out, key=KEY)[0] == 0
    assert offline(edited(out, _modify), key=KEY)[0] == 3


def test_a_deleted_line_hidden_by_a_gap_mark_is_caught_even_as_a_partial_check(trail):
    out, _ = trail

    def hide(rows):
        rows.pop(4)
        rows[4] = json.dumps({**json.loads(rows[4]), "gap": True}) + "\n"

    assert offline(edited(out, hide), "--partial")[0] == 3


def _reseal(rows, keyed: bool) -> None:
    """The attacker's trailer for the lines as they are now: SHA-256 is public, the key is not."""
    from audit_cli import trailer

    lines = [json.loads(row) for row in rows[:-1]]
    segment = trailer.Segment()
    for line in lines:
        segment.add(1, line["id"], line["id"], trailer.line_entry(line["id"], line["hash"]))
    old = json.loads(rows[-1])["trailer"]
    rows[-1] = trailer.make(segment, store=old["store"], head_id=old["head_id"], head_hash=old["head_hash"],
                            keyed=keyed, key=None, after_id=old["after_id"], filters=old["filters"]).decode()


@pytest.mark.parametrize("claims_keyed", [True, False])
def test_a_keyed_trail_whose_trailer_is_forged_without_the_key_is_caught(keyed, tmp_path, claims_keyed):
    path, _ = keyed
    out = tmp_path / "keyed.jsonl"
    assert audit("--db", path, "export", "-a", "update", "-o", out, key=KEY).exit_code == 0

    def hide(rows):
        rows.pop(1)
        rows[1] = json.dumps({**json.loads(rows[1]), "gap": True}) + "\n"
        _reseal(rows, claims_keyed)

    code, report = offline(edited(out, hide), "--partial", key=KEY)
    # as unkeyed: its lines say otherwise; as keyed but sealed without the key: it proves no more than none
    assert (code, "uncovered" in report) == ((3, False) if not claims_keyed else (1, True)), report


def test_a_keyed_trail_exported_without_the_key_says_its_trailer_proves_nothing(keyed, tmp_path):
    path, _ = keyed
    out = tmp_path / "keyed.jsonl"
    result = audit("--db", path, "export", "-o", out)
    assert result.exit_code == 0 and "not sealed" in result.stderr
    code, report = offline(out, key=KEY)
    assert code == 1 and "sealed without the chain key" in report["partial"]


def test_an_unkeyed_trail_resealed_after_a_change_is_caught_by_its_anchor(trail):
    """An unkeyed trail proves nothing to someone who can rewrite it whole; its anchor still does."""
    out, anchor = trail
    edited(out, lambda rows: (rows.pop(-2), _reseal(rows, False)))
    assert offline(out, "--anchor", anchor)[0] != 0


def test_segments_appended_to_one_file_each_verify_by_their_trailer(plain, tmp_path):
    path, _ = plain
    cursor, out = tmp_path / "cursor", tmp_path / "all.jsonl"
    for n in range(2):
        piece = tmp_path / f"piece{n}.jsonl"
        assert audit("--db", path, "export", "--cursor-file", cursor, "-o", piece).exit_code == 0
        audit("--db", path, "record", "update", "-c", "articles", "-i", "1", "--data", json.dumps({"n": n}))
        out.write_bytes(out.read_bytes() + piece.read_bytes() if out.exists() else piece.read_bytes())
    last = tmp_path / "last.jsonl"
    assert audit("--db", path, "export", "--cursor-file", cursor, "-o", last).exit_code == 0
    out.write_bytes(out.read_bytes() + last.read_bytes())
    assert offline(out)[0] == 0
    rows = lines(out)
    middle = next(n for n, row in enumerate(rows) if '"trailer"' in row)
    rows.pop(middle - 1)  # the first piece's last line
    out.write_text("".join(rows))
    assert offline(out, "--partial")[0] == 3


def _marked(action: str, field: str):
    """Set a mark no hash covers (a comment's edit or delete time) on the first line of `action`."""
    def change(rows):
        for n, row in enumerate(rows):
            line = json.loads(row)
            if line.get("action") == action and not line.get(field):
                line[field] = "2026-11-01T11:00:00.000000Z"
                rows[n] = json.dumps(line) + "\n"
                return
        raise AssertionError(f"no {action} line to mark")
    return change


MARKS = {"a comment marked deleted (log then hides it)": ("comment", "comment_deleted_on"),
         "a comment marked edited (show then claims an edit)": ("comment", "edited_on"),
         "an update marked as an edited comment": ("update", "edited_on"),
         "an update marked as a deleted comment": ("update", "comment_deleted_on")}


@pytest.mark.parametrize("mark", MARKS)
def test_a_mark_no_hash_covers_added_to_a_line_is_caught_and_never_obeyed(trail, mark, tmp_path):
    out, _ = trail
    changed = edited(out, _marked(*MARKS[mark]))
    for args in ((), ("--partial",)):
        code, report = offline(changed, *args)
        assert code == 3 and report["failure"]["kind"] == "modified", (args, report)
    copy = tmp_path / "copy.db"
    result = audit("--db", copy, "import", changed)
    if result.exit_code == 0:
        # Taken in, the mark is the import's word, not the trail's: the chain says so, and verify holds it to that.
        shown = {row["action"] for row in json.loads(audit("--db", copy, "log", "--format", "json").stdout)}
        assert "import" in shown
        details = json.loads(audit("--db", copy, "log", "--action", "import", "--format", "json").stdout)[0]
        assert "comments came without their edit records" in details["details"]["rechained"]
        assert verify(copy)[0] == 0
    else:
        assert result.exit_code == 1 and ("edited or deleted comment" in result.stderr or "chained edit" in result.stderr)
        assert not copy.exists()

