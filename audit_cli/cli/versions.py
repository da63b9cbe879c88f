"""`audit version ...`: detached versions of an item, staged apart from its main line and promoted into it."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import typer

from .activity import FormatOpt, User, print_recorded
from .app import app, command, current_user, note, open_api, out, parse_json_arg
from .items import CollectionOpt, ItemOpt, resolve

version_app = typer.Typer(help="Detached versions of an item: create, save, list, compare, promote, delete.",
                          no_args_is_help=True)
app.add_typer(version_app, name="version")
# With -c and -i, the one positional argument is the key: so the parser takes them as one list.
Args = Annotated[Optional[list[str]], typer.Argument(metavar="[COLLECTION ITEM] KEY", help="The item (or -c and -i) and the version's key, such as draft.", show_default=False)]


def _item_key(args: list[str] | None, collection: str | None, item: str | None) -> list[str]:
    return resolve(list(args or []), collection, item, rest=("KEY",), usage="COLLECTION ITEM KEY")


@command(
    "create",
    parent=version_app,
    help="""Start a version of an item from its current state.

\b
Example:
  audit version create articles 42 draft --name "Spring rewrite"
""",
)
def create(ctx: typer.Context, args: Args = None, collection_opt: CollectionOpt = None, item_opt: ItemOpt = None,
           name: Annotated[Optional[str], typer.Option("--name", help="A readable name.", show_default=False)] = None,
           user: User = None, fmt: FormatOpt = "table") -> None:
    from .. import render

    collection, item, key = _item_key(args, collection_opt, item_opt)
    version = open_api(ctx).versions.create(collection, item, key, name=name, user=current_user(user))
    render.mapping(version.to_dict(), fmt, out())


@command(
    "save",
    parent=version_app,
    help="""Stage changes into a version: a partial object merged onto what it already holds (recorded as version-save).

\b
Example:
  audit version save articles 42 draft --data '{"title": "Spring, rewritten"}'
""",
)
def save(ctx: typer.Context,
         data: Annotated[str, typer.Option("--data", "-d", help="JSON object, @FILE or -: the fields to stage.", show_default=False)],
         args: Args = None, collection_opt: CollectionOpt = None, item_opt: ItemOpt = None, user: User = None, fmt: FormatOpt = "table") -> None:
    collection, item, key = _item_key(args, collection_opt, item_opt)
    payload = parse_json_arg(data, flag="--data")
    print_recorded(open_api(ctx).versions.save(collection, item, key, payload, user=current_user(user)), fmt)


@command(
    "list",
    parent=version_app,
    help="""List versions, of one item or of all; outdated means main changed since the version was made.

\b
Example:
  audit version list
  audit version list articles 42 --format json
""",
)
def list_(ctx: typer.Context,
          collection: Annotated[Optional[str], typer.Argument(metavar="[COLLECTION]", show_default=False)] = None,
          item: Annotated[Optional[str], typer.Argument(metavar="[ITEM]", show_default=False)] = None,
          collection_opt: CollectionOpt = None, item_opt: ItemOpt = None, fmt: FormatOpt = "table") -> None:
    from .. import render
    from ..errors import UsageError

    given = [value for value in (collection, item) if value is not None]
    collection = collection_opt if collection_opt is not None else given.pop(0) if given else None
    item = item_opt if item_opt is not None else given.pop(0) if given else None
    if given or (item is not None and collection is None):
        raise UsageError("give [COLLECTION [ITEM]], or -c and -i instead of them")
    rows = [version.to_dict() for version in open_api(ctx).versions.list(collection, item)]
    columns = ["collection", "item", "key", "name", "fields", "outdated", "created_at", "created_by"]
    render.records(rows, fmt, out(), columns=columns if fmt in ("table", "csv") else None)


@command(
    "compare",
    parent=version_app,
    help="""Compare a version with main: outdated?, main, staged fields, the promoted result, the patch between.

\b
Example:
  audit version compare articles 42 draft
""",
)
def compare(ctx: typer.Context, args: Args = None, collection_opt: CollectionOpt = None, item_opt: ItemOpt = None,
            fmt: Annotated[Literal["text", "json"], typer.Option("--format", "-f", help="text: the patch per field; json: everything.")] = "text") -> None:
    from .. import render

    collection, item, key = _item_key(args, collection_opt, item_opt)
    result = open_api(ctx).versions.compare(collection, item, key).to_dict()
    if fmt == "json":
        out().write(render.pretty(result) + "\n")
        return
    if result["outdated"]:
        note(f"version {key!r} is outdated: main changed since it was made")
    render.patch_text({"collection": collection, "item": item, "from": None, "to": None, "before": result["main"],
                       "patch": result["patch"], "version": key}, out(), color=render.use_color(out()))


@command(
    "promote",
    parent=version_app,
    help="""Merge a version's staged fields onto main, recorded as a promote activity with its revision.

Refuses when main changed since the version was made, unless --force. --fields promotes only those fields.

\b
Example:
  audit version promote articles 42 draft
  audit version promote articles 42 draft --fields title --force
""",
)
def promote(ctx: typer.Context, args: Args = None, collection_opt: CollectionOpt = None, item_opt: ItemOpt = None,
            fields: Annotated[Optional[str], typer.Option("--fields", help="Only these staged fields, comma separated.", show_default=False)] = None,
            force: Annotated[bool, typer.Option("--force", help="Promote even if main changed since the version was made.")] = False,
            user: User = None, fmt: FormatOpt = "table") -> None:
    collection, item, key = _item_key(args, collection_opt, item_opt)
    names = [name.strip() for name in fields.split(",") if name.strip()] if fields else None
    print_recorded(open_api(ctx).versions.promote(collection, item, key, fields=names, force=force,
                                                  user=current_user(user)), fmt)


@command(
    "delete",
    parent=version_app,
    help="""Delete a version and what it staged (recorded as version-delete; main is untouched).

\b
Example:
  audit version delete articles 42 draft
""",
)
def delete(ctx: typer.Context, args: Args = None, collection_opt: CollectionOpt = None, item_opt: ItemOpt = None,
           user: User = None) -> None:
    collection, item, key = _item_key(args, collection_opt, item_opt)
    saved = open_api(ctx).versions.delete(collection, item, key, user=current_user(user))
    note(f"deleted version {key!r} of {collection} {item} (activity {saved.id})")
