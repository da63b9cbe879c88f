"""`audit prune`, `audit retention ...` and `audit scope ...`: keeping the trail to the size it should have."""

from __future__ import annotations

import sys
from typing import Annotated, Literal, Optional

import typer

from .activity import FormatOpt, User, make_activity
from .app import app, command, note, open_store, out


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
    archive: Annotated[Optional[str], typer.Option("--archive", help="Write everything removed to this JSONL file (.gz to compress) first.", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would go; write nothing.")] = False,
    vacuum: Annotated[bool, typer.Option("--vacuum", help="Then reclaim the space (VACUUM) and report the bytes freed.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation on a terminal.")] = False,
    user: User = None,
    fmt: Annotated[Literal["table", "json"], typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    from .. import jsonl, timeparse

    if older_than is not None:
        timeparse.check_age(older_than)
    store = open_store(ctx)
    ask = not (yes or dry_run) and sys.stdin.isatty()
    if ask:
        plan = store.prune(older_than=older_than, keep_revisions=keep_revisions, collection=collection,
                           apply_scopes=apply_scopes, dry_run=True)
        if plan["activities"] or plan["revisions"] or plan["rewritten"]:
            _summary(plan, "table", dry_run=True, err=True)
            typer.confirm("Remove these for good?", abort=True, err=True)

    def write_archive(lines) -> None:
        with jsonl.writer(archive) as stream:
            for line in lines:
                stream.write(line)

    if archive is not None and not dry_run:
        jsonl.check_writable(archive)  # fail before planning anything
    summary = store.prune(older_than=older_than, keep_revisions=keep_revisions, collection=collection,
                          apply_scopes=apply_scopes, dry_run=dry_run,
                          archive=write_archive if archive is not None else None,
                          activity=make_activity("prune", collection or "*", "*", user=user))
    if vacuum and not dry_run:
        summary["bytes_freed"] = store.vacuum()
    if summary.get("note"):
        note(summary["note"])
    _summary(summary, fmt, dry_run=dry_run)


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
""",
)
def retention_set(
    ctx: typer.Context,
    activity: Annotated[Optional[str], typer.Option("--activity", help="Keep activity this long: 365d, 52w...", show_default=False)] = None,
    revisions: Annotated[Optional[str], typer.Option("--revisions", help="Keep revisions this long (the activity stays).", show_default=False)] = None,
    keep_revisions: Annotated[Optional[int], typer.Option("--keep-revisions", help="Always keep each item's newest N revisions.", show_default=False)] = None,
    fmt: FormatOpt = "table",
) -> None:
    from .. import render

    policy = open_store(ctx, create=True).set_retention(
        {"activity": activity, "revisions": revisions, "keep_revisions": keep_revisions}, activity=_by())
    render.mapping(policy, fmt, out())


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

    policy = open_store(ctx).retention()
    if policy is None:
        note("no retention policy is set: `audit retention set` stores one")
        policy = {}
    render.mapping(policy, fmt, out())


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
    open_store(ctx).clear_retention(activity=_by())
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
    scope = open_store(ctx, create=True).set_scope(collection, {
        "fields": split(fields), "exclude_fields": split(exclude_fields), "keep_revisions": keep_revisions,
        "track": track}, activity=_by())
    render.mapping({"collection": collection, **scope}, fmt, out())


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

    scopes = open_store(ctx).scopes()
    rows = [{"collection": c, "fields": s.get("fields"), "exclude_fields": s.get("exclude_fields"),
             "keep_revisions": s.get("keep_revisions"), "track": s.get("track", "all")}
            for c, s in scopes.items() if collection is None or c == collection]
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
    open_store(ctx).clear_scope(collection, activity=_by())
    note(f"{collection} has no scope now: everything is tracked")


def _by():
    """The chained record of a policy change, by whom (the store fills in what and when)."""
    from ..models import Activity
    from .app import current_user

    return Activity("", "", "", "", user=current_user(None))
