"""Fixtures of the attacker's tests (helpers in attack.py): a small store of every kind of record, unkeyed and
keyed, as files."""

from __future__ import annotations

from pathlib import Path

import pytest

from .attack import KEY, build


@pytest.fixture
def plain(tmp_path) -> tuple[Path, dict[str, int]]:
    path = tmp_path / "plain.db"
    return path, build(path)


@pytest.fixture
def keyed(tmp_path) -> tuple[Path, dict[str, int]]:
    path = tmp_path / "keyed.db"
    return path, build(path, KEY)


