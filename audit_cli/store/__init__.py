"""AuditStore: the one SQLite file that holds activity, revisions and versions. No printing, no CLI."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .. import chain
from ..errors import CannotCheck, Damaged, StoreError
from ..models import DATA_ACTIONS, Activity, Recorded
from . import upgrade
from .activity import check_request
from .connection import MEMORY, SCHEMA_VERSION, connect, writing
from .integrity import Integrity
from .policy import SET_ACTIONS, Policy
from .prune import Prunes
from .reader import Reader
from .recorder import FLUSH_ROWS, HEAD_AND_NEXT, NewRevision, Recorder
from .snapshots import Snapshots
from .revisions import RevisionOps
from .transfer import Transfers
from .versions import Versions

__all__ = ["AuditStore", "SCHEMA_VERSION"]


class _By:
    """A public method of the store that one of its parts answers: `_By("policies", "scope")` makes `store.scope`
    the method `store.policies.scope`."""

    def __init__(self, part: str, name: str):
        self.part, self.name = part, name

    def __get__(self, store: Any, owner: type | None = None) -> Any:
        return self if store is None else getattr(getattr(store, self.part), self.name)


class AuditStore(RevisionOps):
    """Everything the CLI can ask of a store. Open with `AuditStore.open(path)`; close when done.

    The store itself owns the connection, write transactions and the chain's core (its identity, key and head,
    `record`, and writing an activity through the recorder). Its parts are collaborators, each given the store and
    naming in its docstring what it uses of it and of the other parts:

    - `reader` (store/reader.py): the activity log read back: a page, one activity, following, counts, facts.
    - `policies` (store/policy.py): scope and retention, read from and written as chained records.
    - `versions` (store/versions.py): detached versions, and the versions table replayed from their records.
    - `prunes` (store/prune.py): planning, attesting and carrying out prunes; the prune record verify goes by.
    - `transfers` (store/transfer.py): export and import's entry points, and the steps an import ends with.
    - `integrity` (store/integrity.py): verify and checkpoint, and what each row's hash covers.
    """

    def __init__(self, conn, path: Path, chain_key: bytes | None = None):
        self.conn = conn
        self.path = path
        self.chain_key = chain_key
        self.snapshots = Snapshots(conn)
        # Every activity row is made and written by the recorder (store/recorder.py); `_deferring` is on inside
        # `batching()`, where records gather their rows there instead of writing each at once.
        self._recorder = Recorder(conn, store_id=self.store_id, chain_key=self._chain_key, snapshots=self.snapshots)
        self._deferring = False
        self.reader = Reader(self)
        self.policies = Policy(self)
        self.versions = Versions(self)
        self.prunes = Prunes(self)
        self.transfers = Transfers(self)
        self.integrity = Integrity(self)

    # Which part answers each public method of the store (`store.scope` is `store.policies.scope`).
    PARTS = {
        "reader": ("get_activity", "log", "follow", "id_at", "last_id", "top_id", "stats", "info"),
        "policies": ("policy", "scope", "scopes", "set_scope", "clear_scope", "retention", "set_retention",
                     "clear_retention"),
        "versions": ("create_version", "save_version", "list_versions", "compare_version", "promote_version",
                     "delete_version"),
        "prunes": ("prune", "vacuum", "latest_prune", "attested_digest"),
        "transfers": ("export", "export_lines", "import_lines"),
        "integrity": ("verify", "checkpoint"),
    }
    # What the importer calls on the store (store/importer.py and seen.py, which another change is rewriting).
    _replay_versions = _By("versions", "replay_after")
    _rechain = _By("transfers", "rechain")
    _apply_comment_changes = _By("transfers", "apply_comment_changes")
    _update_comment = _By("transfers", "update_comment")

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

    # the chain's core: what every part writes and checks with

    def store_id(self) -> str:
        """The store's identity, made with it: local activities are known elsewhere as "<store id>/<id>"."""
        cached = getattr(self, "_store_id", None)
        if cached is None:
            row = self.conn.execute("SELECT value FROM settings WHERE key = 'store_id'").fetchone()
            if row is None:
                raise Damaged("the store's identity (its store_id setting) is missing: the file was altered; "
                              "audit verify reports it")
            cached = self._store_id = row[0]
        return cached

    def _setting(self, name: str) -> str | None:
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", [name]).fetchone()
        return row[0] if row else None

    def _chain_head(self) -> str:
        row = self.conn.execute("SELECT hash FROM activity ORDER BY id DESC LIMIT 1").fetchone()
        return row[0] if row else chain.GENESIS

    def _chain_key(self) -> bytes | None:
        """The key new links are made with; a store is keyed, or not, from its first activity on."""
        check = self._setting("chain_key_check")
        if check is None:
            if self.chain_key is None:
                return None
            if self.conn.execute("SELECT 1 FROM activity LIMIT 1").fetchone():
                raise StoreError("AUDIT_CHAIN_KEY is set, but this store's chain was started without a key: unset it")
            self.conn.execute("INSERT INTO settings (key, value) VALUES ('chain_key_check', ?)",
                              [chain.key_check(self.chain_key)])
            return self.chain_key
        if self.chain_key is None:
            raise CannotCheck("this store's chain is keyed: set AUDIT_CHAIN_KEY to the store's key")
        if chain.key_check(self.chain_key) != check:
            raise CannotCheck("AUDIT_CHAIN_KEY is not this store's key: set it to the key the store was made with")
        return self.chain_key


    # recording: what every command that writes comes down to

    def record(
        self,
        activity: Activity,
        *,
        data: dict[str, Any] | None = None,
        replace: bool = False,
        patch: list[dict[str, Any]] | None = None,
    ) -> Recorded:
        """Record one activity and, for data actions, the item's revision, in one transaction (in a batch, in the
        batch's: nothing to undo when it fails, since it writes nothing until it has made its rows).

        `data` is merged shallowly onto the current state (or is the whole state with `replace`); `patch` is an RFC
        6902 patch applied to the current state instead.
        """
        check_request(activity, data=data, patch=patch, replace=replace)
        if not self._deferring:
            with self._writing():
                return self._record_one(activity, data=data, replace=replace, patch=patch)
        done = self._record_one(activity, data=data, replace=replace, patch=patch)
        if activity.action in SET_ACTIONS:
            self.settle()  # it may change the policy, which is read from the store
        elif self._recorder.pending >= FLUSH_ROWS:
            self._recorder.flush()
        return done

    def _record_one(self, activity: Activity, *, data: Any, replace: bool, patch: Any) -> Recorded:
        scopes = self._recorder.scopes
        scope = scopes.get(activity.collection, self)
        if scope is self:  # not asked yet in this batch (a dict of every scope, asked once a record, costs more)
            scope = scopes[activity.collection] = self.scope(activity.collection) or {}
        track = scope.get("track", "all")
        if track == "none":
            return Recorded({**activity.to_dict(), "id": None},
                            note=f"{activity.collection} is scoped to track nothing: nothing was kept")
        if track == "activity" and activity.action in DATA_ACTIONS:
            return Recorded(self._insert_activity(activity, defer=self._deferring),
                            note=f"{activity.collection} is scoped to track activity only: no revision kept")
        if activity.action in DATA_ACTIONS:
            return self._record_change(activity, data=data, replace=replace, patch=patch, scope=scope)
        return Recorded(self._insert_activity(activity, defer=self._deferring))

    def _next_id(self) -> int:
        """The id the next activity gets (AUTOINCREMENT: one past the highest ever used)."""
        return self.conn.execute(HEAD_AND_NEXT).fetchone()[1]

    def _insert_activity(self, activity: Activity, *, revision: NewRevision | None = None, key: str | None = None,
                         link: tuple[str, str] | None = None, defer: bool = False) -> dict[str, Any]:
        """Insert an activity, chained to the newest one, and its revision if any; with `defer` (a record in a
        batch), gathered to be written with the batch's next rows. `key` and `link` as Recorder.add takes them."""
        self._recorder.add(activity, revision, key=key, link=link)
        if not defer:
            self._recorder.flush()
            self._recorder.forget()  # what comes next in this transaction may write without it
        return activity.to_dict()


    def _effective_key(self, row: dict[str, Any]) -> str:
        return row.get("key") or f"{self.store_id()}/{row['id']}"

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


for _part, _names in AuditStore.PARTS.items():
    for _name in _names:
        setattr(AuditStore, _name, _By(_part, _name))
