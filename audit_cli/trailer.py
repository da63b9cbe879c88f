"""The trailer an audit/1 export ends with: which lines the file holds, sealed.

A line's hash covers its activity and its link to the activity before it in the store, not which lines a file
holds: a line taken out of a filtered trail leaves a gap that looks like one the filter made, and a cut tail looks
like an export made earlier. The trailer says how many lines the export wrote, a digest of their ids and hashes in
file order, the filters and cursor that chose them, and the store's identity and head when it was written. Its own
hash covers all of that, as an HMAC with the chain key for a keyed store, so that without the key no one can make
a trailer for other lines (for an unkeyed trail, SHA-256 shows an edit that did not also rewrite the trailer;
an anchor shows the rest, README "Security").

A file may hold several segments, each ended by its trailer: cursor pieces, or a nightly archive appended to. Lines
after the last trailer are covered by none (a cut tail, or a file written by a release without trailers).

The gap marks need no cover of their own: a line's hash binds its prev_hash, so whether a line follows the one
before it is fixed by the hashes in the digest.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from . import jsontext
from .chain import GENESIS
from .models import SCHEMA

MEMBER = "trailer"  # a trailer line is {"schema": "audit/1", "trailer": {...}, "hash": ...}, and has no action
_SEAL_PREFIX = b"audit/1 trailer\n"
HMAC, SHA256 = "hmac-sha256", "sha256"
FIELDS = ("after_id", "count", "filters", "first_id", "head_hash", "head_id", "keyed", "last_id", "lines",
          "sealed", "store")


def line_entry(activity_id: Any, hash_: Any) -> bytes:
    """What one line adds to a segment's digest (a line without an integer id or a hash adds empty parts)."""
    return f"{activity_id if type(activity_id) is int else ''}:{hash_ if type(hash_) is str else ''}\n".encode()


@dataclass
class Segment:
    """The lines written (or read) since the last trailer."""

    count: int = 0
    first_id: int | None = None
    last_id: int | None = None
    digest: Any = field(default_factory=hashlib.sha256)

    def add(self, count: int, first_id: int | None, last_id: int | None, entries: bytes) -> None:
        """`count` lines, whose line_entry bytes are `entries`."""
        if not count:
            return
        if self.count == 0:
            self.first_id = first_id
        self.count += count
        self.last_id = last_id
        self.digest.update(entries)


def seal(trailer: dict[str, Any], key: bytes | None) -> str:
    message = _SEAL_PREFIX + jsontext.canonical(trailer).encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def make(segment: Segment, *, store: str, head_id: int, head_hash: str, keyed: bool, key: bytes | None,
         after_id: int | None, filters: dict[str, Any]) -> bytes:
    """The trailer line closing `segment`. A keyed store's trailer is sealed with its key when it is given, and
    says so; without it, only with SHA-256 (which verify then reports as not proving the trail's extent)."""
    trailer = {"after_id": after_id, "count": segment.count, "filters": filters, "first_id": segment.first_id,
               "head_hash": head_hash, "head_id": head_id, "keyed": keyed, "last_id": segment.last_id,
               "lines": segment.digest.hexdigest(), "sealed": HMAC if keyed and key is not None else SHA256,
               "store": store}
    line = {"schema": SCHEMA, MEMBER: trailer, "hash": seal(trailer, key if trailer["sealed"] == HMAC else None)}
    return (jsontext.canonical(line) + "\n").encode()


def is_trailer(line: dict[str, Any]) -> bool:
    return MEMBER in line and "action" not in line


