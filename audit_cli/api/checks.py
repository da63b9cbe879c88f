"""The library's checks of what callers give it, shared with the CLI (which parses text first, then asks the same
questions): the same bad input is the same error, whichever side it came through."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from .. import timeparse
from ..errors import UsageError
from ..models import Activity, LogQuery

def values(value: Any, *, param: str, split: bool = False) -> list[str]:
    """One text value or several, as a list without repeats; `split` also splits on commas (actions hold none)."""
    if value is None:
        return []
    given = [value] if isinstance(value, str) else list(value)
    for one in given:
        if not isinstance(one, str):
            raise UsageError(f"{{{param}}} takes text, not {type(one).__name__}", params=(param,), value=one)
    if split:
        given = [part.strip() for one in given for part in one.split(",") if part.strip()]
    return list(dict.fromkeys(given))


def count(value: Any, *, param: str, least: int = 0) -> int | None:
    """A count such as a limit: None (no limit), or a whole number of at least `least`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{{{param}}} must be a whole number, not {value!r}", params=(param,), value=value)
    if value < least:
        raise UsageError(f"{{{param}}} must be {least} or more, not {value}", params=(param,), value=value)
    return value


def text(value: Any, *, param: str, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise UsageError(f"{{{param}}} must be text, not {type(value).__name__}", params=(param,), value=value)
    return value


def item(value: Any, *, param: str = "item") -> str:
    """An item's id: text, or a whole number kept as its text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return text(value, param=param, optional=False)  # type: ignore[return-value]


def names(collection: Any, item: Any) -> tuple[str, str]:
    """An item's collection and id, checked (the id may be a whole number: kept as its text, as recorded)."""
    return text(collection, param="collection", optional=False), globals()["item"](item)  # type: ignore


def moment(value: str | datetime | None, *, param: str, end: bool = False) -> str | None:
    return None if value is None else timeparse.instant(value, param=param, end=end)


def log_query(
    *,
    action: Any = None,
    user: Any = None,
    collection: Any = None,
    item: Any = None,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    search: str | None = None,
    filter: dict[str, Any] | None = None,
    field: str | None = None,
    include_deleted: bool = False,
    sort: str | Iterable[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> LogQuery:
    """The LogQuery that `audit log` and `Store.query` run, every value checked and normalised."""
    from .. import query
    from ..store.activity import check_action

    if filter is not None:
        query.filter_clause(filter)  # a bad rule is an error now, before the store is read
    if field is not None:
        from ..patches import split_pointer

        split_pointer(text(field, param="field"))
    if sort is None:
        keys = ["-timestamp"]
    else:
        keys = query.parse_sort(sort if isinstance(sort, str) else ",".join(values(sort, param="sort")))
    return LogQuery(
        actions=[check_action(a) for a in values(action, param="action", split=True)],
        users=values(user, param="user"),
        collections=values(collection, param="collection"),
        items=values(item, param="item"),
        since=moment(since, param="since"),
        until=moment(until, param="until", end=True),
        search=text(search, param="search") or None,
        filter=filter,
        field_path=field,
        include_deleted=bool(include_deleted),
        sort=keys,
        limit=count(limit, param="limit"),
        offset=count(offset, param="offset") or 0,
    )


def by(user: str | None, action: str = "", collection: str = "", item: str = "", *,
       timestamp: str | datetime | None = None, comment: str | None = None) -> Activity:
    """The activity a write records, by `user` at `timestamp` (now when None); the store fills in what it did."""
    return Activity(action, collection, item, moment(timestamp, param="timestamp") or "",
                    user=text(user, param="user"), comment=comment)
