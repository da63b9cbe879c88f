"""A prune killed between batches, and two prunes at once.

A real subprocess opens the store and runs `store.prune(..., batch=50, after_batch=...)`, whose hook SIGKILLs its own
process after the Nth batch. Then, in the test process: the store opens, `PRAGMA integrity_check` is ok, `verify`
passes and reports the interrupted prune, and a second prune finishes the plan (prune_plan empty), after which the
store holds exactly what an uninterrupted prune leaves, and still verifies.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest

from audit_cli import timeparse
from audit_cli.models import Activity
from audit_cli.store import AuditStore

NOW = timeparse.utcnow().replace(microsecond=0)
ACTIVITIES = 3000
DAYS = 400
BATCH = 50

# Runs in a child process: argv = store path, kill after this many batches (0: never), prune kwargs (JSON), now.
CHILD = textwrap.dedent("""
    import json, os, signal, sys, time
    from datetime import datetime
    from audit_cli.store import AuditStore

    path, kill_at, kwargs, now = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
    hold = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    batches = 0

    def after_batch(done):
        global batches
        batches += 1
        if batches == 1 and hold:
            open(path + ".holding", "w").close()
            time.sleep(hold)
        if batches == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    store = AuditStore.open(path)
    store.prune(batch=50, after_batch=after_batch, now=datetime.fromisoformat(now), **kwargs)
    store.close()
    print("finished", batches)
