"""A question answered no on a terminal: one line and exit 1, nothing changed (Typer raises its own Abort)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time

import audit_cli


def test_prune_answered_no_on_a_terminal_changes_nothing(tmp_path):
    path = tmp_path / "audit.db"
    with audit_cli.open(path) as store:
        store.record("login", "users", "alice", timestamp="2020-01-01")
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-c", "from audit_cli.cli import main; main()", "--db", str(path),
                                "prune", "--older-than", "30d"], stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 30
    while b"for good?" not in seen and time.monotonic() < deadline:
        seen += os.read(leader, 4096)
    os.write(leader, b"n\n")
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        seen += chunk
    assert process.wait(30) == 1
    assert b"audit: error: aborted: nothing was changed" in seen and b"Traceback" not in seen
    with audit_cli.open(path) as store:
        assert store.count() == 1
