"""Helpers of the attacker's tests: real store files and exported trails, changed as someone with write access to the file (or
the trail in transit) would, through sqlite3 or an editor, then checked with the verify the threat model names
(README, Security)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from audit_cli.cli import app
from audit_cli.models import Activity
from audit_cli.store import AuditStore

KEY = "the defender's chain key"


def at(n: int) -> str:
    return f"2026-11-01T10:{n // 60:02d}:{n % 60:02d}.000000Z"


def build(path: Path, key: str | None = None) -> dict[str, int]:
    """A small store of every kind of record: data changes with revisions, a login, comments edited and deleted,
    a version created and saved into. The ids by name."""
    ids: dict[str, int] = {}
    with AuditStore.open(path, create=True, chain_key=key.encode() if key else None) as store:
        def rec(name, n, action, item="1", data=None, **kw):
            ids[name] = store.record(Activity(action, "articles", item, at(n), user="alice", **kw), data=data).activity["id"]

        rec("create", 1, "create", data={"title": "Hello", "status": "draft", "body": "x" * 200})
        rec("update", 2, "update", data={"title": "Hello, world"}, ip="10.0.0.1")
        rec("login", 3, "login", "bob")
        rec("create2", 4, "create", "2", data={"title": "Second"})
        comment = store.add_comment(Activity("comment", "articles", "1", at(5), user="carol", comment="First"))
        ids["comment"] = comment["id"]
        store.edit_comment(comment["id"], "Second", activity=Activity("x", "", "", at(6), user="carol"))
        ids["other_comment"] = store.add_comment(Activity("comment", "articles", "2", at(7), user="dan",
                                                          comment="Looks good"))["id"]
        rec("update2", 8, "update", data={"status": "review"})
        store.create_version("articles", "1", "draft", name="Draft", activity=Activity("v", "", "", at(9)))
        store.save_version("articles", "1", "draft", {"title": "Draft title"}, activity=Activity("v", "", "", at(10)))
        rec("delete", 11, "delete", "2")
        rec("last", 12, "update", data={"status": "published"})
    return ids


def tamper(path: Path, *statements: str | tuple[str, list]) -> None:
    """Run SQL on the closed store's file directly, as the attacker."""
    with sqlite3.connect(path) as db:
        for statement in statements:
            sql, params = statement if isinstance(statement, tuple) else (statement, [])
            db.execute(sql, params)
    db.close()


def audit(*args, key: str | None = None, input: str | None = None):
    runner = CliRunner(env={"AUDIT_CHAIN_KEY": key, "AUDIT_DB": None, "NO_COLOR": "1", "AUDIT_USER": "tester"})
    return runner.invoke(app, [str(a) for a in args], input=input)


def verify(path: Path, *args, key: str | None = None) -> tuple[int, dict]:
    result = audit("--db", path, "verify", *args, "--format", "json", key=key)
    assert "Traceback" not in result.output
    try:
        return result.exit_code, json.loads(result.stdout)
    except ValueError:
        return result.exit_code, {"error": result.stderr}


def caught(path: Path, *args, key: str | None = None) -> dict:
    """verify must say TAMPERED (exit 3); the failure it names."""
    code, report = verify(path, *args, key=key)
    assert code == 3, (code, report)
    assert report.get("ok") is not True
    return report.get("failure", report)
