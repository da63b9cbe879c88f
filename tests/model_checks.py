"""The checks tests/test_model.py makes after every step: the real stores (read through the CLI) and the archives
on disk against the model (tests/model_store.py)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from conftest import Cli
from lines import activity_lines
from model_store import Act, Model


def exported(cli: Cli) -> list[dict]:
    return activity_lines(cli("export", "-o", "-").stdout)


def read_lines(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return activity_lines(f.read())  # (not the trailer each export or archive night ends with)


def source_holds_the_model(src: Cli, m: Model, items: set[tuple[str, str]]) -> None:
    lines = exported(src)
    assert [line["id"] for line in lines] == list(m.acts), "the source's activities are not the model's"
    for line in lines:
        check_line(line, m.acts[line["id"]])
    for coll, item in sorted(items):
        check_item(src, coll, item, m.mainline(coll, item))
    shown = {(v["collection"], v["item"], v["key"]): v for v in src.json("version", "list")}
    assert sorted(shown) == sorted(m.versions)
    for where, version in m.versions.items():
        assert shown[where]["fields"] == sorted(version["staged"]), where
        head = m.head(*where[:2])
        assert shown[where]["outdated"] == (head is None or head.id != version["base"]), where
    src("verify")


def mirror_shows_what_the_source_shows(src: Cli, mirror: Cli, m: Model, items: set[tuple[str, str]]) -> None:
    # (but for the mirror's own records of imports that chained a piece anew: its provenance, not the source's)
    lines = [line for line in exported(mirror) if not (line["action"] == "import" and line["collection"] == "*")]
    assert [line["key"] for line in lines] == list(m.mirror), "the mirror's activities are not the model's"
    for line in lines:
        check_line(line, m.mirror[line["key"]])
    for coll, item in sorted(items):
        check_item(mirror, coll, item, m.mainline(coll, item, m.mirror), history=False)
    shown = {(v["collection"], v["item"], v["key"]): v["fields"] for v in mirror.json("version", "list")}
    assert shown == {where: sorted(staged) for where, staged in m.mirror_versions().items()}
    # Line for line, what both hold is the same activity, but for what the source changed since it shipped it
    # (a comment edited, a revision rewritten to its scope).
    source = {line["key"]: line for line in exported(src)}
    for line in lines:
        theirs, act = source.get(line["key"]), m.mirror[line["key"]]
        if theirs is None:
            continue
        for name in ("action", "user", "timestamp", "collection", "item", "details"):
            assert line[name] == theirs[name], (name, line, theirs)
        here = m.acts[theirs["id"]]
        if (act.comment, act.deleted) == (here.comment, here.deleted):
            assert (line["comment"], line["comment_deleted_on"]) == (theirs["comment"], theirs["comment_deleted_on"])
        if line["revision"] and theirs["revision"] and not here.rewritten:
            assert line["revision"]["data"] == theirs["revision"]["data"], line["key"]
    mirror("verify")


def archives_and_store_hold_all_ever_recorded(m: Model) -> None:
    for path, expected in m.archives.items():
        lines = read_lines(Path(path))
        assert [line["key"] for line in lines] == [a.key for a in expected], f"{path} is not what its prunes removed"
        for line, act in zip(lines, expected):
            check_line(line, act)
    held = {a.key: a for a in m.acts.values()}
    archived: dict[str, list[Act]] = {}  # an activity's revision and then the activity itself may go apart
    for lines in m.archives.values():
        for act in lines:
            archived.setdefault(act.key, []).append(act)
    for key, first in m.ever.items():
        if key in m.let_go:  # pruned without --archive: gone by design
            continue
        assert key in held or key in archived, f"{key} ({first.action}) is in neither the store nor an archive"
        if first.has_rev:
            kept = [a for a in [held.get(key), *archived.get(key, [])] if a is not None and a.has_rev]
            assert kept, f"the revision of {key} ({first.action}) is in neither the store nor an archive"


def check_line(line: dict, act: Act) -> None:
    """One exported line against the model's activity."""
    where = f"{act.action} {act.key}"
    assert (line["action"], line["collection"], line["item"]) == (act.action, act.coll, act.item), (line, act)
    assert line["key"] == act.key, where
    if act.ts is not None:
        assert line["timestamp"] == act.ts, where
    if act.has_rev:
        assert line["revision"] is not None and line["revision"]["data"] == act.data, (where, line, act)
        assert line["revision"].get("version") == act.version, where
    else:
        assert line["revision"] is None, (where, line)
    if act.action == "comment":
        assert line["comment"] == act.comment and (line["comment_deleted_on"] is not None) == act.deleted, \
            (where, line, act)


def check_item(cli: Cli, coll: str, item: str, line: list[Act], *, history: bool = True) -> None:
    """`history` lists the revisions the model holds, and `snapshot` shows the current state (exit 1 when the item
    has no revision, or is deleted)."""
    if history:
        if not line:
            cli.fails("history", coll, item, code=1)
        else:
            assert [r["activity"] for r in cli.json("history", coll, item)] == [a.id for a in line], (coll, item)
    if not line or line[-1].action == "delete":
        cli.fails("snapshot", coll, item, code=1)
    else:
        assert json.loads(cli("snapshot", coll, item).stdout) == line[-1].data, (coll, item)
