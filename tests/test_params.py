"""cli/params.py coerces exactly as Typer's own (pydantic) runtime parameters do, on every parameter of the app."""

from __future__ import annotations

import subprocess
import sys

import typer.main
from typer._click import Context
from typer._coercion import build_runtime_param as typer_build

from audit_cli.cli import app, params

SAMPLES = ["5", "-3", "0", "007", " 5", "5.0", "+5", "1_000", "x", "", "table", "TABLE", "json", "all", "hour",
           "true", "no", True, False, 0, 12, ["a", "b"], ("a",), (), [1], "9" * 30]


def _outcome(runtime, value, param, ctx):
    try:
        return "ok", runtime._coerce_value(value, param=param, ctx=ctx)
    except Exception as exc:  # noqa: BLE001 - the error is what is compared
        return "error", type(exc).__name__, str(exc)


def _params(command, path=()):
    for param in command.params:
        yield (*path, command.name), command, param
    for sub in getattr(command, "commands", {}).values():
        yield from _params(sub, (*path, command.name))


def test_every_parameter_coerces_as_typer_does():
    root = typer.main.get_command(app)
    checked = 0
    for where, command, param in _params(root):
        ctx = Context(command)
        ours, theirs = params.build_runtime_param(param.type_descriptor), typer_build(param.type_descriptor)
        for value in SAMPLES:
            assert _outcome(ours, value, param, ctx) == _outcome(theirs, value, param, ctx), (where, param.name, value)
            checked += 1
    assert checked > 1000


def test_a_listing_does_not_import_pydantic(tmp_path):
    db = tmp_path / "s.db"
    code = ("import sys; from audit_cli.cli import main; sys.argv = ['audit', '--db', sys.argv[1], *sys.argv[2:]]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('pydantic' in sys.modules, file=sys.stderr)")
    subprocess.run([sys.executable, "-c", code, str(db), "record", "login", "-c", "u", "-i", "1"], check=True,
                   capture_output=True)
    done = subprocess.run([sys.executable, "-c", code, str(db), "log", "--action", "login", "--limit", "5",
                           "--format", "json"], capture_output=True, text=True)
    assert done.stderr.strip().splitlines()[-1] == "False"
    assert '"login"' in done.stdout
