"""The first half of an import: each line parsed, checked, serialized, hashed and its snapshot packed, as far as
that can go without the store, into a plain tuple.

It runs in the importing process, or, for a big file or a pipe, in a helper process (`main`, run with the file's
path or `-`, its standard input then the importer's) that streams the tuples back while the importer does the other
half (what needs the store: what is already there, item heads, the chain, SQLite), so that an import uses two
cores. Both ways run the same Preparer; the helper only changes where, and guesses for half the items
(HELPER_SHARE). The helper never opens the store, and dies with its importer (a broken pipe).

A prepared line is (values, key, prev_hash, hash, gap, attested, id, revision, record, packing, expected, original):
- values: the activity's columns in ACTIVITY_FIELDS order (id None, details as its JSON text);
- id: the line's own id when it is an integer, else None;
- revision: None, or (version, data JSON bytes or None, delta JSON or None, data exact, delta exact, digest or None,
  error or None, checked) where "exact" says orjson reads the text back exactly, the digest is there when both
  texts are, an error (a bad delta) is raised by the importer only if the line is not already imported, as
  before, checked says against what the delta was found to agree with the snapshot (Preparer._item), and derived
  that the line had no delta and this one was derived against that snapshot (the importer derives its own when
  its snapshot is another);
- record: chain.record_bytes of the line when its revision digest is known (or it has no revision), else None;
- packing: None, or how its snapshot was packed, on a guess the importer checks (Preparer._item);
- expected: the hash the line's own link must have (its prev_hash and record, with the chain key), or None;
- original: an edited comment's first text (`original_comment`), which its hash covers instead of its text now, or
  None.
A bad line is its error message instead (a str), and a trailer line (trailer.MEMBER, the line).
"""

from __future__ import annotations

import io
import marshal
import os
import signal
import stat
import struct
import subprocess
import sys
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

from .. import chain, jsonl, jsontext, patches, trailer
from ..errors import AuditError
from ..models import CREATES
from . import codec, helpers
from .lines import apply, check_line, content_bits, dump, given_link, load

# A file at least this big is prepared by a helper process (its start costs about a tenth of a second).
HELPER_MIN_BYTES = 16 * 2**20
# Small frames through a pipe of a megabyte: the helper runs a few frames ahead, so neither process waits on the
# other's hiccups (a batch written, a head read). With one 1,000-line frame in a 64 KiB pipe, they took turns.
FRAME_LINES = 250
# Of the items first seen, the share whose lines the helper checks and packs; the importer works out the rest
# itself, as it does for any line without a guess. Checking and packing is about a third of the helper's work,
# and the importer, which also writes the store, has time for half of it: 1M lines took 47.7 s with the helper
# doing all of it and 37.6 s with half (bench/RESULTS.md).
HELPER_SHARE = 0.5
# The same for items of full-state lines, whose deltas are derived here (most of the work): the importer has less
# time to spare for them.
FULL_STATE_SHARE = 0.85
# The bases held to pack against: as many as the importer's head cache holds (store/importer.py).
HELD_BYTES = 16 * 2**20
HELD_ITEMS = 30_000
# Keyless lines told apart from identical ones before them (Preparer._nth): about 170 bytes each, 33 MB at most.
SAME_LINES = 200_000
_FRAME = struct.Struct("<Q")
# The state of an item whose lines the importer checks and packs itself (Preparer.share).
_LEFT = (None, b"", 0, None, b"", True)
_HELPER = "import sys; from audit_cli.store.prepare import main; sys.exit(main(sys.argv[1:]))"
_KEY_VARIABLE = "AUDIT_PREPARE_CHAIN_KEY"  # how the helper gets the chain key (not on its command line)


