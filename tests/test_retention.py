"""The stored retention policy (`audit retention set|show|clear`), the bare `audit prune` that cron runs, the usage
errors of prune/retention, and the confirmation a prune asks for on a terminal (unless --yes).

Real store files through the CLI (CliRunner, whose stdin is not a terminal: a prune proceeds, as under cron; the
terminal path is checked by making the runner's stdin say it is a tty).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import typer.testing

from audit_cli import timeparse
from audit_cli.models import Activity
from audit_cli.store import AuditStore

NOW = timeparse.utcnow()


def ago(days: float) -> str:
    return timeparse.format_ts(NOW - timedelta(days=days))


@pytest.fixture
def history(db_path: Path) -> Path:
    """articles 1: 6 revisions at 100, 80, 65, 55, 20, 5 days; pages 1: one at 200 days; logins at 150 and 3 days.
    Ids: 1 login(150) 2 pages create(200 days, recorded late) 3..8 articles, 9 login(3)."""
    with AuditStore.open(db_path, create=True) as store:
        store.record(Activity("login", "users", "alice", ago(150)))
        store.record(Activity("create", "pages", "1", ago(200)), data={"title": "old page"})
        for n, days in enumerate((100, 80, 65, 55, 20, 5)):
            store.record(Activity("create" if n == 0 else "update", "articles", "1", ago(days)),
                         data={"title": f"v{n}", "n": n})
        store.record(Activity("login", "users", "bob", ago(3)))
    return db_path


def ids(db_path: Path) -> set[int]:
    with AuditStore.open(db_path) as store:
        # prune records and the policy's own chained records are the store's bookkeeping, not the history pruned
        return {i for (i,) in store.conn.execute("SELECT id FROM activity WHERE action NOT IN "
                                                  "('prune', 'retention-set', 'retention-clear')")}


def revisions(db_path: Path) -> set[int]:
    with AuditStore.open(db_path) as store:
        return {i for (i,) in store.conn.execute("SELECT activity FROM revisions")}


def prunes(db_path: Path) -> int:
    with AuditStore.open(db_path) as store:
        return store.conn.execute("SELECT count(*) FROM activity WHERE action = 'prune'").fetchone()[0]


def verifies(cli) -> None:
    result = cli("verify", ok=False)
    assert result.exit_code == 0 and result.stdout.startswith("OK"), result.output


def one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.startswith(("audit: error:", "Error:"))]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


# retention set / show / clear


def test_retention_set_show_clear(history, cli):
    shown = cli.json("retention", "set", "--activity", "365d", "--revisions", "90d", "--keep-revisions", "5")
    assert shown == {"activity": "365d", "revisions": "90d", "keep_revisions": 5}
    assert cli.json("retention", "show") == shown
    table = cli("retention", "show").stdout
    assert "365d" in table and "90d" in table and "5" in table
    result = cli("retention", "clear")
    assert result.exit_code == 0 and "clear" in result.stderr
    shown_after = cli("retention", "show", "--format", "json")
    assert json.loads(shown_after.stdout) in ({}, None)
    assert "no retention policy" in shown_after.stderr


def test_retention_set_replaces_the_whole_policy(history, cli):
    cli("retention", "set", "--activity", "365d", "--keep-revisions", "5")
    cli("retention", "set", "--revisions", "30d")
    assert cli.json("retention", "show") == {"revisions": "30d"}


def test_retention_clear_without_a_policy_is_fine(history, cli):
    result = cli("retention", "clear")
    assert result.exit_code == 0


def test_retention_show_on_a_missing_store_exits_1_and_creates_nothing(cli, db_path):
    cli.fails("retention", "show", code=1)
    assert not db_path.exists()


def test_retention_policy_persists_in_the_store_file(history, cli, tmp_path):
    cli("retention", "set", "--activity", "30d")
    with AuditStore.open(history) as store:
        assert store.retention() == {"activity": "30d"}


@pytest.mark.parametrize("args,names", [
    (["retention", "set", "--activity", "5x"], "5x"),
    (["retention", "set", "--revisions", "soon"], "soon"),
    (["retention", "set", "--activity", "-3d"], "-3d"),
    (["retention", "set", "--activity", ""], None),
    (["retention", "set", "--keep-revisions", "0"], "--keep-revisions"),
    (["retention", "set", "--keep-revisions", "-1"], "--keep-revisions"),
    (["retention", "set", "--keep-revisions", "three"], None),
    (["retention", "set"], "--activity"),
    (["prune", "--older-than", "ninety days"], "ninety days"),
    (["prune", "--older-than", "2026-01-01"], None),
    (["prune", "--keep-revisions", "0"], "--keep-revisions"),
    (["prune", "--keep-revisions", "-2"], "--keep-revisions"),
    (["prune", "--format", "csv"], None),
])
def test_usage_errors_exit_2_with_one_line_and_change_nothing(history, cli, args, names):
    before, policy = ids(history), cli("retention", "show", "--format", "json").stdout
    stderr = cli.fails(*args, code=2)
    line = one_line_error(stderr)
    if names:
        assert names in line, line
    assert ids(history) == before and prunes(history) == 0
    assert cli("retention", "show", "--format", "json").stdout == policy


def test_bad_duration_error_says_what_is_accepted(history, cli):
    line = one_line_error(cli.fails("retention", "set", "--activity", "1 fortnight", code=2))
    assert "d" in line and "w" in line and ("7d" in line or "30s" in line or "12h" in line)


# a bare prune (cron)


def test_bare_prune_without_a_policy_says_so_exits_0_and_writes_nothing(history, cli):
    files = {p.name: p.read_bytes() for p in history.parent.iterdir()
             if p.name.startswith(history.name) and not p.name.endswith("-shm")}
    result = cli("prune")
    assert result.exit_code == 0
    assert "no retention policy" in result.stderr
    assert {p.name: p.read_bytes() for p in history.parent.iterdir()
            if p.name.startswith(history.name) and not p.name.endswith("-shm")} == files
    assert prunes(history) == 0
    summary = cli.json("prune")
    assert summary["activities"] == summary["revisions"] == 0


def test_bare_prune_applies_the_stored_activity_age(history, cli):
    cli("retention", "set", "--activity", "60d")
    expected = cli.json("prune", "--older-than", "60d", "--dry-run")
    summary = cli.json("prune")
    for key in ("removed", "activities", "revisions"):
        assert summary[key] == expected[key]
    # older than 60 days: the first login, and articles revisions 0-2; pages 1's only revision is its newest: stays
    assert ids(history) == {2, 6, 7, 8, 9}
    assert prunes(history) == 1
    verifies(cli)


def test_bare_prune_applies_the_stored_revision_count(history, cli):
    cli("retention", "set", "--keep-revisions", "2")
    cli("prune")
    assert ids(history) == set(range(1, 10)), "a count removes revisions, not activity"
    assert revisions(history) == {2, 7, 8}
    verifies(cli)


def test_bare_prune_applies_the_stored_revision_age(history, cli):
    cli("retention", "set", "--revisions", "60d")
    cli("prune")
    assert ids(history) == set(range(1, 10))
    assert revisions(history) == {2, 6, 7, 8}  # 100, 80, 65 days go; pages 1's newest stays
    verifies(cli)


def test_bare_prune_applies_age_and_count_together(history, cli):
    cli("retention", "set", "--activity", "70d", "--revisions", "30d", "--keep-revisions", "3")
    cli("prune")
    # activity older than 70d goes unless its revision is among the newest 3: login(150), articles 100d and 80d
    assert ids(history) == {2, 5, 6, 7, 8, 9}
    # revisions older than 30d and not among the newest 3: articles 65d
    assert revisions(history) == {2, 6, 7, 8}
    verifies(cli)


def test_bare_prune_is_idempotent_and_cleared_policy_stops_it(history, cli):
    cli("retention", "set", "--activity", "60d")
    cli("prune")
    second = cli.json("prune")
    assert second["activities"] == second["revisions"] == 0
    assert prunes(history) == 1, "a prune that removes nothing records nothing"
    cli("retention", "clear")
    result = cli("prune")
    assert "no retention policy" in result.stderr
    verifies(cli)


def test_flags_override_the_stored_policy(history, cli):
    cli("retention", "set", "--activity", "1d")
    cli("prune", "--older-than", "120d")
    assert ids(history) == set(range(2, 10))


# confirmation on a terminal


@pytest.fixture
def terminal(monkeypatch):
    """CliRunner's stdin says it is a terminal (a person at a prompt)."""
    # CliRunner swaps sys.stdin for its own stream class while a command runs: make that one a tty.
    stream = getattr(typer.testing, "_NamedTextIOWrapper", None)
    if stream is None:
        import click.testing

        stream = click.testing._NamedTextIOWrapper
    monkeypatch.setattr(stream, "isatty", lambda self: True, raising=False)


