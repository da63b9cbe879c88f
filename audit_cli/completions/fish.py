"""The fish completion script."""

from __future__ import annotations

import re

from .model import Node, Value, _fq, _header


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
