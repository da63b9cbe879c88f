"""Activity filters (flags and Directus filter rules) as an SQL where-clause with parameters.

Nothing a user typed is pasted into SQL: field names are checked against the known columns and every value is bound.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Any

from . import jsontext, timeparse
from .errors import UsageError
from .models import ACTIVITY_FIELDS, COMMENT_CHANGES, DELETES, TEXT_SEARCH_FIELDS, TIME_FIELDS, LogQuery

Clause = tuple[str, list[Any]]
Column = tuple[str, list[Any]]  # an SQL expression with the parameters it binds

_COMPARE = {"_eq": "=", "_gt": ">", "_gte": ">=", "_lt": "<", "_lte": "<="}
OPERATORS = (
    "_eq _neq _in _nin _gt _gte _lt _lte _contains _ncontains _icontains _starts_with _nstarts_with "
    "_istarts_with _ends_with _nends_with _null _nnull _empty _nempty _between _nbetween _and _or"
).split()


def _bad(message: str, param: str = "filter") -> UsageError:
    return UsageError(message, params=(param,))


def check_field(name: str, *, param: str, extra: tuple[str, ...] = ()) -> str:
    if not isinstance(name, str) or (name not in ACTIVITY_FIELDS and name not in extra):
        raise UsageError(f"unknown field {name!r} in {{{param}}}: use one of {', '.join(ACTIVITY_FIELDS + extra)}",
                         params=(param,), value=name)
    return name


def parse_fields(text: str, *, param: str = "fields", extra: tuple[str, ...] = ()) -> list[str]:
    """Field names from a comma list; `extra` names what a listing can add to the activity's own (log's delta)."""
    names = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not names:
        raise _bad(f"{{{param}}} is empty: give a comma list such as id,action,user", param)
    return [check_field(name, param=param, extra=extra) for name in names]


def parse_sort(text: str) -> list[str]:
    keys = [part.strip() for part in text.split(",") if part.strip()]
    if not keys:
        raise _bad("{sort} is empty: give a field such as timestamp, or -timestamp for newest first", "sort")
    for key in keys:
        check_field(key.lstrip("-"), param="sort")
    return keys


def order_by(sort: list[str]) -> str:
    terms = []
    for key in sort:
        name = key.lstrip("-")
        terms.append(f"{name} {'DESC' if key.startswith('-') else 'ASC'}")
    if not any(key.lstrip("-") == "id" for key in sort):
        # Ties (same timestamp) keep insertion order, in the direction of the first key.
        terms.append("id DESC" if sort and sort[0].startswith("-") else "id ASC")
    return ", ".join(terms)


def _like_pattern(text: str, *, prefix: bool = False) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%" if prefix else f"%{escaped}%"


def fold(value: object) -> str | None:
    """The one case folding of every case-insensitive match (-q, _icontains, _istarts_with): Unicode's full case
    folding of the NFC form, so that ZOË finds Zoë however its ë was typed, and STRASSE finds Straße. Registered on
    each connection as fold()."""
    if not isinstance(value, str):
        return None
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).casefold())


def number(value: object) -> int | float | None:
    """A text field's value as a number, or None when it is not one: `{"item": {"_gt": 9}}` compares numbers, and
    an item such as "abc" is neither above nor below 9. Registered on each connection as number()."""
    if isinstance(value, (int, float)):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return int(value)
    except ValueError:
        pass
    try:
        result = float(value)
    except ValueError:
        return None
    return result if result == result and result not in (float("inf"), float("-inf")) else None


def week(timestamp: object) -> str | None:
    """The ISO 8601 week ("2026-W47") of a stored timestamp, for `stats --by week`. Registered as iso_week()."""
    if not isinstance(timestamp, str):
        return None
    try:
        year, number_, _ = date.fromisoformat(timestamp[:10]).isocalendar()
    except ValueError:
        return None
    return f"{year:04d}-W{number_:02d}"


def _ifind(column: Column, text: str, *, prefix: bool = False) -> Clause:
    """`column` holds `text` (or starts with it), ignoring case as fold() does."""
    c, cp = column
    needle = fold(text) or ""
    if prefix:
        folded = (f"substr(fold({c}), 1, ?) = ?", cp + [len(needle), needle])
    else:
        folded = (f"instr(fold({c}), ?) > 0", cp + [needle])
    if not text.isascii():
        return folded
    # SQLite's LIKE folds ASCII only, which is exact for a row of printable ASCII, and fast: only the rows that
    # hold anything else go through fold().
    like = _like_pattern(text, prefix=prefix)
    return (f"({c} LIKE ? ESCAPE '\\' OR ({c} GLOB '*[^ -~]*' AND {folded[0]}))", cp + [like] + cp + folded[1])


def _in(column: str, values: list[Any], *, negate: bool = False) -> Clause:
    if not values:
        return ("1" if negate else "0", [])
    marks = ", ".join("?" * len(values))
    return (f"{column} {'NOT IN' if negate else 'IN'} ({marks})", list(values))


def where(query: LogQuery) -> Clause:
    """The where-clause for a query's flags and filter rules ("1" when there are none)."""
    parts: list[Clause] = []
    for column, values in (
        ("action", query.actions),
        ("user", query.users),
        ("collection", query.collections),
        ("item", query.items),
    ):
        if len(values) == 1:
            parts.append((f"{column} = ?", [values[0]]))
        elif values:
            parts.append(_in(column, values))
    if query.since:
        parts.append(("timestamp >= ?", [query.since]))
    if query.until:
        parts.append(("timestamp <= ?", [query.until]))
    if query.after_id is not None:
        parts.append(("id > ?", [query.after_id]))
    if query.max_id is not None:
        parts.append(("id <= ?", [query.max_id]))
    named = filter_fields(query.filter) if query.filter else set()
    if not query.include_deleted and "comment_deleted_on" not in named and \
            (not query.actions or "comment" in query.actions):
        # Only comments are soft-deleted; leaving the test out when no comment can match keeps counts on the index.
        # A filter on comment_deleted_on asks about deleted comments itself.
        parts.append(("comment_deleted_on IS NULL", []))
    if not query.comment_changes and not query.actions and "action" not in named:
        # The chained records of comment edits and deletes are bookkeeping of the comment's state (and hold its
        # earlier text): listed when asked for by action (-a, or a --filter rule on action), and always exported.
        parts.append((f"action NOT IN ({', '.join('?' * len(COMMENT_CHANGES))})", list(COMMENT_CHANGES)))
    if query.search:
        parts.append(_search(query.search))
    if query.field_path:
        parts.append(_touches(query.field_path))
    if query.filter:
        parts.append(filter_clause(query.filter))
    return _join(parts, "AND")


