"""What `Store.export_to`, `import_from`, `prune`, `verify` and `checkpoint` do (their docstrings say what each
argument means): files or file objects in and out, incremental exports by cursor file, typed reports."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .. import cursor as cursors
from ..errors import UsageError
from . import checks, results

_EXPORT_FORMATS = ("audit", "ecs")
_IMPORT_FORMATS = ("audit", "directus", "strapi")


def _path(value: Any) -> str | None:
    """The path a target or source names, or None when it is a file object."""
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    if hasattr(value, "write") or hasattr(value, "read"):
        return None
    raise UsageError(f"expected a path or a binary file object, not {type(value).__name__}", value=value)


@contextmanager
def _output(target: Any, *, append: bool = False) -> Iterator[IO[bytes]]:
    """A binary stream to a path (written beside it and renamed into place once complete; with `append`, after what
    the file holds) or to a file object."""
    from .. import jsonl

    path = _path(target)
    if path is None:
        yield target
        if hasattr(target, "flush"):
            target.flush()
        return
    jsonl.check_writable(path)
    with (jsonl.appender(path) if append else jsonl.writer(path)) as stream:
        yield stream


def _choice(value: str, choices: tuple[str, ...], param: str) -> str:
    if value not in choices:
        raise UsageError(f"unknown {{{param}}} {value!r}: use {', '.join(choices)}", params=(param,), value=value)
    return value


def export_to(store: Any, target: Any, *, format: str, cursor: Any, limit: int | None, progress: Any,
              trailer: bool, filters: dict[str, Any]) -> results.Exported:
    _choice(format, _EXPORT_FORMATS, "format")
    for name in ("sort", "limit", "offset"):
        if name in filters:
            raise UsageError(f"an export is by id and whole: {{{name}}} does not go with it", params=(name,))
    q = checks.log_query(**{**filters, "include_deleted": True})  # an export keeps deleted comments
    limit = checks.count(limit, param="limit")
    cursor_path = None if cursor is None else os.fspath(cursor)
    if cursor_path is not None:
        from .. import jsonl

        jsonl.check_writable(cursor_path)
        saved = cursors.read(cursor_path)
        if saved is not None:
            q.after_id = cursors.check(saved, path=cursor_path, store=store.store_id(), top=store.top_id())
    if limit is not None:
        q.comment_changes = True  # what an export selects: every record, its comments' own among them
        q.max_id = store.id_at(q, limit) if limit else (q.after_id or 0)
    exported = store.export(q, fmt=format, progress=progress, sealed=trailer)
    with _output(target) as stream:
        for chunk in exported:
            stream.write(chunk)
    last = None
    if cursor_path is not None:  # only now: the output is complete
        last = exported.last_id if exported.last_id is not None else (q.after_id or 0)
        cursors.write(cursor_path, last, store.store_id())
    return results.Exported(exported.count, exported.last_id, last, exported.unsealed_key)


def import_from(store: Any, source: Any, *, format: str, skip_invalid: bool, verify: bool,
                progress: Any, user: str | None = None) -> results.Imported:
    from .. import adapters, jsonl

    _choice(format, _IMPORT_FORMATS, "format")
    path = _path(source)
    if path is None:
        if format != "audit":
            raise UsageError(f"a {format} trail is read from a path, not a file object", params=("source",))
        trail = adapters.Trail(getattr(source, "name", None) if isinstance(getattr(source, "name", None), str)
                               else "a file object", jsonl.Lines(source))
    else:
        if format == "audit":
            jsonl.check_readable(path)
        trail = adapters.open_trail(format, path, skip_invalid=skip_invalid)
    from ..models import Activity

    result = trail.import_into(store, skip_invalid=bool(skip_invalid), progress=progress,
                               by=Activity("", "", "", "", user=user), **({} if verify else {"verify": False}))
    return results.from_dict(results.Imported, result)


def prune(store: Any, *, older_than: str | None, keep_revisions: int | None, collection: str | None,
          apply_scopes: bool, dry_run: bool, archive: Any, vacuum: bool, user: str | None) -> results.Pruned:
    from .. import timeparse

    if older_than is not None:
        timeparse.check_age(checks.text(older_than, param="older_than"))
    checks.count(keep_revisions, param="keep_revisions")

    if archive is None and older_than is None and keep_revisions is None and not apply_scopes:
        archive = (store.retention() or {}).get("archive")  # a bare prune (from cron) archives where the policy says

    archived: list[str] = []

    def write_archive(lines: Any) -> None:
        # An archive is added to, never replaced: a fixed name from cron keeps every night's lines, one after the
        # other, as one trail (jsonl.appender).
        with _output(archive, append=True) as stream:
            for line in lines:
                stream.write(line)
        archived.append(_path(archive) or "a file object")

    if archive is not None and not dry_run and _path(archive) is not None:
        from .. import jsonl

        jsonl.check_writable(_path(archive))  # fail before planning anything
    summary = store.prune(older_than=older_than, keep_revisions=keep_revisions, collection=collection,
                          apply_scopes=bool(apply_scopes), dry_run=bool(dry_run),
                          archive=write_archive if archive is not None else None,
                          activity=checks.by(user, "prune", collection or "*", "*"))
    if archived:
        summary["archive"] = archived[0]
    if vacuum and not dry_run:
        summary["bytes_freed"] = store.vacuum()
    return results.Pruned(summary["activities"], summary["revisions"], summary.get("rewritten", 0),
                          summary["removed"], summary.get("note"), bool(dry_run), summary.get("bytes_freed"),
                          archive=archived[0] if archived else None,
                          raw=summary)


def read_bytes(value: Any, *, param: str) -> bytes | None:
    """An anchor or key given as bytes, or as the path of a file holding it."""
    if value is None or isinstance(value, bytes):
        return value
    try:
        return Path(os.fspath(value)).expanduser().read_bytes()
    except TypeError:
        raise UsageError(f"{{{param}}} takes bytes or a path, not {type(value).__name__}", params=(param,)) \
            from None
    except OSError as exc:
        from ..errors import AuditError

        raise AuditError(f"cannot read {{{param}}} file {value}: {exc.strerror}", params=(param,)) from None


def anchor_document(anchor: Any) -> dict[str, Any] | None:
    """An anchor as the dict `verify` checks: given as an Anchor, its dict, or the path of its file."""
    if anchor is None or isinstance(anchor, dict):
        return anchor
    if isinstance(anchor, results.Anchor):
        return anchor.to_dict()
    from .. import jsontext

    try:
        return jsontext.parse_object(read_bytes(anchor, param="anchor") or b"", what="{anchor}",
                                      example='{"schema": "audit-anchor/1", ...}')
    except UsageError as exc:  # said of the argument, as the CLI's --anchor or the library's anchor
        raise UsageError(exc.template, params=("anchor",)) from None


def verify(store: Any, *, anchor: Any, public_key: Any) -> results.Verification:
    report = store.verify(anchor=anchor_document(anchor), public_key=read_bytes(public_key, param="public_key"))
    return verification(report)


def verify_file(source: str | os.PathLike, *, anchor: Any = None, public_key: bytes | str | os.PathLike | None = None,
                chain_key: bytes | str | None = None) -> results.Verification:
    """Check an exported trail (audit/1 JSONL, plain or gzipped) offline, without a store: as `Store.verify` does.

    source: the file. anchor, public_key: as `Store.verify` takes them. chain_key: the key of a keyed trail's
    chain. A trail that is partial by design (filtered, a cursor piece) says why in `partial`; it cannot prove
    that nothing was removed where it is cut.
    """
    from ..store.offline import verify_file as check

    key = chain_key.encode() if isinstance(chain_key, str) else chain_key
    return verification(check(os.fspath(source), chain_key=key, anchor=anchor_document(anchor),
                              public_key=read_bytes(public_key, param="public_key")))


def verification(report: dict[str, Any]) -> results.Verification:
    """A verify report (of a store, or of a file checked offline) as a typed record."""
    return results.Verification(report["ok"], report.get("checked", report.get("lines", 0)), report.get("head_id"),
                                report.get("head"), report.get("failure"), report.get("partial"), raw=report)


def checkpoint(store: Any, *, sign_with: Any) -> results.Anchor:
    anchor = store.checkpoint(sign_with=read_bytes(sign_with, param="sign_with"))
    return results.from_dict(results.Anchor, anchor, raw=anchor)
