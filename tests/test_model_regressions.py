"""What the model test (tests/test_model.py) found, each minimised to the steps that show it, through the CLI on
real store files."""

from __future__ import annotations

import json

import pytest

from conftest import Cli


@pytest.fixture
def src(tmp_path) -> Cli:
    return Cli(tmp_path / "source.db")


@pytest.fixture
def mirror(tmp_path) -> Cli:
    return Cli(tmp_path / "mirror.db")


def ship(src: Cli, mirror: Cli, tmp_path, n: int) -> None:
    """One run of the README's incremental shipping: the piece after the cursor, imported into the mirror."""
    piece = tmp_path / f"piece-{n}.jsonl"
    src("export", "--cursor-file", str(tmp_path / "cursor"), "-o", str(piece))
    mirror("import", str(piece))


@pytest.mark.parametrize("prune", [["--keep-revisions", "1"], ["--older-than", "1d"]])
def test_a_mirror_verifies_after_the_source_prunes_what_it_already_shipped(src, mirror, tmp_path, prune):
    # The prune record arrives in a later piece, chained on from what the mirror holds; the mirror still holds what
    # it removed, so it must not be held to that prune's account of the source (found: TAMPERED, exit 3).
    src("record", "create", "a", "1", "--data", '{"x": 1}', "--at", "2025-01-01T01:00:00Z")
    src("record", "update", "a", "1", "--data", '{"x": 2}', "--at", "2025-01-01T02:00:00Z")
    src("record", "create", "a", "2", "--data", '{"x": 1}', "--at", "2025-01-01T03:00:00Z")
    ship(src, mirror, tmp_path, 1)
    src("prune", *prune, "--yes")
    src("verify")
    ship(src, mirror, tmp_path, 2)
    assert mirror("verify").stdout.startswith("OK: 4 activities")
    assert [r["action"] for r in mirror.json("history", "a", "1")] == ["create", "update"]
    src("record", "update", "a", "2", "--data", '{"x": 3}', "--at", "2025-01-01T04:00:00Z")
    ship(src, mirror, tmp_path, 3)
    mirror("verify")


def test_a_copy_of_a_pruned_store_still_answers_to_its_prune(src, tmp_path):
    # The other side of the same rule: a store made from a pruned store's whole export holds only what the prune
    # kept, and its prune record speaks for it, even after later pieces of the source arrive.
    src("record", "create", "a", "1", "--data", '{"x": 1}', "--at", "2025-01-01T01:00:00Z")
    src("record", "update", "a", "1", "--data", '{"x": 2}', "--at", "2025-01-01T02:00:00Z")
    src("prune", "--older-than", "1d", "--yes")
    copy = Cli(tmp_path / "copy.db")
    ship(src, copy, tmp_path, 1)
    assert "pruned up to activity 1" in copy("verify", "--format", "json").stdout
    src("record", "update", "a", "1", "--data", '{"x": 3}', "--at", "2025-01-01T03:00:00Z")
    ship(src, copy, tmp_path, 2)
    assert "pruned up to activity 1" in copy("verify", "--format", "json").stdout


def test_a_copy_of_a_store_pruned_under_a_version_keeps_the_version_and_verifies(src, tmp_path):
    # The version's base revision went by --keep-revisions; the copy remade the version from what was left
    # (no base) instead of the table the prune restated, and verify called the copy tampered (exit 3).
    src("record", "create", "a", "1", "--data", '{"x": 1}', "--at", "2025-01-01T01:00:00Z")
    src("version", "create", "a", "1", "v1")
    src("version", "save", "a", "1", "v1", "--data", '{"y": 1}')
    src("record", "update", "a", "1", "--data", '{"x": 2}', "--at", "2025-01-01T03:00:00Z")
    src("prune", "--keep-revisions", "1", "--yes")
    src("export", "-o", str(tmp_path / "whole.jsonl"))
    copy = Cli(tmp_path / "copy.db")
    copy("import", str(tmp_path / "whole.jsonl"))
    copy("verify")
    ours, theirs = src.json("version", "list"), copy.json("version", "list")
    assert [(v["base_activity"], v["fields"], v["outdated"]) for v in theirs] == \
        [(v["base_activity"], v["fields"], v["outdated"]) for v in ours] == [(1, ["y"], True)]
    src("version", "promote", "a", "1", "v1", "--force")
    copy("version", "promote", "a", "1", "v1", "--force")
    assert copy.json("history", "a", "1")[-1]["action"] == "promote"
    copy("verify")


