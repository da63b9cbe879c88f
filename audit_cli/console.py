"""The `audit` console script (and `python -m audit_cli`): the command line's start-up, before any of it is imported."""

from __future__ import annotations

import gc


def main() -> None:
    # Start-up allocates some 25,000 objects (Typer, Click, the commands) that all live until the process ends. The
    # cyclic collector walked them about 30 times before a `log` printed, for nothing (it freed ~450 objects): 9 ms
    # of a ~110 ms `audit log` (bench/RESULTS.md). So the imports run without it, and what they made is frozen out
    # of its sight; what the command itself allocates is collected as usual.
    enabled = gc.isenabled()
    gc.disable()
    try:
        from .cli import main as run

        gc.freeze()
    finally:
        if enabled:
            gc.enable()
    run()
