"""Reading exported trails in tests: an audit/1 export ends with its trailer line (audit_cli/trailer.py), which is
not an activity."""

from __future__ import annotations

import json
from typing import Any


def _texts(data: bytes | str) -> list[str]:
    text = data.decode() if isinstance(data, bytes) else data
    return [line for line in text.split("\n") if line.strip()]  # (not splitlines: U+2028 may be in a value)


def is_trailer(line: dict[str, Any]) -> bool:
    return "trailer" in line and "action" not in line


def activity_lines(data: bytes | str) -> list[dict[str, Any]]:
    """The activity lines of a trail, parsed, without its trailers."""
    return [line for line in map(json.loads, _texts(data)) if not is_trailer(line)]


def trailers(data: bytes | str) -> list[dict[str, Any]]:
    return [line["trailer"] for line in map(json.loads, _texts(data)) if is_trailer(line)]


def without_trailers(data: bytes) -> bytes:
    """The trail's bytes with its trailer lines left out."""
    return b"".join(line for line in data.splitlines(keepends=True)
                    if not (line.startswith(b'{"hash":') and b'"trailer":{' in line))
