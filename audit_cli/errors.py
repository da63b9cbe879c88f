"""Typed errors. Each carries the exit code the CLI turns it into, in one place (cli.run)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    RUNTIME = 1  # not found, conflict, unreadable file, missing store...
    USAGE = 2  # a bad flag or value
    TAMPERED = 3  # verify found the chain broken


class AuditError(Exception):
    """Something the user can act on; the message is one line saying what and what is accepted."""

    exit_code = ExitCode.RUNTIME


class UsageError(AuditError):
    """A bad flag value, bad JSON, unknown field or operator."""

    exit_code = ExitCode.USAGE


class NotFound(AuditError):
    """No such activity, item, revision or version."""


class Conflict(AuditError):
    """The request contradicts the current state (no-op revert, item exists, version outdated)."""


class StoreError(AuditError):
    """The store is missing, newer than this program, not an audit store, corrupt or unwritable."""


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