def _search(text: str) -> Clause:
    return _join([_ifind((column, []), text) for column in TEXT_SEARCH_FIELDS], "OR")


def _touches(path: str) -> Clause:
    # An op touches /a/b when its path is /a/b, lies below it, or replaces a parent of it. A delete touches the
    # root, the parent of every path: it removes the whole item (its stored delta is empty, as it keeps the state).
    # A delta packed against its snapshot is read through the store's revision_delta (store/snapshots.py).
    sql = (
        "id IN (SELECT r.activity FROM revisions r, json_each(CASE WHEN typeof(r.delta) = 'text' THEN r.delta "
        "ELSE revision_delta(r.base, r.data, r.delta) END) op WHERE "
        "op.value ->> '$.path' = ? OR op.value ->> '$.path' LIKE ? ESCAPE '\\' "
        "OR ? LIKE replace(replace(replace(op.value ->> '$.path', '\\', '\\\\'), '%', '\\%'), '_', '\\_') "
        f"|| '/%' ESCAPE '\\') OR (action IN ({', '.join('?' * len(DELETES))}) AND id IN "
        "(SELECT activity FROM revisions WHERE version IS NULL))"
    )
    return (sql, [path, _like_pattern(path + "/", prefix=True), path, *DELETES])


def _join(parts: list[Clause], glue: str) -> Clause:
    if not parts:
        return ("1", [])
    sql = f" {glue} ".join(f"({text})" for text, _ in parts) if len(parts) > 1 else parts[0][0]
    return (sql, [param for _, params in parts for param in params])


