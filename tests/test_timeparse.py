"""timeparse: every accepted form of a time, the fixed-width stored form, and bad input as a usage error."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_cli.errors import ExitCode, UsageError
from audit_cli.timeparse import format_ts, normalize, parse_duration, parse_time

NOW = datetime(2026, 11, 20, 15, 30, 45, 123456, tzinfo=timezone.utc)
STORED = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", "2026-11-20T15:30:15.123456Z"),
        ("15m", "2026-11-20T15:15:45.123456Z"),
        ("12h", "2026-11-20T03:30:45.123456Z"),
        ("7d", "2026-11-13T15:30:45.123456Z"),
        ("2w", "2026-11-06T15:30:45.123456Z"),
        ("1d12h", "2026-11-19T03:30:45.123456Z"),
        ("0s", "2026-11-20T15:30:45.123456Z"),
        ("7D", "2026-11-13T15:30:45.123456Z"),
        (" 7d ", "2026-11-13T15:30:45.123456Z"),
    ],
)
def test_durations_mean_ago(text, expected):
    assert normalize(text, now=NOW) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", "2026-11-20T15:30:45.123456Z"),
        ("NOW", "2026-11-20T15:30:45.123456Z"),
        ("today", "2026-11-20T00:00:00.000000Z"),
        ("Today", "2026-11-20T00:00:00.000000Z"),
        ("yesterday", "2026-11-19T00:00:00.000000Z"),
    ],
)
def test_calendar_words_are_utc(text, expected):
    assert normalize(text, now=NOW) == expected


def test_calendar_words_use_the_utc_day_of_an_offset_now():
    # 01:00 on the 21st at +05:00 is still the 20th in UTC.
    local = datetime(2026, 11, 21, 1, 0, tzinfo=timezone(timedelta(hours=5)))
    assert normalize("today", now=local) == "2026-11-20T00:00:00.000000Z"
    assert normalize("yesterday", now=local) == "2026-11-19T00:00:00.000000Z"
    assert normalize("now", now=local) == "2026-11-20T20:00:00.000000Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20", "2026-11-20T00:00:00.000000Z"),
        ("2026-11-20T10:00", "2026-11-20T10:00:00.000000Z"),
        ("2026-11-20T10:00:00", "2026-11-20T10:00:00.000000Z"),
        ("2026-11-20 10:00:00", "2026-11-20T10:00:00.000000Z"),
        ("2026-11-20T10:00:00Z", "2026-11-20T10:00:00.000000Z"),
        ("2026-11-20T10:00:00z", "2026-11-20T10:00:00.000000Z"),
        ("2026-11-20T10:00:00+00:00", "2026-11-20T10:00:00.000000Z"),
        ("2026-11-20T10:00:00.5Z", "2026-11-20T10:00:00.500000Z"),
        ("2026-11-20T10:00:00.123456Z", "2026-11-20T10:00:00.123456Z"),
        ("2026-11-20T12:00:00+02:00", "2026-11-20T10:00:00.000000Z"),
        ("2026-11-20T05:30:00-04:30", "2026-11-20T10:00:00.000000Z"),
        ("2026-11-21T01:00:00+05:30", "2026-11-20T19:30:00.000000Z"),
        ("2026-01-01T00:30:00+01:00", "2025-12-31T23:30:00.000000Z"),
    ],
)
def test_iso_dates_and_date_times(text, expected):
    assert normalize(text, now=NOW) == expected


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(1, 1, 1, tzinfo=timezone.utc), "0001-01-01T00:00:00.000000Z"),
        (datetime(999, 2, 3, 4, 5, 6, 7, tzinfo=timezone.utc), "0999-02-03T04:05:06.000007Z"),
        (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc), "9999-12-31T23:59:59.999999Z"),
        (datetime(2026, 11, 20, 12, tzinfo=timezone(timedelta(hours=2))), "2026-11-20T10:00:00.000000Z"),
    ],
)
def test_stored_form_is_fixed_width_utc(moment, expected):
    assert format_ts(moment) == expected
    assert len(format_ts(moment)) == 27


def test_parse_duration_sums_units():
    assert parse_duration("1w2d3h4m5s") == timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)
    assert parse_duration("90m") == timedelta(minutes=90)


@pytest.mark.parametrize(
    "text",
    ["", "   ", "7", "d", "7x", "1.5h", "soon", "ago", "-2d ago", "7 dayz", "@", "@12x", "2026-11-20T10:00+02:00 UTC",
     "2026-13-01", "2026-11-31",
     "2026-11-20T25:00", "2026-11-20T10:00:00+25:00", "20261120T1000Zjunk", "'; DROP TABLE activity; --"],
)
def test_bad_times_are_usage_errors_naming_the_input(text):
    with pytest.raises(UsageError) as caught:
        parse_time(text, now=NOW)
    assert caught.value.exit_code == ExitCode.USAGE
    message = str(caught.value)
    assert repr(text) in message
    assert "\n" not in message
    assert "7d" in message and "yesterday" in message  # says what is accepted


@pytest.mark.parametrize("text", ["7", "7x", "1.5h", "h", "", "-1d"])
def test_bad_durations_are_usage_errors(text):
    with pytest.raises(UsageError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["99999999999d", "999999999999999w"])
def test_huge_durations_as_times_are_usage_errors(text):
    with pytest.raises(UsageError, match="duration"):
        parse_time(text, now=NOW)


@pytest.mark.parametrize("text", ["99999999999d", "999999999999999w"])
def test_huge_durations_are_usage_errors_not_overflow(text):
    # Durations (`--older-than`) are parsed on their own too; an OverflowError would escape as a traceback.
    with pytest.raises(UsageError, match="duration"):
        parse_duration(text)


def test_times_out_of_range_after_conversion_are_usage_errors():
    with pytest.raises(UsageError):
        parse_time("9999-12-31T23:59:59-01:00", now=NOW)
    with pytest.raises(UsageError):
        parse_time("0001-01-01T00:00:00+01:00", now=NOW)


aware = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]),
)


@settings(max_examples=200, deadline=None)
@given(aware)
def test_round_trip_through_iso_text(moment):
    stored = format_ts(moment)
    assert STORED.fullmatch(stored)
    assert normalize(moment.isoformat()) == stored
    assert normalize(stored) == stored
    assert parse_time(stored) == moment


@settings(max_examples=200, deadline=None)
@given(aware, aware)
def test_text_order_is_time_order(a, b):
    assert (format_ts(a) < format_ts(b)) == (a < b)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_parses_or_is_a_usage_error(text):
    try:
        stored = normalize(text, now=NOW)
    except UsageError as exc:
        assert "\n" not in str(exc)
    else:
        assert STORED.fullmatch(stored)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.sampled_from("smhdw"))
def test_durations_round_trip(amount, unit):
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    assert parse_duration(f"{amount}{unit}") == timedelta(seconds=amount * seconds)
    assert parse_time(f"{amount}{unit}", now=NOW) == NOW - timedelta(seconds=amount * seconds)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2 days ago", "2026-11-18T15:30:45.123456Z"),
        ("2 DAYS AGO", "2026-11-18T15:30:45.123456Z"),
        ("1 day ago", "2026-11-19T15:30:45.123456Z"),
        ("3 hours ago", "2026-11-20T12:30:45.123456Z"),
        ("1 hour, 30 minutes ago", "2026-11-20T14:00:45.123456Z"),
        ("2 days", "2026-11-18T15:30:45.123456Z"),
        ("7days", "2026-11-13T15:30:45.123456Z"),
        ("2d ago", "2026-11-18T15:30:45.123456Z"),
        ("-2d", "2026-11-18T15:30:45.123456Z"),
        ("- 2d", "2026-11-18T15:30:45.123456Z"),
        ("-1d12h", "2026-11-19T03:30:45.123456Z"),
        ("+1d", "2026-11-21T15:30:45.123456Z"),
        ("3mo", "2026-08-22T15:30:45.123456Z"),
        ("1 month ago", "2026-10-21T15:30:45.123456Z"),
        ("1y", "2025-11-20T15:30:45.123456Z"),
        ("2 years ago", "2024-11-20T15:30:45.123456Z"),
        ("1y2mo", "2025-09-21T15:30:45.123456Z"),
        ("@1790000000", "2026-09-21T14:13:20.000000Z"),
        ("@0", "1970-01-01T00:00:00.000000Z"),
        ("@1790000000.5", "2026-09-21T14:13:20.500000Z"),
        ("@-86400", "1969-12-31T00:00:00.000000Z"),
        ("tomorrow", "2026-11-21T00:00:00.000000Z"),
        ("2026-10-02 10:00:00 UTC", "2026-10-02T10:00:00.000000Z"),
        ("2026-10-02T10:00:00 utc", "2026-10-02T10:00:00.000000Z"),
        ("2026-10-02 10:00 GMT", "2026-10-02T10:00:00.000000Z"),
        ("2026-10-02 UTC", "2026-10-02T00:00:00.000000Z"),
    ],
)
def test_the_forms_people_type(text, expected):
    assert normalize(text, now=NOW) == expected


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2026-11-27", "2026-11-27T00:00:00.000000Z", "2026-11-27T23:59:59.999999Z"),
        ("2026-11-27 UTC", "2026-11-27T00:00:00.000000Z", "2026-11-27T23:59:59.999999Z"),
        ("today", "2026-11-20T00:00:00.000000Z", "2026-11-20T23:59:59.999999Z"),
        ("yesterday", "2026-11-19T00:00:00.000000Z", "2026-11-19T23:59:59.999999Z"),
        ("tomorrow", "2026-11-21T00:00:00.000000Z", "2026-11-21T23:59:59.999999Z"),
        ("9999-12-31", "9999-12-31T00:00:00.000000Z", "9999-12-31T23:59:59.999999Z"),
        # An instant is its own end: only whole days widen.
        ("2026-11-27T10:00:00Z", "2026-11-27T10:00:00.000000Z", "2026-11-27T10:00:00.000000Z"),
        ("2d", "2026-11-18T15:30:45.123456Z", "2026-11-18T15:30:45.123456Z"),
        ("now", "2026-11-20T15:30:45.123456Z", "2026-11-20T15:30:45.123456Z"),
    ],
)
def test_a_whole_day_ends_at_its_last_microsecond(text, start, end):
    assert normalize(text, now=NOW) == start
    assert normalize(text, now=NOW, end=True) == end


@pytest.mark.parametrize("text", ["3mo", "1y", "2 days", "1 week", "1y2mo3d"])
def test_durations_in_every_unit_are_lengths_too(text):
    # prune --older-than takes a length; the same text as a time is that length ago.
    assert parse_time(text, now=NOW) == NOW - parse_duration(text)


@pytest.mark.parametrize("text", ["999999999y", "99999999999999999999999d", "@99999999999999", "+9999999y"])
def test_huge_times_in_the_new_forms_are_usage_errors(text):
    with pytest.raises(UsageError) as caught:
        parse_time(text, now=NOW)
    assert "64 bits" not in str(caught.value)


FORMS = ["30s", "3mo", "1y", "1d12h", "-2d", "2 days ago", "+1d", "2026-11-20", "2026-11-20 UTC",
         "2026-11-20T10:00:00+02:00", "2026-11-20 10:00:00 UTC", "@1790000000", "now", "today", "yesterday",
         "tomorrow"]


def test_every_documented_form_parses_and_is_in_the_readme_table_and_the_help():
    from pathlib import Path

    from typer.testing import CliRunner

    from audit_cli.cli import app

    readme = Path(__file__).parent.parent / "README.md"
    table = readme.read_text(encoding="utf-8").split("**Times**", 1)[1].split("**Filter rules**", 1)[0]
    shown = CliRunner().invoke(app, ["log", "-h"]).stdout
    for form in FORMS:
        assert STORED.fullmatch(normalize(form, now=NOW))
        assert f"`{form}`" in table, form
        assert form.split()[0] in shown, form
