"""AuditStore: the one SQLite file that holds activity, revisions and versions. No printing, no CLI."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import upgrade
from .activity import ActivityOps
from .connection import MEMORY, SCHEMA_VERSION, connect, writing
from .integrity import IntegrityOps
from .policy import PolicyOps
from .prune import PruneOps
from .recorder import Recorder
from .snapshots import Snapshots
from .revisions import RevisionOps
from .transfer import TransferOps
from .versions import VersionOps

__all__ = ["AuditStore", "SCHEMA_VERSION"]


class AuditStore(ActivityOps, RevisionOps, VersionOps, TransferOps, IntegrityOps, PolicyOps, PruneOps):
    """Everything the CLI can ask of a store. Open with `AuditStore.open(path)`; close when done."""

    def __init__(self, conn, path: Path, chain_key: bytes | None = None):
        self.conn = conn
        self.path = path
        self.chain_key = chain_key
        self.snapshots = Snapshots(conn)
        # Every activity row is made and written by the recorder (store/recorder.py); `_deferring` is on inside
        # `batching()`, where records gather their rows there instead of writing each at once.
        self._recorder = Recorder(conn, store_id=self.store_id, chain_key=self._chain_key, snapshots=self.snapshots)
        self._deferring = False

    @classmethod
    def open(cls, path: str | Path, *, create: bool = False, chain_key: bytes | None = None) -> AuditStore:
        """Open (or with `create`, make) the store at `path`. `chain_key` keys its hash chain (HMAC)."""
        path = Path(path) if str(path) == MEMORY else Path(path).expanduser()
        return cls(connect(path, create=create, upgrade=lambda conn, old: upgrade.check(cls(conn, path, chain_key), old)),
                   path, chain_key)

    @property
    def in_memory(self) -> bool:
        """A store opened as ":memory:": no file, so nothing another process could open."""
        return str(self.path) == MEMORY

    def checkpoint_wal(self) -> None:
        """Copy the WAL into the store and empty it, so that the file's size is the store's: what the prune just
        wrote sits in the WAL until then, and a size taken with it counts those pages twice."""
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (a savepoint inside another), which first writes the rows a batch gathered, so
        that what it reads and writes comes after them."""
        outer = not self.conn.in_transaction
        self.settle()
        try:
            with writing(self.conn) as conn:
                yield conn
                self._recorder.flush()
        except BaseException:
            # Rolled back: what the recorder gathered or kept since it settled is gone with it.
            self._recorder.discard()
            raise
        finally:
            if outer:
                self._recorder.discard()
                self._deferring = False

    @contextmanager
    def batching(self) -> Iterator[None]:
        """One transaction in which `record` gathers rows and writes them together (store/recorder.py)."""
        with self._writing():
            was, self._deferring = self._deferring, True
            try:
                yield
            finally:
                self._deferring = was

    def settle(self) -> None:
        """Write the rows a batch gathered, and have the recorder read the store again when next it needs to: what
        comes next may read them, or write without it."""
        self._recorder.flush()
        self._recorder.forget()

    def close(self) -> None:
        if getattr(self.conn, "wrote", False):
            # SQLite's advice for long-lived databases: keep the planner's statistics fresh after writing.
            try:
                self.conn.execute("PRAGMA optimize")
            except sqlite3.Error:
                pass  # busy or read-only: the next writer runs it
        self.conn.close()

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
