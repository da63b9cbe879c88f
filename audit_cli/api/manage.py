"""The operations a Store groups by what they work on: `store.comments`, `store.versions`, `store.retention` and
`store.scopes`. Each takes the Store it belongs to, and says the store's records as typed ones."""

from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..models import Activity
from . import checks, results
from .results import Recorded, Retention as RetentionPolicy, Scope, Version, VersionComparison

if TYPE_CHECKING:
    from .store import Store


class Comments:
    """Comments on items: activities of action "comment", whose text can be edited (edited_on says when) and
    soft-deleted (comment_deleted_on); each change is a chained record of its own, so the original stays provable."""

    def __init__(self, store: Store):
        self._api = store

    @property
    def _store(self) -> Any:
        return self._api._store  # settled: see Store._store

    def add(self, collection: str, item: str | int, text: str, *, user: str | None = None,
            timestamp: str | datetime | None = None) -> Activity:
        """Comment `text` on item `item` of `collection`, by `user` at `timestamp` (now when None); returns the
        comment's activity."""
        activity = checks.by(user, "comment", checks.text(collection, param="collection", optional=False),
                             checks.item(item), timestamp=timestamp, comment=checks.text(text, param="text"))
        return results.activity(self._store.add_comment(activity))

    def edit(self, activity_id: int, text: str, *, user: str | None = None,
             timestamp: str | datetime | None = None) -> Activity:
        """Change comment `activity_id`'s text to `text`, by `user` at `timestamp`; returns the comment as it is."""
        change = checks.by(user, "comment-edit", timestamp=timestamp)
        return results.activity(self._store.edit_comment(checks.count(activity_id, param="activity_id"),
                                                         checks.text(text, param="text", optional=False),
                                                         activity=change))

    def delete(self, activity_id: int, *, user: str | None = None,
               timestamp: str | datetime | None = None) -> Activity:
        """Soft-delete comment `activity_id` (hidden from `query` unless include_deleted), by `user` at
        `timestamp`; returns the comment as it is."""
        change = checks.by(user, "comment-delete", timestamp=timestamp)
        return results.activity(self._store.delete_comment(checks.count(activity_id, param="activity_id"),
                                                           activity=change))


class Versions:
    """Detached versions of an item: changes staged apart from its main line, under a `key` such as "draft", and
    promoted into it. `collection` and `item` name the item; every change is recorded as an activity by `user`."""

    def __init__(self, store: Store):
        self._api = store

    @property
    def _store(self) -> Any:
        return self._api._store  # settled: see Store._store

    def create(self, collection: str, item: str | int, key: str, *, name: str | None = None,
               user: str | None = None) -> Version:
        """Start version `key` of item `item` of `collection` from its current state, by `user`; `name` is a
        readable name."""
        item = checks.item(item)
        row = self._store.create_version(collection, item, key, name=checks.text(name, param="name"),
                                         activity=checks.by(user, "version-create", collection, item))
        return results.from_dict(Version, row, fields=sorted(row["staged"]), outdated=False, raw=row)

    def save(self, collection: str, item: str | int, key: str, data: dict[str, Any], *,
             user: str | None = None) -> Recorded:
        """Stage `data`, a partial object, into version `key` of item `item` of `collection` (merged onto what it
        holds): a version-save by `user`."""
        from ..errors import UsageError
        from ..jsontext import DATA_EXAMPLE, check_value, type_name

        if not isinstance(data, dict):
            raise UsageError(f"{{data}} must be a JSON object such as {DATA_EXAMPLE}, not {type_name(data)}",
                             params=("data",), value=data)
        check_value(data, param="data")
        item = checks.item(item)
        done = self._store.save_version(collection, item, key, data,
                                        activity=checks.by(user, "version-save", collection, item))
        return Recorded(results.activity(done.activity), done.revision, done.note)

    def list(self, collection: str | None = None, item: str | int | None = None) -> list[Version]:
        """The versions of every item, of one collection's, or of one item's, ordered by collection, item, key."""
        if item is not None and collection is None:
            from ..errors import UsageError

            raise UsageError("{item} goes with {collection}", params=("item", "collection"))
        rows = self._store.list_versions(collection, None if item is None else checks.item(item))
        return [results.from_dict(Version, row, raw=row) for row in rows]

    def compare(self, collection: str, item: str | int, key: str) -> VersionComparison:
        """Version `key` of item `item` of `collection` against main: outdated?, main's state, the staged fields,
        the promoted result, the patch."""
        return results.from_dict(VersionComparison, self._store.compare_version(*checks.names(collection, item), key))

    def promote(self, collection: str, item: str | int, key: str, *, fields: list[str] | None = None,
                force: bool = False, user: str | None = None) -> Recorded:
        """Merge the staged fields (all, or only `fields`) of version `key` of item `item` of `collection` onto
        main, as a promote activity by `user` with its revision. Conflict when main changed since the version was
        made, unless `force`."""
        item = checks.item(item)
        names = checks.values(fields, param="fields") or None
        done = self._store.promote_version(collection, item, key, fields=names, force=bool(force),
                                           activity=checks.by(user, "promote", collection, item))
        return Recorded(results.activity(done.activity), done.revision, done.note)

    def delete(self, collection: str, item: str | int, key: str, *, user: str | None = None) -> Activity:
        """Delete version `key` of item `item` of `collection` and what it staged (main is untouched), by `user`;
        returns the version-delete activity."""
        item = checks.item(item)
        return results.activity(self._store.delete_version(collection, item, key,
                                                           activity=checks.by(user, "version-delete", collection, item)))


