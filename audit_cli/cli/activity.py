"""Commands over the activity log: record, log, show, stats, info."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import typer

from ..errors import UsageError
from ..models import ACTIVITY_FIELDS, DATA_ACTIONS, DEFAULT_LIST_FIELDS, WELL_KNOWN_ACTIONS
from ..timeparse import HELP
from . import filters as f
from .app import Format, check_positive, command, current_user, note, open_api, open_store, out, parse_json_arg

FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
User = Annotated[Optional[str], typer.Option("--user", help="Who did it. [default: $AUDIT_USER, else your login name]", show_default=False)]
At = Annotated[Optional[str], typer.Option("--at", help="When it happened (default now): ISO 8601, 2h, yesterday...", show_default=False)]


def print_recorded(recorded, fmt: str) -> None:
    """What a write recorded (api.results.Recorded): its id, or in json the activity with its revision."""
    from .. import render

    if recorded.note:
        note(recorded.note)
    if recorded.activity.id is None:  # a collection scoped to track nothing
        return
    if fmt == "table":
        out().write(f"{recorded.activity.id}\n")
    else:
        render.mapping(recorded.to_dict(), fmt, out())


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
  audit record update articles 42 --data '{{"status": "draft"}}'
""",
)
def record(
    ctx: typer.Context,
    action: Annotated[str, typer.Argument(help="What happened: create, update, delete, login, entry.update...", show_default=False)],
    collection_arg: Annotated[Optional[str], typer.Argument(metavar="[COLLECTION]", help="The item's collection (or -c).", show_default=False)] = None,
    item_arg: Annotated[Optional[str], typer.Argument(metavar="[ITEM]", help="The item's id (or -i).", show_default=False)] = None,
    collection: Annotated[Optional[str], typer.Option("--collection", "-c", help="The collection (table, model) of the item.", show_default=False)] = None,
    item: Annotated[Optional[str], typer.Option("--item", "-i", help="The item's id (kept as text).", show_default=False)] = None,
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
    from .items import resolve

    collection, item = resolve([collection_arg, item_arg], collection, item, usage="ACTION COLLECTION ITEM")
    payload = parse_json_arg(data, flag="--data") if data is not None else None
    operations = parse_json_arg(patch, flag="--patch", obj=False) if patch is not None else None
    context = parse_json_arg(details, flag="--details", obj=False) if details is not None else None
    # A store made for a request the library refuses is removed again (command()).
    recorded = open_api(ctx, create=True).record(
        action, collection, item, data=payload, replace=replace, patch=operations, user=current_user(user),
        timestamp=at, ip=ip, user_agent=user_agent, origin=origin, comment=comment, details=context)
    print_recorded(recorded, fmt)


@command(
    "log",
    help=f"""List activity, newest first: 100 rows unless --limit (-1 for all); when more match, stderr says so.

Filters combine with AND; each flag's values combine with OR (repeat the flag: -u, -c and -i match whole
values, so 'Hopper, Grace' is one user; --filter with _in takes a JSON list). --filter takes Directus filter
rules: _eq _neq _in _nin _gt _gte _lt _lte _contains _ncontains _icontains _starts_with _nstarts_with
_istarts_with _ends_with _nends_with _null _nnull _empty _nempty _between _nbetween, grouped with _and and _or.
Times (--since, --until, and time fields in --filter):

{HELP}

-p shows each activity's change in full below its row, like git log -p. -F/--follow prints the matching
activity as others record it, until interrupted (as in audit log -F -a login -f jsonl): the newest few
first (10 unless --limit), then each new one.

\b
Example:
  audit log --action update --since 7d
  audit log -c articles -i 42 --format json
  audit log --filter '{{"user": {{"_in": ["alice", "bob"]}}}}' --sort timestamp --limit -1
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
    sort: Annotated[Optional[str], typer.Option("--sort", "-s", help="Fields to sort by, comma separated; - for descending. [default: -timestamp]", show_default=False)] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", "-n", help="At most this many rows; -1 for all. [default: 100; 10 with --follow]", show_default=False)] = None,
    offset: Annotated[int, typer.Option("--offset", help="Skip this many rows first.")] = 0,
    fields: Annotated[Optional[str], typer.Option("--fields", help="Columns to show, comma separated (id,action,user,...; delta for the change).", show_default=False)] = None,
    meta: Annotated[bool, typer.Option("--meta", help="Also report the total and the filtered counts.")] = False,
    show_patch: Annotated[bool, typer.Option("--patch", "-p", help="Show each activity's change in full (its RFC 6902 delta).")] = False,
    follow: Annotated[bool, typer.Option("--follow", "-F", help="Go on printing matching activity as it is recorded, until interrupted.")] = False,
    fmt: FormatOpt = "table",
) -> None:
    from .. import query, render

    q = f.build_query(action=action, user=user, collection=collection, item=item, since=since, until=until,
                      search=search, filter=filter, field=field, include_deleted=include_deleted)
    if follow and (sort is not None or offset or meta):
        raise UsageError("--follow lists activity by id as it comes: --sort, --offset and --meta do not go with it")
    q.sort = query.parse_sort(sort if sort is not None else "-timestamp")
    q.limit = check_positive((10 if follow else 100) if limit is None else limit, "--limit", allow_all=True)
    q.offset = check_positive(offset, "--offset")
    columns = query.parse_fields(fields, extra=("delta",)) if fields is not None else None
    if columns is None:
        # csv names every column even when no row matched; the table keeps to the ones people scan.
        columns = list(ACTIVITY_FIELDS if fmt in ("json", "jsonl", "csv") else DEFAULT_LIST_FIELDS)
    if show_patch and "delta" not in columns:
        columns.append("delta")
    if fmt == "table" and show_patch:
        columns.remove("delta")  # shown in full below each row instead
    store = open_store(ctx)
    if follow:
        _follow(store, q, fmt, columns, patches=show_patch or "delta" in columns)
        return
    page = store.log(q, meta=meta)
    rows = page.rows
    changes = [_change(store, row["id"]) if show_patch or "delta" in columns else None for row in rows]
    for row, change in zip(rows, changes):
        row["delta"] = change["patch"] if change is not None else None
    rows = [{name: row[name] for name in columns} for row in rows]
    info = None
    if meta:
        info = {"total_count": page.total_count, "filter_count": page.filter_count, "shown": len(rows)}
        if fmt in ("jsonl", "csv"):
            note(render._meta_line(info))
            info = None
    if fmt == "table" and show_patch:
        render.table_with_patches(rows, changes, out(), columns=columns, color=render.use_color(out()))
        if info:
            out().write(render._meta_line(info) + "\n")
    else:
        render.records(rows, fmt, out(), columns=columns, meta=info)
    if page.more:  # after the rows, where a reader of the terminal looks last; and not if they could not be written
        out().flush()
        note(_partial(len(rows), page.filter_count, q.offset))


def _partial(shown: int, matching: int | None, offset: int) -> str:
    rows = f"{offset + 1:,}-{offset + shown:,}" if offset else f"{shown:,}"
    return f"{rows} of {matching or 0:,} shown; --limit -1 for all"


def _change(store, activity_id: int) -> dict | None:
    """The change an activity made (its patch and the state before it), or None for one that changed no data."""
    if store.revision_of(activity_id) is None:
        return None
    return store.diff_activity(activity_id)


def _follow(store, q, fmt: str, columns: list[str], *, patches: bool) -> None:
    """The newest `q.limit` matching rows oldest first, then each new match as it is recorded, until ^C."""
    import dataclasses

    from .. import render

    start = store.last_id()
    backlog = dataclasses.replace(q, max_id=start, sort=["-id"])
    rows = list(reversed(store.log(backlog).rows))
    stream = render.RowStream(fmt, out(), columns, color=render.use_color(out()))

    def shown(row: dict) -> tuple[dict, dict | None]:
        change = _change(store, row["id"]) if patches else None
        row["delta"] = change["patch"] if change is not None else None
        return row, change if fmt == "table" else None

    try:
        stream.start(*zip(*map(shown, rows)) if rows else ([], []))
        for row in store.follow(dataclasses.replace(q, after_id=start)):
            stream.add(*shown(row))
    except KeyboardInterrupt:  # how following ends: not an error
        pass
    finally:
        stream.close()


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

    render.mapping(open_api(ctx).show(activity_id).to_dict(), fmt, out())


@command(
    "stats",
    help="""Count activity by action, user, collection, item, hour, day, week or month, with a bar per row.

Takes the log filters. Times are UTC: hours as 2026-11-20T10:00, weeks as ISO 8601 (2026-W47), months as 2026-11,
in time order; the others largest first. --by item counts each item of each collection.

\b
Example:
  audit stats --by user --since 30d
  audit stats --by day --action login --format csv
  audit stats --by item -c articles
""",
)
def stats(
    ctx: typer.Context,
    by: Annotated[Literal["action", "user", "collection", "item", "hour", "day", "week", "month"], typer.Option("--by", help="What to count by.")] = "action",
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

    filters = f.options(action=action, user=user, collection=collection, item=item, since=since, until=until,
                        search=search, filter=filter, include_deleted=include_deleted)
    rows = [count.to_dict() for count in open_api(ctx).stats(by, **filters)]
    groups = ["collection", "item"] if by == "item" else [by]
    render.records(rows, fmt, out(), columns=[*groups, "count"], bar="count" if fmt == "table" else None)


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

    facts = open_api(ctx).info().to_dict()
    if facts["readable_by_others"]:
        note(f"warning: {facts['path']} is readable by other users (mode {facts['mode']}): chmod 600 it")
    render.mapping(facts, fmt, out())
