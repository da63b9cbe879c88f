"""Verifying an exported trail without a store: it is imported, with its own chain checked line by line, into a
throw-away store, which is then verified as a store is. One code path for what a hash covers, whichever side
checks it."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from .. import anchors, jsonl
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
    if chain_key is None:
        for _, line in jsonl.read_lines(source):
            if line.strip():
                if b'"keyed":true' in line.replace(b" ", b""):
                    raise CannotCheck("this trail's chain is keyed: set AUDIT_CHAIN_KEY to its key to verify it")
                break
    report = _as_store(source, chain_key, anchor, keep_links=True, verify=False, as_given=True)
    if report["ok"] or not (report.get("gaps") or report.get("continues")) or \
            report["failure"]["kind"] not in ("deleted", "inserted", "reordered"):
        return _unproven(report)
    # Not a whole chain (a filtered export, an archive, an incremental export's piece): check it as an import does,
    # every line's hash and every link between the gaps the export marked; that is all a part of a chain can show.
    partial = _as_store(source, chain_key, None, keep_links=False, verify=True, as_given=False)
    if partial["ok"] and anchor is not None:
        failure = _anchor_in_part(source, anchor)
        if failure is not None:
            partial.update(ok=False, failure=dict(zip(("kind", "id", "message"), failure)))
    if partial["ok"]:
        parts = [f"{report['gaps']} gap{'s' if report['gaps'] != 1 else ''} marked by the export (a filtered trail)"] if report.get("gaps") else []
        if report.get("continues"):
            parts.append(f"it starts after a line it does not hold (hash {report['continues'][:16]}; an "
                         "incremental export's piece)")
        partial.update(partial=f"{'; '.join(parts)}: each line's hash and the links between gaps were checked")
    return _unproven(partial)


def _unproven(report: dict[str, Any]) -> dict[str, Any]:
    """Say so when edited comments came without their edits: their hashes cover their first text, which their lines
    carry; what they say now, only the edits would prove."""
    count = report.pop("originals", 0)
    report.pop("continues", None)
    if report["ok"] and count:
        note = (f"{count} edited comment{'s' if count > 1 else ''} came without {'their' if count > 1 else 'its'} "
                "edit records: checked against the first text the line carries; the text now is not covered")
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
                result = store.import_lines(jsonl.read_lines(source), source=source, **how)
            except ImportError_ as exc:  # a line that is not even a valid record was changed
                return {"ok": False, "checked": None, "head_id": None, "head": None, "source": source,
                        "failure": {"kind": "modified", "id": _id_at(source, exc.line), "message": str(exc)}}
            except Tampered as exc:
                return {"ok": False, "checked": None, "head_id": None, "head": None, "source": source,
                        "failure": {"kind": "broken", "id": None, "message": str(exc)}}
            report = store.verify(anchor=anchor, identity=None) if how.get("keep_links") else {"ok": True}
            if report["ok"] and result["breaks"]:
                # The ids put the lines back in order for the store, but the file itself was reordered.
                number, activity_id = result["breaks"][0]
                report.update(ok=False, failure={"kind": "reordered", "id": activity_id, "message":
                              f"line {number} (activity {activity_id}) does not follow the line before it"})
            report.update(source=source, lines=result["added"] + result["duplicates"], gaps=result["gaps"],
                          originals=result.get("originals", 0), continues=result.get("continues"))
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
