"""Streaming JSONL files: reading plain or gzip (detected by content), parsing lines, and writing all-or-nothing.

A failed export must leave no half file behind, so output goes to a temporary file beside the target and is renamed
into place only when complete. Files are created owner-only: a trail names people and addresses.
"""

from __future__ import annotations

import gzip
import io
import os
import queue
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import orjson

from . import jsontext
from .errors import AuditError

_GZIP_MAGIC = b"\x1f\x8b"


def parse_record(raw: bytes, *, what: str = "the line") -> dict:
    """One JSONL line as a JSON object, exactly as jsontext.parse_object reads it, three times faster.

    orjson parses first; its result is taken only when writing it back gives the line itself, byte for byte (the
    compact form this program exports). That proves nothing was lost: a duplicate key would be missing, an integer
    past 64 bits would come back as a float, an escape or a space would differ. Any other line goes through the
    strict stdlib parser, which keeps big integers and refuses duplicate keys, NaN and lone surrogates.
    """
    try:
        value = orjson.loads(raw)
        if type(value) is dict and orjson.dumps(value) == (raw[:-1] if raw[-1:] == b"\n" else raw):
            return value
    except (orjson.JSONDecodeError, TypeError):  # TypeError: nested deeper than orjson writes
        pass
    return jsontext.parse_object(raw, what=what)


class Lines:
    """The lines of a JSONL file or `-` (stdin), numbered from 1, gunzipped when the content is gzip (whatever the
    name). Opened when iteration starts; iterate once. `position` is how far into the file (compressed bytes, for
    gzip) reading has got, `size` the file's size when it is a regular file: what a progress bar shows."""

    def __init__(self, source: str | IO[bytes]):
        self._given: IO[bytes] | None = None  # a file object the caller opened (and closes)
        if not isinstance(source, str):
            self._given, name = source, getattr(source, "name", None)
            source = name if isinstance(name, str) else "the file object"
        self.source = source
        self.size: int | None = None
        self._raw: IO[bytes] | None = None
        if source != "-" and self._given is None:
            try:
                self.size = os.stat(source).st_size
            except OSError:
                pass

    @property
    def position(self) -> int:
        try:
            return self._raw.tell() if self._raw is not None else 0
        except (OSError, ValueError):  # a pipe, or closed
            return 0

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        source = self.source
        if self._given is not None:
            raw: IO[bytes] = self._given
        elif source == "-":
            raw = sys.stdin.buffer
        else:
            try:
                raw = open(source, "rb")  # noqa: SIM115 - closed below
            except OSError as exc:
                raise AuditError(f"cannot read {source}: {exc.strerror}") from None
        self._raw = raw
        buffered = raw
        try:
            buffered = io.BufferedReader(raw) if not hasattr(raw, "peek") else raw
            stream: IO[bytes] = gzip.GzipFile(fileobj=buffered) if buffered.peek(2)[:2] == _GZIP_MAGIC else buffered
            try:
                yield from enumerate(stream, 1)
            except (OSError, EOFError) as exc:  # a truncated or corrupt gzip stream
                raise AuditError(f"{source} is not readable as gzip ({exc}): give a JSONL file, plain or gzipped") \
                    from None
        finally:
            if raw is self._given:
                if buffered is not raw:
                    buffered.detach()  # the caller's file stays open: it is theirs to close
            elif raw is not sys.stdin.buffer:
                raw.close()


def read_lines(source: str) -> Lines:
    """(line number, raw line) for each line of a file or `-` (stdin), gunzipping when the content is gzip."""
    return Lines(source)


def check_readable(source: str) -> None:
    """Fail now, before a store is made, if `source` (a file, or - for stdin) cannot be read."""
    if source == "-":
        return
    try:
        with open(source, "rb"):
            pass
    except OSError as exc:
        raise AuditError(f"cannot read {source}: {exc.strerror}") from None


def check_writable(target: str) -> None:
    """Fail now, before any work, if `target` cannot be written (a missing folder, no permission)."""
    if target == "-":
        return
    path = Path(target).expanduser()
    if path.is_dir():
        raise AuditError(f"{path} is a directory: give a file path")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise AuditError(f"cannot write {path}: its folder is missing or not writable")


