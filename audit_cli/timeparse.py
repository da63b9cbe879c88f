"""Times as users type them ("7d", "2026-11-20", "yesterday") and as the store keeps them.

Stored timestamps are fixed-width UTC text, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, so that text order is time order and
range filters can use an index.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from .errors import UsageError

ACCEPTED = "a duration ago (30s, 15m, 12h, 7d, 2w, or 1d12h), an ISO 8601 date or date-time, now, today or yesterday"

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"(?:(\d+)([smhdw]))+")
_PART = re.compile(r"(\d+)([smhdw])")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def format_ts(moment: datetime) -> str:
    """The stored form of a moment: UTC, microseconds, `Z`."""
    m = moment.astimezone(timezone.utc)
    # strftime("%Y") does not zero-pad years before 1000 on every platform; the width must be fixed.
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}.{m.microsecond:06d}Z"


def parse_duration(text: str) -> timedelta:
    """`30s`, `15m`, `12h`, `7d`, `2w`, or a sum such as `1d12h`."""
    value = text.strip().lower()
    if not _DURATION.fullmatch(value):
        raise UsageError(f"invalid duration {text!r}: use a number and a unit s, m, h, d or w, such as 30s, 12h, 7d, 2w")
    total = timedelta()
    try:
        for amount, unit in _PART.findall(value):
            total += timedelta(**{_UNITS[unit]: int(amount)})
    except OverflowError:
        raise UsageError(f"duration {text!r} is too long: durations reach back at most to year 1") from None
    return total


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """A moment in UTC from what a user typed; times without an offset are UTC."""
    now = now or utcnow()
    value = text.strip()
    word = value.lower()
    midnight = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    if word == "now":
        return now
    if word == "today":
        return midnight
    if word == "yesterday":
        return midnight - timedelta(days=1)
    if _DURATION.fullmatch(word):
        duration = parse_duration(word)
        try:
            return now - duration
        except OverflowError:
            raise UsageError(f"duration {text!r} reaches before year 1: use a smaller one") from None
    iso = value[:-1] + "+00:00" if value[-1:] in ("Z", "z") else value
    try:
        moment = datetime.fromisoformat(iso)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise UsageError(f"invalid time {text!r}: use {ACCEPTED}") from None


def normalize(text: str, *, now: datetime | None = None) -> str:
    """What a user typed, as the stored timestamp text."""
    return format_ts(parse_time(text, now=now))