def test_without_a_terminal_a_prune_proceeds_without_asking(history, cli):
    result = cli("prune", "--older-than", "60d")
    assert result.exit_code == 0
    assert "?" not in result.stderr
    assert 1 not in ids(history)


def test_on_a_terminal_no_keeps_everything_and_fails(history, cli, terminal):
    before, revs = ids(history), revisions(history)
    result = cli("prune", "--older-than", "60d", input="n\n", ok=False)
    assert result.exit_code != 0
    assert "?" in result.output  # it asked
    assert "Traceback" not in result.output
    assert ids(history) == before and revisions(history) == revs and prunes(history) == 0
    verifies(cli)


def test_on_a_terminal_the_question_shows_what_would_go(history, cli, terminal):
    result = cli("prune", "--older-than", "60d", input="n\n", ok=False)
    assert "articles" in result.output
    assert "would remove" in result.output, "nothing is removed yet when it asks"


def test_on_a_terminal_yes_at_the_prompt_prunes(history, cli, terminal):
    result = cli("prune", "--older-than", "60d", input="y\n")
    assert result.exit_code == 0
    assert 1 not in ids(history)
    verifies(cli)


def test_on_a_terminal_yes_flag_does_not_ask(history, cli, terminal):
    result = cli("prune", "--older-than", "60d", "--yes", input="")
    assert result.exit_code == 0
    assert "[y/N]" not in result.output
    assert 1 not in ids(history)


def test_on_a_terminal_a_dry_run_or_nothing_to_remove_does_not_ask(history, cli, terminal):
    assert "[y/N]" not in cli("prune", "--older-than", "60d", "--dry-run", input="").output
    assert "[y/N]" not in cli("prune", "--older-than", "1000d", input="").output
    assert "[y/N]" not in cli("prune", input="").output  # no policy: nothing to ask about


def test_on_a_terminal_a_bare_prune_asks_before_applying_the_policy(history, cli, terminal):
    cli("retention", "set", "--activity", "60d")
    before = ids(history)
    result = cli("prune", input="n\n", ok=False)
    assert result.exit_code != 0
    assert ids(history) == before
