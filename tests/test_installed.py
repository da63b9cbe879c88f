"""A few real runs of the installed `audit` console script and of `python -m audit_cli`, in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import audit_cli

SCRIPT = Path(sys.executable).parent / "audit"
needs_script = pytest.mark.skipif(not SCRIPT.exists(), reason=f"no console script at {SCRIPT}: install the package")

ENTRY_POINTS = {
    "script": [str(SCRIPT)],
    "module": [sys.executable, "-m", "audit_cli"],
}


@pytest.fixture(params=list(ENTRY_POINTS))
def audit(request, tmp_path):
    if request.param == "script" and not SCRIPT.exists():
        pytest.skip(f"no console script at {SCRIPT}: install the package")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUDIT_", "XDG_"))}
    env.update(AUDIT_DB=str(tmp_path / "audit.db"), AUDIT_USER="ci-bot", NO_COLOR="1", XDG_DATA_HOME=str(tmp_path / "xdg"))

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([*ENTRY_POINTS[request.param], *args], input=input, capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=60)

    run.db = tmp_path / "audit.db"
    return run


def test_record_then_log(audit):
    first = audit("record", "create", "-c", "articles", "-i", "42", "--data", '{"title": "Hello"}',
                  "--at", "2026-11-20T10:00:00+01:00")
    assert (first.returncode, first.stdout, first.stderr) == (0, "1\n", "")
    second = audit("record", "update", "-c", "articles", "-i", "42", "--data", "-", "--user", "alice",
                   input='{"title": "Hello, world"}')
    assert (second.returncode, second.stdout) == (0, "2\n")

    listed = audit("log", "--format", "jsonl")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["id"], r["action"], r["user"]) for r in rows] == [(2, "update", "alice"), (1, "create", "ci-bot")]
    assert rows[1]["timestamp"] == "2026-11-20T09:00:00.000000Z"
    assert audit.db.exists()
    assert audit.db.stat().st_mode & 0o777 == 0o600

    table = audit("log", "--action", "create")
    assert table.returncode == 0
    assert "articles" in table.stdout and "update" not in table.stdout


ERRORS = [
    (["log", "--sort", "nope"], 2, "unknown field 'nope'"),
    (["log", "--filter", '{"user": {"_like": "x"}}'], 2, "unknown operator '_like'"),
    (["record", "update", "-c", "a", "-i", "1", "--data", "[1]"], 2, "--data must be a JSON object"),
    (["show", "1"], 1, "no audit store"),
]


def test_an_error_is_one_line_without_a_traceback(audit):
    for args, code, says in ERRORS:
        result = audit(*args)
        assert result.returncode == code, (args, result.stderr)
        assert result.stdout == ""
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("audit: error: ") and says in lines[0]
    assert not audit.db.exists()  # and nothing was created on the way


def test_version(audit):
    result = audit("--version")
    assert (result.returncode, result.stdout) == (0, f"audit {audit_cli.__version__}\n")


@needs_script
def test_help():
    result = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: audit ")
    for name in ("record", "log", "show", "stats", "info"):
        assert name in result.stdout


@needs_script
def test_closed_stdout_is_not_an_error(tmp_path):
    # `audit log | head`: the reader goes away before a 300 kB line is written; no traceback, no error exit.
    env = {**os.environ, "AUDIT_DB": str(tmp_path / "audit.db"), "NO_COLOR": "1"}
    (tmp_path / "big.json").write_text(json.dumps({"blob": "x" * 300_000}))
    subprocess.run([str(SCRIPT), "record", "upload", "-c", "files", "-i", "1", "--details", f"@{tmp_path / 'big.json'}"],
                   env=env, check=True, capture_output=True)
    pipeline = subprocess.run(f"'{SCRIPT}' log --format jsonl | head -c 10; exit ${{PIPESTATUS[0]}}", shell=True,
                              executable="/bin/bash", env=env, capture_output=True, text=True, timeout=60)
    assert pipeline.stdout == '{"id":1,"a'
    assert pipeline.stderr == ""
    assert pipeline.returncode == 0


def test_an_import_from_a_pipe_reads_it_in_the_helper_process(audit, tmp_path):
    # Standard input from a pipe is read by the import's helper process (store/prepare.py), and imports as a file does.
    sample = Path(__file__).resolve().parent.parent / "fixtures" / "sample.jsonl"
    piped = audit("import", "-", input=sample.read_text())
    assert piped.returncode == 0 and piped.stderr.startswith("imported 27 activities"), piped.stderr
    assert audit("verify").stdout.startswith("OK")
    from_file = tmp_path / "file.db"
    assert audit("--db", str(from_file), "import", str(sample)).returncode == 0
    # the same lines (each store's trailer names that store)
    assert audit("export", "--no-trailer").stdout == audit("--db", str(from_file), "export", "--no-trailer").stdout


def test_the_console_script_is_console_main():
    from importlib import metadata

    scripts = {e.name: e.value for e in metadata.distribution("audit-cli").entry_points if e.group == "console_scripts"}
    assert scripts == {"audit": "audit_cli.console:main"}


def test_start_up_leaves_the_collector_on_with_the_imports_frozen(tmp_path):
    # console.main imports the CLI with the cyclic GC off (bench/RESULTS.md: start-up): the command itself must run
    # with it on again, and a caller's own choice (off) must stand.
    code = ("import atexit, gc, sys\n"
            "if sys.argv[1] == 'off':\n    gc.disable()\n"
            "atexit.register(lambda: print(gc.isenabled(), gc.get_freeze_count() > 1000, file=sys.stderr))\n"
            "sys.argv = ['audit', '--db', sys.argv[2], 'log']\n"
            "from audit_cli.console import main\nmain()")
    for given, expected in (("on", "True True"), ("off", "False True")):
        done = subprocess.run([sys.executable, "-c", code, given, str(tmp_path / "none.db")], capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 1 and "no audit store" in done.stderr, done.stderr
        assert done.stderr.strip().splitlines()[-1] == expected
