"""Legitimate workflows that must verify: a mirror fed by cursor pieces while the source edits and deletes comments
(their chained records arrive in later pieces and apply), and the pieces concatenated into one trail."""

from __future__ import annotations

import json

from .attack import audit, verify


def shipper(tmp_path):
    """(source, mirror, pieces, ship): ship() exports the source's next cursor piece and imports it into the mirror."""
    source, mirror, cursor = tmp_path / "source.db", tmp_path / "mirror.db", tmp_path / "cursor"
    pieces = []

    def ship():
        piece = tmp_path / f"piece{len(pieces) + 1}.jsonl"
        assert audit("--db", source, "export", "--cursor-file", cursor, "-o", piece).exit_code == 0
        pieces.append(piece)
        result = audit("--db", mirror, "import", piece)
        assert result.exit_code == 0, result.output

    return source, mirror, pieces, ship


def test_a_mirror_fed_by_pieces_across_comment_edits_shows_the_source_and_verifies(tmp_path):
    source, mirror, pieces, ship = shipper(tmp_path)

    audit("--db", source, "record", "create", "-c", "articles", "-i", "1", "--data", '{"t": 1}')
    first = audit("--db", source, "comment", "add", "articles", "1", "first")
    second = audit("--db", source, "comment", "add", "articles", "1", "to go")
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    ship()
    assert audit("--db", source, "comment", "edit", "2", "edited").exit_code == 0
    assert audit("--db", source, "comment", "delete", "3").exit_code == 0
    audit("--db", source, "record", "update", "-c", "articles", "-i", "1", "--data", '{"t": 2}')
    ship()
    assert audit("--db", source, "comment", "edit", "2", "edited twice").exit_code == 0
    ship()

    assert verify(source)[0] == 0
    code, report = verify(mirror)
    assert code == 0, report
    def comments(db):
        rows = json.loads(audit("--db", db, "log", "-a", "comment", "-f", "json").stdout)
        return {row["id"]: (row["comment"], row["comment_deleted_on"]) for row in rows}

    assert comments(mirror) == comments(source) and comments(mirror)[2][0] == "edited twice"

    whole = tmp_path / "whole.jsonl"
    whole.write_bytes(b"".join(piece.read_bytes() for piece in pieces))
    code, report = verify(tmp_path / "none.db", whole)
    assert code == 0, report


def pieces_across_a_prune(tmp_path):
    """(source, mirror, ship): four versions of an item shipped, the source pruned by count, a fifth shipped."""
    source, mirror, _, ship = shipper(tmp_path)
    for n in range(1, 5):
        audit("--db", source, "record", "update" if n > 1 else "create", "-c", "articles", "-i", "1",
              "--data", json.dumps({"t": n}))
    ship()
    assert audit("--db", source, "prune", "--keep-revisions", "2", "--yes").exit_code == 0
    audit("--db", source, "record", "update", "-c", "articles", "-i", "1", "--data", '{"t": 5}')
    ship()
    return source, mirror, ship


def test_a_mirror_fed_by_pieces_across_prunes_at_the_source_verifies(tmp_path):
    """The source prunes (by count and by age) between pieces: its prune records arrive in the mirror as history of
    the source's chain, not as prunes of the mirror's, which still holds every activity it was sent."""
    source, mirror, ship = pieces_across_a_prune(tmp_path)
    assert audit("--db", source, "prune", "--older-than", "0s", "--yes").exit_code == 0
    audit("--db", source, "record", "update", "-c", "articles", "-i", "1", "--data", '{"t": 6}')
    ship()

    assert verify(source)[0] == 0
    code, report = verify(mirror)
    assert code == 0, report
    state = lambda db: json.loads(audit("--db", db, "snapshot", "articles", "1").stdout)  # noqa: E731
    assert state(mirror) == state(source) == {"t": 6}
