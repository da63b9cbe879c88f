"""The shipped JSON Schemas, as the tests hold every exported line and anchor to them."""

from __future__ import annotations

import functools
import json
from typing import Any

from jsonschema import Draft202012Validator

from audit_cli import schemas


@functools.lru_cache(maxsize=None)
def validator(name: str) -> Draft202012Validator:
    schema = schemas.load(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def problems(name: str, document: Any) -> list[str]:
    """Each way `document` breaks the schema, as `path: message`; empty when it validates."""
    return [f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
            for error in validator(name).iter_errors(document)]


def check_lines(chunk: bytes) -> None:
    """Every line of an audit/1 JSONL chunk validates."""
    for text in chunk.splitlines():
        found = problems("line", json.loads(text))
        assert not found, f"an exported line breaks the audit/1 schema: {found}\n{text[:2000]!r}"
