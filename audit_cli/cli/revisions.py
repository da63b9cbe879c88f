"""Commands over an item's revisions and comments: history, snapshot, diff, revert, blame, comment."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

import typer

from .activity import At, FormatOpt, User, print_recorded
from .app import app, command, current_user, note, open_api, out
from .items import Collection, CollectionOpt, Item, ItemOpt, resolve


@command(
    "history",
    help="""List an item's revisions, oldest first: index, activity, action, user, time and changed paths.

Indexes run from 0 (oldest); negative ones count back from the newest (-1 is the current state).

\b
Example:
  audit history articles 42
  audit history articles 42 --format json
""",
)
def history(ctx: typer.Context, collection: Collection = None, item: Item = None, collection_opt: CollectionOpt = None,
            item_opt: ItemOpt = None, fmt: FormatOpt = "table") -> None:
    from .. import render

    collection, item = resolve([collection, item], collection_opt, item_opt)
    # changed is a JSON array of JSON Pointers in every format: "" is the whole item, and no key can blur two paths.
    rows = [entry.to_dict() for entry in open_api(ctx).history(collection, item)]
    render.records(rows, fmt, out(), columns=["index", "activity", "action", "user", "timestamp", "changed"])


@command(
    "snapshot",
    help="""Print an item's JSON state: now, at a revision, or at a moment.

\b
Example:
  audit snapshot articles 42
  audit snapshot articles 42 --rev 0
  audit snapshot articles 42 --at 2026-11-20T10:00:00Z
""",
)
def snapshot(
    ctx: typer.Context,
    collection: Collection = None,
    item: Item = None,
    collection_opt: CollectionOpt = None,
    item_opt: ItemOpt = None,
    rev: Annotated[Optional[int], typer.Option("--rev", "-r", help="Revision index (negative counts back).", show_default=False)] = None,
    at: Annotated[Optional[str], typer.Option("--at", help="The state at this time: ISO 8601, 2h, yesterday...", show_default=False)] = None,
) -> None:
    from .. import render

    collection, item = resolve([collection, item], collection_opt, item_opt)
    out().write(render.pretty(open_api(ctx).snapshot(collection, item, rev=rev, at=at)) + "\n")


@command(
    "diff",
    help="""Show the change between two revisions of an item (default: its last change), or made by one activity.

--format patch prints the RFC 6902 patch that turns --from into --to; text prints each changed field with
its old and new value (coloured on a terminal).

\b
Example:
  audit diff articles 42
  audit diff articles 42 --from 0 --to -1 --format patch
  audit diff --activity 17
""",
)
def diff(
    ctx: typer.Context,
    collection: Collection = None,
    item: Item = None,
    collection_opt: CollectionOpt = None,
    item_opt: ItemOpt = None,
    start: Annotated[Optional[int], typer.Option("--from", help="From this revision. [default: the one before --to]", show_default=False)] = None,
    end: Annotated[Optional[int], typer.Option("--to", help="To this revision. [default: -1, the current one]", show_default=False)] = None,
    activity: Annotated[Optional[int], typer.Option("--activity", help="The change this activity made, instead of COLLECTION ITEM.", show_default=False)] = None,
    fmt: Annotated[Literal["text", "patch", "json"], typer.Option("--format", "-f", help="text, patch (RFC 6902), or json (patch with both states).")] = "text",
) -> None:
    from .. import render
    from ..errors import UsageError

    if activity is not None:
        if collection is not None or collection_opt is not None or item_opt is not None or start is not None \
                or end is not None:
            raise UsageError("--activity takes the place of COLLECTION ITEM --from --to: give one or the other")
        result = open_api(ctx).change(activity).to_dict()
    else:
        collection, item = resolve([collection, item], collection_opt, item_opt,
                                   usage="COLLECTION ITEM, or --activity ID")
        result = open_api(ctx).diff(collection, item, start=start, end=end).to_dict()
    if fmt == "patch":
        out().write(render.pretty(result["patch"]) + "\n")
    elif fmt == "json":
        out().write(render.pretty(result) + "\n")
    else:
        render.patch_text(result, out(), color=render.use_color(out()))


@command(
    "revert",
    help="""Make revision N an item's current state again, recorded as a revert activity; restores deleted items.

Prints the new state. --dry-run prints the patch it would apply and writes nothing.

\b
Example:
  audit revert articles 42 --to 0
  audit revert articles 42 --to -2 --dry-run
