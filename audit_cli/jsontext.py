"""JSON as the store reads and writes it.

User input is parsed strictly: duplicate keys, NaN and Infinity are refused, because an audit trail must read back
exactly what it was given and those have no single meaning. Integers of any size are kept (orjson would turn ones past
64 bits into floats), so parsing goes through the stdlib; dumping tries orjson first for speed.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from .errors import UsageError


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"duplicate key {dup!r}")
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:20]} is beyond the range of a double")
    return value


DATA_EXAMPLE = '{"title": "New"}'


def parse(text: str | bytes, *, what: str = "JSON", example: str = DATA_EXAMPLE) -> Any:
    """Parse user-given JSON strictly; errors name `what` and say what is accepted, with an `example` of it."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_float=_finite)
        canonical(value).encode("utf-8")  # a lone surrogate escape ("\\ud800") cannot be stored as UTF-8
        return value
    except UnicodeEncodeError:
        raise UsageError(f"{what} holds a lone UTF-16 surrogate escape: give valid Unicode text") from None
    except UnicodeDecodeError:
        raise UsageError(f"{what} is not valid UTF-8: give UTF-8 encoded JSON") from None
    except RecursionError:
        raise UsageError(f"{what} is nested too deeply: at most about 900 levels are accepted") from None
    except ValueError as exc:
        raise UsageError(f"{what} is not valid JSON ({exc}): give JSON such as {example}") from None


def parse_object(text: str | bytes, *, what: str, example: str = DATA_EXAMPLE) -> dict[str, Any]:
    value = parse(text, what=what, example=example)
    if not isinstance(value, dict):
        raise UsageError(f"{what} must be a JSON object such as {example}, not {type_name(value)}")
    return value


# What json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")) makes for each call, made once:
# building it was a third of check_value's cost, which every record with data pays (bench_api).
_STRICT = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def check_value(value: Any, *, param: str) -> Any:
    """Refuse a Python value (given to the library, not parsed from text) that JSON cannot hold exactly: another
    type than dict, list, str, int, float, bool and None, a key that is not text, NaN or infinity, text that is not
    valid Unicode."""
    try:
        _STRICT.encode(value).encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{{{param}}} holds a lone UTF-16 surrogate: give valid Unicode text", params=(param,)) \
            from None
    except RecursionError:
        raise UsageError(f"{{{param}}} is nested too deeply: at most about 900 levels are accepted",
                         params=(param,)) from None
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{{{param}}} cannot be stored as JSON ({exc}): give dicts, lists, text, numbers, "
                         "booleans and None", params=(param,)) from None
    return value


def type_name(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def dumps(value: Any) -> str:
    """Compact JSON text, keys in their given order."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers past 64 bits
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    """Read JSON that this program wrote. The stdlib, because orjson reads big integers back as floats."""
    return json.loads(text)


def canonical(value: Any) -> str:
    """The one canonical form for hashes and equality: sorted keys, no spaces, UTF-8, integers exact.

    orjson with sorted keys gives the same text as the stdlib's sort_keys/compact/ensure_ascii=False form (tested),
    ten times faster; integers past 64 bits go through the stdlib.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
