"""The zsh completion script."""

from __future__ import annotations

import re

from .model import Node, Option, Value, _header, _sh


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
