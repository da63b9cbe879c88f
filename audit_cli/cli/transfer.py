"""`audit export` and `audit import`: the audit/1 JSONL interchange format."""

from __future__ import annotations

from typing import Annotated, Literal

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
    help="""Load a trail: audit/1 JSONL (plain or gzipped; - for stdin), a Directus database, or a Strapi export.

Idempotent: activities already here are skipped, so re-running an import adds only what is new. Into an empty
store the ids are kept; otherwise activities are appended in order with new ids. A bad line or row stops the import
and keeps nothing from the source, unless --skip-invalid.

--format directus takes a Directus SQLite database file, or a folder with directus_activity.json and
directus_revisions.json (and directus_comments.json, directus_versions.json, directus_users.json when exported).
--format strapi takes a Strapi audit-log export, .csv or .json.

\b
Example:
  audit import audit.jsonl.gz
  audit --db ./sample.db import fixtures/sample.jsonl
  audit import --format directus /srv/directus/data.db
  audit import --format strapi audit-logs.csv
""",
)
def import_(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="FILE", help="The file (- for stdin), or a Directus folder.",
                                          show_default=False)],
    fmt: Annotated[Literal["audit", "directus", "strapi"], typer.Option(
        "--format", "-f", help="audit (JSONL), directus (a database or folder) or strapi (a CSV or JSON export).")] = "audit",
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Import the valid lines and report the rest.")] = False,
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Import lines whose hash chain is broken.")] = False,
) -> None:
    from .. import adapters

    trail = adapters.open_trail(fmt, source, skip_invalid=skip_invalid)  # reads the source before making a store
    result = trail.import_into(open_store(ctx, create=True), skip_invalid=skip_invalid,
                               **({"verify": False} if no_verify else {}))
    for message in result["notes"]:
        note(message)
    for message in result["skipped_lines"]:
        note(f"skipped {message}")
    note(f"imported {result['added']} activities from {source}"
         + (f"; {result['duplicates']} were already here" if result["duplicates"] else "")
         + (f"; skipped {result['skipped']} invalid lines" if result["skipped"] else ""))
