"""Cursor files for incremental exports (`audit export --cursor-file F`): the id of the last activity exported, and
the store it was exported from.

The file holds that id as decimal digits, a space and the store's identity, and a newline (`1234 0f4c...`): an id
means something only in the store that gave it, so a cursor read against another store (or a store rebuilt since,
whose ids start again) is an error, not an export of nothing forever. A file holding the id alone (written by
releases before the identity was kept) is still read, and checked against the store's ids only. It is replaced
atomically (a temporary file beside it, renamed over it), and only once the export it follows is complete, so a
failed or interrupted export leaves the cursor where it was and the next run exports the same activity again.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import AuditError


@dataclass(frozen=True)
class Cursor:
    """What a cursor file holds: the last id exported, and the identity of the store it came from (None in a file
    written before identities were kept)."""

    activity_id: int
    store: str | None = None


def read(path: str) -> Cursor | None:
    """The cursor a file holds, or None when the file does not exist yet (export from the start)."""
    file = Path(path).expanduser()
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise AuditError(f"cursor file {file} is a directory: {{cursor}} takes a file path", params=("cursor",)) \
            from None
    except OSError as exc:
        raise AuditError(f"cannot read cursor file {file}: {exc.strerror}") from None
    words = raw.split()
    text = words[0] if words else b""
    store = words[1] if len(words) == 2 else None
    # Decimal digits only (bytes.isdigit is ASCII), in SQLite's range; the identity is printable ASCII.
    if (not text.isdigit() or len(text) > 19 or len(words) > 2
            or (store is not None and not (store.isascii() and store.decode().isprintable()))):
        shown = raw[:40].decode("utf-8", "replace")
        raise AuditError(f"cursor file {file} does not hold an activity id ({shown!r}): it holds the id of the last "
                         "activity exported and the store's identity, such as 1234 0f4c...; delete it to export "
                         "from the start")
    return Cursor(int(text), store.decode() if store is not None else None)


def check(saved: Cursor, *, path: str, store: str, top: int) -> int:
    """The id to export after: the cursor's, once it is known to be this store's (`store` its identity, `top` the
    highest id it ever gave)."""
    file = Path(path).expanduser()
    if saved.store is not None and saved.store != store:
        raise AuditError(f"cursor file {file} was written for another store ({saved.store}), not this one ({store}): "
                         "keep one cursor file per store and output, or delete it to export from the start")
    if saved.activity_id > top:
        raise AuditError(f"cursor file {file} holds activity {saved.activity_id}, past the newest this store ever "
                         f"had ({top}): it was written for another store, or this one was rebuilt since; delete it "
                         "to export from the start")
    return saved.activity_id


def write(path: str, activity_id: int, store: str) -> None:
    """Replace the cursor file with `activity_id` of `store`, atomically (readers see the old or the new, never
    half)."""
    file = Path(path).expanduser()
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".partial", dir=file.parent)
    except OSError as exc:
        raise AuditError(f"cannot write cursor file {file}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w") as out:
            out.write(f"{activity_id} {store}\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, file)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
