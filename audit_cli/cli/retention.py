"""`audit prune`, `audit retention ...` and `audit scope ...`: keeping the trail to the size it should have."""

from __future__ import annotations

import sys
from typing import Annotated, Literal, Optional

import typer

from .activity import FormatOpt, User
from .app import app, command, current_user, note, open_api, out


@command(
    "prune",
    help="""Remove activity and revisions past the limits; with no limits, apply the stored retention policy.

--older-than removes activity (with its revisions) older than the age; --keep-revisions N keeps each item's newest
N revisions and removes the rest; with both, a revision goes only when older than the age AND not among its item's
newest N. An item's newest revision is never removed. --apply-scopes rewrites revisions to their collection's scope
and drops those past its count. Every real prune is recorded as a chained `prune` activity, so `audit verify` still
passes. On a terminal a prune asks first, unless --yes; from cron it proceeds.

\b
Example:
  audit prune --older-than 90d --dry-run
  audit prune --older-than 30d --keep-revisions 3 --archive pruned.jsonl.gz --yes
  audit prune            # the stored policy, from cron
""",
)
def prune(
    ctx: typer.Context,
    older_than: Annotated[Optional[str], typer.Option("--older-than", help="Remove activity older than this: 90d, 12w...", show_default=False)] = None,
    keep_revisions: Annotated[Optional[int], typer.Option("--keep-revisions", help="Keep each item's newest N revisions.", show_default=False)] = None,
    collection: Annotated[Optional[str], typer.Option("--collection", "-c", help="Only this collection.", show_default=False)] = None,
    apply_scopes: Annotated[bool, typer.Option("--apply-scopes", help="Rewrite revisions to their collection's scope.")] = False,
    archive: Annotated[Optional[str], typer.Option("--archive", help="First add everything removed to this JSONL file (.gz to compress); never replaced. [default: the retention policy's, for a bare prune]", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would go; write nothing.")] = False,
    vacuum: Annotated[bool, typer.Option("--vacuum", help="Then reclaim the space (VACUUM) and report the bytes freed.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation on a terminal.")] = False,
    user: User = None,
    fmt: Annotated[Literal["table", "json"], typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    store = open_api(ctx)
    limits = {"older_than": older_than, "keep_revisions": keep_revisions, "collection": collection,
              "apply_scopes": apply_scopes}
    if not (yes or dry_run) and sys.stdin.isatty():
        plan = store.prune(**limits, dry_run=True)
        if plan.activities or plan.revisions or plan.rewritten:
            _summary(plan.to_dict(), "table", dry_run=True, err=True)
            typer.confirm("Remove these for good?", abort=True, err=True)
    pruned = store.prune(**limits, dry_run=dry_run, archive=archive, vacuum=vacuum, user=current_user(user))
    if pruned.note:
        note(pruned.note)
    _summary(pruned.to_dict(), fmt, dry_run=dry_run)


def _summary(summary: dict, fmt: str, *, dry_run: bool = False, err: bool = False) -> None:
    from .. import render

    stream = sys.stderr if err else out()
    if fmt == "json":
        stream.write(render.pretty({**summary, "dry_run": dry_run}) + "\n")
        return
    if summary["removed"]:
        render.records(summary["removed"], "table", stream, columns=["collection", "action", "activities", "revisions"])
    verb = "would remove" if dry_run else "removed"
    line = f"{verb} {render.plural(summary['activities'], 'activity')} and {render.plural(summary['revisions'], 'revision')}"
    if summary.get("rewritten"):
        line += f"; {'would rewrite' if dry_run else 'rewrote'} {render.plural(summary['rewritten'], 'revision')} to their scope"
    if summary.get("archive") and not dry_run:
        line += f"; added them to {summary['archive']}"
    if "bytes_freed" in summary:
        line += f"; vacuum freed {render.plural(summary['bytes_freed'], 'byte')}"
    stream.write(line + "\n")


retention_app = typer.Typer(help="The retention policy that a bare `audit prune` applies: set, show, clear.",
                            no_args_is_help=True)
app.add_typer(retention_app, name="retention")


@command(
    "set",
    parent=retention_app,
    help="""Store the retention policy (what a bare `audit prune`, from cron, applies).

\b
Example:
  audit retention set --activity 365d --revisions 90d --keep-revisions 5
  audit retention set --activity 90d --archive /var/backups/audit-pruned.jsonl.gz

--archive FILE: each bare `audit prune` adds what it removes to FILE (kept as an absolute path), as
`audit prune --archive FILE` does: an archive is added to, never replaced.
""",
)
def retention_set(
    ctx: typer.Context,
    activity: Annotated[Optional[str], typer.Option("--activity", help="Keep activity this long: 365d, 52w...", show_default=False)] = None,
    revisions: Annotated[Optional[str], typer.Option("--revisions", help="Keep revisions this long (the activity stays).", show_default=False)] = None,
    keep_revisions: Annotated[Optional[int], typer.Option("--keep-revisions", help="Always keep each item's newest N revisions.", show_default=False)] = None,
    archive: Annotated[Optional[str], typer.Option("--archive", metavar="FILE", help="Add what each bare prune removes to this JSONL file (.gz to compress).", show_default=False)] = None,
    fmt: FormatOpt = "table",
) -> None:
    from .. import render

    policy = open_api(ctx, create=True).retention.set(activity=activity, revisions=revisions,
                                                       keep_revisions=keep_revisions, archive=archive,
                                                       user=current_user(None))
    render.mapping(policy.to_dict(), fmt, out())


@command(
    "show",
    parent=retention_app,
    help="""Show the stored retention policy.

\b
Example:
  audit retention show --format json
""",
)
def retention_show(ctx: typer.Context, fmt: FormatOpt = "table") -> None:
    from .. import render

    policy = open_api(ctx).retention.get()
    if policy is None:
        note("no retention policy is set: `audit retention set` stores one")
    render.mapping(policy.to_dict() if policy else {}, fmt, out())


@command(
    "clear",
    parent=retention_app,
    help="""Remove the stored retention policy (a bare `audit prune` then does nothing).

\b
Example:
  audit retention clear
""",
)
def retention_clear(ctx: typer.Context) -> None:
    open_api(ctx).retention.clear(user=current_user(None))
    note("the retention policy is cleared")


scope_app = typer.Typer(help="Per-collection version scope: which fields revisions keep, how many, what is tracked.",
                        no_args_is_help=True)
app.add_typer(scope_app, name="scope")
Collection = Annotated[str, typer.Argument(metavar="COLLECTION", help="The collection.", show_default=False)]


@command(
    "set",
    parent=scope_app,
    help="""Set a collection's scope. New revisions obey it from then on; `audit prune --apply-scopes` rewrites old ones.

--track all (activity and revisions), activity (no revisions), none (nothing is recorded).

\b
Example:
  audit scope set articles --exclude-fields body --keep-revisions 20
  audit scope set sessions --track activity
""",
)
def scope_set(
    ctx: typer.Context,
    collection: Collection,
    fields: Annotated[Optional[str], typer.Option("--fields", help="Keep only these top-level fields, comma separated.", show_default=False)] = None,
    exclude_fields: Annotated[Optional[str], typer.Option("--exclude-fields", help="Keep all but these fields.", show_default=False)] = None,
    keep_revisions: Annotated[Optional[int], typer.Option("--keep-revisions", help="Keep each item's newest N revisions (on prune --apply-scopes).", show_default=False)] = None,
    track: Annotated[Literal["all", "activity", "none"], typer.Option("--track", help="What is recorded at all.")] = "all",
    fmt: FormatOpt = "table",
) -> None:
    from .. import render

    split = lambda text: [f.strip() for f in text.split(",") if f.strip()] if text else None  # noqa: E731
    scope = open_api(ctx, create=True).scopes.set(collection, fields=split(fields),
                                                  exclude_fields=split(exclude_fields),
                                                  keep_revisions=keep_revisions, track=track, user=current_user(None))
    render.mapping({"collection": collection, **{k: v for k, v in scope.to_dict().items() if v is not None}},
                   fmt, out())


@command(
    "show",
    parent=scope_app,
    help="""Show the scope of one collection, or of all that have one.

\b
Example:
  audit scope show
  audit scope show articles --format json
""",
)
def scope_show(ctx: typer.Context,
               collection: Annotated[Optional[str], typer.Argument(metavar="[COLLECTION]", show_default=False)] = None,
               fmt: FormatOpt = "table") -> None:
    from .. import render

    rows = [scope.to_dict() for scope in open_api(ctx).scopes.list() if collection is None or scope.collection == collection]
    render.records(rows, fmt, out(), columns=["collection", "fields", "exclude_fields", "keep_revisions", "track"])


@command(
    "clear",
    parent=scope_app,
    help="""Remove a collection's scope: everything is tracked again.

\b
Example:
  audit scope clear articles
""",
)
def scope_clear(ctx: typer.Context, collection: Collection) -> None:
    open_api(ctx).scopes.clear(collection, user=current_user(None))
    note(f"{collection} has no scope now: everything is tracked")
