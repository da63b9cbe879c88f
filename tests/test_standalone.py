"""The project stands alone: nothing in it reads or names files outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE = re.compile(r"\.\./shared|\"shared\"\s*/|\.\./\.\./")


def project_files():
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if path.is_file() and not any(part.startswith(".") and part != ".ci" or part.endswith(".egg-info")
                                      or part == "__pycache__" for part in parts):
            if path.suffix in {".py", ".md", ".toml", ".sh", ".json", ".cfg", ""}:
                yield path


def test_no_file_reads_or_names_anything_outside_the_repository():
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
             for path in project_files() if path.name != "test_standalone.py"
             for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
             if OUTSIDE.search(line)]
    assert found == []


def test_the_check_sees_a_reference_outside():
    # Built from parts, so that this file itself names nothing outside.
    outside = "../" + "shared"
    up = ".parent" * 3
    assert OUTSIDE.search(f'CAPTURE = Path(__file__){up} / "{outside[3:]}" / "fixtures"')
    assert OUTSIDE.search(f"see `{outside}/DESIGN.md`")
    assert any(path.name == "run" for path in project_files())
