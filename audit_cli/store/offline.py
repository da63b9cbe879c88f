"""Verifying an exported trail without a store: it is imported, with its own chain checked line by line, into a
throw-away store, which is then verified. One code path for what a hash covers, whichever side checks it."""

from __future__ import annotations

import os
import tempfile
from typing import Any

from .. import jsonl
from .integrity import Tampered


def verify_file(source: str, *, chain_key: bytes | None = None) -> dict[str, Any]:
    from . import AuditStore

    with tempfile.TemporaryDirectory(prefix="audit-verify-") as folder:
        with AuditStore.open(os.path.join(folder, "check.db"), create=True, chain_key=chain_key) as store:
            try:
                result = store.import_lines(jsonl.read_lines(source), source=source)
            except Tampered as exc:
                return {"ok": False, "checked": None, "head_id": None, "head": None,
                        "failure": {"kind": "broken", "id": None, "message": str(exc)}}
            report = store.verify()
            report["source"] = source
            report["lines"] = result["added"] + result["duplicates"]
            return report
