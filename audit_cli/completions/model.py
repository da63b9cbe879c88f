"""The command tree of the `audit` CLI as plain data, and the quoting the three shell scripts share."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

PROG = "audit"
COMMAND = "python -m audit_cli.completions"

# Values that are paths even where their type says plain text (e.g. `-o/--output` typed `str` to allow `-`):
# options by name, positional arguments by metavar.
FILE_OPTIONS = frozenset({"--db", "--output", "-o", "--input", "--file"})
FILE_METAVARS = frozenset({"FILE", "PATH"})


# ---------------------------------------------------------------------------------------------------------------
# The command tree, as plain data


@dataclass(frozen=True)
class Value:
    """How to complete a value: choice (from `choices`), file, dir, or text (nothing to offer)."""

    kind: str
    choices: tuple[str, ...] = ()


TEXT = Value("text")


@dataclass(frozen=True)
class Option:
    names: tuple[str, ...]  # long names first, then short ones, then secondary (--no-x) names
    arity: int  # how many values follow the option: 0 for flags
    help: str
    value: Value
    multiple: bool


@dataclass(frozen=True)
class Argument:
    name: str
    variadic: bool
    value: Value


@dataclass
class Node:
    path: tuple[str, ...]  # ("audit",), ("audit", "log"), ("audit", "comment", "add")
    help: str
    options: list[Option] = field(default_factory=list)
    arguments: list[Argument] = field(default_factory=list)
    commands: list[Node] = field(default_factory=list)  # sorted by name; empty for a leaf command

    @property
    def key(self) -> str:
        return " ".join(self.path)

    @property
    def name(self) -> str:
        return self.path[-1]

    def walk(self) -> Iterator[Node]:
        yield self
        for sub in self.commands:
            yield from sub.walk()


def _summary(text: str | None, limit: int = 80) -> str:
    """The first sentence of a help text, on one line, without `[default: ...]` notes."""
    if not text:
        return ""
    text = text.split("\n\n", 1)[0].replace("\b", " ")
    text = re.sub(r"\s*\[(default|env var|required)[^\]]*\]", "", text)
    words = text.split()
    if not words:
        return ""
    out: list[str] = []
    for index, word in enumerate(words):
        if out and word.lower() in ("e.g.", "i.e.", "such", "like"):
            if word.lower() in ("e.g.", "i.e.") or words[index - 1].endswith(","):
                return " ".join(out).rstrip(",;:")  # the examples do not fit on one line
        if out and len(" ".join([*out, word])) > limit:
            return " ".join(out).rstrip(",;:") + "..."
        out.append(word)
        following = words[index + 1] if index + 1 < len(words) else ""
        if word.endswith(".") and not following[:1].islower():
            break  # a sentence's end, not "etc. and so on"
    return " ".join(out)


def _path_value(parameter_info: Any) -> Value:
    from typer._param_types import path_type_name

    return Value("dir" if path_type_name(parameter_info) == "dir" else "file")


def _value_of(param: Any) -> Value:
    """How to complete the value of a typer option or argument, from its type."""
    desc = param.type_descriptor
    if desc.choices is not None:
        from typer._param_types import choice_as_str

        return Value("choice", tuple(choice_as_str(c) for c in desc.choices))
    if desc.is_file:
        return Value("file")
    if desc.is_path:
        return _path_value(desc.parameter_info)
    annotation = desc.annotation
    if get_origin(annotation) in (list, tuple):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        if args and all(isinstance(a, type) and issubclass(a, Path) for a in args):
            return _path_value(desc.parameter_info)
    if param.param_type_name == "option" and any(name in FILE_OPTIONS for name in param.opts):
        return Value("file")
    if param.param_type_name == "argument" and _metavar(param) in FILE_METAVARS:
        return Value("file")
    return TEXT


def _metavar(param: Any) -> str:
    """An argument's name as its help shows it, without the brackets and dots: FILE, COLLECTION."""
    return re.sub(r"[^A-Za-z0-9_-]", "", param.metavar or param.name or "arg").upper()


def _sort_names(names: list[str]) -> tuple[str, ...]:
    longs = [n for n in names if n.startswith("--")]
    shorts = [n for n in names if not n.startswith("--")]
    return tuple(longs + shorts)


def _option(param: Any) -> Option:
    flag = bool(getattr(param, "is_flag", False) or getattr(param, "count", False))
    names = _sort_names(list(param.opts)) + tuple(param.secondary_opts)
    return Option(
        names=names,
        arity=0 if flag else max(param.nargs, 1),
        help=_summary(getattr(param, "help", None)),
        value=TEXT if flag else _value_of(param),
        multiple=bool(param.multiple or getattr(param, "count", False)),
    )


def _node(command: Any, ctx: Any, path: tuple[str, ...]) -> Node:
    from typer import _click as click
    from typer.core import TyperOption

    help_text = command.get_short_help_str(limit=80) if len(path) > 1 else _summary(command.help)
    node = Node(path=path, help=help_text)
    for param in command.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        if isinstance(param, TyperOption):
            node.options.append(_option(param))
        else:
            node.arguments.append(Argument(name=_metavar(param).lower(),
                                           variadic=param.nargs < 0, value=_value_of(param)))
    node.options.sort(key=lambda o: (o.names[0].lstrip("-").lower(), o.names))
    list_commands = getattr(command, "list_commands", None)
    if list_commands is not None:
        for name in sorted(list_commands(ctx)):
            sub = command.get_command(ctx, name)
            if sub is None or getattr(sub, "hidden", False):
                continue
            sub_ctx = click.Context(sub, info_name=name, parent=ctx, resilient_parsing=True, **sub.context_settings)
            node.commands.append(_node(sub, sub_ctx, path + (name,)))
    return node


def tree(app: Any = None) -> Node:
    """The command tree of a Typer app (by default the `audit` CLI as it is now), walked through click."""
    import typer.main
    from typer import _click as click

    if app is None:
        from audit_cli.cli import app
    command = typer.main.get_command(app)
    ctx = click.Context(command, info_name=PROG, resilient_parsing=True, **command.context_settings)
    return _node(command, ctx, (PROG,))


# ---------------------------------------------------------------------------------------------------------------
# Quoting

_SAFE_SH = re.compile(r"^[A-Za-z0-9_@%+=:,./-]+$")


def _sh(word: str) -> str:
    """A word quoted for bash (and for fish, which reads single quotes the same way save for backslashes)."""
    if _SAFE_SH.match(word):
        return word
    return "'" + word.replace("'", "'\\''") + "'"


def _fq(word: str) -> str:
    if _SAFE_SH.match(word):
        return word
    return "'" + word.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _header(comment: str, use: list[str]) -> list[str]:
    lines = [
        f"{comment} Shell completion for `{PROG}`. Generated by `{COMMAND}` from the CLI's command tree:",
        f"{comment} do not edit by hand; regenerate after changing commands or options (tests/test_completions.py",
        f"{comment} fails while this file is stale).",
    ]
    return lines + [f"{comment} {line}" for line in use]
