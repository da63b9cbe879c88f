"""Parameter values turned into their types without pydantic, where that is plain: Typer's fast path for our CLI.

Typer 0.29 coerces every parameter of a command through a pydantic TypeAdapter, built when the command runs, even
for an option left at None. Importing pydantic and building the adapters was ~70 ms of a ~190 ms `audit log`
(`python -X importtime`: `typer._adapters` the largest item), more than the rest of the CLI's imports.

Our parameters are str, int, bool, a Literal of strings, or list[str], and the parser hands over strings. For a value
whose coercion cannot differ (a str for str, a bool for bool, plain ASCII digits for int, an exact choice, a list of
str for list[str]) this returns what the adapter returns; for anything else it builds Typer's own runtime parameter
and lets it decide, so that every conversion and error message stays exactly Typer's (tests/test_params.py holds
the two equal on every parameter of the app). This is the only place that reaches into Typer's internals; the
version is pinned below 0.30 in pyproject.toml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import typer.core
from typer import _coercion
from typer._typing import get_args, get_origin, is_literal_type, literal_values

_INT = re.compile(r"-?(0|[1-9][0-9]{0,17})")  # what int() and pydantic read alike, well inside 64 bits
_typer_build = _coercion.build_runtime_param
_DECLINE = object()


def _plain(descriptor: _coercion.TypeDescriptor) -> Any:
    """The fast coercion of a descriptor (a function of the value returning _DECLINE when it cannot tell), or None."""
    annotation, info = descriptor.annotation, descriptor.parameter_info
    if descriptor.file_annotation is not None or info.parser is not None or info.min is not None \
            or info.max is not None or info.clamp:
        return None
    if annotation is str:
        return lambda value: value if type(value) is str else _DECLINE
    if annotation is bool:
        return lambda value: value if type(value) is bool else _DECLINE
    if annotation is int:
        return lambda value: value if type(value) is int else (  # a default, or a number given
            int(value) if type(value) is str and _INT.fullmatch(value) else _DECLINE)
    if is_literal_type(annotation):
        choices = literal_values(annotation)
        if all(type(choice) is str for choice in choices):
            return lambda value: value if type(value) is str and value in choices else _DECLINE
        return None
    if get_origin(annotation) is list and get_args(annotation) == (str,):
        return lambda value: list(value) if type(value) in (list, tuple) and all(
            type(each) is str for each in value) else _DECLINE
    return None


@dataclass(frozen=True)
class PlainRuntimeParam(_coercion.RuntimeParam):
    """A parameter coerced by `plain`, else by Typer's own runtime parameter, built on first need."""

    plain: Any = None
    descriptor: Any = None
    _typer: list = field(default_factory=list)

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        done = self.plain(value)
        if done is not _DECLINE:
            return done
        if not self._typer:
            self._typer.append(_typer_build(self.descriptor))
        return self._typer[0]._coerce_value(value, param=param, ctx=ctx)


def build_runtime_param(descriptor: _coercion.TypeDescriptor) -> _coercion.RuntimeParam:
    plain = _plain(descriptor)
    if plain is None:
        return _typer_build(descriptor)
    return PlainRuntimeParam(descriptor.parameter_info, descriptor.annotation, plain=plain, descriptor=descriptor)


def install() -> None:
    """Make Typer's commands coerce through build_runtime_param (core looks the name up when a command runs)."""
    typer.core.build_runtime_param = build_runtime_param