class Retention:
    """The retention policy a prune with no limits applies (`store.prune()`, `audit prune` from cron); kept as
    chained records, so that what was in force when is provable."""

    def __init__(self, store: Store):
        self._api = store

    @property
    def _store(self) -> Any:
        return self._api._store  # settled: see Store._store

    def get(self) -> RetentionPolicy | None:
        """The stored policy, or None when none is set."""
        policy = self._store.retention()
        return None if policy is None else results.from_dict(RetentionPolicy, policy)

    def set(self, *, activity: str | None = None, revisions: str | None = None, keep_revisions: int | None = None,
            archive: str | os.PathLike | None = None, user: str | None = None) -> RetentionPolicy:
        """Store the policy, recorded by `user`: keep `activity` for an age (365d, 52w...), `revisions` for an
        age (the activity stays), and always each item's newest `keep_revisions`. At least one is needed.
        `archive`: the file a prune with no limits adds what it removes to (kept as an absolute path)."""
        from .. import jsonl

        if archive is not None:
            archive = os.fspath(archive)
            if isinstance(archive, str) and archive.strip() and archive != "-":
                jsonl.check_writable(archive)  # now, not at the first prune from cron
        policy = self._store.set_retention({"activity": checks.text(activity, param="activity"),
                                            "revisions": checks.text(revisions, param="revisions"),
                                            "keep_revisions": checks.count(keep_revisions, param="keep_revisions"),
                                            "archive": archive},
                                           activity=checks.by(user))
        return results.from_dict(RetentionPolicy, policy)

    def clear(self, *, user: str | None = None) -> None:
        """Remove the stored policy (recorded by `user`); a prune with no limits then does nothing."""
        self._store.clear_retention(activity=checks.by(user))


class Scopes:
    """Per-collection scope: which fields revisions keep, how many per item, and what is tracked at all."""

    def __init__(self, store: Store):
        self._api = store

    @property
    def _store(self) -> Any:
        return self._api._store  # settled: see Store._store

    def get(self, collection: str) -> Scope | None:
        """The scope of `collection`, or None when it has none (everything is tracked)."""
        scope = self._store.scope(collection)
        return None if scope is None else results.from_dict(Scope, scope, collection=collection)

    def list(self) -> list[Scope]:
        """The scope of every collection that has one, by collection."""
        return [results.from_dict(Scope, scope, collection=name) for name, scope in self._store.scopes().items()]

    def set(self, collection: str, *, fields: list[str] | None = None, exclude_fields: list[str] | None = None,
            keep_revisions: int | None = None, track: str = "all", user: str | None = None) -> Scope:
        """Set `collection`'s scope, recorded by `user`; new revisions obey it (old ones on a prune that applies
        scopes). fields: keep only these top-level fields; exclude_fields: keep all but these (not both).
        keep_revisions: each item's newest N, on a prune that applies scopes. track: "all" (activity and
        revisions), "activity" (no revisions) or "none" (nothing is recorded)."""
        scope = self._store.set_scope(
            checks.text(collection, param="collection", optional=False),
            {"fields": checks.values(fields, param="fields") or None,
             "exclude_fields": checks.values(exclude_fields, param="exclude_fields") or None,
             "keep_revisions": checks.count(keep_revisions, param="keep_revisions"), "track": track},
            activity=checks.by(user))
        return results.from_dict(Scope, scope, collection=collection)

    def clear(self, collection: str, *, user: str | None = None) -> None:
        """Remove `collection`'s scope (recorded by `user`): everything is tracked again."""
        self._store.clear_scope(collection, activity=checks.by(user))
