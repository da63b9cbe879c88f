"""The `audit` command line: parse, make one core call, render. Errors become messages and exit codes here only."""

from __future__ import annotations

from .app import app, main

# Each module registers its commands on `app` when imported.
from . import activity, integrity, retention, revisions, transfer, versions  # noqa: E402,F401

__all__ = ["app", "main"]
