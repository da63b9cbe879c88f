"""JSON Schemas (draft 2020-12) of the formats other programs read and write: an audit/1 line and an anchor.

They ship inside the package so that a producer or a consumer of trails can validate against the very schema this
version keeps (`audit schema line`, or `schemas.path("line")` from Python).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NAMES = ("line", "anchor")


def path(name: str) -> Path:
    """The schema file, e.g. path("line") for an audit/1 line."""
    if name not in NAMES:
        from ..errors import UsageError

        raise UsageError(f"unknown schema {name!r}: the schemas are {', '.join(NAMES)}")
    return Path(__file__).with_name(f"{name}.schema.json")


def load(name: str) -> dict[str, Any]:
    return json.loads(path(name).read_text(encoding="utf-8"))
