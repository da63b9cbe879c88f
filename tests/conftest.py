"""Shared fixtures: real store files in tmp_path, the CLI through Typer's CliRunner."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import typer.testing
from typer.testing import CliRunner

from audit_cli.cli import app
from audit_cli.models import Activity
from audit_cli.store import AuditStore


_command_once = functools.lru_cache(maxsize=None)(typer.testing._get_command)


@pytest.fixture(autouse=True)
def _build_the_command_once(monkeypatch):
    # CliRunner rebuilds the whole command tree on every call (~50 ms); the tree never changes within a run.
    monkeypatch.setattr(typer.testing, "_get_command", _command_once)


@pytest.fixture(autouse=True)
def _exports_follow_the_schema(monkeypatch, request):
    """Every audit/1 line an export writes in the suite, through the CLI or the core, validates against the shipped
    schema (tests/schema_check.py); so does every anchor. Exports by a subprocess are checked where a test reads
    them back (tests/test_schema.py). A test that exports a store it tampered with says so with
    @pytest.mark.exports_tampered: its lines carry what the attacker wrote."""
    if request.node.get_closest_marker("exports_tampered"):
        return
    from audit_cli.store import export, integrity
    from schema_check import check_lines, problems

    iterate = export.Export.__iter__

    def checked(self):
        for chunk in iterate(self):
            if self.fmt == "audit":
                check_lines(chunk)
            yield chunk

    monkeypatch.setattr(export.Export, "__iter__", checked)
    checkpoint = integrity.Integrity.checkpoint

    def anchor(self, *args, **kwargs):
        written = checkpoint(self, *args, **kwargs)
        assert not problems("anchor", written), problems("anchor", written)
        return written

    monkeypatch.setattr(integrity.Integrity, "checkpoint", anchor)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.db"


@pytest.fixture
def store(db_path: Path):
    with AuditStore.open(db_path, create=True) as opened:
        yield opened


class Cli:
    """Runs `audit --db PATH ...` in-process; `json()` runs with --format json and parses stdout."""

    def __init__(self, db_path: Path):
        self.db_path = db_path
        self.runner = CliRunner(env={"AUDIT_USER": "tester", "NO_COLOR": "1", "AUDIT_DB": None})

    def __call__(self, *args: str, input: str | None = None, ok: bool = True):
        result = self.runner.invoke(app, ["--db", str(self.db_path), *map(str, args)], input=input)
        if ok and result.exit_code != 0:
            raise AssertionError(f"audit {' '.join(map(str, args))} exited {result.exit_code}:\n{result.output}")
        return result

    def json(self, *args: str, **kw):
        return json.loads(self(*args, "--format", "json", **kw).stdout)

    def fails(self, *args: str, code: int, input: str | None = None) -> str:
        """Run a command that must fail with `code`; return its stderr, checked to end in one error line."""
        result = self(*args, input=input, ok=False)
        assert result.exit_code == code, f"expected exit {code}, got {result.exit_code}:\n{result.output}"
        # CliRunner swallows a crash without printing it: an unexpected exception must fail the test.
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert "Traceback" not in result.output
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith(("audit: error: ", "Error: ")), result.stderr
        return result.stderr


@pytest.fixture
def cli(db_path: Path) -> Cli:
    return Cli(db_path)


@pytest.fixture
def record(store: AuditStore) -> Callable:
    """record("update", "articles", "1", data={...}, user=..., timestamp=...) through the core."""

    def write(action: str, collection: str = "articles", item: str = "1", *, data=None, patch=None,
              replace: bool = False, **fields):
        fields.setdefault("timestamp", "")
        return store.record(Activity(action, collection, item, **fields), data=data, patch=patch, replace=replace)

    return write
