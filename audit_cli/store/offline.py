"""Verifying an exported trail without a store: it is imported, with its own chain checked line by line, into a
throw-away store, which is then verified as a store is. One code path for what a hash covers, whichever side
checks it."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from .. import anchors, chain, jsonl, trailer
from .integrity import CannotCheck, Tampered
from .importer import ImportError_


def verify_file(source: str, *, chain_key: bytes | None = None, anchor: dict[str, Any] | None = None,
                public_key: bytes | None = None) -> dict[str, Any]:
    """Verify an exported trail as if it were the store it came from; with `anchor`, the trail must extend it (and
    with `public_key`, the anchor must be signed by it)."""
    if anchor is not None:
        anchors.parse(anchor)
        if public_key is not None:
            anchors.check_signature(anchor, public_key)
    keyed = _check_first_line(source, chain_key)
    report = _as_store(source, chain_key, anchor, keep_links=True, verify=False, as_given=True)
    finding = report.pop("trailers", None)
    if finding is None:  # the import stopped at a line (or a trailer) that shows an edit
        return report
    # A failing line names what was changed; a trailer's failure wins where the lines alone would pass as partial.
    if keyed and finding.failure is None:
        for number, said in finding.sealed_at:
            if said["keyed"] is not True:  # a keyed trail's trailer made anew without the key, as unkeyed
                finding.failure = ("modified", number, "the trailer says its trail is not keyed, but its lines are")
                break
    if finding.failure is not None and (report["ok"] or report.get("gaps") or report.get("continues")):
        kind, number, message = finding.failure
        return {**report, "ok": False, "failure": {"kind": kind, "id": _id_at(source, number),
                                                   "message": f"line {number}: {message}"}}
    whole = report["ok"]
    if not report["ok"] and (report.get("gaps") or report.get("continues")) and \
            report["failure"]["kind"] in ("deleted", "inserted", "reordered"):
        # Not a whole chain (a filtered export, an archive, an incremental export's piece): check it as an import
        # does, every line's hash and every link between the gaps the export marked; that is all a part of a chain
        # can show, with its trailers saying which lines the export wrote.
        gaps, continues = report.get("gaps"), report.get("continues")
        report = _as_store(source, chain_key, None, keep_links=False, verify=True, as_given=False)
        report.pop("trailers", None)
        if report["ok"] and anchor is not None:
            failure = _anchor_in_part(source, anchor)
            if failure is not None:
                report.update(ok=False, failure=dict(zip(("kind", "id", "message"), failure)))
        if report["ok"]:
            why = ("where its prunes kept activities then, each prune's own record among them, which later prunes "
                   "may have added after them"
                   if _archive(finding) else "a filtered trail")
            parts = [f"{gaps} gap{'s' if gaps != 1 else ''} marked by the export ({why})"] if gaps else []
            if _archive(finding) and not continues:
                parts.append("it starts at the chain's first activity")
            if continues:
                parts.append(f"it starts after a line it does not hold (hash {continues[:16]}; an incremental "
                             "export's piece)")
            report["partial"] = f"{'; '.join(parts)}: each line's hash and the links between gaps were checked"
    if report["ok"]:
        _extent(report, finding, whole, anchor)
    return _unproven(report)


def _extent(report: dict[str, Any], finding: trailer.Finding, whole: bool, anchor: dict[str, Any] | None) -> None:
    """What the trailers prove of the trail's extent, added to an intact report: a failure when they contradict the
    anchor, a note of what is not proven (`partial`), and `uncovered` when lines no trailer covers could hide a
    removed line (no check can accept those, not even a partial one)."""
    notes = []
    last = finding.segments[-1] if finding.segments else None
    if anchor is not None and any(seen["store"] != anchor["store"] for seen in finding.segments):
        report.update(ok=False, failure={"kind": "identity", "id": None, "message":
                      "the trail's trailer names another store than the anchor's: it is not that store's trail"})
        return
    if finding.tail:
        where = (f"the {finding.tail} line{'s' if finding.tail != 1 else ''} after the last trailer"
                 if last else "this trail has no trailer (cut, or written without one): its lines")
        notes.append(f"{where} could have lost lines at the end unseen")
    elif whole and _archive(finding) and last["last_id"] == report.get("head_id"):
        # What a prune removes is the oldest history: an archive never reaches its store's head, and one that is a
        # whole chain from the first activity is all of it. (Nights appended are one only when nothing their prunes
        # kept lies between them, their own prune records included, until a later prune removes those too.)
        prunes = len(finding.segments)
        report["archive"] = (f"a prune archive: every activity from the first to activity {report['head_id']}, one "
                             f"chain, the lines of {prunes} prune{'s' if prunes != 1 else ''} each as its trailer "
                             "sealed them; what its store kept after them is not in it, and a later prune's lines "
                             "cut from its end would not show here (the store's last prune record says where they "
                             "end: audit verify on the store)")
    elif whole and last is not None and (last["head_id"], last["head_hash"]) != (
            report.get("head_id") or 0, report.get("head") or chain.GENESIS):
        notes.append(f"it ends at activity {report.get('head_id') or 0}, before the head its store had when it was exported "
                     f"(activity {last['head_id']}): cut there by the export (--limit, --until) or since")
    if finding.uncovered_breaks:
        report["uncovered"] = (f"{finding.uncovered_breaks} of its lines that no trailer sealed with the key covers "
                               "do not follow the line before them: a removed line cannot be told there from a "
                               "filtered one")
    if finding.unsealed:
        notes.append("its trailer was sealed without the chain key (exported without AUDIT_CHAIN_KEY): anyone could "
                     "have written it")
    if finding.skipped:
        notes.append("a trailer covers lines that were not valid records, so it was not checked")
    if notes:
        report["partial"] = "; ".join(([report["partial"]] if report.get("partial") else []) + notes)


def _archive(finding: trailer.Finding) -> bool:
    """Whether every part of the file is a prune's archive (its trailer's filters say so)."""
    return bool(finding.segments) and all(seen.get("filters") == {"pruned": True} for seen in finding.segments)


def _check_first_line(source: str, chain_key: bytes | None) -> bool:
    """Refuse what is no trail at all (nothing to vouch for), and a keyed trail without its key; whether it is
    keyed."""
    for _, text in jsonl.read_lines(source):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except ValueError:
            line = None
        if not isinstance(line, dict) or not ("action" in line or trailer.MEMBER in line) or \
                line.get("schema", "audit/1") != "audit/1":
            raise CannotCheck(f"{source} is not an audit/1 trail: its first line is not an activity or a trailer")
        keyed = line.get("keyed") is True or (line.get(trailer.MEMBER) or {}).get("keyed") is True
        if chain_key is None and keyed:
            raise CannotCheck("this trail's chain is keyed: set AUDIT_CHAIN_KEY to its key to verify it")
        return keyed
    raise CannotCheck(f"{source} holds no lines: an export writes at least its trailer, so this is not one")


def _unproven(report: dict[str, Any]) -> dict[str, Any]:
    """Say so when edited comments came without their edits: their hashes cover their first text, which their lines
    carry; what they say now, only the edits would prove."""
    count = report.pop("originals", 0)
    report.pop("continues", None)
    if report["ok"] and count and not report.get("partial"):
        # A whole trail holds every chained edit and delete: a comment said to be edited or deleted without one
        # was changed on its line.
        report.update(ok=False, failure={"kind": "modified", "id": None, "message": (
            f"{count} comment{'s are' if count > 1 else ' is'} edited or deleted on {'their' if count > 1 else 'its'} "
            "line with no edit record, in a trail that is otherwise whole: the line was changed")})
        return report
    if report["ok"] and count:
        note = (f"{count} edited or deleted comment{'s' if count > 1 else ''} came without "
                f"{'their' if count > 1 else 'its'} edit records: checked against the first text the line carries; "
                "the text and marks now are not covered")
        report["partial"] = f"{report['partial']}; {note}" if report.get("partial") else note
    return report


def _anchor_in_part(source: str, anchor: dict[str, Any]) -> tuple[str, int, str] | None:
    """A part of a trail proves no more of an anchor than that its head is there, with the anchored hash."""
    highest = 0
    for _, text in jsonl.read_lines(source):
        try:
            line = json.loads(text)
        except ValueError:
            continue
        if isinstance(line, dict) and isinstance(line.get("id"), int):
            highest = max(highest, line["id"])
            if line["id"] == anchor["head_id"]:
                if line.get("hash") != anchor["head_hash"]:
                    return ("head mismatch", anchor["head_id"], f"activity {anchor['head_id']} does not have the "
                            "hash the anchor recorded: the chain was rewritten")
                return None
    if highest < anchor["head_id"]:
        return ("truncated", highest + 1, f"the trail ends at {highest} but the anchor saw {anchor['head_id']}")
    return ("deleted", anchor["head_id"], f"activity {anchor['head_id']}, the anchor's head, is not in this part of "
            "the trail: it cannot show that it extends the anchor")


def _as_store(source: str, chain_key: bytes | None, anchor: dict[str, Any] | None, **how: Any) -> dict[str, Any]:
    from . import AuditStore

    with tempfile.TemporaryDirectory(prefix="audit-verify-") as folder:
        with AuditStore.open(os.path.join(folder, "check.db"), create=True, chain_key=chain_key) as store:
            try:
                result = store.import_lines(jsonl.read_lines(source), source=source, note_rechained=False, **how)
            except ImportError_ as exc:  # a line that is not even a valid record was changed, or a trailer's lines
                return {"ok": False, "checked": None, "head_id": None, "head": None, "source": source,
                        "failure": {"kind": exc.kind, "id": _id_at(source, exc.line), "message": str(exc)}}
            except Tampered as exc:
                return {"ok": False, "checked": None, "head_id": None, "head": None, "source": source,
                        "failure": {"kind": "broken", "id": None, "message": str(exc)}}
            # The import judged the comments' marks against the records the lines carried (given_links).
            report = store.verify(anchor=anchor, identity=None, trust_marks=True) if how.get("keep_links") \
                else {"ok": True}
            if report["ok"] and result["breaks"]:
                # The ids put the lines back in order for the store, but the file itself was reordered.
                number, activity_id = result["breaks"][0]
                report.update(ok=False, failure={"kind": "reordered", "id": activity_id, "message":
                              f"line {number} (activity {activity_id}) does not follow the line before it"})
            report.update(source=source, lines=result["added"] + result["duplicates"], gaps=result["gaps"],
                          originals=result.get("originals", 0), continues=result.get("continues"),
                          trailers=result["trailers"])
            return report


def _id_at(source: str, number: int | None) -> int | None:
    for at, line in jsonl.read_lines(source):
        if at == number:
            try:
                value = json.loads(line).get("id")
            except (ValueError, AttributeError):
                return None
            return value if isinstance(value, int) else None
    return None
