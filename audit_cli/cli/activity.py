"""Commands over the activity log: record, log, show, stats, info."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import typer

from ..models import ACTIVITY_FIELDS, DATA_ACTIONS, DEFAULT_LIST_FIELDS, WELL_KNOWN_ACTIONS, Activity
from . import filters as f
from .app import Format, check_positive, command, current_user, note, open_store, out, parse_json_arg

FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
User = Annotated[Optional[str], typer.Option("--user", help="Who did it. [default: $AUDIT_USER, else your login name]", show_default=False)]
At = Annotated[Optional[str], typer.Option("--at", help="When it happened (default now): ISO 8601, 2h, yesterday...", show_default=False)]


def make_activity(action: str, collection: str, item: str, *, user: str | None, at: str | None = None,
                  ip: str | None = None, user_agent: str | None = None, origin: str | None = None,
                  comment: str | None = None, details: str | None = None) -> Activity:
    from .. import timeparse

    return Activity(
        action=action, collection=collection, item=item,
        timestamp=timeparse.normalize(at) if at is not None else "",
        user=current_user(user), ip=ip, user_agent=user_agent, origin=origin, comment=comment,
        details=parse_json_arg(details, flag="--details", obj=False) if details is not None else None,
    )


def print_recorded(recorded, fmt: str) -> None:
    from .. import render

    if recorded.note:
        note(recorded.note)
    if recorded.activity.get("id") is None:  # a collection scoped to track nothing
        return
    if fmt == "table":
        out().write(f"{recorded.activity['id']}\n")
    else:
        record = dict(recorded.activity)
        record["revision"] = recorded.revision.to_dict() if recorded.revision else None
        render.mapping(record, fmt, out())


@command(
    "record",
    help=f"""Record one activity (and, for data actions, the item's new revision). Prints the new activity id.

Actions are lowercase slugs. Well known: {", ".join(WELL_KNOWN_ACTIONS)}.
Data actions ({", ".join(DATA_ACTIONS[:4])}) keep a revision: --data is merged onto the current state (keys
given replace theirs; null stores null), --replace makes it the whole state, --patch applies an RFC 6902 patch.

\b
Example:
  audit record create -c articles -i 42 --data '{{"title": "Hello", "status": "draft"}}'
  audit record update -c articles -i 42 --data '{{"status": "published"}}' --user alice
  audit record login -c directus_users -i alice --ip 10.0.0.1
""",
)
def record(
    ctx: typer.Context,
    action: Annotated[str, typer.Argument(help="What happened: create, update, delete, login, entry.update...", show_default=False)],
    collection: Annotated[str, typer.Option("--collection", "-c", help="The collection (table, model) of the item.", show_default=False)],
    item: Annotated[str, typer.Option("--item", "-i", help="The item's id (kept as text).", show_default=False)],
    data: Annotated[Optional[str], typer.Option("--data", "-d", help="JSON object, @FILE or - (stdin): the item's data.", show_default=False)] = None,
    replace: Annotated[bool, typer.Option("--replace", help="--data is the whole new state, not a partial update.")] = False,
    patch: Annotated[Optional[str], typer.Option("--patch", help="An RFC 6902 patch (JSON, @FILE or -) to apply instead of --data.", show_default=False)] = None,
    user: User = None,
    ip: Annotated[Optional[str], typer.Option("--ip", help="Where from: the client address.", show_default=False)] = None,
    user_agent: Annotated[Optional[str], typer.Option("--user-agent", help="The client's user agent.", show_default=False)] = None,
    origin: Annotated[Optional[str], typer.Option("--origin", help="The request origin.", show_default=False)] = None,
    comment: Annotated[Optional[str], typer.Option("--comment", help="A note kept with the activity.", show_default=False)] = None,
    details: Annotated[Optional[str], typer.Option("--details", help="Any JSON (or @FILE, -): request body, reason, correlation id...", show_default=False)] = None,
    at: At = None,
    fmt: FormatOpt = "table",
) -> None:
    from ..errors import UsageError
    from ..patches import check_patch

    if data is not None and patch is not None:
        raise UsageError("give --data or --patch, not both")
    if replace and data is None:
        raise UsageError("--replace goes with --data (the whole new state)")
    activity = make_activity(action, collection, item, user=user, at=at, ip=ip, user_agent=user_agent,
                             origin=origin, comment=comment, details=details)
    payload = parse_json_arg(data, flag="--data") if data is not None else None
    operations = check_patch(parse_json_arg(patch, flag="--patch", obj=False)) if patch is not None else None
    from ..store.activity import check_request

    check_request(activity, data=payload, patch=operations)  # a usage error must not create the store
    store = open_store(ctx, create=True)
    print_recorded(store.record(activity, data=payload, replace=replace, patch=operations), fmt)


@command(
    "log",
    help="""List activity, newest first.

Filters combine with AND; each flag's values combine with OR. Times: 30s, 15m, 12h, 7d, 2w (ago), ISO 8601 dates
and date-times (UTC unless they carry an offset), now, today, yesterday. --filter takes Directus filter rules:
_eq _neq _in _nin _gt _gte _lt _lte _contains _ncontains _icontains _starts_with _nstarts_with _istarts_with
_ends_with _nends_with _null _nnull _empty _nempty _between _nbetween, grouped with _and and _or.

\b
Example:
  audit log --action update --since 7d
  audit log -c articles -i 42 --format json
  audit log --filter '{"user": {"_in": ["alice", "bob"]}}' --sort timestamp --limit -1
  audit log --field /title -p
""",
)
def log(
    ctx: typer.Context,
    action: f.Actions = None,
    user: f.Users = None,
    collection: f.Collections = None,
    item: f.Items = None,
    since: f.Since = None,
    until: f.Until = None,
    search: f.Search = None,
    filter: f.Filter = None,
    field: f.FieldPath = None,
    include_deleted: f.IncludeDeleted = False,
    sort: Annotated[str, typer.Option("--sort", "-s", help="Fields to sort by, comma separated; - for descending.")] = "-timestamp",
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many rows; -1 for all.")] = 100,
    offset: Annotated[int, typer.Option("--offset", help="Skip this many rows first.")] = 0,
    fields: Annotated[Optional[str], typer.Option("--fields", help="Columns to show, comma separated (id,action,user,...).", show_default=False)] = None,
    meta: Annotated[bool, typer.Option("--meta", help="Also report the total and the filtered counts.")] = False,
    show_patch: Annotated[bool, typer.Option("--patch", "-p", help="Show each activity's change (its RFC 6902 delta).")] = False,
    fmt: FormatOpt = "table",
) -> None:
    from .. import query, render

    q = f.build_query(action=action, user=user, collection=collection, item=item, since=since, until=until,
                      search=search, filter=filter, field=field, include_deleted=include_deleted)
    q.sort = query.parse_sort(sort)
    q.limit = check_positive(limit, "--limit", allow_all=True)
    q.offset = check_positive(offset, "--offset")
    columns = query.parse_fields(fields) if fields is not None else None
    store = open_store(ctx)
    page = store.log(q, meta=meta, fields=columns)
    rows = page.rows
    if show_patch:
        for row in rows:
            revision = store.revision_of(row["id"]) if "id" in row else None
            row["delta"] = revision.delta if revision else None
    if columns is None and fmt in ("table", "csv"):
        # csv names every column even when no row matched; the table keeps to the ones people scan.
        columns = list(DEFAULT_LIST_FIELDS if fmt == "table" else ACTIVITY_FIELDS) + (["delta"] if show_patch else [])
    elif show_patch and columns is not None:
        columns.append("delta")
    info = None
    if meta:
        info = {"total_count": page.total_count, "filter_count": page.filter_count, "shown": len(rows)}
        if fmt in ("jsonl", "csv"):
            note(render._meta_line(info))
            info = None
    render.records(rows, fmt, out(), columns=columns, meta=info)


@command(
    "show",
    help="""Show one activity with its details and revision (data and delta).

\b
Example:
  audit show 17
  audit show 17 --format json
""",
)
def show(
    ctx: typer.Context,
    activity_id: Annotated[int, typer.Argument(metavar="ID", help="The activity id.", show_default=False)],
    fmt: FormatOpt = "table",
) -> None:
    from .. import render

    store = open_store(ctx)
    record = store.get_activity(activity_id)
    revision = store.revision_of(activity_id)
    record["revision"] = revision.to_dict() if revision else None
    render.mapping(record, fmt, out())


@command(
    "stats",
    help="""Count activity by action, user, collection or day, with a bar per row. Takes the log filters.

\b
Example:
  audit stats --by user --since 30d
  audit stats --by day --action login --format csv
""",
)
def stats(
    ctx: typer.Context,
    by: Annotated[Literal["action", "user", "collection", "day"], typer.Option("--by", help="What to count by.")] = "action",
    action: f.Actions = None,
    user: f.Users = None,
    collection: f.Collections = None,
    item: f.Items = None,
    since: f.Since = None,
    until: f.Until = None,
    search: f.Search = None,
    filter: f.Filter = None,
    include_deleted: f.IncludeDeleted = False,
    fmt: FormatOpt = "table",
) -> None:
    from .. import render

    q = f.build_query(action=action, user=user, collection=collection, item=item, since=since, until=until,
                      search=search, filter=filter, include_deleted=include_deleted)
    rows = open_store(ctx).stats(q, by=by)
    render.records(rows, fmt, out(), columns=[by, "count"], bar="count" if fmt == "table" else None)


@command(
    "info",
    help="""Show the store: its path, size, schema version, counts and newest activity.

\b
Example:
  audit info
  audit --db ./trail.db info --format json
""",
)
def info(ctx: typer.Context, fmt: FormatOpt = "table") -> None:
    from .. import render

    facts = open_store(ctx).info()
    if facts["readable_by_others"]:
        note(f"warning: {facts['path']} is readable by other users (mode {facts['mode']}): chmod 600 it")
    render.mapping(facts, fmt, out())
