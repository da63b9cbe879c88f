"""Every way the CLI prints records: table, json, jsonl, csv; a patch as text; colour on terminals only.

The CLI decides what to print; this module decides how. Listings stream row by row so that large outputs start at
once and keep memory flat.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Iterator
from typing import IO, Any

from . import jsontext

FORMATS = ("table", "json", "jsonl", "csv")
BAR_WIDTH = 30
_CELL = 60  # table cells wider than this (in terminal columns) are cut, with an ellipsis; other formats never are

# Recorded fields are text from whoever made the request: a terminal must not act on them. C0 controls show in
# caret notation as less and git do (ESC as ^[), but for the three a reader knows as escapes; DEL as ^?; C1 controls,
# bidirectional overrides, invisible format characters and line separators as their code point (<U+202E>). ZWJ and
# ZWNJ stay: emoji and scripts need them, and they move nothing.
_BACKSLASH = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_KEEP = {"\u200c", "\u200d"}
_INVISIBLE = (r"\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff"
               r"\ufff9-\ufffb\U000e0000-\U000e007f\ud800-\udfff")
_UNSAFE = re.compile(rf"[\x00-\x1f{_INVISIBLE}]")
# JSON text escapes C0 itself, and holds one outside its strings: the whitespace between members, kept as it is.
_JSON_UNSAFE = re.compile(rf"[{_INVISIBLE}]")


def _shown(char: str) -> str:
    if char in _BACKSLASH:
        return _BACKSLASH[char]
    code = ord(char)
    if code < 0x20:
        return "^" + chr(code + 0x40)
    if code == 0x7F:
        return "^?"
    return f"<U+{code:04X}>"


def visible(text: str) -> str:
    """`text` as a terminal can show it without acting on it: every control and invisible character made visible."""
    if text.isascii() and text.isprintable():
        return text
    return _UNSAFE.sub(lambda m: m[0] if m[0] in _KEEP else _shown(m[0]), text)


def _json_safe(text: str) -> str:
    """JSON text with the characters a terminal would act on written as \\u escapes: the same JSON value, as
    printable text. Only strings can hold them, where an escape means the very same character."""
    if text.isascii():
        return text.replace("\x7f", "\\u007f")
    return _JSON_UNSAFE.sub(lambda m: m[0] if m[0] in _KEEP else _escape(m[0]), text)


def _escape(char: str) -> str:
    code = ord(char)
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def width(text: str) -> int:
    """How many terminal columns `text` takes (a CJK character two, a combining mark none). ASCII is its length
    (wcswidth's answer, or -1 for a control, which counts as its length too): wcwidth, ~16 ms of start-up
    (`python -X importtime`), is imported only for other text."""
    if text.isascii():
        return len(text)
    from wcwidth import wcswidth

    measured = wcswidth(text)
    return measured if measured >= 0 else len(text)


def simple_table(body: list[list[str]], headers: list[str]) -> list[str]:
    """The lines of `tabulate(body, headers, tablefmt="simple", disable_numparse=True)` for text cells that hold no
    newline or ANSI code (what _cell makes): cells stripped and left-aligned, two spaces apart, a column as wide as
    its widest cell or its header plus two, a rule of dashes under the header, each line right-stripped. Laid out
    here because importing tabulate (and the importlib.metadata it reads its version with) was ~19 ms of every
    listing's start-up; tests/test_render.py holds the two equal."""
    body = [[cell.strip() for cell in row] for row in body]
    widths = [width(name) + 2 for name in headers]
    for row in body:
        for n, cell in enumerate(row):
            widths[n] = max(widths[n], width(cell))

    def line(cells: list[str]) -> str:
        return "  ".join(cell + " " * (w - width(cell)) for cell, w in zip(cells, widths)).rstrip()

    return [line(headers), "  ".join("-" * w for w in widths), *(line(row) for row in body)]


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 activity`, `2 activities`: counts spelled right."""
    if count == 1:
        return f"{count} {word}"
    return f"{count} {many or (word[:-1] + 'ies' if word.endswith('y') and word[-2:-1] not in 'aeiou' else word + 's')}"


def text_of(value: Any) -> str:
    """A value as one cell: strings as they are, anything else JSON (true, false, null, numbers, objects)."""
    return value if isinstance(value, str) else jsontext.dumps(value)


def use_color(stream: IO[str]) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def _cell(value: Any) -> str:
    text = visible(text_of(value))
    if width(text) <= _CELL:
        return text
    from wcwidth import wcwidth

    cut, used = [], 0
    for char in text:
        used += max(wcwidth(char), 0)
        if used > _CELL - 1:
            break
        cut.append(char)
    return "".join(cut) + "…"


def _flat(value: Any) -> Any:
    return text_of(value)


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
            out.write(_json_safe(jsontext.dumps(row)) + "\n")
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
        out.write(("[\n  " if first else ",\n  ") + _json_safe(jsontext.dumps(row)))
        first = False
    out.write("[]" if first else "\n]")
    out.write("}\n" if meta is not None else "\n")


def _meta_line(meta: dict[str, Any]) -> str:
    return f"({meta.get('shown', 0)} shown; {meta['filter_count']} match; {meta['total_count']} in the store)"


def _table(rows: list[dict[str, Any]], out: IO[str], columns: list[str] | None, bar: str | None) -> None:
    if not rows:
        out.write("(no rows)\n")
        return
    names = columns or list(rows[0])
    body = [[_cell(row.get(name)) for name in names] for row in rows]
    headers = list(names)
    if bar:
        top = max((row[bar] for row in rows), default=0) or 1
        for line, row in zip(body, rows):
            line.append("█" * max(1, round(BAR_WIDTH * row[bar] / top)) if row[bar] else "")
        headers.append("")
    out.write("\n".join(simple_table(body, headers)) + "\n")


def mapping(record: dict[str, Any], fmt: str, out: IO[str]) -> None:
    """One record (`show`, `info`): a two-column table, or the object as JSON."""
    if fmt == "table":
        from tabulate import tabulate

        rows = [[visible(key), _long(value)] for key, value in record.items()]
        out.write(tabulate(rows, tablefmt="plain", disable_numparse=True) + "\n")
    elif fmt == "csv":
        records([record], "csv", out)
    else:
        out.write(_json_safe(jsontext.dumps(record)) + "\n" if fmt == "jsonl" else pretty(record) + "\n")


def _long(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return pretty(value)  # a line per member; the JSON escapes what a terminal would act on
    return visible(text_of(value))


def pretty(value: Any) -> str:
    import json

    return _json_safe(json.dumps(value, indent=2, ensure_ascii=False))


def patch_text(result: dict[str, Any], out: IO[str], *, color: bool) -> None:
    """A readable per-field diff: `- old` and `+ new` under each changed path."""
    label = lambda n: "(nothing)" if n is None else f"revision {n}"  # noqa: E731
    where = f"{visible(result['collection'])} {visible(result['item'])}"
    if "activity" in result:
        on = f" (version {visible(repr(result['version']))})" if result.get("version") else ""
        out.write(f"activity {result['activity']} on {where}{on}\n")
    elif "version" in result:
        out.write(f"{where}: main -> main with version {visible(repr(result['version']))} promoted\n")
    else:
        out.write(f"{where}: {label(result['from'])} -> {label(result['to'])}\n")
    if not result["patch"]:
        out.write("(no change)\n")
        return
    for line in patch_lines(result["before"], result["patch"], color=color):
        out.write(line + "\n")


def patch_lines(before: Any, patch: list[dict[str, Any]], *, color: bool, indent: str = "") -> Iterator[str]:
    """Each operation of `patch` (applied to `before`) as lines: its path, then `- old` and `+ new`."""
    from . import patches

    value = lambda v: _json_safe(jsontext.dumps(v))  # noqa: E731
    for op in patch:
        # Every other pointer starts with "/": "(root)" cannot be mistaken for a key's.
        yield indent + _paint(visible(op["path"]) or "(root)", "1", color)
        try:
            old = patches.resolve(before, op["path"])
        except (KeyError, IndexError, ValueError, TypeError):
            old = _MISSING
        if op["op"] in ("remove", "replace") and old is not _MISSING:
            yield indent + _paint(f"  - {value(old)}", "31", color)
        if op["op"] in ("add", "replace"):
            yield indent + _paint(f"  + {value(op['value'])}", "32", color)
        elif op["op"] in ("move", "copy"):
            yield indent + f"  {op['op']} from {visible(op['from'])}"
        elif op["op"] == "test":
            yield indent + f"  = {value(op.get('value'))}"


def table_with_patches(rows: list[dict[str, Any]], patches_: list[dict[str, Any] | None], out: IO[str], *,
                       columns: list[str], color: bool) -> None:
    """A table with each row's change in full below it, as `git log -p` does."""
    if not rows:
        out.write("(no rows)\n")
        return
    body = [[_cell(row.get(name)) for name in columns] for row in rows]
    lines = simple_table(body, list(columns))
    out.write(lines[0] + "\n" + lines[1] + "\n")
    for line, change in zip(lines[2:], patches_):
        out.write(line + "\n")
        if change is not None:
            for text in patch_lines(change["before"], change["patch"], color=color, indent="    "):
                out.write(text + "\n")
            if not change["patch"]:
                out.write("    (no change)\n")


# Room a followed table keeps for each column before its first rows are known, so that later rows line up.
_FOLLOW_WIDTHS = {"id": 6, "timestamp": 27, "action": 14, "user": 12, "collection": 12, "item": 8}


class RowStream:
    """Rows printed one by one as they come (`log --follow`), in any format, each flushed at once."""

    def __init__(self, fmt: str, out: IO[str], columns: list[str], *, color: bool = False):
        self.fmt, self.out, self.columns, self.color = fmt, out, columns, color
        self.widths: list[int] = []
        self.count = 0
        self.writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None

    def start(self, rows: list[dict[str, Any]], changes: list[dict[str, Any] | None]) -> None:
        """The header, and the rows there already were."""
        if self.fmt == "table":
            self.widths = [max([width(name), _FOLLOW_WIDTHS.get(name, 0)] + [width(_cell(r.get(name))) for r in rows])
                           for name in self.columns]
            self._line(self.columns)
            self._line(["-" * w for w in self.widths])
        elif self.writer is not None:
            self.writer.writerow(self.columns)
        elif self.fmt == "json":
            self.out.write("[\n")
        for row, change in zip(rows, changes):
            self.add(row, change)
        self.out.flush()

    def add(self, row: dict[str, Any], change: dict[str, Any] | None = None) -> None:
        if self.fmt == "table":
            self._line([_cell(row.get(name)) for name in self.columns])
            for text in patch_lines(change["before"], change["patch"], color=self.color, indent="    ") \
                    if change is not None else ():
                self.out.write(text + "\n")
        elif self.writer is not None:
            self.writer.writerow([_flat(row.get(name)) for name in self.columns])
        else:
            line = _json_safe(jsontext.dumps({name: row.get(name) for name in self.columns}))
            # Each row ends its line as it comes (a comma leads the next), so that a reader sees it at once.
            self.out.write(line + "\n" if self.fmt == "jsonl" else ("  " if not self.count else ", ") + line + "\n")
        self.count += 1
        self.out.flush()

    def close(self) -> None:
        """The end of a JSON array; nothing to end in the other formats."""
        if self.fmt == "json":
            self.out.write("]\n")
            self.out.flush()

    def _line(self, cells: list[str]) -> None:
        padded = [cell + " " * (w - width(cell)) for cell, w in zip(cells[:-1], self.widths)] + cells[-1:]
        self.out.write("  ".join(padded).rstrip() + "\n")


_MISSING = object()
