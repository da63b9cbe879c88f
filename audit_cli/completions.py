"""Static shell completion scripts for `audit`, generated from the Typer app's click command tree.

Static, so a TAB costs no Python start-up: each script holds the command tree (groups within groups, their
options, which options take a value, choice values, which values are paths) as plain shell code.

    python -m audit_cli.completions           rewrite completions/audit.bash, completions/_audit, completions/audit.fish
    python -m audit_cli.completions --check   exit 1, listing the stale files, if any differ from fresh output

`generate(shell)` returns one script as text. The CLI itself never imports this module.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

PROG = "audit"
SHELLS = ("bash", "zsh", "fish")
FILES = {"bash": "audit.bash", "zsh": "_audit", "fish": "audit.fish"}
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


# ---------------------------------------------------------------------------------------------------------------
# bash


def _bash_value(value: Value) -> str:
    if value.kind == "choice":
        return "reply=(choice " + " ".join(_sh(c) for c in value.choices) + ")"
    if value.kind in ("file", "dir"):
        return f"reply=({value.kind})"
    return "reply=()"


def _bash(root: Node) -> str:
    nodes = list(root.walk())
    out = ["# bash completion for audit                                   -*- shell-script -*-"]
    out += _header("#", ["Use: source this file from ~/.bashrc, or copy it to",
                         "~/.local/share/bash-completion/completions/audit"])
    out.append("")

    out += ["# The sub-commands of each group.", "_audit_commands() {", '    case "$1" in']
    for node in nodes:
        if node.commands:
            out.append(f"        {_sh(node.key)}) reply=({' '.join(_sh(c.name) for c in node.commands)}) ;;")
    out += ["        *) reply=() ;;", "    esac", "}", ""]

    out += ["# Every option name of each command.", "_audit_options() {", '    case "$1" in']
    for node in nodes:
        names = sorted(n for o in node.options for n in o.names)
        out.append(f"        {_sh(node.key)}) reply=({' '.join(_sh(n) for n in names)}) ;;")
    out += ["        *) reply=() ;;", "    esac", "}", ""]

    out += ["# How many values follow an option (0 for flags and for words that are no option).",
            "_audit_arity() {", "    reply=(0)", '    case "$1" in']
    for node in nodes:
        by_arity: dict[int, list[str]] = {}
        for option in node.options:
            if option.arity:
                by_arity.setdefault(option.arity, []).extend(option.names)
        if by_arity:
            branches = " ".join(f"{'|'.join(_sh(n) for n in names)}) reply=({arity}) ;;"
                                for arity, names in sorted(by_arity.items()))
            out.append(f'        {_sh(node.key)}) case "$2" in {branches} esac ;;')
    out += ["    esac", "}", ""]

    out += ["# How to complete an option's value: reply=(choice WORD...), (file), (dir), or () for free text.",
            "_audit_option_value() {", "    reply=()", '    case "$1" in']
    for node in nodes:
        branches = [f"{'|'.join(_sh(n) for n in o.names)}) {_bash_value(o.value)} ;;"
                    for o in node.options if o.arity and o.value.kind != "text"]
        if branches:
            out.append(f"        {_sh(node.key)})")
            out.append('            case "$2" in')
            out += [f"                {branch}" for branch in branches]
            out.append("            esac ;;")
    out += ["    esac", "}", ""]

    out += ["# How to complete the Nth (from 0) positional argument of each command, as for option values.",
            "_audit_argument() {", "    reply=()", '    case "$1" in']
    for node in nodes:
        if node.commands or all(a.value.kind == "text" for a in node.arguments):
            continue
        branches = []
        for index, argument in enumerate(node.arguments):
            pattern = "*" if argument.variadic else str(index)
            branches.append(f"{pattern}) {_bash_value(argument.value)} ;;")
            if argument.variadic:
                break
        out.append(f'        {_sh(node.key)}) case "$2" in {" ".join(branches)} esac ;;')
    out += ["    esac", "}", ""]

    out += [
        "# Fill COMPREPLY from the value spec in reply, for the word in cur.",
        "_audit_complete_value() {",
        "    local word",
        '    case "${reply[0]-}" in',
        "        choice)",
        '            for word in "${reply[@]:1}"; do',
        '                [[ $word == "$cur"* ]] && COMPREPLY+=("$word")',
        "            done ;;",
        "        file|dir)",
        "            compopt -o filenames 2>/dev/null",
        '            while IFS= read -r word; do COMPREPLY+=("$word"); done < <(compgen -"${reply[0]:0:1}" -- "$cur") ;;',
        "    esac",
        "}",
        "",
        "# Fill COMPREPLY with the words of reply that start with cur.",
        "_audit_complete_words() {",
        "    local word",
        '    for word in "${reply[@]}"; do',
        '        [[ $word == "$cur"* ]] && COMPREPLY+=("$word")',
        "    done",
        "}",
        "",
        "_audit() {",
        "    local cur=${COMP_WORDS[COMP_CWORD]} prev='' word='' node=audit opt='' dashdash='' i=1 npos=0",
        "    local -a reply=()",
        "    COMPREPLY=()",
        "",
        "    # Walk the words before the cursor: descend into sub-commands, skip option values, count positionals.",
        "    while (( i < COMP_CWORD )); do",
        "        word=${COMP_WORDS[i]}",
        "        if [[ -z $dashdash && $word == -- ]]; then",
        "            dashdash=1",
        "        elif [[ -z $dashdash && $word == -?* ]]; then",
        '            _audit_arity "$node" "$word"',
        "            if (( i + 1 < COMP_CWORD )) && [[ ${COMP_WORDS[i+1]} == = ]]; then",
        "                (( i += 2 ))  # --opt=value, which bash splits into --opt, =, value",
        "            else",
        "                (( i += reply[0] ))",
        "            fi",
        "        else",
        '            _audit_commands "$node"',
        '            if [[ -z $dashdash && " ${reply[*]} " == *" $word "* ]]; then',
        '                node+=" $word"',
        "                npos=0",
        "            else",
        "                (( npos += 1 ))",
        "            fi",
        "        fi",
        "        (( i += 1 ))",
        "    done",
        "",
        "    # An option's value: after `--opt `, `--opt=` or `--opt=partial`.",
        "    (( COMP_CWORD > 1 )) && prev=${COMP_WORDS[COMP_CWORD-1]}",
        "    if [[ -z $dashdash && $cur == = && $prev == -?* ]]; then",
        "        opt=$prev",
        "        cur=''",
        "    elif [[ -z $dashdash && $prev == = ]] && (( COMP_CWORD > 2 )) && [[ ${COMP_WORDS[COMP_CWORD-2]} == -?* ]]; then",
        "        opt=${COMP_WORDS[COMP_CWORD-2]}",
        "    elif [[ -z $dashdash && $prev == -?* ]]; then",
        '        _audit_arity "$node" "$prev"',
        "        (( reply[0] > 0 )) && opt=$prev",
        "    fi",
        '    if [[ -n $opt ]]; then',
        '        _audit_option_value "$node" "$opt"',
        "        _audit_complete_value",
        "        return 0",
        "    fi",
        "",
        "    if [[ -z $dashdash && $cur == -* ]]; then",
        '        _audit_options "$node"',
        "        _audit_complete_words",
        "        return 0",
        "    fi",
        '    _audit_commands "$node"',
        "    if (( ${#reply[@]} )); then",
        "        _audit_complete_words",
        "        return 0",
        "    fi",
        '    _audit_argument "$node" "$npos"',
        "    _audit_complete_value",
        "    return 0",
        "}",
        "",
        "complete -F _audit audit",
    ]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# zsh


def _zsh_function(node: Node) -> str:
    return "_" + "_".join(re.sub(r"[^A-Za-z0-9_]", "_", part) for part in node.path)


def _zsh_escape(text: str, chars: str) -> str:
    text = text.replace("\\", "\\\\")
    for char in chars:
        text = text.replace(char, "\\" + char)
    return text


def _zsh_quote(spec: str) -> str:
    return "'" + spec.replace("'", "'\\''") + "'"


def _zsh_action(value: Value) -> str:
    if value.kind == "choice":
        return "(" + " ".join(_zsh_escape(c, " ()'\":") for c in value.choices) + ")"
    if value.kind == "file":
        return "_files"
    if value.kind == "dir":
        return "_files -/"
    return " "


def _zsh_option_specs(option: Option) -> list[str]:
    help_text = _zsh_escape(option.help, "[]:")
    exclusion = "*" if option.multiple else "(" + " ".join(option.names) + ")"
    message = _zsh_escape(option.names[0].lstrip("-"), ":")
    specs = []
    for name in option.names:
        if option.arity == 0:
            specs.append(f"{exclusion}{name}[{help_text}]")
            continue
        # --long=: the value as the next word or after `=`; -s+: the next word or glued on.
        suffix = "=" if name.startswith("--") else "+"
        values = "".join(f":{message}:{_zsh_action(option.value)}" for _ in range(option.arity))
        specs.append(f"{exclusion}{name}{suffix}[{help_text}]{values}")
    return specs


def _zsh(root: Node) -> str:
    functions = [_zsh_function(node) for node in root.walk()]
    clashes = sorted({f for f in functions if functions.count(f) > 1})
    if clashes:
        raise ValueError(f"commands whose zsh function names clash: {', '.join(clashes)}")
    out = ["#compdef audit"]
    out += _header("#", ["Use: put this file in a directory on $fpath before compinit runs,",
                         "or source it after compinit."])
    for node in root.walk():
        function = _zsh_function(node)
        specs = [s for option in node.options for s in _zsh_option_specs(option)]
        out += ["", f"# {node.key}" + (f": {node.help}" if node.help else "")]
        if node.commands:
            out += [f"{function}_commands() {{", "    local -a commands=("]
            for sub in node.commands:
                out.append(f"        {_zsh_quote(_zsh_escape(sub.name, ':') + ':' + sub.help)}")
            out += ["    )", f"    _describe -t commands {_zsh_quote(node.key + ' command')} commands", "}", ""]
            specs += [f": :{function}_commands", "*:: :->command"]
        else:
            for argument in node.arguments:
                position = "*" if argument.variadic else ""
                specs.append(f"{position}:{_zsh_escape(argument.name, ':')}:{_zsh_action(argument.value)}")
        out.append(f"{function}() {{")
        if node.commands:
            out += ['    local curcontext="$curcontext" state state_descr line ret=1',
                    "    typeset -A opt_args", "    _arguments -C -s -S \\"]
        else:
            out.append("    _arguments -s -S \\")
        out += [f"        {_zsh_quote(spec)} \\" for spec in specs[:-1]]
        out.append(f"        {_zsh_quote(specs[-1])}" + (" && ret=0" if node.commands else ""))
        if node.commands:
            context = "-".join(node.path)
            out += [
                "    if [[ $state == command ]]; then",
                f'        curcontext="${{curcontext%:*:*}}:{context}-$words[1]:"',
                "        case $words[1] in",
            ]
            for sub in node.commands:
                out.append(f"            {_sh(sub.name)}) {_zsh_function(sub)} && ret=0 ;;")
            out += ["        esac", "    fi", "    return ret"]
        out.append("}")
    out += [
        "",
        '# Autoloaded from $fpath: complete now. Sourced: register.',
        'if [[ $funcstack[1] == _audit ]]; then',
        '    _audit "$@"',
        "else",
        "    compdef _audit audit",
        "fi",
    ]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# fish


def _fish(root: Node) -> str:
    nodes = list(root.walk())
    out = _header("#", ["Use: copy this file to ~/.config/fish/completions/audit.fish"])
    out += [
        "",
        "# Sub-commands of each group.",
        "function __audit_commands",
        "    switch $argv[1]",
    ]
    for node in nodes:
        if node.commands:
            names = " ".join(_fq(c.name) for c in node.commands)
            out += [f"        case {_fq(node.key)}", f"            printf '%s\\n' {names}"]
    out += ["    end", "end", ""]

    out += ["# How many values follow an option (0 for flags and for words that are no option).",
            "function __audit_arity", "    switch $argv[1]"]
    for node in nodes:
        by_arity: dict[int, list[str]] = {}
        for option in node.options:
            if option.arity:
                by_arity.setdefault(option.arity, []).extend(option.names)
        if not by_arity:
            continue
        out += [f"        case {_fish_pattern(node.key)}", "            switch $argv[2]"]
        for arity, names in sorted(by_arity.items()):
            out += [f"                case {' '.join(_fish_pattern(n) for n in names)}",
                    f"                    echo {arity}", "                    return"]
        out.append("            end")
    out += ["    end", "    echo 0", "end", ""]

    out += [
        "# The command path at the cursor (e.g. `audit log`) and how many positional arguments it has so far.",
        "function __audit_state",
        "    set -l node audit",
        "    set -l npos 0",
        "    set -l skip 0",
        "    set -l dashdash 0",
        "    set -l words (commandline -opc)",
        "    set -e words[1]",
        "    for word in $words",
        "        if test $skip -gt 0",
        "            set skip (math $skip - 1)",
        "        else if test $dashdash -eq 0; and test \"$word\" = --",
        "            set dashdash 1",
        "        else if test $dashdash -eq 0; and string match -qr -- '^-.' $word",
        "            set skip (__audit_arity $node $word)",
        "        else if test $dashdash -eq 0; and contains -- $word (__audit_commands $node)",
        '            set node "$node $word"',
        "            set npos 0",
        "        else",
        "            set npos (math $npos + 1)",
        "        end",
        "    end",
        "    echo $node",
        "    echo $npos",
        "end",
        "",
        "# True when the cursor is in this command, e.g. `__audit_at audit log`.",
        "function __audit_at",
        "    set -l state (__audit_state)",
        "    test \"$state[1]\" = \"$argv\"",
        "end",
        "",
        "# True when the cursor is at the Nth (from 0; N+ for N on) positional argument of this command.",
        "function __audit_at_argument",
        "    set -l state (__audit_state)",
        "    test \"$state[1]\" = \"$argv[2..-1]\"; or return 1",
        "    if string match -q -- '*+' $argv[1]",
        "        test $state[2] -ge (string trim -r -c + -- $argv[1])",
        "    else",
        "        test $state[2] -eq $argv[1]",
        "    end",
        "end",
        "",
        "complete -c audit -e",
        "complete -c audit -f",
    ]
    for node in nodes:
        words = " ".join(_fq(part) for part in node.path)
        at = f"__audit_at {words}"
        out += ["", f"# {node.key}"]
        for sub in node.commands:
            out.append(f"complete -c audit -n {_fq(at)} -a {_fq(_fish_word(sub.name))} -d {_fq(sub.help)}")
        for option in node.options:
            parts = [f"complete -c audit -n {_fq(at)}"]
            for name in option.names:
                if name.startswith("--"):
                    parts.append(f"-l {_fq(name[2:])}")
                elif len(name) == 2:
                    parts.append(f"-s {_fq(name[1:])}")
                else:
                    parts.append(f"-o {_fq(name[1:])}")
            if option.arity:
                parts.append(_fish_value(option.value))
            if option.help:
                parts.append(f"-d {_fq(option.help)}")
            out.append(" ".join(parts))
        if not node.commands:
            for index, argument in enumerate(node.arguments):
                if argument.value.kind != "text":
                    position = f"{index}+" if argument.variadic else str(index)
                    condition = _fq(f"__audit_at_argument {position} {words}")
                    value = _fish_value(argument.value).replace("-x -a", "-a").replace("-r -F", "-F")
                    out.append(f"complete -c audit -n {condition} {value}")
                if argument.variadic:
                    break
    return "\n".join(out) + "\n"


def _fish_word(word: str) -> str:
    """A word for `complete -a`, which fish splits and expands again: escape what that would change."""
    return re.sub(r"([^A-Za-z0-9_@%+=:,./-])", r"\\\1", word)


def _fish_pattern(key: str) -> str:
    # switch patterns treat * and ? as wildcards even in quotes.
    return _fq(key.replace("*", "\\*").replace("?", "\\?"))


def _fish_value(value: Value) -> str:
    if value.kind == "choice":
        return "-x -a " + _fq(" ".join(_fish_word(c) for c in value.choices))
    if value.kind == "file":
        return "-r -F"
    if value.kind == "dir":
        return "-x -a '(__fish_complete_directories)'"
    return "-x"


# ---------------------------------------------------------------------------------------------------------------


def generate(shell: str, *, app: Any = None) -> str:
    """The completion script for one shell (bash, zsh or fish) for the CLI as it is now (or for `app`)."""
    renderers = {"bash": _bash, "zsh": _zsh, "fish": _fish}
    if shell not in renderers:
        raise ValueError(f"unknown shell {shell!r}: use one of {', '.join(SHELLS)}")
    return renderers[shell](tree(app))


def default_dir() -> Path:
    """The repository's completions/ folder (this module lives in <repo>/audit_cli/)."""
    return Path(__file__).resolve().parent.parent / "completions"


def stale(directory: Path) -> list[Path]:
    """The files in `directory` whose text differs from freshly generated output (or that are missing)."""
    found = []
    for shell in SHELLS:
        path = directory / FILES[shell]
        try:
            current = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        if current != generate(shell):
            found.append(path)
    return found


def write(directory: Path) -> list[Path]:
    """Write the three scripts into `directory`; return those whose text changed."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = []
    for shell in SHELLS:
        path = directory / FILES[shell]
        text = generate(shell)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8", newline="\n")
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description="Generate the shell completion scripts of `audit`.")
    parser.add_argument("--check", action="store_true", help="only check: exit 1 listing the stale files")
    parser.add_argument("--dir", type=Path, default=None, help="where the scripts go [default: <repo>/completions]")
    args = parser.parse_args(argv)
    directory = args.dir or default_dir()
    if args.dir is None and not (directory.parent / "pyproject.toml").exists():
        parser.error(f"{directory.parent} is not the source tree (installed package?): give --dir")
    if args.check:
        found = stale(directory)
        for path in found:
            print(f"stale: {path} (run `{COMMAND}`)", file=sys.stderr)
        return 1 if found else 0
    for path in write(directory):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