def filter_clause(rules: Any) -> Clause:
    """Directus filter rules, such as {"action": {"_in": ["create", "update"]}, "_or": [...]}."""
    if not isinstance(rules, dict):
        raise _bad('{filter} must be a JSON object such as {"action": {"_eq": "update"}}')
    parts: list[Clause] = []
    for key, value in rules.items():
        if key in ("_and", "_or"):
            if not isinstance(value, list) or not value:
                raise _bad(f"{{filter}} {key} takes a non-empty array of filter objects")
            parts.append(_join([filter_clause(rule) for rule in value], key[1:].upper()))
        elif key.startswith("_"):
            raise _bad(f"{{filter}}: {key} is not allowed at the top level: use a field name, _and or _or")
        elif key == "details" and isinstance(value, dict) and not any(k.startswith("_") for k in value):
            parts.append(_details_rules(value, "$"))
        else:
            parts.append(_field_rules(check_field(key, param="filter"), key, value))
    return _join(parts, "AND")


def filter_fields(rules: Any) -> set[str]:
    """The fields that filter rules name, at any depth of _and / _or."""
    names: set[str] = set()
    if isinstance(rules, dict):
        for key, value in rules.items():
            if key in ("_and", "_or"):
                for rule in value if isinstance(value, list) else ():
                    names |= filter_fields(rule)
            else:
                names.add(key)
    return names


def _details_rules(rules: dict[str, Any], path: str) -> Clause:
    # {"details": {"reason": {"_eq": "x"}}} looks inside the details JSON; the path is a bound parameter.
    parts = []
    for key, value in rules.items():
        if '"' in key:
            raise _bad(f"{{filter}}: details key {key!r} may not contain a double quote")
        sub = f'{path}."{key}"'
        if isinstance(value, dict) and value and not any(k.startswith("_") for k in value):
            parts.append(_details_rules(value, sub))
        else:
            parts.append(_field_rules(("json_extract(details, ?)", [sub]), "details", value))
    return _join(parts, "AND")


def _field_rules(column: Column | str, name: str, rules: Any) -> Clause:
    if isinstance(column, str):
        column = (column, [])
    if not isinstance(rules, dict) or not rules:
        raise _bad(f'{{filter}}: {name} needs operators, such as {{"{name}": {{"_eq": "value"}}}}')
    parts = []
    for op, value in rules.items():
        if op not in OPERATORS or op in ("_and", "_or"):
            raise _bad(f"{{filter}}: unknown operator {op!r} on {name}: use one of {', '.join(OPERATORS[:-2])}")
        parts.append(_operator(column, name, op, value))
    return _join(parts, "AND")


_TEXT_OPS = ("_contains", "_ncontains", "_icontains", "_starts_with", "_nstarts_with", "_istarts_with",
             "_ends_with", "_nends_with")
_RANGE_OPS = ("_gt", "_gte", "_lt", "_lte", "_between", "_nbetween")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _value(name: str, op: str, value: Any, *, end: bool = False) -> Any:
    """A rule's value as it is bound; a time field's as stored, the end of a whole day with `end`."""
    if name == "id":
        if not _is_number(value) or not isinstance(value, int):
            raise _bad(f"{{filter}}: id {op} takes an integer, not {jsontext.dumps(value)}")
        return value
    if name in TIME_FIELDS and op not in _TEXT_OPS:
        if not isinstance(value, str):
            raise _bad(f'{{filter}}: {name} {op} takes a time such as "7d" or "2026-11-20", '
                             f"not {jsontext.dumps(value)}")
        return timeparse.normalize(value, end=end)
    if name == "details" and not isinstance(value, (dict, list)):
        return value
    if op in _RANGE_OPS and _is_number(value):
        return value  # compared as a number, through number() (_operator)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _bad(f"{{filter}}: {name} {op} takes a string or a number, not {jsontext.dumps(value)}")
    return str(value)


