"""Opening a store file: identity, permissions, pragmas, migrations, and write transactions."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import StoreError

# "audt": marks the file as an audit store, so that another SQLite file is never written into by mistake.
APPLICATION_ID = 0x61756474
# The number of migrations in migrations.py; a test keeps the two equal. Kept here so that opening an up-to-date
# store does not import sqlite-utils.
SCHEMA_VERSION = 5
BUSY_TIMEOUT_MS = 15_000
Upgrade = Callable[[sqlite3.Connection, int], None]  # checks a migrated store before its upgrade commits
MEMORY = ":memory:"  # SQLite's name for a database in memory


class StoreConnection(sqlite3.Connection):
    """A connection that carries the cache of unpacked revision bases, so that a rollback can drop it: a base
    written in a rolled-back transaction leaves an id that other content may take."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.bases: dict[int, bytes] = {}
        self.wrote = False  # a write transaction committed: the planner's statistics may want refreshing
        self.read_only: str | None = None  # opened only to read: why a write cannot happen
        self.created = False  # this connection made the store's file: nobody else has used it yet
        self.made_folders: list[Path] = []  # the folders made for it, outermost first


def connect(path: Path, *, create: bool, upgrade: Upgrade | None = None) -> StoreConnection:
    """A connection to an audit store at `path`, migrated to this version's schema.

    `upgrade(conn, old_version)` runs inside the migration's transaction when a store of an earlier schema was
    migrated (not a new one): what it raises rolls the migration back and leaves the file as it was.

    Reading commands pass create=False: a missing store is an error, and nothing is created. ":memory:" is a store
    in memory, new and empty (for tests and throwaway work), never a file of that name.
    """
    if str(path) == MEMORY:
        conn = sqlite3.connect(MEMORY, isolation_level=None, check_same_thread=False, factory=StoreConnection)
        _prepare(conn, path, upgrade)
        return conn
    created = False
    folders: list[Path] = []
    if not path.exists():
        if not create:
            raise StoreError(f"no audit store at {path}: record an activity first, or pass --db PATH / set AUDIT_DB")
        made = _create_file(path)
        created, folders = made is not None, made or []
    elif path.is_dir():
        raise StoreError(f"{path} is a directory: --db takes the path of a store file")
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
                               factory=StoreConnection)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {path}: {exc}") from None
    try:
        _prepare(conn, path, upgrade)
    except sqlite3.DatabaseError as exc:
        conn.close()
        reader = _read_only(path) if "readonly" in str(exc) else None
        if reader is None:
            raise StoreError(_describe(path, exc)) from None
        return reader
    except BaseException:
        conn.close()
        if created:
            _remove(path, folders)
        raise
    conn.created = created
    conn.made_folders = folders
    return conn


def discard(conn: StoreConnection, path: Path) -> None:
    """Close a store this connection created and remove it again, with the folders made for it: a command that
    failed leaves no new file behind. Only while it holds no activity (nobody else has written to it since)."""
    if not conn.created:
        return
    try:
        empty = conn.execute("SELECT 1 FROM activity LIMIT 1").fetchone() is None
    except sqlite3.Error:
        empty = False
    conn.close()
    if empty:
        _remove(path, conn.made_folders)


def _remove(path: Path, folders: list[Path]) -> None:
    for name in ("", "-wal", "-shm", "-journal"):
        try:
            os.unlink(f"{path}{name}")
        except OSError:
            pass
    for folder in reversed(folders):
        try:
            folder.rmdir()  # only when empty: something else may have come to live there
        except OSError:
            break


@contextmanager
def bulk_load(conn: StoreConnection) -> Iterator[None]:
    """A rollback journal instead of the WAL while a big load fills a store this connection created.

    A WAL transaction writes every page twice, into the WAL and back into the store, and indexes each frame; a
    rollback journal of an empty store holds next to nothing, and the pages go straight into the file: a 1M-line
    import took 51.3 s this way against 55.0 s. It is as atomic (a killed load is rolled back by the next open),
    with synchronous FULL for the one commit, and only for a store nobody else can be using: one this connection
    created, still empty, and only if SQLite can switch (no other connection). Readers that open the store
    meanwhile wait for the load (the busy timeout); the WAL is back when it is done, committed or not."""
    switched = False
    if conn.created and not conn.in_transaction and \
            conn.execute("SELECT 1 FROM activity LIMIT 1").fetchone() is None:
        try:
            switched = conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
        except sqlite3.OperationalError:  # another connection has it open: stay in WAL
            switched = False
    if switched:
        conn.execute("PRAGMA synchronous = FULL")
    try:
        yield
    finally:
        # Not while a failed load's transaction is still to be rolled back: SQLite refuses, and that error would
        # hide the load's own (such a store is new and empty, and is removed: discard()).
        if switched and not conn.in_transaction:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")


def remake_indexes(conn: sqlite3.Connection, definitions: list[str]) -> None:
    """Make the indexes a bulk load dropped, then sampled statistics of what it filled, so that queries plan well.
    SQLite sorts each index's keys with worker threads when allowed: 1M lines, 4.1 s to 3.0 s on 2 cores."""
    threads = conn.execute("PRAGMA threads").fetchone()[0]
    conn.execute(f"PRAGMA threads = {min(4, os.cpu_count() or 1)}")
    for sql in definitions:
        conn.execute(sql)
    conn.execute(f"PRAGMA threads = {int(threads)}")
    limit = conn.execute("PRAGMA analysis_limit").fetchone()[0]
    conn.execute("PRAGMA analysis_limit = 1000")
    conn.execute("ANALYZE activity")
    conn.execute("ANALYZE revisions")
    conn.execute(f"PRAGMA analysis_limit = {int(limit)}")


