"""The Typer app, its global options, and the one place where errors turn into messages and exit codes."""

from __future__ import annotations

import functools
import getpass
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import typer
import typer.core

from .. import __version__
from ..errors import AuditError, ExitCode, UsageError, shown
from . import params

params.install()  # parameters coerced without importing pydantic where that is plain (cli/params.py)

Format = Literal["table", "json", "jsonl", "csv"]


class _Group(typer.core.TyperGroup):
    """The top command: the parser's own errors (a bad choice, an unknown option) are the same one line,
    `audit: error: ...`, as every other usage error, saying where the help is."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        from typer._click import exceptions  # Typer's bundled Click: the errors its parser raises

        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except exceptions.NoArgsIsHelpError as exc:  # a bare `audit` or group: its help, as asked for
            exc.show()
            sys.exit(exc.exit_code)
        except exceptions.UsageError as exc:
            hint = f" (see {exc.ctx.command_path} -h)" if exc.ctx is not None else ""
            given = _given(exc, kwargs.get("args", args[0] if args else None))
            fail(_parser_message(exc.format_message(), given) + hint, ExitCode.USAGE)
            sys.exit(ExitCode.USAGE)
        except exceptions.ClickException as exc:
            fail(_parser_message(exc.format_message()), exc.exit_code)
            sys.exit(exc.exit_code)
        except typer.Abort:  # a question answered no, or ^D at it (Typer's own: its bundled Click has none)
            fail("aborted: nothing was changed", ExitCode.RUNTIME)
            sys.exit(ExitCode.RUNTIME)
        sys.exit(code if isinstance(code, int) else ExitCode.OK)


def _parser_message(text: str, given: str | None) -> str:
    # Typer words a bad choice as "Value error, 'xml' is not one of ...", and a bad number without the number;
    # say them as the other errors do.
    text = text.replace("Value error, ", "").rstrip(".")
    if given is not None:
        text = text.replace("Input should be a valid integer, unable to parse string as an integer",
                            f"{given!r} is not a whole number")
    return text[:1].lower() + text[1:]


def _given(exc: Exception, args: Any) -> str | None:
    """The value the user gave the option that the parser refused, read back from the command line."""
    opts = getattr(getattr(exc, "param", None), "opts", None)
    words = list(sys.argv[1:] if args is None else args)
    for n, word in enumerate(words):
        for opt in opts or ():
            if word == opt and n + 1 < len(words):
                return words[n + 1]
            if word.startswith(opt + "="):
                return word[len(opt) + 1:]
    return None


app = typer.Typer(
    name="audit",
    cls=_Group,
    help="An accountable history of every change to your data: who did what, when, from where, to which item, "
    "and what it looked like before and after. One SQLite file, no server.",
    no_args_is_help=True,
    add_completion=False,
    # Plain help and errors: one-line error messages, and half the start-up time of rich's panels.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)


def default_db() -> Path:
    """Where the store lives when neither --db nor AUDIT_DB says: the XDG data folder."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "audit" / "audit.db"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"audit {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    ctx: typer.Context,
    db: Annotated[
        Optional[str],
        typer.Option("--db", envvar="AUDIT_DB", help="The store file. [default: $XDG_DATA_HOME/audit/audit.db]",
                     show_default=False, metavar="FILE"),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    if db is not None and not db.strip():
        raise fail("--db is empty: give the path of a store file (or leave --db out for $AUDIT_DB, else "
                   f"{default_db()})", ExitCode.USAGE)
    if db is not None and Path(db).expanduser().is_dir():
        raise fail(f"--db {shown(db)} is a directory: give the path of a store file in it, such as {shown(db)}/audit.db",
                   ExitCode.USAGE)
    ctx.obj = {"db": Path(db) if db is not None else default_db()}


def _printable(message: str, *, keep: str = "") -> str:
    return "".join(c if c.isprintable() or c in keep else c.encode("unicode_escape").decode("ascii") for c in message)


def fail(message: str, code: int) -> typer.Exit:
    # Messages quote what the user gave: escape what would not print (newlines, controls), so the error stays one
    # readable line whatever came in.
    typer.echo(f"audit: error: {_printable(message)}", err=True)
    return typer.Exit(code)


# Arguments that are not text: file names (any bytes on POSIX), and JSON arguments, whose bytes jsontext checks
# itself (and which may be @FILE).
_NOT_TEXT = frozenset({"output", "source", "anchor", "archive", "cursor_file", "data", "details", "patch", "filter"})


def _check_utf8(kw: dict[str, Any]) -> None:
    """Refuse an argument given in bytes that are not UTF-8 (Python keeps them as lone surrogates, which neither the
    chain's JSON nor SQLite can hold) up front, by name, before anything is opened."""
    for name, value in kw.items():
        if name in _NOT_TEXT:
            continue
        values = value if isinstance(value, (list, tuple)) else (value,)
        for n, text in enumerate(values):
            if isinstance(text, str) and not text.isascii():
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    flag = _flag(kw, name)
                    # A list of arguments ("[COLLECTION ITEM] TEXT"): the word for this one, counted from the end.
                    words = flag.replace("[", " ").replace("]", " ").split()
                    if len(words) > 1 and len(values) <= len(words):
                        flag = words[len(words) - len(values) + n]
                    raise UsageError(f"{flag} is not valid UTF-8 ({shown(text)}): give it as UTF-8 text") from None


# The library's argument names that commands call otherwise (record's --at is the activity's timestamp).
_OUR_NAMES = {"timestamp": "at", "format": "fmt", "cursor": "cursor_file", "sign_with": "sign"}


def _flag(kw: dict[str, Any], name: str) -> str:
    """How the user wrote the parameter `name`: its long option, or its argument's metavar."""
    ctx = kw.get("ctx")  # every command takes its context as `ctx`
    for param in ctx.command.params if ctx is not None else ():
        if param.name == name:
            if param.param_type_name == "option":
                return max(param.opts, key=len)
            return (param.metavar or param.name.upper()).strip("[]")
    return "--" + name.replace("_", "-")


def _database_error(exc: sqlite3.DatabaseError, kw: dict[str, Any]) -> str:
    from ..store import damage

    if damage.undecodable(exc):  # sqlite3's message would repeat the damaged bytes
        ctx = kw.get("ctx")
        return str(damage.error((ctx.obj or {}).get("store") if ctx is not None else None, exc))
    return f"the store could not complete this ({exc}): check the file, its disk and permissions"


def command(name: str | None = None, *, parent: typer.Typer = app, **kwargs: Any) -> Callable:
    """Register a command whose domain errors become one line on stderr and the documented exit code."""

    def register(func: Callable) -> Callable:
        @functools.wraps(func)
        def run(*args: Any, **kw: Any) -> Any:
            try:
                _check_utf8(kw)
                try:
                    return func(*args, **kw)
                except BaseException as exc:
                    if not (isinstance(exc, typer.Exit) and exc.exit_code == 0) and \
                            not isinstance(exc, BrokenPipeError):
                        _discard_new_store(kw)
                    raise
            except AuditError as exc:
                # The library names arguments as it calls them: say each as this command's flag.
                raise fail(exc.worded(lambda param: _flag(kw, _OUR_NAMES.get(param, param))), exc.exit_code) \
                    from None
            except sqlite3.DatabaseError as exc:
                raise fail(_database_error(exc, kw), ExitCode.RUNTIME) from None
            except BrokenPipeError:
                # The reader (head, less) went away: not an error of ours.
                sys.stderr.close()
                raise typer.Exit(ExitCode.OK) from None
            except OverflowError:
                raise fail("a number is too large: ids, counts and filter numbers go up to "
                           "9223372036854775807", ExitCode.USAGE) from None
            except UnicodeError:
                raise fail("an argument or value is not valid UTF-8 text: give UTF-8", ExitCode.USAGE) from None
            except RecursionError:
                raise fail("the JSON is nested too deeply to diff or store: revisions keep at most 255 levels",
                           ExitCode.USAGE) from None
            except OSError as exc:
                raise fail(_os_error(exc), ExitCode.RUNTIME) from None

        return parent.command(name, **kwargs)(run)

    return register


def _discard_new_store(kw: dict[str, Any]) -> None:
    """A command that failed leaves no new file: the store it created for itself goes again."""
    from ..store.connection import discard

    ctx = kw.get("ctx")
    store = (ctx.obj or {}).get("store") if ctx is not None else None
    if store is not None:
        discard(store.conn, store.path)


def _os_error(exc: OSError) -> str:
    # Files the commands open say so themselves (AuditError): an OSError without a file name is a write to stdout.
    if exc.filename is not None:
        return f"cannot use {exc.filename}: {exc.strerror or exc}"
    return f"cannot write the output: {exc.strerror or exc}"


def open_store(ctx: typer.Context, *, create: bool = False):
    from ..store import AuditStore

    key = os.environ.get("AUDIT_CHAIN_KEY")
    store = AuditStore.open(ctx.obj["db"], create=create, chain_key=key.encode() if key else None)
    ctx.call_on_close(store.close)
    ctx.obj["store"] = store  # for command(): a damaged row is named through it
    return store


def open_api(ctx: typer.Context, *, create: bool = False):
    """The library's Store (audit_cli.Store) over this command's store: --db, AUDIT_CHAIN_KEY, as open_store."""
    from ..api.store import Store

    return Store(open_store(ctx, create=create))


def current_user(user: str | None) -> str | None:
    if user is not None:
        return user
    if os.environ.get("AUDIT_USER"):
        name, source = os.environ["AUDIT_USER"], "$AUDIT_USER"
    else:
        try:
            name, source = getpass.getuser(), "your login name"
        except (KeyError, OSError):  # no login name in containers without a passwd entry
            return None
    if not name.isascii():
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"{source} is not valid UTF-8 ({shown(name)}): set it as UTF-8, or pass --user") \
                from None
    return name


def read_arg(value: str, *, flag: str) -> bytes:
    """The text of an argument that may be inline, `@FILE`, or `-` for standard input."""
    if value == "-":
        return sys.stdin.buffer.read()
    if value.startswith("@"):
        path = Path(value[1:]).expanduser()
        try:
            return path.read_bytes()
        except OSError as exc:
            raise AuditError(f"cannot read {flag} file {path}: {exc.strerror}") from None
    return value.encode("utf-8", "surrogateescape")


# What each JSON flag's errors hold up as an example: a filter is not item data.
_EXAMPLES = {
    "--filter": '{"action": {"_eq": "update"}}',
    "--patch": '[{"op": "replace", "path": "/title", "value": "New"}]',
    "--details": '{"reason": "requested by legal"}',
}


def parse_json_arg(value: str, *, flag: str, obj: bool = True) -> Any:
    from .. import jsontext

    text = read_arg(value, flag=flag)
    example = _EXAMPLES.get(flag, jsontext.DATA_EXAMPLE)
    if obj:
        return jsontext.parse_object(text, what=flag, example=example)
    return jsontext.parse(text, what=flag, example=example)


def out() -> Any:
    return sys.stdout


def note(message: str) -> None:
    # Notes name collections, items and keys as recorded: a terminal must not act on their controls either.
    typer.echo(_printable(message, keep="\n"), err=True)


def _command_word(words: list[str]) -> str | None:
    """The command a command line names (the first word that is not a global option), or None when it asks for the
    top-level help first or names none."""
    words = iter(words)
    for word in words:
        if word in ("-h", "--help", "--"):
            return None
        if word == "--db":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


@contextmanager
def _only_command(words: list[str]) -> Iterator[None]:
    """Build only the command a command line runs. Typer makes a Click command of every command before it parses
    (inspecting each function's signature): 31 commands took 25-65 ms of a ~200 ms `audit log`, for one of them
    (bench/RESULTS.md). The help, errors and completion of that command are the same; anything else (the top-level
    help, an unknown or misspelt command, shell completion) gets the whole app."""
    word = None if os.environ.get("_AUDIT_COMPLETE") else _command_word(words)
    commands = [c for c in app.registered_commands
                if (c.name or c.callback.__name__.replace("_", "-").lower()) == word]
    groups = [g for g in app.registered_groups if g.name == word]
    if word is None or len(commands) + len(groups) != 1:
        yield
        return
    saved = app.registered_commands, app.registered_groups
    app.registered_commands, app.registered_groups = commands, groups
    try:
        yield
    finally:
        app.registered_commands, app.registered_groups = saved


def main() -> None:
    """The console script."""
    try:
        with _only_command(sys.argv[1:]):
            app(prog_name="audit")
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.stderr.close()  # as in command(): the reader went away, and Python's last flush would complain
        sys.exit(ExitCode.OK)
    except OSError as exc:  # --help or --version into a full disk: no command() around them
        typer.echo(f"audit: error: {_os_error(exc)}", err=True)
        sys.exit(ExitCode.RUNTIME)


def check_positive(value: int | None, flag: str, *, allow_all: bool = False) -> int | None:
    if value is None:
        return None
    if allow_all and value == -1:
        return None
    if value < 0:
        raise UsageError(f"{flag} must be 0 or more{' (or -1 for all)' if allow_all else ''}, not {value}")
    return value


