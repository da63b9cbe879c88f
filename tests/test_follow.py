"""`audit log --follow` against a real writer in another process: the reader sees each matching activity as it is
recorded, stops cleanly (a reader that goes away after N lines, or ^C), and never holds the WAL back."""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from audit_cli.models import Activity
from audit_cli.store import AuditStore

AUDIT = [sys.executable, "-m", "audit_cli"]

# The writer: `count` logins (and as many logouts between them, which the reader's filter leaves out), a little
# apart, so that the reader has to wait for them.
WRITER = """
import sys, time
from audit_cli.models import Activity
from audit_cli.store import AuditStore
path, count, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
with AuditStore.open(path) as store:
    for n in range(count):
        store.record(Activity("logout", "users", f"out-{n}", "", user="w"))
        store.record(Activity("login", "users", f"w-{n}", "", user="w"))
        time.sleep(pause)
"""


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "audit.db"
    with AuditStore.open(path, create=True) as store:
        for n in range(15):
            store.record(Activity("login", "users", f"old-{n}", "", user="a"))
    return path


def _as_at_a_terminal() -> None:
    """^C stops a follower at a terminal. A suite run in the background (`cmd &`, nohup) has SIGINT ignored, which
    a child inherits and Python keeps: its followers would never see the ^C these tests send."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUDIT_", "XDG_"))}
    return {**env, "AUDIT_USER": "t", "NO_COLOR": "1", "XDG_DATA_HOME": str(tmp_path / "xdg")}


_READERS: dict = {}  # by stream, held: an id could be a dead stream's


def _lines(stream, count: int, *, within: float = 30.0) -> list[str]:
    """The next `count` lines of a follower's output, waiting at most `within` seconds for them."""
    if stream not in _READERS:  # one thread per stream reads it line by line, as the follower flushes them
        lines: queue.Queue = queue.Queue()
        _READERS[stream] = lines
        threading.Thread(target=lambda: [lines.put(line) for line in iter(stream.readline, "")] + [lines.put("")],
                         daemon=True).start()
    got, end = [], time.monotonic() + within
    while len(got) < count:
        try:
            line = _READERS[stream].get(timeout=max(end - time.monotonic(), 0.001))
        except queue.Empty:
            raise AssertionError(f"only {len(got)} of {count} lines came: {got}") from None
        assert line, f"the follower ended after {got}"
        got.append(line)
    return got


def _writer(db: Path, count: int, pause: float = 0.05) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(count), str(pause)],
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})


def test_follow_prints_the_newest_then_what_another_process_records(db, tmp_path):
    follower = subprocess.Popen([*AUDIT, "--db", str(db), "log", "-F", "-a", "login", "-f", "jsonl"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path),
                                preexec_fn=_as_at_a_terminal)
    try:
        backlog = [json.loads(line) for line in _lines(follower.stdout, 10)]
        assert [row["item"] for row in backlog] == [f"old-{n}" for n in range(5, 15)]  # the newest 10, oldest first
        writer = _writer(db, 20)
        new = [json.loads(line) for line in _lines(follower.stdout, 20)]
        assert writer.wait(timeout=60) == 0
        assert [row["item"] for row in new] == [f"w-{n}" for n in range(20)]  # each once, in order, logins only
        assert [row["id"] for row in new] == sorted(row["id"] for row in new)
        follower.send_signal(signal.SIGINT)  # how a person stops it: not an error
        assert follower.wait(timeout=10) == 0, follower.stderr.read()
        assert _READERS[follower.stdout].get(timeout=5) == ""  # nothing more: it ended
    finally:
        follower.kill()
        follower.wait()


def test_a_reader_that_stops_after_n_lines_ends_the_follower(db, tmp_path):
    pipeline = subprocess.Popen(
        f"{' '.join(AUDIT)} --db {db} log --follow -n 2 -a login --fields item -f csv | head -n 6",
        shell=True, stdout=subprocess.PIPE, text=True, env=_env(tmp_path))
    writer = _writer(db, 30, pause=0.1)
    try:
        out, _ = pipeline.communicate(timeout=60)
    finally:
        writer.kill()
        writer.wait()
    lines = out.splitlines()
    # The writer may have begun before the follower looked: the newest two are then some of its own.
    assert lines[0] == "item" and len(lines) == 6 and len(set(lines)) == 6
    assert all(line.startswith(("old-", "w-")) for line in lines[1:]) and lines[-1].startswith("w-")
    assert pipeline.returncode == 0  # head went away after 6 lines, and the follower ended with it


def test_the_wal_checkpoints_while_following(db, tmp_path):
    follower = subprocess.Popen([*AUDIT, "--db", str(db), "log", "-F", "-f", "jsonl", "-n", "1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path),
                                preexec_fn=_as_at_a_terminal)
    try:
        _lines(follower.stdout, 1)  # following now
        writer = _writer(db, 5, pause=0)
        assert writer.wait(timeout=60) == 0
        _lines(follower.stdout, 10)  # logins and logouts alike: no filter
        conn = sqlite3.connect(db, timeout=15)
        try:
            conn.execute("BEGIN IMMEDIATE")  # a writer can take the lock while the follower runs
            conn.execute("ROLLBACK")
            # A reader holding a snapshot would keep a TRUNCATE checkpoint busy for as long as it held it; the
            # follower's looks are short, so one of a few tries finds it between them.
            results = []
            for _ in range(20):
                results.append(conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())
                if results[-1][0] == 0:
                    break
                time.sleep(0.05)
            assert results[-1] == (0, 0, 0), results
        finally:
            conn.close()
        assert follower.poll() is None  # still following
    finally:
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=10) == 0
        follower.kill()


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_follow_in_every_format(db, tmp_path, fmt):
    follower = subprocess.Popen([*AUDIT, "--db", str(db), "log", "-F", "-n", "2", "-f", fmt],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path),
                                preexec_fn=_as_at_a_terminal)
    try:
        head = {"table": 4, "json": 3, "csv": 3}[fmt]
        _lines(follower.stdout, head)
        writer = _writer(db, 1, pause=0)
        assert writer.wait(timeout=60) == 0
        _lines(follower.stdout, 2)
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=10) == 0
        if fmt == "json":
            assert _lines(follower.stdout, 1) == ["]\n"]
    finally:
        follower.kill()
        follower.wait()


def test_follow_refuses_what_does_not_apply(cli):
    cli("record", "login", "-c", "u", "-i", "1")
    for args in (["--sort", "id"], ["--offset", "1"], ["--meta"]):
        err = cli.fails("log", "--follow", *args, code=2)
        assert "--follow" in err
