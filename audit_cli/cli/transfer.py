"""`audit export` and `audit import`: the audit/1 JSONL interchange format."""

from __future__ import annotations

from typing import Annotated

import typer

from . import filters as f
from .app import command, note, open_store


@command(
    "export",
    help="""Write activity as JSONL (audit/1): one activity per line with its revision, by id. Takes the log filters.

Gzipped when the file name ends in .gz. The file appears only once complete; the export sees the store as it
was when it started, so concurrent writes do not tear it.

\b
Example:
  audit export --since 30d -o audit.jsonl.gz
  audit export -c articles -o - | head
""",
)
def export(
    ctx: typer.Context,
    output: Annotated[str, typer.Option("--output", "-o", help="The file to write, or - for stdout.")] = "-",
    action: f.Actions = None,
    user: f.Users = None,
    collection: f.Collections = None,
    item: f.Items = None,
    since: f.Since = None,
    until: f.Until = None,
    search: f.Search = None,
    filter: f.Filter = None,
) -> None:
    from .. import jsonl

    q = f.build_query(action=action, user=user, collection=collection, item=item, since=since, until=until,
                      search=search, filter=filter, include_deleted=True)
    store = open_store(ctx)
    count = 0
    with jsonl.writer(output) as stream:
        for line in store.export_lines(q):
            stream.write(line)
            count += 1
    if output != "-":
        note(f"exported {count} activities to {output}")


@command(
    "import",
    help="""Load a JSONL trail (audit/1, plain or gzipped; - for stdin). Idempotent: lines already here are skipped.

Into an empty store the ids are kept; otherwise lines are appended in file order with new ids. A bad line stops
the import and keeps nothing from the file, unless --skip-invalid.

\b
Example:
  audit import audit.jsonl.gz
  audit --db ./sample.db import fixtures/sample.jsonl
""",
)
def import_(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="FILE", help="The JSONL file, or - for stdin.", show_default=False)],
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Import the valid lines and report the rest.")] = False,
) -> None:
    from .. import jsonl

    result = open_store(ctx, create=True).import_lines(jsonl.read_lines(source), source=source,
                                                      skip_invalid=skip_invalid)
    for message in result["skipped_lines"]:
        note(f"skipped {message}")
    note(f"imported {result['added']} activities from {source}"
         + (f"; {result['duplicates']} were already here" if result["duplicates"] else "")
         + (f"; skipped {result['skipped']} invalid lines" if result["skipped"] else ""))
