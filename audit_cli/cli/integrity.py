"""`audit verify` and `audit checkpoint`: tamper evidence."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import typer

from ..errors import ExitCode
from .app import command, note, open_store, out


@command(
    "verify",
    help="""Check the tamper-evident chain: OK with the count and head, or the first failure with its id and kind.

Kinds: modified, deleted, inserted, reordered, truncated (shorter than the anchor or than its own sequence),
head mismatch (the anchor's head was rewritten). Exit 0 when intact, 3 when tampered, 1 when it cannot check (a
keyed store without AUDIT_CHAIN_KEY). With FILE, checks an exported trail offline, without a store.

\b
Example:
  audit verify
  audit verify --anchor anchor.json --format json
  audit verify audit.jsonl.gz
""",
)
def verify(
    ctx: typer.Context,
    source: Annotated[Optional[str], typer.Argument(metavar="[FILE]", help="An exported trail (.jsonl or .jsonl.gz) to check instead of the store.", show_default=False)] = None,
    anchor: Annotated[Optional[str], typer.Option("--anchor", help="An anchor from `audit checkpoint` that the store must extend.", show_default=False)] = None,
    fmt: Annotated[Literal["text", "json"], typer.Option("--format", "-f", help="text or json.")] = "text",
) -> None:
    from .. import render
    from .app import parse_json_arg

    if source is not None:
        from ..store.offline import verify_file

        report = verify_file(source, chain_key=_key())
    else:
        pinned = parse_json_arg(f"@{anchor}", flag="--anchor") if anchor is not None else None
        report = open_store(ctx).verify(anchor=pinned)
    if fmt == "json":
        out().write(render.pretty(report) + "\n")
    elif report.get("partial"):
        out().write(f"OK: {report['lines']} lines checked; {report['partial']}\n")
    elif report["ok"]:
        extra = "".join(f"; {report[k]}" for k in ("pruned", "partial") if report.get(k))
        out().write(f"OK: {report['checked']} activities, head {report['head'][:16]} (id {report['head_id']}){extra}\n")
    else:
        failure = report["failure"]
        out().write(f"TAMPERED: {failure['kind']} at activity {failure['id']}: {failure['message']}\n")
    if not report["ok"]:
        raise typer.Exit(ExitCode.TAMPERED)


def _key() -> bytes | None:
    import os

    value = os.environ.get("AUDIT_CHAIN_KEY")
    return value.encode() if value else None


@command(
    "checkpoint",
    help="""Write an anchor (store, count, head id and hash, time) to keep elsewhere, such as a CI artifact.

`audit verify --anchor FILE` then proves the store still extends it: truncation and wholesale rewrites show.

\b
Example:
  audit checkpoint -o anchor.json
""",
)
def checkpoint(
    ctx: typer.Context,
    output: Annotated[str, typer.Option("--output", "-o", help="The anchor file, or - for stdout.")] = "-",
) -> None:
    from .. import jsonl, render

    anchor = open_store(ctx).checkpoint()
    with jsonl.writer(output) as stream:
        stream.write((render.pretty(anchor) + "\n").encode())
    if output != "-":
        note(f"wrote the anchor for activity {anchor['head_id']} to {output}")


