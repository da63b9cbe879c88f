"""`audit verify` and `audit checkpoint`: tamper evidence."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import typer

from ..errors import ExitCode
from .app import command, note, open_api, out


@command(
    "verify",
    help="""Check the tamper-evident chain: OK with the count and head, or the first failure with its id and kind.

Kinds: modified, deleted, inserted, reordered, truncated (shorter than the anchor or than its own sequence),
head mismatch (the anchor's head was rewritten). Exit 0 when intact, 3 when tampered, 1 when it cannot check (a
keyed store without AUDIT_CHAIN_KEY). With FILE, checks an exported trail offline, without a store; a trail that is
partial by design (filtered, a cursor piece) exits 1 unless --partial accepts a partial check. --public-key checks
the anchor's Ed25519 signature (from `audit checkpoint --sign`), so a third party can trust it.

\b
Example:
  audit verify
  audit verify --anchor anchor.json --format json
  audit verify --anchor anchor.json --public-key anchor.pub
  audit verify audit.jsonl.gz --anchor anchor.json
  audit verify piece.jsonl --partial
""",
)
def verify(
    ctx: typer.Context,
    source: Annotated[Optional[str], typer.Argument(metavar="[FILE]", help="An exported trail (.jsonl or .jsonl.gz) to check instead of the store.", show_default=False)] = None,
    anchor: Annotated[Optional[str], typer.Option("--anchor", help="An anchor from `audit checkpoint` that the store (or FILE) must extend.", show_default=False)] = None,
    public_key: Annotated[Optional[str], typer.Option("--public-key", metavar="FILE", help="The Ed25519 public key (PEM, OpenSSH or base64) the anchor must be signed with.", show_default=False)] = None,
    partial: Annotated[bool, typer.Option("--partial", help="Accept a partial trail (a filtered export, a cursor piece): exit 0 when what it holds checks out.")] = False,
    fmt: Annotated[Literal["text", "json"], typer.Option("--format", "-f", help="text or json.")] = "text",
) -> None:
    from .. import render

    if source is not None:
        from ..api.upkeep import verify_file

        report = verify_file(source, anchor=anchor, public_key=public_key, chain_key=_key()).to_dict()
    else:
        from ..errors import UpgradeRefused

        try:
            report = open_api(ctx).verify(anchor=anchor, public_key=public_key).to_dict()
        except UpgradeRefused as refused:  # an earlier release's store: its upgrade verified it, and it failed
            report = refused.report
    if fmt == "json":
        out().write(render.pretty(report) + "\n")
    elif report.get("uncovered") and report["ok"]:
        out().write(f"UNPROVEN: {report['lines']} lines checked; {report['uncovered']}\n")
    elif report.get("partial") and report["ok"]:
        out().write(f"{'OK' if partial else 'PARTIAL'}: {report['lines']} lines checked; {report['partial']}\n")
    elif report["ok"]:
        extra = "".join(f"; {report[k]}" for k in ("pruned", "partial", "archive") if report.get(k))
        out().write(f"OK: {report['checked']} activit{'y' if report['checked'] == 1 else 'ies'}, head {report['head'][:16]} (id {report['head_id']}){extra}\n")
    else:
        failure = report["failure"]
        where = f" at activity {failure['id']}" if failure.get("id") is not None else ""
        out().write(f"TAMPERED: {failure['kind']}{where}: {failure['message']}\n")
    if not report["ok"]:
        raise typer.Exit(ExitCode.TAMPERED)
    if report.get("uncovered") and report["ok"]:
        from .app import fail

        raise fail("this trail holds lines that no trailer covers, among them breaks in the chain: whether lines "
                   "were removed there cannot be checked, not even partially", ExitCode.RUNTIME)
    if report.get("partial") and source is not None and not partial:
        from .app import fail

        raise fail("this trail is partial: it cannot prove that no line was removed where it is cut or filtered; "
                   "pass --partial to accept a partial check", ExitCode.RUNTIME)


def _key() -> bytes | None:
    import os

    value = os.environ.get("AUDIT_CHAIN_KEY")
    return value.encode() if value else None


@command(
    "checkpoint",
    help="""Write an anchor (store, keyed or not, count, head id and hash, time) to keep elsewhere, such as a CI artifact.

`audit verify --anchor FILE` then proves the store still extends it: truncation and wholesale rewrites show.
--sign KEYFILE signs it with an Ed25519 private key (`openssl genpkey -algorithm ed25519 -out anchor.key`), so
that whoever holds the public key (`openssl pkey -in anchor.key -pubout -out anchor.pub`) can check it with
`audit verify --anchor FILE --public-key anchor.pub`.

\b
Example:
  audit checkpoint -o anchor.json
  audit checkpoint --sign anchor.key -o anchor.json
""",
)
def checkpoint(
    ctx: typer.Context,
    output: Annotated[str, typer.Option("--output", "-o", help="The anchor file, or - for stdout.")] = "-",
    sign: Annotated[Optional[str], typer.Option("--sign", metavar="KEYFILE", help="Sign the anchor with this Ed25519 private key (PEM or OpenSSH).", show_default=False)] = None,
) -> None:
    from .. import jsonl, render

    anchor = open_api(ctx).checkpoint(sign_with=sign).to_dict()
    with jsonl.writer(output) as stream:
        stream.write((render.pretty(anchor) + "\n").encode())
    if output != "-":
        note(f"wrote the anchor for activity {anchor['head_id']} to {output}")


