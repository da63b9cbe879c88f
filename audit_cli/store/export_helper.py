"""The helper process of a big export: it writes every other block of ids from the same snapshot and sends them
through a pipe, so that an export uses two cores (store/export.py)."""

from __future__ import annotations

import dataclasses
import pickle
import signal
import struct
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

from .. import query
from ..models import LogQuery
from . import helpers
from .export import HELD, Export, Part, _first_previous


class _Helper:
    """The odd blocks of a big export, written by a helper process and sent through a pipe, while this process writes
    the even ones: two cores.

    Both must read one snapshot of the store. Every write through audit adds an activity, so the helper's snapshot is
    this one exactly when it sees the same highest id, which it checks before writing anything. If it did not see it,
    or stops for any reason, this process writes the rest, from the last line the helper sent."""

    def __init__(self, process: subprocess.Popen):
        self.process = process

    @classmethod
    def start(cls, store: Any, q: LogQuery, fmt: str, blocks: list[tuple[int, int]], last: int) -> _Helper | None:
        """`last`: the highest id this process sees."""
        request = pickle.dumps({"db": str(store.path), "q": q, "fmt": fmt, "blocks": blocks, "last": last})
        try:
            process = helpers.start(_HELPER, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            process.stdin.write(request)
            process.stdin.close()
        except OSError:
            return None
        helpers.widen(process.stdout)
        return cls(process)

    def frames(self) -> Iterator[tuple[bool, str, Part]]:
        """The frames of its next block, as (last of the block, hash of the last line, the Part); ends without a
        last frame when the helper stopped or saw another snapshot."""
        read = self.process.stdout.read
        while True:
            try:
                head = read(_FRAME.size)
                if len(head) < _FRAME.size:
                    return
                kind, count, first_id, last_id, length, size, entries_size = _FRAME.unpack(head)
                hash_ = read(length)
                chunk = read(size) if size else b""
                entries = read(entries_size) if entries_size else b""
            except (OSError, ValueError):
                return
            if kind not in (b"l", b"e") or len(hash_) < length or len(chunk) < size or len(entries) < entries_size:
                return  # "s": another snapshot
            yield kind == b"e", hash_.decode(), Part(count, first_id, last_id, chunk, entries)
            if kind == b"e":
                return

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.process.stdout.close()


_HELPER = "from audit_cli.store.export_helper import helper; helper()"
# kind (l: lines, e: the block's last lines, s: another snapshot), lines, first and last id, and the sizes of the
# hash of the last line, of the lines' bytes and of their trailer entries, which follow
_FRAME = struct.Struct("<cQQQQQQ")


def helper() -> None:
    """The export helper's process: read the request, check the snapshot, write the odd blocks to stdout."""
    from . import AuditStore

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the exporting process decides what an interrupt does
    request = pickle.loads(sys.stdin.buffer.read())
    out = sys.stdout.buffer
    q, blocks = request["q"], request["blocks"]
    with AuditStore.open(request["db"]) as store:
        conn = store.conn
        conn.execute("BEGIN")
        if conn.execute("SELECT coalesce(max(id), 0) FROM activity").fetchone()[0] != request["last"]:
            out.write(_FRAME.pack(b"s", 0, 0, 0, 0, 0, 0))
            return
        export = Export(store, q, fmt=request["fmt"], helper=False)
        previous = _first_previous(conn, q)
        for number in range(1, len(blocks), 2):
            low, high = blocks[number]
            # The line before the block: the last of the one before (the exporting process's) or, if that has none,
            # this process's own last one.
            clause, params = query.where(dataclasses.replace(q, after_id=blocks[number - 1][0], max_id=low))
            row = conn.execute(f"SELECT hash FROM activity WHERE {clause} ORDER BY id DESC LIMIT 1", params).fetchone()
            if row:
                previous = row[0]
            held: list[Part] = []
            size = 0
            for part in export._part(dataclasses.replace(q, after_id=low, max_id=high), previous):
                held.append(part)
                size += len(part.data)
                if size >= HELD:  # a block of huge lines: send it in parts (this process then waits)
                    _send(out, b"l", export.previous, held)
                    held, size = [], 0
            previous = export.previous
            _send(out, b"e", previous, held)


def _send(out: Any, kind: bytes, hash_: str, parts: list[Part]) -> None:
    hashed = hash_.encode()
    count = sum(part.count for part in parts)
    first_id = parts[0].first_id if parts else 0
    last_id = parts[-1].last_id if parts else 0
    out.write(_FRAME.pack(kind, count, first_id, last_id, len(hashed), sum(len(part.data) for part in parts),
                          sum(len(part.entries) for part in parts)))
    out.write(hashed)
    for part in parts:
        out.write(part.data)
    for part in parts:
        out.write(part.entries)
    out.flush()