class Preparer:
    """Prepares lines in file order. Besides what a line alone gives, it does, on a guess, what needs the store's
    state of the line's item: it checks the line's delta against the item's previous snapshot, and packs its
    snapshot against the base the store will most likely pack it against, both as this file's earlier lines left
    the item, as if every line is imported; and it works out the hash the line's own link must have. The importer
    takes a guess only when its own state agrees (store/heads.py), and does the work itself otherwise, so a wrong
    guess (a line already imported, an item the store had before) costs time, never correctness. With a `share`
    below 1 it guesses only for that part of the items (taken in turn as they first come), and leaves the others'
    lines to the importer, which then works them out itself as for a wrong guess."""

    def __init__(self, key: bytes | None = None, share: float = 1.0) -> None:
        self.key = key  # the chain key the importer checks links with
        self.share = share  # of the items first seen here, the part this side guesses for (HELPER_SHARE)
        self.owed = 0.0  # items are taken in turn: one whenever the share adds up to a whole
        # item -> (line that made its base, base text, base's packed size, line that made its newest revision,
        # that revision's snapshot JSON, whether orjson reads it exactly); as the importer's head cache, bounded.
        self.items: OrderedDict[tuple[str, str], tuple] = OrderedDict()
        self.held = 0
        self.identical: OrderedDict[int | str, int] = OrderedDict()  # keyless lines' contents -> how many so far

    def prepare(self, number: int, line: dict[str, Any]) -> tuple:
        """A parsed audit/1 line as a prepared tuple; raises AuditError for a bad line (see the module docstring)."""
        values, key, revision = check_line(line)
        if "key" not in line or line["key"] is None:
            key = self._nth(key)
        prev_hash, hash_ = given_link(line)
        wanted = line.get("id")
        prepared_revision = digest = packing = None
        if revision is not None:
            data, delta = revision.get("data"), revision.get("delta")
            version = revision.get("version")
            error = checked = None
            try:
                if delta is not None:
                    patches.check_patch(delta, what="revision.delta")
                elif data is None:
                    raise AuditError("revision needs data or delta")
            except AuditError as exc:
                error = str(exc)
            data_text, data_exact = dump(data) if data is not None else (None, True)
            if not data_exact:  # orjson could not write it: an integer past 64 bits, or nested too deeply
                patches.check_depth(data, what="revision.data")
            delta_text, delta_exact = None, True
            if delta is not None and error is None:
                delta_bytes, delta_exact = dump(delta)
                delta_text = delta_bytes.decode()
            derived = False
            if error is None:
                checked, packing, derived_text = self._item(number, values[1], (values[7], values[8]), version,
                                                            data, delta, data_text, data_exact)
                if derived_text is not None:
                    delta_text, derived = derived_text, True
            if data_text is not None and delta_text is not None:
                digest = chain.revision_digest(data_text, delta_text, version)
            # The delta as stored, packed against the line's own snapshot (codec.pack_delta): it needs nothing of
            # the store, so this side packs it for every line, where the importing process is the one waited on.
            packed_delta = codec.pack_delta(delta_text, data_text) \
                if data_text is not None and delta_text is not None else None
            prepared_revision = (version, data_text, delta_text, data_exact, delta_exact, digest, error, checked,
                                 derived, packed_delta)
        original = line.get("original_comment")
        if original is not None and (type(original) is not str or values[1] != "comment"):
            raise AuditError("original_comment must be a string, on a comment line (or left out)")
        record = expected = None
        if revision is None or digest:
            record = chain.record_bytes_of_columns(values, digest, key)
            if hash_ is not None:
                expected = chain.matching_link(prev_hash, record, self.key, hash_)
        return (values, key, prev_hash, hash_, line.get("gap") is True, line.get("attested_revision"),
                wanted if type(wanted) is int else None, prepared_revision, record, packing, expected, original)

    def _nth(self, key: str) -> str:
        """The key of a line without one, from its content: the first of identical lines in the file keeps the
        content's digest, the n-th has `#n` after it. Five failed logins in one second are five events, and the
        same file imported again gives them the same five keys. Counted over the last SAME_LINES distinct keyless
        lines: identical lines further apart than that are taken for one."""
        # Held by 64 bits of the content digest (which a key without `#n` is): 33 MB for the 200,000 where the
        # keys themselves took 42 MB. Two contents sharing those bits would be numbered as one, still the same way
        # every time the file is imported (one pair in about 10**9 at the window's size).
        held = content_bits(key)
        seen = self.identical.pop(held, 0) + 1
        self.identical[held] = seen
        if len(self.identical) > SAME_LINES:
            self.identical.popitem(last=False)
        return key if seen == 1 else f"{key}#{seen}"

    def _item(self, number: int, action: str, where: tuple[str, str], version: str | None, data: Any, delta: Any,
              text: bytes | None, exact: bool) -> tuple[int | None, tuple | None, str | None]:
        """(the line whose snapshot the delta was checked against and agreed with, or derived from, 0 for a
        create's empty one, or None; the packing: line that made the base packed against or None for none, whether
        this starts a new base, the packed snapshot, the new base's body or None; the delta of a full-state line,
        derived from that snapshot, or None), as store/heads.py would have them."""
        if version is not None:  # a version's revision: checked against the version's last save; its own base
            packing = codec.pack_revision(text, None, None) if text is not None else None
            return None, ((None, True, packing.data, packing.new_base) if packing and not packing.alone else None), None
        state = self.items.pop(where, None)
        if state is not None:
            self.held -= len(state[1]) + len(state[4])
            if state is _LEFT:
                self._keep(where, _LEFT)
                return None, None, None
        elif self.share < 1.0:  # an item first seen: is it this side's to guess for?
            self.owed += self.share if delta is not None else FULL_STATE_SHARE
            if self.owed < 1.0:
                self._keep(where, _LEFT)
                return None, None, None
            self.owed -= 1.0
        if text is None:  # data derived from the store's state: nothing to guess from here on
            return None, None, None
        checked = derived = None
        if delta is None:
            # A full-state line (what most producers send): its delta as store/heads.py derives it, from the state
            # the previous line left. This was the importing process's largest cost (1M lines: diff and the
            # parse of the state before, ~14 of 30 s under cProfile, bench_fullstate.py).
            if action in CREATES or state is not None:
                before = {} if action in CREATES else load(state[4], state[5])
                derived = jsontext.dumps(patches.diff(before, data))
                checked = 0 if action in CREATES else state[3]
        elif action in CREATES or state is not None:
            try:
                after = apply(None, True, delta) if action in CREATES else apply(state[4], state[5], delta)
                if (exact and dump(after)[0] == text) or patches.same(after, data):
                    checked = 0 if action in CREATES else state[3]
            except AuditError:
                pass  # the importer finds it, and says so, if the line is imported
        text = memoryview(text).tobytes()  # kept: compact (orjson's bytes hold a 4 KiB buffer)
        blob, body, alone = codec.pack_revision(text, *(state[1:3] if state is not None else (None, None)))
        if alone:  # packed with no base, by the importer, which keeps the item's state from here on
            self._keep(where, _LEFT)
            return checked, None, derived
        if body is None:
            self._keep(where, (state[0], state[1], state[2], number, text, exact))
            return checked, (state[0], False, blob, None), derived
        self._keep(where, (number, text, len(body), number, text, exact))
        return checked, (state[0] if state is not None else None, True, blob, body), derived

    def _keep(self, where: tuple[str, str], state: tuple) -> None:
        self.items[where] = state
        self.held += len(state[1]) + len(state[4])
        while self.held > HELD_BYTES or len(self.items) > HELD_ITEMS:
            _, dropped = self.items.popitem(last=False)
            self.held -= len(dropped[1]) + len(dropped[4])

    def prepare_raw(self, number: int, raw: bytes | dict[str, Any]) -> tuple | str:
        """prepare() of a raw JSONL line (or an already parsed record), or the reason it is bad; a trailer line
        (trailer.py) is (trailer.MEMBER, the line), for the importer to check."""
        try:
            line = raw if type(raw) is dict else jsonl.parse_record(raw)
            if trailer.MEMBER in line and "action" not in line:
                return trailer.MEMBER, line
            return self.prepare(number, line)
        except AuditError as exc:
            return str(exc)


