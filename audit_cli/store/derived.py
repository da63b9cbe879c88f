"""What no hash covers, held to what the chain says: the columns and tables that commands read besides the chained
records must be exactly what those records (and the migrations) make them.

Each check returns None, or a failure (kind, activity id, message) as verify reports it. They read the store in
verify's snapshot and never write to it.
"""

from __future__ import annotations

import functools
import sqlite3
from typing import Any

from .pruned import survivors_digest

Failure = tuple[str, int, str]


@functools.lru_cache(maxsize=1)
def expected_schema() -> frozenset[tuple[str, str, str, str | None]]:
    """(type, name, table, sql) of every object the migrations make: a fresh store's, made in memory."""
    from .. import migrations

    conn = sqlite3.connect(":memory:")
    try:
        migrations.apply(conn)
        return frozenset(_objects(conn))
    finally:
        conn.close()


def _objects(conn: sqlite3.Connection) -> list[tuple[str, str, str, str | None]]:
    # SQLite's own tables (sqlite_sequence, sqlite_stat1 from PRAGMA optimize) and their automatic indexes are its
    # bookkeeping, not objects anyone created.
    return [tuple(row) for row in conn.execute(
        "SELECT type, name, tbl_name, sql FROM main.sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")]


def schema_problem(conn: sqlite3.Connection) -> Failure | None:
    """A trigger, view, table or index the migrations did not make (or one of theirs changed) can rewrite or hide
    rows behind every command's back."""
    expected = expected_schema()
    names = {name for _, name, _, _ in expected}
    for kind, name, table, sql in _objects(conn):
        if (kind, name, table, sql) in expected:
            continue
        what = f"the {kind} {name!r} on {table}"
        if name in names:
            return ("modified", 0, f"{what} is not as the store's migrations made it: the schema was altered")
        return ("inserted", 0, f"the store holds {what}, which its migrations did not make: someone added it")
    # The record of what was applied decides what the next upgrade runs, so it too must be what the migrations made.
    from .. import migrations

    applied = [name for (name,) in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if applied != migrations.names() or version != migrations.count():
        return ("modified", 0, "the store's record of its migrations (_sqlite_migrations, user_version) is not "
                "what its migrations wrote: the schema's bookkeeping was altered")
    return None


def placement_problem(conn: sqlite3.Connection) -> Failure | None:
    """Columns outside the hash that must follow from chained records: ids are positive, only comments carry a
    comment's edit state, and a revision belongs to its activity's item."""
    row = conn.execute("SELECT min(id) FROM activity WHERE id <= 0").fetchone()
    if row[0] is not None:
        return ("inserted", row[0], f"activity {row[0]} has an id no store gives (ids start at 1)")
    row = conn.execute(
        "SELECT min(id) FROM activity WHERE action != 'comment' "
        "AND (edited_on IS NOT NULL OR comment_deleted_on IS NOT NULL)").fetchone()
    if row[0] is not None:
        return ("modified", row[0], f"activity {row[0]} is not a comment but is marked as an edited or deleted one")
    row = conn.execute("SELECT min(r.activity) FROM revisions r LEFT JOIN activity a ON a.id = r.activity "
                       "WHERE a.id IS NULL").fetchone()
    if row[0] is not None:
        return ("deleted", row[0], f"activity {row[0]} is missing, though its revision is still there")
    row = conn.execute(
        "SELECT min(r.activity) FROM revisions r JOIN activity a ON a.id = r.activity "
        "WHERE r.collection IS NOT a.collection OR r.item IS NOT a.item").fetchone()
    if row[0] is not None:
        return ("modified", row[0], f"the revision of activity {row[0]} is not on that activity's item")
    return None


def settings_problem(conn: sqlite3.Connection) -> Failure | None:
    """Retention and scope live in chained records: a settings row for them is never read, so one there was
    planted, or left by an older release (set it again with `audit retention set` / `audit scope set`)."""
    identities = conn.execute("SELECT count(*) FROM settings WHERE key = 'store_id'").fetchone()[0]
    if identities != 1:
        # Every local record's key names the store (chain format 2), so no other identity verifies; without one,
        # the records cannot even be read back as they were written.
        return ("deleted", 0, "the store's identity (its store_id setting) is missing: the file was altered")
    row = conn.execute("SELECT key FROM settings WHERE key = 'retention' OR key LIKE 'scope:%' ORDER BY key").fetchone()
    if row is None:
        return None
    return ("inserted", 0, f"the store holds a {row[0]!r} setting outside the chain, which no command applies: "
            "someone planted it, or an older audit left it (set the policy again with `audit retention set` or "
            "`audit scope set`, which chains it and removes the old row)")


def key_check_problem(store: Any) -> Failure | None:
    """A key that the store's key check refuses, though it makes the store's links: the check was changed (a key
    that makes the links is the store's), which is tampering, not a wrong key."""
    first = store.conn.execute("SELECT min(id) FROM activity").fetchone()[0]
    if store.chain_key is None or first is None:
        return None
    integrity = store.integrity
    problems, _ = integrity.scan(first - 1, first, store.chain_key, integrity.comment_change_map())
    if problems:
        return None
    return ("modified", 0, "the store's key check is not the one AUDIT_CHAIN_KEY makes, though that key makes its "
            "chain: the key check was changed")


def compare_rows(kind: str, expected: dict[Any, Any], found: dict[Any, Any]) -> Failure | None:
    """The first difference between two keyed row sets, as a failure naming `kind`."""
    for key in sorted(set(expected) | set(found), key=repr):
        if expected.get(key) != found.get(key):
            what = " ".join(map(str, key)) if isinstance(key, tuple) else str(key)
            if key not in found:
                return ("deleted", 0, f"the {kind} {what} that the chained records make is missing")
            if key not in expected:
                return ("inserted", 0, f"the {kind} {what} is not made by any chained record: someone added it")
            return ("modified", 0, f"the {kind} {what} is not what the chained records make of it")
    return None


def plan_digest(conn: sqlite3.Connection) -> dict[str, Any]:
    """The count and digest of a prune's whole plan (done or not), which its chained record keeps, so that an
    unfinished prune's plan cannot be added to: verify skips nothing on its word."""
    return dict(zip(("count", "digest"), survivors_digest(
        conn.execute("SELECT activity, what FROM prune_plan ORDER BY activity"))))


def rewrites_digest(store: Any) -> dict[str, Any]:
    """What each revision with an attested former digest is now: "removed", or the digest of what it holds. The
    prune that attests the former digests keeps this too (as it leaves the revisions), so that a former digest
    excuses only the exact removal or rewrite that prune made."""
    def states():
        text = store.snapshots.text
        rows = store.conn.execute(
            "SELECT t.activity, p.activity IS NOT NULL, r.version, r.base, r.data, r.delta FROM attested t "
            "LEFT JOIN revisions r ON r.activity = t.activity LEFT JOIN prune_plan p ON p.activity = t.activity "
            "ORDER BY t.activity")
        for activity_id, planned, version, base, data, delta in rows:
            if planned or data is None:
                yield activity_id, "removed"
            else:
                from .. import chain
                from . import codec

                held = text(base, data)
                yield activity_id, chain.revision_digest(held, codec.delta_text(delta, held), version)

    return dict(zip(("count", "digest"), survivors_digest(states())))


def versions_state(store: Any) -> list[dict[str, Any]]:
    """The versions table as a prune record restates it (so that what version activities it removes cannot make
    the table unprovable)."""
    return [{"collection": c, "item": i, "key": k, **row} for (c, i, k), row in sorted(store.versions.state().items())]


def restated_versions(latest: tuple[int, dict[str, Any]] | None) -> tuple[int, dict] | None:
    """(the prune's id, the versions table it restated) to replay the version activities after it from; (0, {})
    without a prune; None for a prune by a release that did not restate versions."""
    if latest is None:
        return 0, {}
    restated = latest[1].get("versions")
    if not isinstance(restated, list):
        return None
    start = {}
    for row in restated:
        if isinstance(row, dict):
            where = (row.get("collection"), row.get("item"), row.get("key"))
            start[where] = {k: v for k, v in row.items() if k not in ("collection", "item", "key")}
    return latest[0], start


def versions_problem(store: Any, latest: tuple[int, dict[str, Any]] | None) -> Failure | None:
    """The versions table (what `version promote` writes to main) must be what the chained version activities make
    of it, from the newest prune's restated table on (or from nothing)."""
    restated = restated_versions(latest)
    if restated is None:
        return None  # a prune by a release that did not restate versions: the table cannot be proven
    return compare_rows("version", store.versions.replayed(*restated), store.versions.state())


def pending_problem(store: Any, latest: tuple[int, dict[str, Any]] | None) -> Failure | None:
    """An unfinished prune is trusted only for the plan its chained record holds, and only for rows not yet
    removed: a row back at an id it already removed was put there."""
    marker = store._setting("prune_pending")
    if latest is None or marker != str(latest[0]) or latest[1].get("plan") != plan_digest(store.conn):
        at = latest[0] if latest else 0
        return ("modified", at, "the store holds an unfinished prune's plan that no prune record made "
                f"(the newest is {'activity ' + str(at) if latest else 'none'}): the plan was altered")
    back = store.conn.execute("SELECT min(p.activity) FROM prune_plan p JOIN activity a ON a.id = p.activity "
                             "WHERE p.done = 1 AND p.what = 'activity'").fetchone()[0]
    if back is not None:
        return ("inserted", back, f"activity {back} was removed by prune {latest[0]}, yet is there again")
    return None


def link_failure(conn: sqlite3.Connection, row: dict[str, Any], prev_id: int | None) -> tuple[str, int, str]:
    """Why a row does not follow the one before it: moved, something inserted before it, or rows deleted."""
    found = conn.execute("SELECT id FROM activity WHERE hash = ?", [row["prev_hash"]]).fetchone()
    if found and found[0] > row["id"]:
        return ("reordered", row["id"], f"activity {row['id']} comes before {found[0]}, which it follows")
    if found:
        first = conn.execute("SELECT min(id) FROM activity WHERE id > ?", [found[0]]).fetchone()[0]
        return ("inserted", first, f"activity {first} was inserted after {found[0]}")
    first = (prev_id or 0) + 1  # ids are never reused, so the first missing one is the next
    missing = f"activity {first}" if first == row["id"] - 1 else f"activities {first} to {row['id'] - 1}"
    return ("deleted", first, f"{missing} (before {row['id']}) {'is' if first == row['id'] - 1 else 'are'} missing")