def _numeric(column: Column, name: str, op: str, values: list[Any]) -> Column:
    """The column to compare with `values`: as a number when they are numbers (items are text, and "10" < "9" as
    text), as it is when they are strings; a mix has no order to compare by."""
    if name in ("id", "details") or name in TIME_FIELDS or not any(_is_number(v) for v in values):
        return column
    if not all(_is_number(v) for v in values):
        raise _bad(f"{{filter}}: {name} {op} takes numbers or strings, not both")
    return (f"number({column[0]})", column[1])


def _operator(column: Column, name: str, op: str, value: Any) -> Clause:
    c, cp = column
    if op in ("_null", "_nnull", "_empty", "_nempty"):
        if not isinstance(value, bool):
            raise _bad(f"{{filter}}: {name} {op} takes true or false, not {jsontext.dumps(value)}")
        positive = value if op in ("_null", "_empty") else not value
        if op in ("_null", "_nnull"):
            return (f"{c} IS {'' if positive else 'NOT '}NULL", cp)
        if positive:
            return (f"({c} IS NULL OR {c} = '')", cp + cp)
        return (f"({c} IS NOT NULL AND {c} != '')", cp + cp)
    if op in ("_in", "_nin"):
        if not isinstance(value, list):
            raise _bad(f'{{filter}}: {name} {op} takes an array, such as ["create", "update"]')
        if name in TIME_FIELDS and value:
            # Each time may be a whole day: a list of spans, not of values.
            spans = _join([_operator(column, name, "_eq", v) for v in value], "OR")
            return spans if op == "_in" else (f"({c} IS NULL OR NOT ({spans[0]}))", cp + spans[1])
        sql, params = _in(c, [_value(name, op, v) for v in value], negate=op == "_nin")
        if not value:
            return (sql, params)
        if op == "_nin":  # like _neq: a row without a value is not in the list
            return (f"({c} IS NULL OR {sql})", cp + cp + params)
        return (sql, cp + params)
    if op in ("_between", "_nbetween"):
        if not isinstance(value, list) or len(value) != 2:
            raise _bad(f'{{filter}}: {name} {op} takes an array of two values, such as ["7d", "now"]')
        low, high = _value(name, op, value[0]), _value(name, op, value[1], end=True)
        n, np_ = _numeric(column, name, op, value)
        return (f"{n} {'NOT ' if op == '_nbetween' else ''}BETWEEN ? AND ?", np_ + [low, high])
    if value is None and op in ("_eq", "_neq"):
        return (f"{c} IS {'NOT ' if op == '_neq' else ''}NULL", cp)
    if name in TIME_FIELDS and op in ("_eq", "_neq"):
        # A time names a span (a date: its whole day), and equals what falls in it.
        start, last = _value(name, op, value), _value(name, op, value, end=True)
        if op == "_eq":
            return (f"{c} BETWEEN ? AND ?", cp + [start, last])
        return (f"({c} IS NULL OR {c} NOT BETWEEN ? AND ?)", cp + cp + [start, last])
    # Up to a whole day (_lte, like --until) includes it; the other comparisons take its start, as Directus does.
    bound = _value(name, op, value, end=op == "_lte")
    if op in _COMPARE:
        n, np_ = _numeric(column, name, op, [value]) if op != "_eq" else column
        return (f"{n} {_COMPARE[op]} ?", np_ + [bound])
    if op == "_neq":
        return (f"{c} IS NOT ?", cp + [bound])
    text = str(bound)
    if op in ("_contains", "_ncontains"):
        return (f"instr({c}, ?) {'= 0' if op == '_ncontains' else '> 0'}", cp + [text])
    if op == "_icontains":
        return _ifind(column, text)
    if op == "_istarts_with":
        return _ifind(column, text, prefix=True)
    if op in ("_starts_with", "_nstarts_with"):
        return (f"substr({c}, 1, ?) {'!=' if op == '_nstarts_with' else '='} ?", cp + [len(text), text])
    if not text:  # every string ends with ""
        return ("1" if op == "_ends_with" else "0", [])
    return (f"substr({c}, ?) {'!=' if op == '_nends_with' else '='} ?", cp + [-len(text), text])
