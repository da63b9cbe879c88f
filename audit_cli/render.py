"""Every way the CLI prints records: table, json, jsonl, csv; a patch as text; colour on terminals only.

The CLI decides what to print; this module decides how. Listings stream row by row so that large outputs start at
once and keep memory flat.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator
from typing import IO, Any

from . import jsontext

FORMATS = ("table", "json", "jsonl", "csv")
BAR_WIDTH = 30
_CELL = 60  # table cells longer than this are cut, with an ellipsis; the other formats are never cut


def use_color(stream: IO[str]) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else jsontext.dumps(value) if isinstance(value, (dict, list)) else str(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"


def _flat(value: Any) -> Any:
    return jsontext.dumps(value) if isinstance(value, (dict, list)) else value


def records(
    rows: Iterable[dict[str, Any]],
    fmt: str,
    out: IO[str],
    *,
    columns: list[str] | None = None,
    meta: dict[str, Any] | None = None,
    bar: str | None = None,
) -> None:
    """Print rows in `fmt`. `columns` picks and orders fields; `bar` names a count column to draw bars for."""
    rows = iter(rows)
    if fmt == "json":
        _json_array(rows, out, meta)
    elif fmt == "jsonl":
        for row in rows:
            out.write(jsontext.dumps(row) + "\n")
    elif fmt == "csv":
        first = next(rows, None)
        if first is None and columns is None:
            return
        names = columns or list(first)
        writer = csv.DictWriter(out, fieldnames=names, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in ([first] if first is not None else []):
            writer.writerow({k: _flat(v) for k, v in row.items()})
        for row in rows:
            writer.writerow({k: _flat(v) for k, v in row.items()})
    else:
        _table(list(rows), out, columns, bar)
    if meta and fmt == "table":
        out.write(_meta_line(meta) + "\n")


def _json_array(rows: Iterator[dict[str, Any]], out: IO[str], meta: dict[str, Any] | None) -> None:
    if meta is not None:
        out.write('{"meta": ' + jsontext.dumps(meta) + ', "data": ')
    first = True
    for row in rows:
        out.write(("[\n  " if first else ",\n  ") + jsontext.dumps(row))
        first = False
    out.write("[]" if first else "\n]")
    out.write("}\n" if meta is not None else "\n")


def _meta_line(meta: dict[str, Any]) -> str:
    return f"({meta.get('shown', 0)} shown; {meta['filter_count']} match; {meta['total_count']} in the store)"


def _table(rows: list[dict[str, Any]], out: IO[str], columns: list[str] | None, bar: str | None) -> None:
    if not rows:
        out.write("(no rows)\n")
        return
    from tabulate import tabulate

    names = columns or list(rows[0])
    body = [[_cell(row.get(name)) for name in names] for row in rows]
    headers = list(names)
    if bar:
        top = max((row[bar] for row in rows), default=0) or 1
        for line, row in zip(body, rows):
            line.append("█" * max(1, round(BAR_WIDTH * row[bar] / top)) if row[bar] else "")
        headers.append("")
    out.write(tabulate(body, headers=headers, tablefmt="simple", disable_numparse=True) + "\n")


def mapping(record: dict[str, Any], fmt: str, out: IO[str]) -> None:
    """One record (`show`, `info`): a two-column table, or the object as JSON."""
    if fmt == "table":
        from tabulate import tabulate

        rows = [[key, _long(value)] for key, value in record.items()]
        out.write(tabulate(rows, tablefmt="plain", disable_numparse=True) + "\n")
    elif fmt == "csv":
        records([record], "csv", out)
    else:
        out.write(jsontext.dumps(record) + "\n" if fmt == "jsonl" else pretty(record) + "\n")


def _long(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return pretty(value)
    return str(value)


def pretty(value: Any) -> str:
    import json

    return json.dumps(value, indent=2, ensure_ascii=False)


def patch_text(result: dict[str, Any], out: IO[str], *, color: bool) -> None:
    """A readable per-field diff: `- old` and `+ new` under each changed path."""
    from . import patches

    label = lambda n: "(nothing)" if n is None else f"revision {n}"  # noqa: E731
    if "activity" in result:
        on = f" (version {result['version']!r})" if result.get("version") else ""
        out.write(f"activity {result['activity']} on {result['collection']} {result['item']}{on}\n")
    elif "version" in result:
        out.write(f"{result['collection']} {result['item']}: main -> main with version {result['version']!r} promoted\n")
    else:
        out.write(f"{result['collection']} {result['item']}: {label(result['from'])} -> {label(result['to'])}\n")
    if not result["patch"]:
        out.write("(no change)\n")
        return
    before = result["before"]
    for op in result["patch"]:
        path = op["path"] or "/"
        out.write(_paint(path, "1", color) + "\n")
        try:
            old = patches.resolve(before, op["path"])
        except (KeyError, IndexError, ValueError, TypeError):
            old = _MISSING
        if op["op"] in ("remove", "replace") and old is not _MISSING:
            out.write(_paint(f"  - {jsontext.dumps(old)}", "31", color) + "\n")
        if op["op"] in ("add", "replace"):
            out.write(_paint(f"  + {jsontext.dumps(op['value'])}", "32", color) + "\n")
        elif op["op"] in ("move", "copy"):
            out.write(f"  {op['op']} from {op['from']}\n")


_MISSING = object()