""",
)
def revert(
    ctx: typer.Context,
    to: Annotated[int, typer.Option("--to", help="The revision index to go back to (negative counts back).", show_default=False)],
    collection: Collection = None,
    item: Item = None,
    collection_opt: CollectionOpt = None,
    item_opt: ItemOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the patch it would apply; write nothing.")] = False,
    user: User = None,
    comment: Annotated[Optional[str], typer.Option("--comment", help="Why: kept with the revert activity.", show_default=False)] = None,
    at: At = None,
    fmt: Annotated[Literal["text", "json"], typer.Option("--format", "-f", help="text: the new state; json: the activity with its revision.")] = "text",
) -> None:
    from .. import render

    collection, item = resolve([collection, item], collection_opt, item_opt)
    store = open_api(ctx)
    if dry_run:
        plan = store.plan_revert(collection, item, to=to)
        note(f"dry run: would {'restore' if plan.restores else 'revert'} {collection} {item} to revision {plan.to}")
        if plan.note:
            note(plan.note)
        out().write(render.pretty(plan.patch if fmt == "text" else plan.to_dict()) + "\n")
        return
    recorded = store.revert(collection, item, to=to, user=current_user(user), timestamp=at, comment=comment)
    note(f"recorded revert as activity {recorded.activity.id}")
    if recorded.note:
        note(recorded.note)
    if fmt == "json":
        print_recorded(recorded, "json")
    else:
        out().write(render.pretty(recorded.revision.data) + "\n")


@command(
    "blame",
    help="""For each field of an item's current state: who last changed it, when, and in which activity.

\b
Example:
  audit blame articles 42
  audit blame articles 42 --format json
""",
)
def blame(ctx: typer.Context, collection: Collection = None, item: Item = None, collection_opt: CollectionOpt = None,
          item_opt: ItemOpt = None, fmt: FormatOpt = "table") -> None:
    from .. import render

    collection, item = resolve([collection, item], collection_opt, item_opt)
    rows = [entry.to_dict() for entry in open_api(ctx).blame(collection, item)]
    render.records(rows, fmt, out(), columns=["path", "activity", "action", "user", "timestamp", "value"])


comment_app = typer.Typer(help="Comments on items: add, edit (keeps edited_on), delete (soft).", no_args_is_help=True)
app.add_typer(comment_app, name="comment")
Text = Annotated[str, typer.Argument(metavar="TEXT", help="The comment's text.", show_default=False)]
# With -c and -i, the one positional argument is the text: so all three are optional to the parser.
Args = Annotated[Optional[list[str]], typer.Argument(metavar="[COLLECTION ITEM] TEXT", help="The item (or -c and -i) and the comment's text.", show_default=False)]
CommentId = Annotated[int, typer.Argument(metavar="ID", help="The comment's activity id.", show_default=False)]


@command(
    "add",
    parent=comment_app,
    help="""Comment on an item. Prints the comment's activity id.

\b
Example:
  audit comment add articles 42 "Checked the figures with finance"
""",
)
def comment_add(ctx: typer.Context, args: Args = None, collection_opt: CollectionOpt = None,
                item_opt: ItemOpt = None, user: User = None, at: At = None, fmt: FormatOpt = "table") -> None:
    from ..api.results import Recorded

    collection, item, text = resolve(list(args or []), collection_opt, item_opt, rest=("TEXT",),
                                     usage="COLLECTION ITEM TEXT")
    comment = open_api(ctx, create=True).comments.add(collection, item, text, user=current_user(user), timestamp=at)
    print_recorded(Recorded(comment), fmt)


@command(
    "edit",
    parent=comment_app,
    help="""Change a comment's text; edited_on records when.

\b
Example:
  audit comment edit 17 "Checked the figures with finance and legal"
""",
)
def comment_edit(ctx: typer.Context, activity_id: CommentId, text: Text, user: User = None, at: At = None,
                 fmt: FormatOpt = "table") -> None:
    from .. import render

    comment = open_api(ctx).comments.edit(activity_id, text, user=current_user(user), timestamp=at)
    render.mapping(comment.to_dict(), fmt, out())


@command(
    "delete",
    parent=comment_app,
    help="""Soft-delete a comment: it is hidden from `audit log` unless --include-deleted, and kept in exports.

\b
Example:
  audit comment delete 17
""",
)
def comment_delete(ctx: typer.Context, activity_id: CommentId, user: User = None, at: At = None,
                   fmt: FormatOpt = "table") -> None:
    from .. import render

    comment = open_api(ctx).comments.delete(activity_id, user=current_user(user), timestamp=at)
    render.mapping(comment.to_dict(), fmt, out())
