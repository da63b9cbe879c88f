"""The bash completion script."""

from __future__ import annotations

from .model import Node, Value, _header, _sh


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
