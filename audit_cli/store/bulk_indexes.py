"""The indexes a big import drops while it loads and makes again at its end, in the same transaction (so that a
failed or killed import rolls the drop back too): making an index once over sorted keys beats updating it a row at
a time."""

from __future__ import annotations

import os
from typing import Any


def drop(conn: Any, keep: tuple[str, ...]) -> list[str]:
    """Drop the activity and revisions indexes but `keep` and the unique ones (constraints); their definitions."""
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('activity', 'revisions') "
        "AND sql IS NOT NULL").fetchall()
    dropped = []
    for name, sql in rows:
        if name in keep or sql.lstrip().upper().startswith("CREATE UNIQUE"):
            continue
        conn.execute(f'DROP INDEX "{name}"')
        dropped.append(sql)
    return dropped


def make(conn: Any, definitions: list[str]) -> None:
    """Make the dropped indexes again, and the planner's statistics for them."""
    # SQLite sorts each index's keys with worker threads when allowed: 1M lines, 4.1 s to 3.0 s on 2 cores.
    threads = conn.execute("PRAGMA threads").fetchone()[0]
    conn.execute(f"PRAGMA threads = {min(4, os.cpu_count() or 1)}")
    for sql in definitions:
        conn.execute(sql)
    conn.execute(f"PRAGMA threads = {int(threads)}")
    limit = conn.execute("PRAGMA analysis_limit").fetchone()[0]
    conn.execute("PRAGMA analysis_limit = 1000")  # sampled statistics, so that queries plan well
    conn.execute("ANALYZE activity")
    conn.execute("ANALYZE revisions")
    conn.execute(f"PRAGMA analysis_limit = {int(limit)}")
