"""An upgrade that cannot launder tampering.

A store written by an earlier release is migrated on its first open by this one, in one write transaction: the
migrations, then a verify of the whole chain (with the store's key if it is keyed) inside that transaction, then a
chained `upgrade` record. A store whose chain does not verify is not upgraded: the transaction is rolled back, the
file is left as that release wrote it, and the error carries the verify report. Otherwise the upgrade record says,
in the chain, which schema the store came from and the count and head it verified at (and the marks of the
imported comments it verified, which verify holds them to from then on: store/marks.py), so that a later verify, an
anchor or an export can tell history from before the upgrade from history after it.

Verifying after the migrations rather than before is the same check: a migration only adds tables and columns and
never rewrites a chained row, and verify also holds the schema to exactly what the migrations make, so a trigger or
index planted in the old file is caught here too.
"""

from __future__ import annotations

from typing import Any

from ..errors import CannotCheck, UpgradeRefused
from ..models import Activity
from . import marks
from .connection import SCHEMA_VERSION

ACTION = "upgrade"


def check(store: Any, old_version: int) -> None:
    """Verify the migrated store `store` (inside the migration's transaction) and record the upgrade; raise, which
    rolls the migration back, when the chain does not verify or cannot be checked."""
    what = f"{store.path} was not upgraded from schema {old_version} to {SCHEMA_VERSION}"
    try:
        # Comment marks are what the upgrade record lists from now on: the records before it list none.
        report = store.verify(trust_marks=True)
    except CannotCheck as exc:
        raise CannotCheck(f"{what}: an upgrade verifies the chain first, and {exc}") from None
    if not report["ok"]:
        failure = report["failure"]
        where = f" at activity {failure['id']}" if failure.get("id") is not None else ""
        message = f"{what}: its chain does not verify ({failure['kind']}{where}: {failure['message']}); " \
            "the file is left as it was"
        failure["message"] += f"; so the store was not upgraded from schema {old_version} to {SCHEMA_VERSION}"
        raise UpgradeRefused(message, report=report)
    if report["head_id"] is None:
        return  # nothing recorded yet: no history to vouch for
    details = {"schema": {"from": old_version, "to": SCHEMA_VERSION},
               "verified": {"count": report["checked"], "head": {"id": report["head_id"], "hash": report["head"]}}}
    found = marks.first_marks(store.conn, store.integrity.comment_change_map(), 0, report["head_id"])
    if found:
        details["marks"] = marks.listing(found, 1, report["head_id"])
    store._insert_activity(Activity(ACTION, "*", "*", "", details=details))