@contextmanager
def writer(target: str) -> Iterator[IO[bytes]]:
    """A binary stream to `target` (`-` is stdout; `.gz` is gzipped) that appears only if the block completes."""
    if target == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    path = Path(target).expanduser()
    if path.is_dir():
        raise AuditError(f"{path} is a directory: -o takes a file path")
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent or ".")
    except OSError as exc:
        raise AuditError(f"cannot write {path}: {exc.strerror}") from None
    written = False  # the caller's block is done: an OSError after that is ours, closing or renaming the file
    try:
        with os.fdopen(fd, "wb") as raw:
            if path.suffix == ".gz":
                # Level 1: about 3x faster than the default for a few percent more bytes (PERF-NOTES).
                with gzip.GzipFile(filename=path.stem, fileobj=raw, mode="wb", compresslevel=1, mtime=0) as zipped:
                    with _Behind(zipped) as behind:
                        yield _Named(behind, path)
                        written = True
            else:
                yield _Named(raw, path)
                written = True
        os.replace(temp, path)
    except BaseException as exc:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        # Ours too: an OSError without a file name in the block, which a write to this stream (gzip's, behind)
        # raised as it surfaced there.
        if isinstance(exc, OSError) and (written or exc.filename is None):
            raise AuditError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


@contextmanager
def appender(target: str) -> Iterator[IO[bytes]]:
    """A binary stream that adds to the end of `target`, appearing only if the block completes: a copy of the file
    so far and what the block writes go to a temporary file beside it, renamed over it once complete, so the file is
    always either as it was or with all of the new lines (never half, never lost). The lines go on in the file's
    own form: a gzipped file gets a new gzip member (a reader reads the members as one stream), a plain one plain
    lines (after a newline, should its last line lack one); a new file is gzipped when its name ends in `.gz`."""
    path = Path(target).expanduser()
    try:
        old = None if target == "-" else open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        old = None
    except OSError as exc:
        raise AuditError(f"cannot read {path} to add to it: {exc.strerror}") from None
    try:
        if old is None:
            with writer(target) as stream:
                yield stream
            return
        head = old.read(2)
        zipped = head == _GZIP_MAGIC
        try:
            fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent or ".")
        except OSError as exc:
            raise AuditError(f"cannot write {path}: {exc.strerror}") from None
        try:
            with os.fdopen(fd, "wb") as raw:
                raw.write(head)
                last = head[-1:]
                while chunk := old.read(1 << 20):
                    raw.write(chunk)
                    last = chunk[-1:]
                if zipped:
                    with gzip.GzipFile(filename=path.stem, fileobj=raw, mode="wb", compresslevel=1,
                                       mtime=0) as member:
                        yield _Named(member, path)
                else:
                    if last not in (b"", b"\n"):
                        raw.write(b"\n")
                    yield _Named(raw, path)
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(temp, path)
        except BaseException:
            try:
                os.unlink(temp)
            except FileNotFoundError:
                pass
            raise
    finally:
        if old is not None:
            old.close()


class _Named:
    """The stream `writer` hands out: a failed write (a full disk) names the file, which the error alone does not."""

    def __init__(self, stream: Any, path: Path):
        self.stream, self.path = stream, path

    def write(self, chunk: bytes) -> int:
        try:
            return self.stream.write(chunk)
        except OSError as exc:
            raise AuditError(f"cannot write {self.path}: {exc.strerror or exc}") from None


class _Behind:
    """Writes to `stream` on a thread of its own, one chunk behind the caller: compressing a chunk (zlib lets go of
    the interpreter while it works) overlaps making the next one. The first error is raised to the caller."""

    def __init__(self, stream: IO[bytes]):
        self.stream = stream
        self.chunks: queue.Queue = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="jsonl-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (chunk := self.chunks.get()) is not None:
            if self.error is None:
                try:
                    self.stream.write(chunk)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    self.error = exc

    def write(self, chunk: bytes) -> int:
        if self.error is not None:
            raise self.error
        self.chunks.put(bytes(chunk))
        return len(chunk)

    def __enter__(self) -> _Behind:
        return self

    def __exit__(self, kind: Any, *rest: Any) -> None:
        self.chunks.put(None)
        self.thread.join()
        if self.error is not None and kind is None:
            raise self.error

