"""Typed errors: the one hierarchy the library raises (`audit_cli.AuditError` and its kinds). Each carries the exit
code the CLI turns it into, in one place (cli/app.py, `command()`).

A message names the arguments it is about as `{name}` (the library's argument names, listed in `params`): `str()` of
the error says them as the library calls them ("give data or patch, not both"), and the CLI says them as its flags
(`worded()`: "give --data or --patch, not both"), so one error reads right from either side.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    RUNTIME = 1  # not found, conflict, unreadable file, missing store...
    USAGE = 2  # a bad flag or value
    TAMPERED = 3  # verify found the chain broken


class AuditError(Exception):
    """Something the user can act on; the message is one line saying what and what is accepted.

    `params` names the arguments that were wrong (as the library calls them), `value` holds the value refused, if
    one was."""

    exit_code = ExitCode.RUNTIME

    def __init__(self, message: str = "", *, params: tuple[str, ...] = (), value: object = None):
        self.template, self.params, self.value = message, tuple(params), value
        super().__init__(self.worded())

    def worded(self, name: Callable[[str], str] | None = None) -> str:
        """The message with each argument it names said as `name(argument)` (as itself by default)."""
        text = self.template
        for param in self.params:
            text = text.replace("{" + param + "}", name(param) if name is not None else param)
        return text


class UsageError(AuditError):
    """A bad flag value, bad JSON, unknown field or operator."""

    exit_code = ExitCode.USAGE


class NotFound(AuditError):
    """No such activity, item, revision or version."""


class Conflict(AuditError):
    """The request contradicts the current state (no-op revert, item exists, version outdated)."""


class StoreError(AuditError):
    """The store is missing, newer than this program, not an audit store, corrupt or unwritable."""


class Damaged(StoreError, ValueError):
    """The store's content is damaged (a revision's base is missing). A ValueError too, so that verify, which reads
    damaged rows on purpose, counts it with the other undecodable ones."""


class CannotCheck(StoreError):
    """The chain cannot be checked (a keyed store without its key, a wrong key, an anchor of another store)."""


class Tampered(AuditError):
    """A broken chain where it stops work, such as an import (verify reports it instead of raising)."""


class UpgradeRefused(AuditError):
    """A store of an earlier schema whose chain does not verify: it is left as it was, not upgraded, since an
    upgrade must never launder earlier tampering. `report` is verify's report of it."""

    exit_code = ExitCode.TAMPERED

    def __init__(self, message: str, *, report: dict):
        super().__init__(message)
        self.report = report


class InvalidLine(AuditError):
    """A line of a trail that cannot be imported: names the file, the line (`line`) and the reason; `kind` is what
    verify calls the edit the line shows (modified; deleted or inserted when a trailer counts other lines)."""

    def __init__(self, message: str, line: int | None = None, *, params: tuple[str, ...] = (),
                 kind: str = "modified"):
        super().__init__(message, params=params)
        self.line, self.kind = line, kind


class AnchorError(AuditError):
    """An anchor or a key that cannot be used: not an anchor file, or not an Ed25519 key."""


class BadSignature(AuditError):
    """An anchor whose signature does not hold: altered since it was signed, signed by another key, or unsigned
    where a signature was asked for."""

    exit_code = ExitCode.TAMPERED


def shown(text: str) -> str:
    """`text` as it can be printed and stored: bytes that were not UTF-8 (argv and file names keep them as lone
    surrogates) as \\xNN."""
    if text.isascii():
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that came as such, not from a byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
