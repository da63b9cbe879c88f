"""A progress bar on stderr for long imports and exports.

Shown only when stderr is a terminal and --quiet is not given, and only once the work has gone on for a moment
(SHOW_AFTER), so that quick runs print nothing. It is drawn with rich, which typer bundles, imported only then. The
core knows nothing of it: it calls a plain callback (`update`) every few thousand lines.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

SHOW_AFTER = 0.5  # seconds


class Progress:
    """`update(done, total, ...)` from the core's callbacks; `close()` when done. A no-op unless `enabled`."""

    def __init__(self, label: str, *, unit: str = "lines", enabled: bool | None = None, quiet: bool = False,
                 stream: IO[str] | None = None):
        self.label, self.unit = label, unit
        self.stream = stream or sys.stderr
        if enabled is None:
            enabled = not quiet and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.enabled = enabled
        self.started = time.monotonic()
        self._bar: Any = None
        self._task: Any = None

    def export(self, done: int, total: int) -> None:
        """The export callback: lines written of the lines to write."""
        self._show(done, total, f"{done:,} of {total:,} activities")

    def import_(self, lines: int, position: int, size: int | None) -> None:
        """The import callback: lines read, and how far into the file (bytes) when its size is known."""
        if size:
            self._show(min(position, size), size, f"{lines:,} activities")
        else:
            self._show(lines, None, f"{lines:,} activities")

    def _show(self, done: int, total: int | None, text: str) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            if time.monotonic() - self.started < SHOW_AFTER:
                return
            self._start()
        self._bar.update(self._task, completed=done, total=total, text=text)

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress as Bar, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        console = Console(file=self.stream, force_terminal=True if self.enabled else None)
        self._bar = Bar(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[text]}"),
                        TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True)
        self._bar.start()
        self._task = self._bar.add_task(self.label, total=None, text="")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
