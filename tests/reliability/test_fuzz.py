"""Hypothesis fuzz of `audit record` and `audit import` through CliRunner, within and outside the accepted forms.

record: either exit 0 and the activity reads back exactly (`audit show`), or exit 2/1 with one error line and nothing
written; never an exception. import: random JSONL files mixing valid audit/1 lines and broken ones: a file with a
broken line is refused whole (exit 1, the line named, nothing kept), a valid one is imported, and never a crash.
"""

from __future__ import annotations

import json
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import canonical, count, error_line

FUZZ = settings(max_examples=100, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

# Text as it can arrive in argv: any Unicode but NUL and lone surrogates (test_hostile_input covers those).
ARG_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
KEYS = st.sampled_from(["a", "title", "", "a/b", "m~n", "~1", "/", "0", "-", "é", "x" * 40, "'; DROP TABLE activity; --"]) | ARG_TEXT
SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80)
           | st.floats(allow_nan=False, allow_infinity=False) | ARG_TEXT | st.text(max_size=5).filter(
               lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s)))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
                      max_leaves=16)
OBJECTS = st.dictionaries(KEYS, VALUES, max_size=6)
GOOD_ACTIONS = st.sampled_from(["create", "update", "delete", "soft-delete", "login", "logout", "comment", "upload",
                                "entry.update", "version_save", "a", "x-1.y_2"])
BAD_ACTIONS = st.sampled_from(["", "Login", "1abc", "-x", "-h", "--", "prune", "revert", "promote", "version-save",
                               "a b", "'; DROP TABLE activity; --", "é"]) | ARG_TEXT
BROKEN_JSON = st.sampled_from([
    "", " ", "{", "}", "[", '{"a": 1, "a": 2}', '{"a": NaN}', '{"a": Infinity}', "{'a': 1}", '{"a": 1,}', "nul",
    '{"a": "\\ud800"}', '{"a": 1} x', "[1, 2", '"unterminated', "0x10", "+1", "01", ".5", "1e", "tru",
]) | ARG_TEXT


def json_arg(draw, *, objects: bool):
    """A --data/--details argument: valid JSON of the expected shape, another JSON value, or broken text."""
    kind = draw(st.sampled_from(["good", "good", "other", "broken"]))
    if kind == "good":
        value = draw(OBJECTS if objects else VALUES)
        return value, json.dumps(value, ensure_ascii=draw(st.booleans()))
    if kind == "other":
        value = draw(VALUES)
        return value, json.dumps(value)
    return None, draw(BROKEN_JSON)


DATA_ACTIONS = ("create", "update", "delete", "soft-delete")


@st.composite
def record_requests(draw):
    """Half well-formed requests (which must succeed unless the item's state forbids them), half anything."""
    well_formed = draw(st.booleans())
    action = draw(GOOD_ACTIONS if well_formed else GOOD_ACTIONS | BAD_ACTIONS)
    request = {"action": action, "collection": draw(ARG_TEXT | st.just("articles")),
               "item": draw(ARG_TEXT | st.sampled_from(["1", "2"]))}
    args = ["record", action, "-c", request["collection"], "-i", request["item"]]
    for flag, name in (("--user", "user"), ("--ip", "ip"), ("--user-agent", "user_agent"), ("--origin", "origin"),
                       ("--comment", "comment")):
        if draw(st.booleans()) or (well_formed and action == "comment" and name == "comment"):
            request[name] = draw(ARG_TEXT | st.just("'; DROP TABLE activity; --"))
            if well_formed and action == "comment" and name == "comment" and not request[name]:
                request[name] = "text"
            args += [flag, request[name]]
    if draw(st.booleans()):
        if well_formed:
            request["details"] = draw(VALUES)
            text = json.dumps(request["details"], ensure_ascii=draw(st.booleans()))
        else:
            request["details"], text = json_arg(draw, objects=False)
        args += ["--details", text]
    # A delete keeps the item's state as it is: --data on one is a usage error, so not well-formed.
    if ((action in DATA_ACTIONS and action != "delete") or not well_formed) and draw(st.booleans()):
        if well_formed:
            request["data"] = draw(OBJECTS)
            text = json.dumps(request["data"], ensure_ascii=draw(st.booleans()))
        else:
            request["data"], text = json_arg(draw, objects=True)
        args += ["--data", text]
        if draw(st.booleans()):
            args.append("--replace")
    return well_formed, request, args