""")


def when(n: int) -> str:
    """Activity n's time: spread over DAYS days, never within an hour of a whole-day cutoff."""
    moment = NOW - timedelta(days=DAYS) + timedelta(days=DAYS) * n / ACTIVITIES
    age = NOW - moment
    if abs(age - timedelta(days=round(age / timedelta(days=1)))) < timedelta(hours=1):
        moment += timedelta(hours=2)
    return timeparse.format_ts(moment)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A store of ACTIVITIES activities over 400 days: items in 3 collections with updates, logins, comments."""
    path = tmp_path_factory.mktemp("crash") / "template.db"
    with AuditStore.open(path, create=True) as store, store._writing():
        live: list[tuple[str, str]] = []
        comments: list[int] = []
        for n in range(ACTIVITIES):
            kind = n % 10
            if kind in (0, 5) or not live:
                key = (("articles", "pages", "products")[n % 3], str(len(live) + 1))
                live.append(key)
                store.record(Activity("create", *key, when(n), user="alice"),
                             data={"title": f"item {n}", "body": "text " * 20, "n": n})
            elif kind in (1, 2, 3, 6, 7):
                key = live[(n * 7919) % len(live)]
                store.record(Activity("update", *key, when(n), user="bob"), data={"n": n, "status": f"s{n % 4}"})
            elif kind == 4:
                store.record(Activity("login", "users", f"u{n % 17}", when(n), ip="10.0.0.1"))
            elif kind == 8:
                key = live[(n * 31) % len(live)]
                comments.append(store.add_comment(Activity("comment", *key, when(n), comment=f"note {n}"))["id"])
            elif comments and n % 20 == 9:
                store.edit_comment(comments[-1], f"note edited {n}",
                                   activity=Activity("comment-edit", "", "", when(n)))
            else:
                store.record(Activity("publish", *live[n % len(live)], when(n)))
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def copy_store(template: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, target)
    return target


def run_child(db: Path, kill_at: int, kwargs: dict, hold: float = 0.0, wait: bool = True):
    argv = [sys.executable, "-c", CHILD, str(db), str(kill_at), json.dumps(kwargs), NOW.isoformat()]
    if hold:
        argv.append(str(hold))
    env = {k: v for k, v in os.environ.items() if k != "AUDIT_CHAIN_KEY"}
    if not wait:
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)


class Contents:
    def __init__(self, db: Path):
        with AuditStore.open(db) as store:
            conn = store.conn
            self.activities = {i for (i,) in conn.execute("SELECT id FROM activity WHERE action != 'prune'")}
            self.revisions = {i for (i,) in conn.execute("SELECT activity FROM revisions")}
            self.plan = conn.execute("SELECT count(*) FROM prune_plan WHERE done = 0").fetchone()[0]
            self.prunes = conn.execute("SELECT count(*) FROM activity WHERE action = 'prune'").fetchone()[0]
            self.bases_unused = conn.execute(
                "SELECT count(*) FROM bases WHERE id NOT IN (SELECT base FROM revisions WHERE base IS NOT NULL)"
            ).fetchone()[0]


def integrity_ok(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def verify(db: Path) -> dict:
    with AuditStore.open(db) as store:
        report = store.verify()
    assert report["ok"], report
    return report


def run_cli(cli, db: Path, *args: str):
    from audit_cli.cli import app

    return cli.runner.invoke(app, ["--db", str(db), *args])


@pytest.fixture(scope="module")
def controls(template, tmp_path_factory) -> dict:
    """What an uninterrupted prune of each kind leaves, and how many rows its plan holds."""
    found = {}
    for name, kwargs in KINDS.items():
        db = copy_store(template, tmp_path_factory.mktemp("control") / f"{name}.db")
        with AuditStore.open(db) as store:
            if name == "scope":
                store.set_scope("articles", {"exclude_fields": ["body"], "keep_revisions": 2})
            done: list[int] = [0]
            store.prune(now=NOW, batch=BATCH, after_batch=done.append, **kwargs)
        found[name] = (Contents(db), done[-1])  # rows in the plan: the count after the last batch
    return found


KINDS = {
    "age": {"older_than": "300d"},
    "half": {"older_than": "200d"},
    "count": {"keep_revisions": 2},
    "scope": {"apply_scopes": True},
}
CLI_ARGS = {"age": ["--older-than", "300d"], "half": ["--older-than", "200d"], "count": ["--keep-revisions", "2"],
            "scope": ["--apply-scopes"]}


def crash(template: Path, tmp_path: Path, kind: str, kill_at: int) -> Path:
    db = copy_store(template, tmp_path / "store" / "audit.db")
    if kind == "scope":
        with AuditStore.open(db) as store:
            store.set_scope("articles", {"exclude_fields": ["body"], "keep_revisions": 2})
    done = run_child(db, kill_at, KINDS[kind])
    assert done.returncode == -signal.SIGKILL, (done.returncode, done.stdout, done.stderr)
    return db


def test_the_template_is_big_enough_for_many_batches(controls):
    for kind, (_, planned) in controls.items():
        assert planned > 4 * BATCH, (kind, planned)


@pytest.mark.parametrize("kill_at", [1, 2, "last-but-one"])
@pytest.mark.parametrize("finish", ["same", "other-limits", "core"])
def test_a_prune_killed_between_batches_verifies_and_the_next_one_finishes_it(
        template, controls, tmp_path, cli, kill_at, finish):
    kind = "half"
    control, planned = controls[kind]
    batches = -(-planned // BATCH)
    kill = batches - 1 if kill_at == "last-but-one" else kill_at
    db = crash(template, tmp_path, kind, kill)

    # the store opens, is sound, and verifies, saying a prune was interrupted
    integrity_ok(db)
    left = Contents(db)
    assert left.plan == planned - kill * BATCH
    assert left.prunes == 1
    report = verify(db)
    assert "pruned" in report and "still to go" in report["pruned"], report
    shown = run_cli(cli, db, "verify")
    assert shown.exit_code == 0 and "interrupted" in shown.stdout, shown.output
    # reading and writing go on meanwhile
    assert run_cli(cli, db, "log", "--limit", "5").exit_code == 0

    if finish == "same":
        result = run_cli(cli, db, "prune", *CLI_ARGS[kind], "--yes", "--format", "json")
    elif finish == "other-limits":
        result = run_cli(cli, db, "prune", "--older-than", "1000d", "--yes", "--format", "json")
    else:
        with AuditStore.open(db) as store:
            summary = store.prune(older_than="200d", now=NOW)
        result = None
    if result is not None:
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
    assert summary["finished_earlier_prune"] is True

    done = Contents(db)
    assert done.plan == 0
    assert done.activities == control.activities
    assert done.revisions == control.revisions
    assert done.bases_unused == 0
    assert done.prunes == 1, "finishing an attested plan is not a new prune"
    integrity_ok(db)
    report = verify(db)
    assert "still to go" not in report.get("pruned", "")
    assert run_cli(cli, db, "verify").exit_code == 0


@pytest.mark.parametrize("kind", ["count", "scope", "age"])
def test_other_kinds_killed_after_the_second_batch_finish_the_same(template, controls, tmp_path, kind):
    control, planned = controls[kind]
    db = crash(template, tmp_path, kind, 2)
    integrity_ok(db)
    verify(db)
    assert Contents(db).plan == planned - 2 * BATCH
    with AuditStore.open(db) as store:
        store.prune(now=NOW, **KINDS[kind])
    done = Contents(db)
    assert (done.plan, done.activities, done.revisions) == (0, control.activities, control.revisions)
    integrity_ok(db)
    verify(db)


def test_a_finishing_prune_killed_too_is_finished_by_a_third(template, controls, tmp_path):
    control, planned = controls["half"]
    db = crash(template, tmp_path, "half", 2)
    # the second prune is killed after 3 batches of finishing the first one's plan
    again = run_child(db, 3, KINDS["half"])
    assert again.returncode == -signal.SIGKILL, again.stderr
    assert Contents(db).plan == planned - 5 * BATCH
    integrity_ok(db)
    verify(db)
    finished = run_child(db, 0, KINDS["half"])
    assert finished.returncode == 0, finished.stderr
    done = Contents(db)
    assert (done.plan, done.activities, done.revisions) == (0, control.activities, control.revisions)
    verify(db)


def test_records_made_after_a_crash_and_before_the_finish_still_verify(template, tmp_path, cli):
    db = crash(template, tmp_path, "half", 2)
    assert run_cli(cli, db, "record", "update", "-c", "articles", "-i", "1", "--data", '{"after": "crash"}'
                   ).exit_code == 0
    assert run_cli(cli, db, "comment", "add", "articles", "1", "after the crash").exit_code == 0
    verify(db)
    assert run_cli(cli, db, "prune", "--older-than", "200d", "--yes").exit_code == 0
    verify(db)
    assert Contents(db).plan == 0


def test_a_dry_run_after_a_crash_writes_nothing(template, tmp_path, cli):
    """--dry-run "writes nothing": not even the rest of an interrupted plan."""
    db = crash(template, tmp_path, "half", 2)
    before = Contents(db)
    result = run_cli(cli, db, "prune", "--older-than", "200d", "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    after = Contents(db)
    assert (after.plan, after.activities, after.revisions) == (before.plan, before.activities, before.revisions)


def test_a_bare_prune_without_a_policy_still_finishes_an_interrupted_one(template, controls, tmp_path, cli):
    """README: "the next prune finishes the job first" -- a bare `audit prune` from cron is the next prune."""
    control, _ = controls["half"]
    db = crash(template, tmp_path, "half", 2)
    result = run_cli(cli, db, "prune")
    assert result.exit_code == 0, result.output
    done = Contents(db)
    assert done.plan == 0
    assert done.activities == control.activities
    verify(db)


# two prunes at once


def test_a_second_prune_while_the_lock_is_held_exits_1_with_a_clear_message(template, tmp_path, cli):
    db = copy_store(template, tmp_path / "store" / "audit.db")
    before = Contents(db)
    fd = os.open(f"{db}.prune-lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        for args in (["--older-than", "200d", "--yes"], ["--keep-revisions", "1", "--yes"]):
            result = run_cli(cli, db, "prune", *args)
            assert result.exit_code == 1, result.output
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("audit: error: "), result.stderr
            assert "prune" in lines[0] and ("running" in lines[0] or "another" in lines[0])
        after = Contents(db)
        assert (after.activities, after.revisions, after.prunes) == (before.activities, before.revisions, 0)
        # reading is not held up by it
        assert run_cli(cli, db, "log", "--limit", "5").exit_code == 0
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert run_cli(cli, db, "prune", "--older-than", "200d", "--yes").exit_code == 0
    verify(db)


def test_a_second_prune_while_another_process_prunes_exits_1(template, controls, tmp_path, cli):
    control, _ = controls["half"]
    db = copy_store(template, tmp_path / "store" / "audit.db")
    child = run_child(db, 0, KINDS["half"], hold=4.0, wait=False)
    try:
        marker = Path(f"{db}.holding")
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the child never reached its first batch"
            time.sleep(0.05)
        second = run_cli(cli, db, "prune", "--older-than", "100d", "--yes")
        assert second.exit_code == 1, second.output
        assert "another prune" in second.stderr
        # readers and writers are not blocked between batches
        started = time.monotonic()
        assert run_cli(cli, db, "log", "--limit", "5").exit_code == 0
        assert run_cli(cli, db, "record", "login", "-c", "users", "-i", "z").exit_code == 0
        assert time.monotonic() - started < 3
    finally:
        out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    done = Contents(db)
    assert done.plan == 0 and done.prunes == 1
    assert done.activities - control.activities == {max(done.activities)}  # the login recorded meanwhile
    verify(db)


def test_the_lock_is_released_after_a_prune_that_fails(template, tmp_path):
    db = copy_store(template, tmp_path / "store" / "audit.db")
    with AuditStore.open(db) as store:
        def archive(lines):
            raise OSError(28, "No space left on device")

        with pytest.raises(OSError):
            store.prune(older_than="200d", archive=archive, now=NOW)
        store.prune(older_than="200d", now=NOW)  # not "another prune is running"
    verify(db)
