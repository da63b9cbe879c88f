"""Times as users type them ("7d", "2 days ago", "2026-11-20", "@1790000000") and as the store keeps them.

Stored timestamps are fixed-width UTC text, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, so that text order is time order and
range filters can use an index.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from .errors import UsageError

ACCEPTED = ("a duration ago (30s, 15m, 12h, 7d, 2w, 3mo, 1y, sums like 1d12h, -2d, '2 days ago'), "
            "an ISO 8601 date or date-time (a trailing UTC allowed), @EPOCH-SECONDS, now, today, yesterday or tomorrow")

# The one table of time forms, shown in --help (and mirrored in the README's).
HELP = """\b
  30s 15m 12h 7d 2w 3mo 1y      that long ago (mo: 30 days, y: 365); sums such as 1d12h
  -2d, 2 days ago, +1d          the same, said otherwise; + is from now
  2026-11-20, 2026-11-20 UTC    a UTC day; as an end (--until) it includes the whole day
  2026-11-20T10:00:00+02:00     ISO 8601; UTC without an offset, or with a trailing UTC
  @1790000000                   seconds since 1970
  now today yesterday tomorrow  the moment, or a whole UTC day"""

# A month and a year are fixed lengths, as in systemd's time spans, so that `--since 1y` and `prune --older-than
# 1y` (a length) mean the very same moment.
_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "wk": 604800, "wks": 604800, "week": 604800, "weeks": 604800,
    "mo": 30 * 86400, "month": 30 * 86400, "months": 30 * 86400,
    "y": 365 * 86400, "yr": 365 * 86400, "yrs": 365 * 86400, "year": 365 * 86400, "years": 365 * 86400,
}
_UNIT = "|".join(sorted(_UNITS, key=len, reverse=True))  # longest first: "mo" before "m", "days" before "d"
_PART = re.compile(rf"(\d+)\s*({_UNIT})(?![a-z])")
_DURATION = re.compile(rf"(?:\d+\s*(?:{_UNIT})(?![a-z])[\s,]*)+")
_AGO = re.compile(r"(?P<sign>[-+]?)\s*(?P<span>.*?)\s*(?P<ago>\bago)?")
_EPOCH = re.compile(r"@(-?\d+(?:\.\d+)?)")
_UTC_SUFFIX = re.compile(r"\s*(?:utc|gmt)$", re.IGNORECASE)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DAY = timedelta(days=1)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def format_ts(moment: datetime) -> str:
    """The stored form of a moment: UTC, microseconds, `Z`."""
    # isoformat, not strftime: strftime("%Y") does not zero-pad years before 1000 on every platform, isoformat
    # always writes four digits (and is 3x faster than formatting each field, which every record pays).
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")[:26] + "Z"


def parse_duration(text: str) -> timedelta:
    """A length of time: `30s`, `15m`, `12h`, `7d`, `2w`, `3mo`, `1y`, sums such as `1d12h`, or words (`2 days`)."""
    value = text.strip().lower()
    if not _DURATION.fullmatch(value):
        raise UsageError(f"invalid duration {text!r}: use a number and a unit (s, m, h, d, w, mo, y), "
                         "such as 30s, 12h, 7d, 2w, 3mo, 1y or '2 days'")
    seconds = sum(int(amount) * _UNITS[unit] for amount, unit in _PART.findall(value))
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise UsageError(f"duration {text!r} is too long: durations reach back at most to year 1") from None


def check_age(text: str, *, param: str = "older_than") -> timedelta:
    """A length of time that reaches back from now to a moment in the calendar (year 1 on): what an age such as
    `prune --older-than` or a retention limit may be."""
    duration = parse_duration(text)
    try:
        utcnow() - duration
    except OverflowError:
        raise UsageError(f"{{{param}}} {text!r} reaches back before year 1: give a shorter duration, "
                         "such as 90d, 12w or 10y", params=(param,), value=text) from None
    return duration


def _relative(word: str) -> tuple[int, str] | None:
    """(+1 for the future, -1 for the past, the duration text) when `word` is a duration phrase, else None."""
    match = _AGO.fullmatch(word)
    if match is None or not _DURATION.fullmatch(match["span"]):
        return None
    if match["ago"] and match["sign"]:
        return None  # "-2d ago" says the direction twice: refuse rather than guess
    return (1 if match["sign"] == "+" else -1), match["span"]


def _span(text: str, now: datetime) -> tuple[datetime, datetime]:
    """The first and last microsecond that `text` names: one instant, or a whole UTC day for a date or calendar
    word, so that an end (`--until 2026-11-27`) can include that day."""
    value = text.strip()
    word = value.lower()
    midnight = now.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    days = {"today": 0, "yesterday": -1, "tomorrow": 1}
    if word == "now":
        return now, now
    if word in days:
        start = midnight + days[word] * _DAY
        return start, start + _DAY - timedelta(microseconds=1)
    relative = _relative(word)
    if relative is not None:
        sign, span = relative
        duration = parse_duration(span)
        try:
            moment = now + sign * duration
        except OverflowError:
            raise UsageError(f"time {text!r} lies beyond years 1 to 9999: use a smaller duration") from None
        return moment, moment
    epoch = _EPOCH.fullmatch(value)
    if epoch:
        try:
            moment = datetime.fromtimestamp(float(epoch[1]), tz=timezone.utc)
        except (ValueError, OverflowError, OSError):
            raise UsageError(f"time {text!r} lies beyond years 1 to 9999: give seconds since 1970") from None
        return moment, moment
    return _iso(text, value)


def _iso(text: str, value: str) -> tuple[datetime, datetime]:
    utc = _UTC_SUFFIX.search(value)
    iso = value[: utc.start()] if utc else value
    iso = iso[:-1] + "+00:00" if iso[-1:] in ("Z", "z") else iso
    try:
        moment = datetime.fromisoformat(iso)
        if moment.tzinfo is not None and utc:
            raise ValueError("an offset and UTC")
        moment = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise UsageError(f"invalid time {text!r}: use {ACCEPTED}") from None
    if _DATE.fullmatch(iso):
        try:
            return moment, moment + _DAY - timedelta(microseconds=1)
        except OverflowError:  # 9999-12-31: its day ends with the calendar
            return moment, moment.replace(hour=23, minute=59, second=59, microsecond=999999)
    return moment, moment


def absolute(text: str, *, what: str = "timestamp") -> str:
    """A trail's time, which must say when by itself: ISO 8601 (a date, or a date and time; UTC without an offset),
    as the stored text. Durations, words and @seconds are what a person types, not what a trail holds."""
    iso = text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text
    try:
        if not text[:4].isdigit():
            raise ValueError(text)
        moment = datetime.fromisoformat(iso)
        moment = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
        return format_ts(moment)
    except (ValueError, OverflowError):
        raise UsageError(f"{what} {text!r} is not an ISO 8601 time: a trail's times are absolute, such as "
                         "2026-11-20T10:00:00Z or 2026-11-20T12:00:00+02:00") from None


def parse_time(text: str, *, now: datetime | None = None, end: bool = False) -> datetime:
    """A moment in UTC from what a user typed; times without an offset are UTC.

    With `end`, a whole day (a date, today, yesterday, tomorrow) stands for its last microsecond, so that a range
    ending on it includes it."""
    start, last = _span(text, now or utcnow())
    return last if end else start


def instant(value: str | datetime, *, param: str = "timestamp", end: bool = False) -> str:
    """The stored form of a time given to the library: an aware datetime, or text in any form `parse_time` reads
    (text without an offset is UTC, as on the command line). A naive datetime is refused: its zone is a guess."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise UsageError(f"{{{param}}} {value.isoformat()} has no time zone: give an aware datetime, such as "
                             "datetime.now(timezone.utc)", params=(param,), value=value)
        return format_ts(value)
    if not isinstance(value, str):
        raise UsageError(f"{{{param}}} must be a datetime or text, not {type(value).__name__}", params=(param,),
                         value=value)
    return normalize(value, end=end)


def normalize(text: str, *, now: datetime | None = None, end: bool = False) -> str:
    """What a user typed, as the stored timestamp text (the end of a whole day with `end`)."""
    return format_ts(parse_time(text, now=now, end=end))