def test_fuzz_record(cli, db_path, measure):
    outcomes: Counter = Counter()

    @FUZZ
    @given(record_requests())
    def check(case):
        well_formed, request, args = case
        before = count(db_path) if db_path.exists() else 0
        result = cli(*args, ok=False)
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
        assert result.exit_code in (0, 1, 2), (args, result.output)
        outcomes[("well-formed" if well_formed else "any"), result.exit_code] += 1
        if request["action"] in ("-h", "--help"):  # an "action" that is the help flag: help, nothing recorded
            assert result.exit_code == 0 and result.stdout.startswith("Usage:")
            assert (count(db_path) if db_path.exists() else 0) == before
            return
        if result.exit_code:
            line = error_line(result.stderr)
            if well_formed:  # only the item's state may refuse a well-formed request
                assert result.exit_code == 1, (args, line)
                assert request["action"] in DATA_ACTIONS or "--replace" in args, (args, line)
            assert (count(db_path) if db_path.exists() else 0) == before, args
            return
        assert count(db_path) == before + 1, args
        shown = cli.json("show", result.stdout.strip())
        for name in ("action", "collection", "item", "ip", "user_agent", "origin", "comment"):
            assert shown[name] == request.get(name), (name, args)
        if "user" in request:
            assert shown["user"] == request["user"]
        assert canonical(shown["details"]) == canonical(request.get("details")), args
        if request["action"] == "create" and "data" in request:
            assert canonical(shown["revision"]["data"]) == canonical(request["data"]), args

    check()
    assert outcomes["well-formed", 0] >= 10 and outcomes["any", 2] >= 10, outcomes
    assert cli("verify").stdout.startswith("OK")
    measure("outcomes", {f"{kind} exit {code}": n for (kind, code), n in sorted(outcomes.items())})


# import

TIMES = st.sampled_from(["2026-01-01T00:00:00Z", "2026-11-20T10:00:00.123456Z", "2026-11-20T10:00:00+01:00",
                         "2020-02-29", "1999-12-31T23:59:59.999999+00:00"])


@st.composite
def good_line(draw):
    action = draw(GOOD_ACTIONS)
    line = {"schema": "audit/1", "action": action, "timestamp": draw(TIMES), "collection": draw(ARG_TEXT),
            "item": draw(ARG_TEXT | st.integers(0, 10**6))}  # an import names lines by number, not by item
    for name in ("user", "ip", "user_agent", "origin"):
        if draw(st.booleans()):
            line[name] = draw(ARG_TEXT | st.none())
    if action == "comment" or draw(st.booleans()):
        line["comment"] = draw(ARG_TEXT.filter(bool)) if action == "comment" else draw(ARG_TEXT | st.none())
    if draw(st.booleans()):
        line["details"] = draw(VALUES)
    # Not on a create: the store keeps its items from one example to the next, and a create of one that exists is
    # refused, as `record create` refuses it (tests/test_nothing_lost.py).
    if action in ("update", "soft-delete", "delete") and draw(st.booleans()):
        line["revision"] = {"data": draw(OBJECTS)}
    return json.dumps(line, ensure_ascii=draw(st.booleans()))


