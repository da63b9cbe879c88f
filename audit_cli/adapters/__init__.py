"""Foreign audit trails (Directus, Strapi) as streams of audit/1 records for `AuditStore.import_lines`.

An adapter reads its source when opened, so that a missing file or a wrong layout fails before any store is made, and
yields records in the audit/1 shape (already parsed dicts) in the order they happened. Every record carries a stable
`key` taken from the source's own ids (`directus:activity:17`, `strapi:42`), so re-running an import adds only what
is new. A bad row stops the import naming the file and the row (nothing is kept: the store imports in one
transaction); with `skip_invalid` the adapter reports the row and goes on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ..errors import InvalidLine, UsageError
from ..models import ACTION_PATTERN
from ..timeparse import format_ts

FORMATS = ("audit", "directus", "strapi")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class RowError(Exception):
    """A row that cannot be turned into an activity; the adapter adds where it was."""


@dataclass
class Trail:
    """What an adapter made of a source: records to import, and what it skipped or noted on the way."""

    label: str  # names the source in the store's messages
    records: Iterable[tuple[int, bytes | dict[str, Any]]]
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def import_into(self, store: Any, *, skip_invalid: bool, **options: Any) -> dict[str, Any]:
        """One store transaction (`options` go to `import_lines`); the adapter's skipped rows count with the store's."""
        result = store.import_lines(self.records, source=self.label, skip_invalid=skip_invalid, **options)
        result["skipped_lines"] = self.skipped + result["skipped_lines"]
        result["skipped"] = len(result["skipped_lines"])
        result["notes"] = self.notes
        return result


def open_trail(fmt: str, source: str, *, skip_invalid: bool = False) -> Trail:
    """The records of `source` read as `fmt` (audit, directus or strapi)."""
    if fmt == "audit":
        from .. import jsonl

        return Trail(source, jsonl.read_lines(source))
    if fmt == "directus":
        from . import directus

        return directus.open_trail(source, skip_invalid=skip_invalid)
    if fmt == "strapi":
        from . import strapi

        return strapi.open_trail(source, skip_invalid=skip_invalid)
    raise UsageError(f"unknown import format {fmt!r}: use {', '.join(FORMATS)}")


class Rows:
    """Collects row errors: raises the first one, or with `skip_invalid` keeps it and lets the caller go on."""

    def __init__(self, skip_invalid: bool):
        self.skip_invalid = skip_invalid
        self.skipped: list[str] = []

    def bad(self, where: str, reason: str) -> None:
        message = f"{where}: {reason}"
        if not self.skip_invalid:
            raise InvalidLine(message + " (nothing was imported; {skip_invalid} imports the rest)",
                              params=("skip_invalid",))
        self.skipped.append(message)


# Values shared by the adapters


def instant(value: Any, *, what: str = "timestamp") -> str:
    """The stored timestamp for a source's time: epoch milliseconds (an integer, or digits) or an ISO 8601 text.

    Milliseconds convert exactly (integer arithmetic, microseconds kept); ISO texts without an offset are UTC.
    Relative words and durations are refused: a trail's times are absolute.
    """
    if isinstance(value, bool) or value is None:
        raise RowError(f"{what} is missing" if value is None else f"{what} must be a time, not a boolean")
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    try:
        if isinstance(value, int):
            return format_ts(_EPOCH + timedelta(milliseconds=value))
        if isinstance(value, float):
            return format_ts(_EPOCH + timedelta(microseconds=round(value * 1000)))
        if isinstance(value, str):
            text = value.strip()
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "Zz" and text else text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            return format_ts(moment)
    except (ValueError, OverflowError):
        pass
    raise RowError(f"{what} {value!r} is not a time: give epoch milliseconds or an ISO 8601 date-time")


def action_name(value: Any) -> str:
    """A source's action name as an audit action: lowercased; it must then be a slug such as entry.update."""
    if not isinstance(value, str) or not value.strip():
        raise RowError("action is missing")
    name = value.strip().lower()
    if not ACTION_PATTERN.fullmatch(name):
        raise RowError(f"action {value!r} is not a slug: actions are letters, digits, '.', '_' and '-', starting "
                       "with a letter, such as create or entry.update")
    return name


def text(value: Any) -> str | None:
    """A text column: None and '' stay None; numbers become their text."""
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)