def test_a_promote_obeys_the_scope_as_every_revision_of_main_does(src):
    # Found: a version staging a field the collection's scope leaves out put it into main on promote.
    src("scope", "set", "b", "--exclude-fields", "body")
    src("record", "create", "b", "1", "--data", '{"x": 1, "body": "left out"}', "--at", "2025-01-01T01:00:00Z")
    src("version", "create", "b", "1", "v1")
    src("version", "save", "b", "1", "v1", "--data", '{"x": 2, "body": "staged"}')
    src("version", "promote", "b", "1", "v1")
    assert json.loads(src("snapshot", "b", "1").stdout) == {"x": 2}
    assert src.json("history", "b", "1")[-1]["action"] == "promote"
    src("version", "create", "b", "1", "v2")
    src("version", "save", "b", "1", "v2", "--data", '{"body": "only this"}')
    src("version", "promote", "b", "1", "v2")  # nothing of it is in scope: no revision, and the version is done
    assert [r["action"] for r in src.json("history", "b", "1")] == ["create", "promote"]
    assert src.json("version", "list") == []
    src("verify")


def test_a_mirror_takes_the_next_piece_after_the_source_rewrote_revisions_to_a_scope(src, mirror, tmp_path):
    # Found: --apply-scopes rewrote the head at the source; the next update's delta is from the rewritten head,
    # which the mirror does not hold, and the mirror refused every piece from then on (exit 1). Fixed by taking
    # each delta within the revision's scope, which an import accepts (patches.same_within_scope).
    src("record", "create", "b", "1", "--data", '{"x": 1, "body": "long"}', "--at", "2025-01-01T01:00:00Z")
    ship(src, mirror, tmp_path, 1)
    src("scope", "set", "b", "--exclude-fields", "body")
    src("prune", "--apply-scopes", "--yes")
    src("record", "update", "b", "1", "--data", '{"x": 2}', "--at", "2025-01-01T02:00:00Z")
    ship(src, mirror, tmp_path, 2)
    assert json.loads(mirror("snapshot", "b", "1").stdout) == {"x": 2}
    mirror("verify")


@pytest.mark.parametrize("prune", [["--keep-revisions", "1"], ["--older-than", "30d"]])
def test_a_mirror_takes_the_next_piece_after_the_source_pruned_revisions_it_never_shipped(src, mirror, tmp_path, prune):
    # Found: the update that added body went before it was shipped (its line comes without its revision, or not
    # at all); the next update's delta removes body, from a state the mirror never held, and the mirror refused
    # that piece and every later one (exit 1). A line whose hash covers its revision is taken as its source wrote
    # it where the mirror cannot hold its delta to the state before (store/heads.py, Heads._unsure).
    src("record", "create", "a", "1", "--data", '{"x": 1}', "--at", "2025-01-01T01:00:00Z")
    ship(src, mirror, tmp_path, 1)
    src("record", "update", "a", "1", "--data", '{"body": "b"}', "--at", "2025-01-01T02:00:00Z")
    src("record", "update", "a", "1", "--patch", '[{"op": "remove", "path": "/body"}]', "--at", "2d")
    src("prune", *prune, "--yes")  # the update that added body goes, unshipped
    ship(src, mirror, tmp_path, 2)
    assert json.loads(mirror("snapshot", "a", "1").stdout) == {"x": 1}
    assert mirror.json("history", "a", "1")[-1]["changed"] == src.json("history", "a", "1")[-1]["changed"]
    src("verify")
    mirror("verify")
    src("record", "update", "a", "1", "--data", '{"x": 2}', "--at", "1d")
    ship(src, mirror, tmp_path, 3)
    assert json.loads(mirror("snapshot", "a", "1").stdout) == {"x": 2}
    mirror("verify")


def test_a_mirror_takes_a_create_after_a_delete_whose_revision_the_source_pruned(src, mirror, tmp_path):
    # The same with a delete: it came without its revision, so the mirror's head was still the first create, and
    # the create after the delete was refused as one of an item that exists.
    src("record", "create", "a", "1", "--data", '{"x": 1}', "--at", "2025-01-01T01:00:00Z")
    ship(src, mirror, tmp_path, 1)
    src("record", "delete", "a", "1", "--at", "2025-01-01T02:00:00Z")
    src("record", "create", "a", "1", "--data", '{"x": 5}', "--at", "2025-01-02T03:00:00Z")
    src("prune", "--keep-revisions", "1", "--yes")
    ship(src, mirror, tmp_path, 2)
    assert json.loads(mirror("snapshot", "a", "1").stdout) == {"x": 5}
    mirror("verify")


def test_an_unchained_line_is_still_held_to_the_state_before(tmp_path):
    # What the rule above does not loosen: a line no hash covers must agree with the item's state here.
    store = Cli(tmp_path / "store.db")
    store("record", "create", "a", "1", "--data", '{"x": 1}')
    line = {"schema": "audit/1", "action": "update", "timestamp": "2026-01-01T00:00:00Z", "collection": "a",
            "item": "1", "revision": {"data": {"x": 1}, "delta": [{"op": "remove", "path": "/body"}]}}
    (tmp_path / "line.jsonl").write_text(json.dumps(line) + "\n")
    assert "patch does not apply" in store.fails("import", str(tmp_path / "line.jsonl"), code=1)
