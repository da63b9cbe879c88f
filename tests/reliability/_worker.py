"""Run by the reliability tests as separate processes: `python _worker.py MODE DB ...`, printing JSON lines.

record DB WORKER COUNT GO [OUT]
    one store open for the whole loop; waits for the file GO to exist, then records COUNT activities (logins, creates
    and merges onto its own item, merges onto the shared item), each with the details marker wWORKER-I; writes
    {"marker", "id"} per committed record to stdout, or to the file OUT (flushed at once, so a killed loop has
    written what it was told was committed, less at most a torn last line; a file, because a pipe nobody reads
    fills up and would stop the loop at a write rather than in a transaction).
"""

from __future__ import annotations

import json
import os
import sys
import time


def record(db: str, worker: int, count: int, go: str, out_path: str | None = None) -> None:
    from audit_cli.models import Activity
    from audit_cli.store import AuditStore

    deadline = time.monotonic() + 60
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            raise SystemExit("no go signal")
        time.sleep(0.002)
    last = 0
    out = open(out_path, "w") if out_path else sys.stdout
    with AuditStore.open(db, create=True) as store:
        for i in range(count):
            marker = f"w{worker}-{i}"
            details = {"marker": marker, "worker": worker, "seq": i}
            kind = i % 4
            if i == 0:
                done = store.record(Activity("create", "own", f"w{worker}", "", details=details),
                                    data={"worker": worker, "seq": 0})
            elif kind == 1:  # a merge onto an item every worker changes: a lost update would lose a key
                done = store.record(Activity("update", "shared", "all", "", details=details),
                                    data={f"w{worker}": i})
            elif kind == 2:
                done = store.record(Activity("update", "own", f"w{worker}", "", details=details), data={"seq": i})
            else:
                done = store.record(Activity("login", "users", f"w{worker}", "", user=f"worker{worker}",
                                             details=details))
            new_id = done.activity["id"]
            if not new_id > last:
                raise SystemExit(f"id {new_id} after {last}")
            last = new_id
            out.write(json.dumps({"marker": marker, "id": new_id}) + "\n")
            out.flush()


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "record":
        record(args[0], int(args[1]), int(args[2]), args[3], *args[4:5])
    else:
        raise SystemExit(f"unknown mode {mode}")
