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


def test_a_cut_head_is_not_ok_without_partial(trail):
    out, _ = trail
    edited(out, lambda rows: rows.pop(0))
    assert offline(out)[0] != 0
    assert offline(out, "--partial")[0] == 0  # asked for: each line's hash and the links between them hold


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


@pytest.mark.xfail(strict=True, reason="exports carry no chained trailer yet; a deleted line followed by a gap mark "
                   "passes as a filtered trail with --partial (issue 13)")
def test_a_deleted_line_hidden_by_a_gap_mark_is_caught_even_as_a_partial_check(trail):
    out, _ = trail

    def hide(rows):
        rows.pop(4)
        rows[4] = json.dumps({**json.loads(rows[4]), "gap": True}) + "\n"

    assert offline(edited(out, hide), "--partial")[0] == 3
