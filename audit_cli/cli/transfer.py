"""`audit export` and `audit import`: the audit/1 JSONL interchange format, ECS lines, and foreign trails."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import typer

from . import filters as f
from .app import command, note, open_api, out

_QUIET = "No progress bar. (A bar is drawn on stderr only when it is a terminal.)"


@command(
    "export",
    help="""Write activity as JSONL, one activity per line with its revision, by id. Takes the log filters.

Gzipped when the file name ends in .gz. The file appears only once complete; the export sees the store as it
was when it started, so concurrent writes do not tear it. -q/--quiet turns the progress bar off, as on
import (--search has no short form here). --limit N writes only the first N matching activities, by id; with
--cursor-file, each run goes on from where the last one stopped.

--cursor-file F exports incrementally: only activity after the id F holds (all of it when F does not exist
yet); once the output is complete, F is replaced with the id of the last activity written and the store's
identity, so the next run starts after it. A failed export leaves F as it was. A cursor file of another store,
or one past this store's newest id (a store rebuilt since), is an error. Keep one cursor file per output and set
of filters.

An audit/1 export ends with a trailer line: how many lines it wrote, a digest of them, the filters, the store
and its head, sealed with the chain key when the store is keyed, so that `audit verify FILE` shows a removed
line or a cut end even in a filtered trail (docs/format.md). --no-trailer leaves it out.

--format audit (the default) writes audit/1 lines, which audit import reads back. --format ecs writes Elastic
Common Schema documents for log pipelines (Filebeat, Logstash, Elasticsearch ingest), members that would be
null left out:

\b
  @timestamp                    timestamp
  event.action                  action
  event.dataset, .kind          "audit", "event"
  event.category, .type         database/change for every change to data, comments, versions;
                                authentication/start|end for logins (event.outcome success|failure);
                                file for uploads; database/info for other actions (README.md)
  audit.change                  creation, change or deletion: what the action did to its item
  message                       a one-line summary: who did what to which item, from where
  event.id                      key (the activity's identity in every store)
  event.sequence                id (its order in this store)
  user.name, user.email         user (user.email too when it is an email address)
  source.address, source.ip     ip (source.ip and source.port only when it parses as an address,
                                without an IPv6 zone id)
  related.user, related.ip      the user (and a login's account), the source.ip
  user_agent.original           user_agent
  http.request.referrer         origin, when it is a URL (always in audit.origin)
  audit.collection, .item       collection, item
  audit.comment, .edited_on,    the comment and its state
    .comment_deleted_on
  audit.details                 details when an object (free JSON: flattened in the template of
                                integrations/elasticsearch/), else audit.details_json, its text
  audit.revision                revision: data, delta, version (free JSON too)
  audit.hash, .prev_hash, .gap, the chain (as in audit/1)
    .keyed, .attested_revision
  ecs.version                   8.11.0

\b
Example:
  audit export --since 30d -o audit.jsonl.gz
  audit export -c articles -o - | head
  audit export --format ecs --cursor-file export.cursor -o - >> /var/log/audit-ecs.jsonl
""",
)
def export(
    ctx: typer.Context,
    output: Annotated[str, typer.Option("--output", "-o", help="The file to write, or - for stdout.")] = "-",
    fmt: Annotated[Literal["audit", "ecs"], typer.Option(
        "--format", "-f", help="audit (audit/1 JSONL, what audit import reads) or ecs (Elastic Common Schema).")]
    = "audit",
    cursor_file: Annotated[Optional[str], typer.Option(
        "--cursor-file", metavar="FILE", show_default=False,
        help="Export only activity after the id FILE holds, then write the last id exported to FILE.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help=_QUIET)] = False,
    no_trailer: Annotated[bool, typer.Option("--no-trailer", help="End without the trailer line (for tools that take only activity lines); `audit verify` then cannot prove the file's end.")] = False,
    limit: Annotated[Optional[int], typer.Option("--limit", "-n", help="Only the first N matching activities (by id).", show_default=False)] = None,
    action: f.Actions = None,
    user: f.Users = None,
    collection: f.Collections = None,
    item: f.Items = None,
    since: f.Since = None,
    until: f.Until = None,
    search: Annotated[Optional[str], typer.Option("--search", help="Case-insensitive text anywhere in the text fields.", show_default=False)] = None,
    filter: f.Filter = None,
) -> None:
    import sys

    from .. import jsonl, render
    from .app import check_positive
    from .progress import Progress

    filters = f.options(action=action, user=user, collection=collection, item=item, since=since, until=until,
                        search=search, filter=filter, include_deleted=True)
    jsonl.check_writable(output)  # before the store is opened: a bad -o says so even without one
    store = open_api(ctx)
    with Progress("exporting", quiet=quiet) as bar:
        exported = store.export_to(sys.stdout.buffer if output == "-" else output, format=fmt, cursor=cursor_file,
                                   limit=check_positive(limit, "--limit", allow_all=True), progress=bar.export,
                                   trailer=not no_trailer, **filters)
    if exported.unsealed:
        note("warning: this store's chain is keyed and AUDIT_CHAIN_KEY is not set: the trailer is not sealed, so "
             "`audit verify` of the file cannot prove its end; export with the key set")
    if output != "-":
        note(f"exported {render.plural(exported.count, 'activity')} to {output}"
             + (f"; {cursor_file} now holds {exported.cursor}" if cursor_file is not None else ""))


@command(
    "import",
    help="""Load a trail: audit/1 JSONL (plain or gzipped; - for stdin), a Directus database, or a Strapi export.

Idempotent: activities already here are skipped, so re-running an import adds only what is new. Into an empty
store the ids are kept; otherwise activities are appended in order with new ids. A bad line or row stops the import
and keeps nothing from the source, unless --skip-invalid. A progress bar is drawn on stderr when it is a terminal
(-q turns it off).

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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help=_QUIET)] = False,
) -> None:
    from .. import jsonl, render
    from .app import current_user
    from .progress import Progress

    if fmt == "audit":
        jsonl.check_readable(source)  # before a store is made for it
    store = open_api(ctx, create=True)
    with Progress("importing", quiet=quiet) as bar:
        result = store.import_from(source, format=fmt, skip_invalid=skip_invalid, verify=not no_verify,
                                   progress=bar.import_, user=current_user(None))
    for message in result.notes:
        note(message)
    for message in result.skipped_lines:
        note(f"skipped {message}")
    note(f"imported {render.plural(result.added, 'activity')} from {source}"
         + (f"; {result.duplicates} {'was' if result.duplicates == 1 else 'were'} already here"
            if result.duplicates else "")
         + (f"; {result.pruned} {'was' if result.pruned == 1 else 'were'} left out as history this store pruned "
            "or older than its items' state here (imported, they would turn items back in time; a store of their "
            "own reads them)" if result.pruned else "")
         + (f"; skipped {render.plural(result.skipped, 'invalid line')}" if result.skipped else ""))


@command(
    "schema",
    help="""Print the JSON Schema (draft 2020-12) of an audit/1 line or of an anchor, for programs that write or read them.

docs/format.md describes both in prose. --path prints where the installed file is instead.

\b
Example:
  audit schema line > audit-1.schema.json
  audit schema anchor --path
""",
)
def schema(
    name: Annotated[Literal["line", "anchor"], typer.Argument(help="line (an audit/1 line) or anchor.")] = "line",
    path: Annotated[bool, typer.Option("--path", help="Print the schema file's path instead of its text.")] = False,
) -> None:
    from .. import schemas

    out().write(f"{schemas.path(name)}\n" if path else schemas.path(name).read_text(encoding="utf-8"))