def _read_only(path: Path) -> StoreConnection | None:
    """A connection that reads a store in a folder this process cannot write to, or None.

    A WAL reader needs a -shm file beside the store, which SQLite cannot make there. With no -wal file, every
    committed page is in the store itself, so it is read as an immutable file; with one (a writer is open, or died),
    a read-only open uses the writer's -shm. Writes through either fail, saying why (writing() below). An immutable
    read does not see a writer that starts meanwhile (one that may write the folder, such as its owner): it reads
    the store as it was.
    """
    import urllib.parse  # here: only this rare open needs it

    if os.access(path.parent, os.W_OK):
        return None  # not the folder: the error stands
    mode = "mode=ro" if Path(f"{path}-wal").exists() else "immutable=1"
    uri = f"file:{urllib.parse.quote(os.fsencode(path.absolute()))}?{mode}"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                               check_same_thread=False, factory=StoreConnection)
    except sqlite3.Error:
        return None
    try:
        _prepare(conn, path)
    except sqlite3.DatabaseError:
        conn.close()
        return None
    except BaseException:
        conn.close()
        raise
    conn.read_only = (f"{path} is read-only here: its folder cannot be written, and SQLite writes its -wal and -shm "
                      "files beside the store; this command needs to write to it")
    return conn


def _create_file(path: Path) -> list[Path] | None:
    """Make the store's empty file (and its folders); returns the folders it made, outermost first, or None when
    another process made the file first."""
    missing = [folder for folder in path.absolute().parents if not folder.exists()][::-1]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Owner-only from the first byte: an audit trail names people and addresses. SQLite gives its -wal and -shm
        # files the same mode.
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600))
    except FileExistsError:  # another process made it meanwhile: theirs, not ours to remove
        return None
    except OSError as exc:
        raise StoreError(f"cannot create a store at {path}: {exc.strerror}") from None
    return missing


def _describe(path: Path, exc: sqlite3.DatabaseError) -> str:
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        return f"{path} is not an audit store, or is corrupt ({text}): point --db at an audit store file"
    if "readonly" in text or "read-only" in text:
        return f"{path} is read-only: this command needs to write to it ({text})"
    if "disk" in text and "full" in text:
        return f"the disk holding {path} is full: free space and try again ({text})"
    if "locked" in text or "busy" in text:
        return f"{path} is locked by another process: try again when it is done ({text})"
    return f"cannot use {path}: {text}"


def _prepare(conn: sqlite3.Connection, path: Path, upgrade: Upgrade | None = None) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    from ..query import fold, number, week

    conn.create_function("fold", 1, fold, deterministic=True)
    conn.create_function("number", 1, number, deterministic=True)
    conn.create_function("iso_week", 1, week, deterministic=True)
    app_id, version = _identity(conn)
    if app_id == APPLICATION_ID and version == SCHEMA_VERSION:
        # The common case, kept to a few pragmas.
        conn.execute("PRAGMA synchronous = NORMAL")
        return
    if app_id != APPLICATION_ID:
        has_tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if has_tables or app_id != 0:
            raise StoreError(f"{path} is an SQLite database but not an audit store: point --db at an audit store file")
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer audit (schema {version}; this version reads up to {SCHEMA_VERSION}): "
            "upgrade audit to use it"
        )
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated while this one waited for the lock.
        app_id, version = _identity(conn)
        if version < SCHEMA_VERSION:
            from .. import migrations

            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            migrations.apply(conn)
            if version > 0 and upgrade is not None:
                upgrade(conn, version)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    # Only once migrated: switching journals writes the file's header, and a refused upgrade leaves it untouched.
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA optimize = 0x10002")


def _identity(conn: sqlite3.Connection) -> tuple[int, int]:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    return app_id, version


@contextmanager
def writing(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction. IMMEDIATE takes the write lock up front, so a read-then-write (the current state, then
    the new revision) can never interleave with another writer's or fail half-way on a lock upgrade."""
    if conn.in_transaction:  # nested: a savepoint inside the caller's transaction
        conn.execute("SAVEPOINT nested")
        try:
            yield conn
        except BaseException:
            _forget_bases(conn)
            conn.execute("ROLLBACK TO nested")
            conn.execute("RELEASE nested")
            raise
        conn.execute("RELEASE nested")
        return
    if getattr(conn, "read_only", None):
        raise StoreError(conn.read_only)
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise StoreError(f"the store is busy or read-only: {exc}") from None
    try:
        yield conn
    except BaseException:
        _forget_bases(conn)
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
        conn.wrote = True
    except sqlite3.OperationalError as exc:
        _forget_bases(conn)
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise StoreError(f"could not write to the store: {exc}") from None


def _forget_bases(conn: sqlite3.Connection) -> None:
    bases = getattr(conn, "bases", None)
    if bases is not None:
        bases.clear()
