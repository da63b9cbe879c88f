"""The activity filter flags shared by `log`, `stats` and `export`, and their translation into a LogQuery."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

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


def options(
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
) -> dict[str, Any]:
    """The filter flags as the library's query arguments: --filter's JSON parsed, the rest as given (the library
    checks and normalises them, as it does for any caller)."""
    from .app import parse_json_arg

    return {"action": action, "user": user, "collection": collection, "item": item, "since": since,
            "until": until, "search": search or None,
            "filter": parse_json_arg(filter, flag="--filter") if filter is not None else None, "field": field,
            "include_deleted": include_deleted}


def build_query(**flags: Any) -> LogQuery:
    """The LogQuery the filter flags select, checked by the library (api/checks.py)."""
    from ..api.checks import log_query

    return log_query(**options(**flags))
