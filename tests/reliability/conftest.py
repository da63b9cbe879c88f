"""`measure`: numbers a reliability test reports (throughput, sizes, timings), for RESULTS.md.

Shown at the end of the run with -v, and written as JSON to $RELIABILITY_NUMBERS when that is set.
"""

from __future__ import annotations

import json
import os

import pytest

NUMBERS: dict[str, dict] = {}


@pytest.fixture
def measure(request):
    def put(name: str, value) -> None:
        NUMBERS.setdefault(request.node.nodeid.split("::", 1)[-1], {})[name] = value

    return put


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not NUMBERS:
        return
    target = os.environ.get("RELIABILITY_NUMBERS")
    if target:
        with open(target, "w") as out:
            json.dump(NUMBERS, out, indent=2, sort_keys=True)
    if config.option.verbose > 0:
        terminalreporter.section("reliability numbers")
        for test, values in sorted(NUMBERS.items()):
            terminalreporter.write_line(f"{test}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
