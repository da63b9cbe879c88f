"""Cursor files for incremental exports (`audit export --cursor-file F`): the id of the last activity exported.

The file holds that id as decimal digits and a newline. It is replaced atomically (a temporary file beside it,
renamed over it), and only once the export it follows is complete, so a failed or interrupted export leaves the
cursor where it was and the next run exports the same activity again.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import AuditError


def read(path: str) -> int | None:
    """The id in a cursor file, or None when the file does not exist yet (export from the start)."""
    file = Path(path).expanduser()
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise AuditError(f"cursor file {file} is a directory: --cursor-file takes a file path") from None
    except OSError as exc:
        raise AuditError(f"cannot read cursor file {file}: {exc.strerror}") from None
    text = raw.strip()
    if not text.isdigit() or len(text) > 19:  # decimal digits only (bytes.isdigit is ASCII), in SQLite's range
        shown = raw[:40].decode("utf-8", "replace")
        raise AuditError(f"cursor file {file} does not hold an activity id ({shown!r}): it holds the id of the last "
                         "activity exported, a whole number such as 1234; delete it to export from the start")
    return int(text)


def write(path: str, activity_id: int) -> None:
    """Replace the cursor file with `activity_id`, atomically (readers see the old id or the new, never half)."""
    file = Path(path).expanduser()
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".partial", dir=file.parent)
    except OSError as exc:
        raise AuditError(f"cannot write cursor file {file}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w") as out:
            out.write(f"{activity_id}\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, file)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
