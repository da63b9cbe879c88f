"""Every command in README.md runs, against the bundled sample, in the order the README gives."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"^```{kind}\n(.*?)^```$", README, flags=re.M | re.S)


def test_readme_starts_with_the_two_setup_commands():
    setup = _blocks("sh")
    assert len(setup) >= 2
    install, tests = setup[0].strip(), setup[1].strip()
    assert "\n" not in install and "\n" not in tests
    assert install.startswith("pip install . && audit ") and "fixtures/" in install
    assert tests.startswith("pip install '.[test]'") and tests.endswith("python -m pytest")
    # Nothing but the title and one paragraph before them.
    assert README.index("```sh") < README.index("\n## ")


def _audit_commands(text: str) -> list[list[str]]:
    return [shlex.split(part.strip())[1:] for part in text.split("&&") if part.strip().startswith("audit ")]


@pytest.fixture
def sample_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fixtures").symlink_to(ROOT / "fixtures")
    return tmp_path


def test_setup_command_runs_the_main_job_on_the_sample(sample_dir):
    runner = CliRunner(env={"AUDIT_DB": None})
    outputs = []
    for args in _audit_commands(_blocks("sh")[0]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"audit {' '.join(args)}:\n{result.output}"
        outputs.append(result.stdout)
    assert "login" in outputs[-1] and "articles" in outputs[-1]
    assert (sample_dir / "sample.db").exists()


def test_every_tour_example_runs(sample_dir):
    setup = CliRunner(env={"AUDIT_DB": None})
    for args in _audit_commands(_blocks("sh")[0]):
        assert setup.invoke(app, args).exit_code == 0
    env = {"AUDIT_USER": "readme", "NO_COLOR": "1"}
    lines = [line[2:] for line in _blocks("console")[0].splitlines() if line.startswith("$ ")]
    assert len(lines) > 20
    for line in lines:
        words = shlex.split(line)
        if words[0] == "export":
            name, value = words[1].split("=", 1)
            env[name] = value
            continue
        assert words[0] == "audit", line
        result = CliRunner(env=env).invoke(app, words[1:])
        assert result.exit_code == 0, f"$ {line}\n{result.output}"
        assert result.stdout.strip() or words[1] in ("export",) or result.stderr.strip(), f"$ {line} printed nothing"
    assert (sample_dir / "recent.jsonl.gz").exists()


def test_the_python_api_examples_run_in_order(tmp_path, monkeypatch):
    """Every ```python block of the README, one after another in one namespace, in an empty folder: their asserts
    are the documented results."""
    monkeypatch.chdir(tmp_path)
    blocks = _blocks("python")
    assert len(blocks) >= 5 and "import audit_cli" in blocks[0]
    namespace: dict = {}
    for n, block in enumerate(blocks):
        try:
            exec(compile(block, f"README.md python block {n + 1}", "exec"), namespace)
        except Exception as exc:  # noqa: BLE001 - said with the block that failed
            raise AssertionError(f"README python block {n + 1} failed: {exc!r}\n{block}") from exc
    assert sorted(path.name for path in tmp_path.iterdir() if not path.name.endswith(("-wal", "-shm", ".prune-lock"))) == \
        ["app-audit.db", "trail.cursor", "trail.jsonl.gz"]
