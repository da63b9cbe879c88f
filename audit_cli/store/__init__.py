"""AuditStore: the one SQLite file that holds activity, revisions and versions. No printing, no CLI."""

from __future__ import annotations

from pathlib import Path

from .activity import ActivityOps
from .connection import SCHEMA_VERSION, connect, writing
from .revisions import RevisionOps
from .transfer import TransferOps
from .versions import VersionOps

__all__ = ["AuditStore", "SCHEMA_VERSION"]


class AuditStore(ActivityOps, RevisionOps, VersionOps, TransferOps):
    """Everything the CLI can ask of a store. Open with `AuditStore.open(path)`; close when done."""

    def __init__(self, conn, path: Path):
        self.conn = conn
        self.path = path
        self._bases = conn.bases  # unpacked revision bases, dropped on rollback (connection.py)

    @classmethod
    def open(cls, path: str | Path, *, create: bool = False) -> AuditStore:
        path = Path(path).expanduser()
        return cls(connect(path, create=create), path)

    def _writing(self):
        return writing(self.conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
