"""Static shell completion scripts for `audit`, generated from the Typer app's click command tree.

Static, so a TAB costs no Python start-up: each script holds the command tree (groups within groups, their
options, which options take a value, choice values, which values are paths) as plain shell code.

    python -m audit_cli.completions           rewrite completions/audit.bash, completions/_audit, completions/audit.fish
    python -m audit_cli.completions --check   exit 1, listing the stale files, if any differ from fresh output

`generate(shell)` returns one script as text. The CLI itself never imports this module.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .bash import _bash
from .fish import _fish
from .model import COMMAND, tree
from .zsh import _zsh

SHELLS = ("bash", "zsh", "fish")
FILES = {"bash": "audit.bash", "zsh": "_audit", "fish": "audit.fish"}
__all__ = ["FILES", "SHELLS", "generate", "main", "stale", "tree", "write"]


def generate(shell: str, *, app: Any = None) -> str:
    """The completion script for one shell (bash, zsh or fish) for the CLI as it is now (or for `app`)."""
    renderers = {"bash": _bash, "zsh": _zsh, "fish": _fish}
    if shell not in renderers:
        raise ValueError(f"unknown shell {shell!r}: use one of {', '.join(SHELLS)}")
    return renderers[shell](tree(app))


def default_dir() -> Path:
    """The repository's completions/ folder (this package lives in <repo>/audit_cli/completions/)."""
    return Path(__file__).resolve().parent.parent.parent / "completions"


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