@dataclass
class Finding:
    """What checking a file's trailers found: `failure` is the first (kind, line number, message) that shows an
    edit, else None; `segments` the trailers that held; `tail` the lines after the last one; `unsealed` the trailers
    of a keyed trail that a key did not seal (or that could not be checked, without the key)."""

    failure: tuple[str, int, str] | None = None
    segments: list[dict[str, Any]] = field(default_factory=list)
    sealed_at: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (line number, trailer) of each
    tail: int = 0
    # lines no trailer that the key sealed covers (after the last one, or under one anyone could have written) that
    # do not follow the line before them (or the start)
    uncovered_breaks: int = 0
    unsealed: int = 0
    skipped: bool = False  # a segment held a line skipped as invalid: its trailer was not checked


class Check:
    """Checks the trailers of a file as its lines go by: `line` for each activity line, `trailer` for each trailer."""

    def __init__(self, key: bytes | None):
        self.key = key
        self.segment = Segment()
        self.finding = Finding()
        self.skipped = False
        self.previous = GENESIS  # the hash of the line before
        self.breaks = 0  # in this segment

    def line(self, activity_id: Any, prev_hash: Any, hash_: Any) -> None:
        self.segment.add(1, activity_id if type(activity_id) is int else None,
                         activity_id if type(activity_id) is int else None, line_entry(activity_id, hash_))
        if prev_hash != self.previous or hash_ is None:
            self.breaks += 1
        self.previous = hash_

    def invalid(self) -> None:
        """A line of this segment was skipped (--skip-invalid): what the trailer covers is no longer all here."""
        self.skipped = True
        self.finding.skipped = True

    def trailer(self, number: int, line: dict[str, Any]) -> None:
        segment, self.segment = self.segment, Segment()
        skipped, self.skipped = self.skipped, False
        breaks, self.breaks = self.breaks, 0
        if self.finding.failure is not None or skipped:
            return
        unsealed = self.finding.unsealed
        problem = self._problem(line, segment)
        if self.finding.unsealed > unsealed:  # proves no more than no trailer would
            self.finding.uncovered_breaks += breaks
        if problem is not None:
            self.finding.failure = (problem[0], number, problem[1])
        else:
            self.finding.segments.append(line[MEMBER])
            self.finding.sealed_at.append((number, line[MEMBER]))

    def end(self) -> Finding:
        self.finding.tail = self.segment.count
        self.finding.uncovered_breaks += self.breaks
        return self.finding

    def _problem(self, line: dict[str, Any], segment: Segment) -> tuple[str, str] | None:
        trailer = line.get(MEMBER)
        if not isinstance(trailer, dict) or sorted(trailer) != sorted(FIELDS) or type(line.get("hash")) is not str:
            return "modified", f"the trailer does not have the members of an audit/1 trailer ({', '.join(FIELDS)})"
        if trailer["sealed"] not in (HMAC, SHA256) or (trailer["sealed"] == HMAC and trailer["keyed"] is not True):
            return "modified", "the trailer's seal does not match whether its trail is keyed"
        if trailer["sealed"] == HMAC and self.key is None:
            self.finding.unsealed += 1  # the caller refuses a keyed trail without its key before this
        elif line["hash"] != seal(trailer, self.key if trailer["sealed"] == HMAC else None):
            return "modified", "the trailer's hash does not cover what it says: it was edited" + (
                " (or the key is not the one it was sealed with)" if trailer["sealed"] == HMAC else "")
        elif trailer["keyed"] is True and trailer["sealed"] == SHA256:
            self.finding.unsealed += 1
        said = (trailer["count"], trailer["first_id"], trailer["last_id"], trailer["lines"])
        if said != (segment.count, segment.first_id, segment.last_id, segment.digest.hexdigest()):
            if trailer["count"] != segment.count:
                what = (f"{segment.count} line{'s' if segment.count != 1 else ''} where the export wrote "
                        f"{trailer['count']}: lines were {'removed' if segment.count < trailer['count'] else 'added'}")
            else:
                what = "lines that are not the ones the export wrote, in its order (changed, replaced or reordered)"
            return ("deleted" if segment.count < trailer["count"] else "inserted" if segment.count > trailer["count"]
                    else "modified"), f"the trailer here follows {what}"
        return None
