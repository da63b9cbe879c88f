"""Naming an item: as positional COLLECTION ITEM (as history and diff always took it) or with -c/--collection and
-i/--item (as record and log do), in every command that works on one item."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..errors import UsageError

Collection = Annotated[Optional[str], typer.Argument(metavar="[COLLECTION]", help="The item's collection (or -c).", show_default=False)]
Item = Annotated[Optional[str], typer.Argument(metavar="[ITEM]", help="The item's id (or -i).", show_default=False)]
CollectionOpt = Annotated[Optional[str], typer.Option("--collection", "-c", help="The item's collection, instead of COLLECTION.", show_default=False)]
ItemOpt = Annotated[Optional[str], typer.Option("--item", "-i", help="The item's id, instead of ITEM.", show_default=False)]


def resolve(positionals: list[str | None], collection: str | None, item: str | None, *,
            rest: tuple[str, ...] = (), usage: str = "COLLECTION ITEM") -> list[str]:
    """[collection, item, *rest] from the positional arguments as given and the -c/-i options.

    The parser fills positionals from the left, so `-c articles 1` puts 1 where COLLECTION goes: the values are
    taken in order, those named by an option are skipped, and `rest` (TEXT, KEY) takes the last ones."""
    given = [value for value in positionals if value is not None]
    if len(given) < len(rest):
        raise UsageError(f"missing {' '.join(rest[len(given):])}: give {usage}")
    head, tail = given[:len(given) - len(rest)], given[len(given) - len(rest):]
    slots = [("COLLECTION", "--collection", collection), ("ITEM", "--item", item)]
    values = []
    for name, flag, option in slots:
        if option is not None:
            values.append(option)
        elif head:
            values.append(head.pop(0))
        else:
            raise UsageError(f"missing {name}: give {usage} (or {flag} {name})")
    if head:
        extra = "one value" if len(head) == 1 else f"{len(head)} values"
        raise UsageError(f"{extra} too many ({', '.join(repr(v) for v in head)}): give {usage}, or -c and -i instead of "
                         "COLLECTION ITEM, not both")
    return values + tail