@st.composite
def broken_line(draw):
    base = json.loads(draw(good_line()))
    how = draw(st.sampled_from(["truncate", "bytes", "missing", "item", "action", "time", "dup", "nan", "revision",
                                "array", "schema", "text", "hash"]))
    if how == "truncate":
        text = json.dumps(base)
        return text[: draw(st.integers(1, len(text) - 1))]
    if how == "bytes":
        return draw(st.binary(min_size=1, max_size=40)).decode("latin-1").replace("\n", " ").strip() + "\x80\xff"
    if how == "missing":
        del base[draw(st.sampled_from(["action", "timestamp", "collection", "item"]))]
    elif how == "item":
        base["item"] = draw(st.sampled_from([[1], {"a": 1}, True, 1.5, None]))
    elif how == "action":
        base["action"] = draw(st.sampled_from(["Bad Action", "", "1x", 5, None]))
    elif how == "time":
        base["timestamp"] = draw(st.sampled_from(["not a time", "2026-13-01", "", 12, "99999-01-01T00:00:00Z"]))
    elif how == "dup":
        text = json.dumps(base)
        return text[:-1] + ', "action": "login"}'
    elif how == "nan":
        text = json.dumps(base)
        return text[:-1] + ', "details": NaN}'
    elif how == "revision":
        base["revision"] = draw(st.sampled_from(["x", 1, [1], {"delta": "nope"}, {"data": {}, "delta": [{"op": "x"}]}]))
    elif how == "array":
        return json.dumps([base])
    elif how == "schema":
        base["schema"] = draw(st.sampled_from(["audit/2", "", None, 1]))
        if base["schema"] is None:
            base["schema"] = "audit/0"
    elif how == "text":
        return draw(st.sampled_from(["null", "1", '"x"', "true", "[]"]))
    elif how == "hash":
        base["hash"], base["prev_hash"] = "z" * 10, "0" * 64
    return json.dumps(base)


@st.composite
def trails(draw):
    kinds = draw(st.lists(st.integers(0, 9).map(lambda n: n < 8), min_size=1, max_size=10))
    out = []
    for good in kinds:
        out.append((good, draw(good_line()) if good else draw(broken_line())))
    if draw(st.booleans()):
        out.insert(draw(st.integers(0, len(out))), (True, ""))  # a blank line is skipped
    return out


def test_fuzz_import(cli, db_path, tmp_path, measure):
    outcomes: Counter = Counter()
    trail = tmp_path / "trail.jsonl"
    cli("record", "login", "-c", "seed", "-i", "0")

    @FUZZ
    @given(trails(), st.booleans())
    def check(lines, skip_invalid):
        trail.write_bytes(b"".join(text.encode("utf-8", "surrogateescape") + b"\n" for _, text in lines))
        before = count(db_path)
        args = ["import", str(trail)] + (["--skip-invalid"] if skip_invalid else [])
        result = cli(*args, ok=False)
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        broken = [n for n, (good, _) in enumerate(lines, 1) if not good]
        outcomes["broken" if broken else "valid", result.exit_code] += 1
        if broken and not skip_invalid:
            assert result.exit_code == 1, (lines, result.output)
            line = error_line(result.stderr)
            assert f"line {broken[0]}" in line, (broken, line)
            assert count(db_path) == before
            return
        assert result.exit_code == 0, (lines, result.output)
        summary = result.stderr.strip().splitlines()[-1]
        added = int(summary.split("imported ", 1)[1].split(" ", 1)[0])
        assert count(db_path) == before + added
        good = sum(1 for ok_, text in lines if ok_ and text)
        assert added <= good
        if skip_invalid and broken:
            assert f"skipped {len(broken)} invalid line{'' if len(broken) == 1 else 's'}" in summary, summary
        # Importing the same file again adds nothing.
        again = cli(*args, ok=False)
        assert again.exit_code == 0 and "imported 0 activities" in again.stderr
        assert count(db_path) == before + added

    check()
    assert outcomes["valid", 0] >= 5 and outcomes["broken", 1] >= 5, outcomes
    assert cli("verify").stdout.startswith("OK")
    measure("outcomes", {f"{kind} exit {code}": n for (kind, code), n in sorted(outcomes.items())})
    measure("activities", count(db_path))
