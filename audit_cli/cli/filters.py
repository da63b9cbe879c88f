"""The activity filter flags shared by `log`, `stats` and `export`, and their translation into a LogQuery."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .. import timeparse
from ..models import LogQuery

Actions = Annotated[Optional[list[str]], typer.Option("--action", "-a", help="Only these actions (repeat, or a comma list: actions hold no commas).", show_default=False)]
Users = Annotated[Optional[list[str]], typer.Option("--user", "-u", help="Only this user, matched whole (repeat for several).", show_default=False)]
Collections = Annotated[Optional[list[str]], typer.Option("--collection", "-c", help="Only this collection, matched whole (repeat for several).", show_default=False)]
Items = Annotated[Optional[list[str]], typer.Option("--item", "-i", help="Only this item id, matched whole (repeat for several).", show_default=False)]
Since = Annotated[Optional[str], typer.Option("--since", help="From this time on: 7d, '2 days ago', 2026-11-20, @1790000000, yesterday...", show_default=False)]
Until = Annotated[Optional[str], typer.Option("--until", help="Up to this time, inclusive: a date includes its whole day.", show_default=False)]
Search = Annotated[Optional[str], typer.Option("--search", "-q", help="Case-insensitive text anywhere in the text fields.", show_default=False)]
Filter = Annotated[Optional[str], typer.Option("--filter", help='Directus filter rules as JSON, @FILE or -, e.g. {"action": {"_in": ["create", "update"]}}.', show_default=False)]
FieldPath = Annotated[Optional[str], typer.Option("--field", help="Only activity whose change touches this JSON Pointer, e.g. /title.", show_default=False)]
IncludeDeleted = Annotated[bool, typer.Option("--include-deleted", help="Include soft-deleted comments.")]


def _split(values: list[str] | None) -> list[str]:
    # Only for actions, which are slugs: users, collections and items may hold commas ("Hopper, Grace", "2024,17"),
    # so their values are matched whole, and several are given by repeating the flag.
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def _whole(values: list[str] | None) -> list[str]:
    return list(dict.fromkeys(values or []))


def build_query(
    *,
    action: list[str] | None = None,
    user: list[str] | None = None,
    collection: list[str] | None = None,
    item: list[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    search: str | None = None,
    filter: str | None = None,
    field: str | None = None,
    include_deleted: bool = False,
) -> LogQuery:
    from ..store.activity import check_action
    from .app import parse_json_arg

    rules = parse_json_arg(filter, flag="--filter") if filter is not None else None
    if rules is not None:
        from ..query import filter_clause

        filter_clause(rules)  # check it now, so a bad rule is a usage error before the store is opened
    if field is not None:
        from ..patches import split_pointer

        split_pointer(field)
    return LogQuery(
        actions=[check_action(a) for a in _split(action)],
        users=_whole(user),
        collections=_whole(collection),
        items=_whole(item),
        since=timeparse.normalize(since) if since is not None else None,
        until=timeparse.normalize(until, end=True) if until is not None else None,
        search=search or None,
        filter=rules,
        field_path=field,
        include_deleted=include_deleted,
    )