def _big(lines: jsonl.Lines) -> bool:
    """Whether the lines are worth a helper process: a file of HELPER_MIN_BYTES or more, or standard input from a
    pipe (of a size no one can tell: a helper costs a tenth of a second, and takes over a third off a big trail's
    time) or from such a file. Not a stream without a descriptor to hand over (a test's)."""
    if lines.source != "-":
        return (lines.size or 0) >= HELPER_MIN_BYTES
    try:
        status = os.fstat(sys.stdin.fileno())
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False
    return stat.S_ISFIFO(status.st_mode) or (stat.S_ISREG(status.st_mode) and status.st_size >= HELPER_MIN_BYTES)


def _blank(raw: Any) -> bool:
    return type(raw) is bytes and (not raw or raw.isspace())


class Prepared:
    """(line number, prepared tuple or error message) for each non-blank line; `position`/`size` as jsonl.Lines."""

    def __init__(self, lines: Iterable[tuple[int, bytes | dict[str, Any]]], *, key: bytes | None = None):
        self.lines = lines
        self.key = key
        self.size = getattr(lines, "size", None)
        self._position = 0
        self._helper: subprocess.Popen | None = None

    @property
    def position(self) -> int:
        return self._position if self._helper is not None else getattr(self.lines, "position", 0)

    def __iter__(self) -> Iterator[tuple[int, tuple | str]]:
        lines = self.lines
        if isinstance(lines, jsonl.Lines) and _big(lines) and self._start(lines.source):
            yield from self._from_helper()
            return
        preparer = Preparer(self.key)
        for number, raw in lines:
            if not _blank(raw):
                yield number, preparer.prepare_raw(number, raw)

    def _start(self, source: str) -> bool:
        try:
            # Standard input is the helper's own: it reads the lines, and this process never touches them.
            self._helper = helpers.start(_HELPER, source, env={_KEY_VARIABLE: self.key.hex() if self.key is not None else ""},
                                         stdin=None if source == "-" else subprocess.DEVNULL, stdout=subprocess.PIPE)
        except OSError:
            return False  # no helper: prepare here
        helpers.widen(self._helper.stdout)
        return True

    def _from_helper(self) -> Iterator[tuple[int, tuple | str]]:
        helper = self._helper
        assert helper is not None and helper.stdout is not None
        read = helper.stdout.read
        try:
            while True:
                head = read(_FRAME.size)
                if len(head) < _FRAME.size:
                    helper.wait()
                    raise AuditError(f"the import's helper process stopped (exit {helper.returncode}) before the "
                                     "end of the file: run the import again")
                kind, position, items = marshal.loads(read(_FRAME.unpack(head)[0]))
                if kind == "fail":
                    raise AuditError(items)
                if kind == "end":
                    return
                self._position = position
                yield from items
        finally:
            helper.stdout.close()
            if helper.poll() is None:
                helper.kill()
            helper.wait()


def _send(out: Any, kind: str, position: int, items: Any) -> None:
    payload = marshal.dumps((kind, position, items))
    out.write(_FRAME.pack(len(payload)))
    out.write(payload)


def main(argv: list[str]) -> int:
    """The helper: prepare every line of the file argv[0] and stream frames of them to stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the importer decides what an interrupt does
    out = sys.stdout.buffer
    lines = jsonl.Lines(argv[0])
    key = os.environ.get(_KEY_VARIABLE)
    preparer = Preparer(bytes.fromhex(key) if key else None, HELPER_SHARE)
    try:
        frame: list[tuple[int, tuple | str]] = []
        for number, raw in lines:
            if not _blank(raw):
                frame.append((number, preparer.prepare_raw(number, raw)))
                if len(frame) == FRAME_LINES:
                    _send(out, "lines", lines.position, frame)
                    frame = []
        _send(out, "lines", lines.position, frame)
        _send(out, "end", lines.position, None)
        out.flush()
    except AuditError as exc:  # the file itself (unreadable, a corrupt gzip stream)
        _send(out, "fail", 0, str(exc))
        out.flush()
    except BrokenPipeError:  # the importer stopped
        return 1
    return 0
