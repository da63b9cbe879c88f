"""Per-collection version scope and the stored retention policy, both kept as chained records."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .. import jsontext, patches, timeparse
from ..errors import NotFound, UsageError
from ..models import Activity

if TYPE_CHECKING:
    from . import AuditStore

TRACK = ("all", "activity", "none")


def check_scope(scope: dict[str, Any]) -> dict[str, Any]:
    if scope.get("fields") and scope.get("exclude_fields"):
        raise UsageError("give {fields} or {exclude_fields}, not both", params=("fields", "exclude_fields"))
    if scope.get("track", "all") not in TRACK:
        raise UsageError(f"invalid {{track}} {scope['track']!r}: use one of {', '.join(TRACK)}", params=("track",),
                         value=scope["track"])
    keep = scope.get("keep_revisions")
    if keep is not None and keep < 1:
        raise UsageError(f"{{keep_revisions}} must be 1 or more (the newest revision is always kept), not {keep}",
                         params=("keep_revisions",), value=keep)
    return scope


def check_retention(policy: dict[str, Any]) -> dict[str, Any]:
    for name in ("activity", "revisions"):
        if policy.get(name) is not None:
            timeparse.check_age(policy[name], param=name)
    keep = policy.get("keep_revisions")
    if keep is not None and keep < 1:
        raise UsageError(f"{{keep_revisions}} must be 1 or more (the newest revision is always kept), not {keep}",
                         params=("keep_revisions",), value=keep)
    archive = policy.get("archive")
    if archive is not None:
        if not isinstance(archive, str) or not archive.strip() or archive == "-":
            raise UsageError("{archive} takes the path of a file that each prune adds what it removes to",
                             params=("archive",), value=archive)
        policy["archive"] = os.path.abspath(os.path.expanduser(archive))
    return policy


def scoped(data: Any, scope: dict[str, Any] | None) -> tuple[Any, list[str]]:
    """The part of a snapshot a scope keeps, and the top-level fields it left out."""
    if not scope or not isinstance(data, dict) or not (scope.get("fields") or scope.get("exclude_fields")):
        return data, []
    if scope.get("fields"):
        keep = set(scope["fields"])
        return {k: v for k, v in data.items() if k in keep}, [k for k in data if k not in keep]
    drop = set(scope["exclude_fields"])
    return {k: v for k, v in data.items() if k not in drop}, [k for k in data if k in drop]


def scoped_change(before: Any, after: Any, scope: dict[str, Any] | None) -> tuple[Any, list, list[str]]:
    """(the new state as the scope keeps it, the delta from the state before, the fields it left out). The delta is
    taken between the two states as this scope keeps them, so that a field that left the scope is not recorded as
    removed by whoever made the next change: only what they changed is theirs. (docs/format.md: a delta turns the
    previous state, as the revision's scope keeps it, into its data.)"""
    kept, dropped = scoped(after, scope)
    return kept, patches.diff(scoped(before, scope)[0], kept), dropped


# The chained records that set the policy: retention for the store, scope per collection. Only the store's own
# (key null): a trail imported from elsewhere brings its source's history of policy, not a policy for this store.
SET_ACTIONS = ("retention-set", "retention-clear", "scope-set", "scope-clear")


def policy_state(records: list[tuple[str, str, Any]], start: dict[str, Any] | None = None) -> dict[str, Any]:
    """{"retention": policy or None, "scopes": {collection: scope}} after these (action, collection, details)
    records in id order, from `start` (a prune record's restated settings)."""
    state = {"retention": (start or {}).get("retention"), "scopes": dict((start or {}).get("scopes") or {})}
    for action, collection, details in records:
        value = details.get("policy") if isinstance(details, dict) else None
        if action == "retention-set" and isinstance(value, dict):
            state["retention"] = value
        elif action == "retention-clear":
            state["retention"] = None
        elif action == "scope-set" and isinstance(value, dict):
            state["scopes"][collection] = value
        elif action == "scope-clear":
            state["scopes"].pop(collection, None)
    return state


_NEWEST = (f"SELECT id, hash FROM activity WHERE id = (SELECT max(id) FROM activity INDEXED BY activity_action "
           f"WHERE action IN ({', '.join('?' * (len(SET_ACTIONS) + 1))}) AND key IS NULL)")


class Policy:
    """Retention and scope live in chained records (SET_ACTIONS, and the settings a prune record restates), never
    in a table no hash covers: what prune removes and what record keeps is decided by what verify can prove.

    Uses of the store: its connection, `_writing()` and `_insert_activity()` (the chained record of a change)."""

    def __init__(self, store: AuditStore):
        self.store = store
        self.conn = store.conn
        # (id, hash) of the newest record that could change the policy, and the policy as JSON text then
        self._cache: tuple[Any, str] | None = None

    def policy(self) -> dict[str, Any]:
        """The store's settings as its chained records make them."""
        # Every record asks (for its collection's scope): the state is kept with the newest record that could
        # change it, by id and hash (an id alone may come back after a rollback), and read again only past it.
        newest = self.conn.execute(_NEWEST, [*SET_ACTIONS, "prune"]).fetchone()
        if self._cache is not None and self._cache[0] == newest:
            return jsontext.loads(self._cache[1])  # a copy: callers may change what they get
        state = self._read_policy()
        self._cache = (newest, jsontext.dumps(state))
        return state

    def _read_policy(self) -> dict[str, Any]:
        start, after = None, 0
        row = self.conn.execute(
            "SELECT id, details FROM activity WHERE id = (SELECT max(id) FROM activity INDEXED BY activity_action "
            "WHERE action = 'prune' AND key IS NULL AND details LIKE '%\"settings\":%')").fetchone()
        if row is not None:
            details = jsontext.loads(row[1]) if row[1] else None
            if isinstance(details, dict) and isinstance(details.get("settings"), dict):
                start, after = details["settings"], row[0]
        records = [(action, collection, jsontext.loads(details) if details else None)
                   for action, collection, details in self.conn.execute(
                       # By action: every local activity's key is null, so SQLite's pick (activity_key, for
                       # "key IS NULL AND id > ?") read every local row; each record asks this (7k/s against 1k/s
                       # on 4,000 rows, and falling with the store's size).
                       f"SELECT action, collection, details FROM activity INDEXED BY activity_action WHERE action IN "
                       f"({', '.join('?' * len(SET_ACTIONS))}) AND key IS NULL AND id > ? ORDER BY id",
                       [*SET_ACTIONS, after])]
        return policy_state(records, start)

    def _set(self, action: str, collection: str, policy: dict[str, Any] | None, activity: Activity | None) -> None:
        record = activity or Activity(action, collection, "*", "")
        record.action, record.collection, record.item = action, collection, "*"
        record.details = {"policy": policy}
        with self.store._writing():
            self.store._insert_activity(record)
            # A row an older release kept outside the chain is replaced by this record.
            legacy = "retention" if action.startswith("retention") else f"scope:{collection}"
            self.conn.execute("DELETE FROM settings WHERE key = ?", [legacy])

    def scope(self, collection: str) -> dict[str, Any] | None:
        return self.policy()["scopes"].get(collection)

    def scopes(self) -> dict[str, dict[str, Any]]:
        return dict(sorted(self.policy()["scopes"].items()))

    def set_scope(self, collection: str, scope: dict[str, Any], *, activity: Activity | None = None) -> dict[str, Any]:
        """Which fields revisions of a collection keep, how many per item, and what is tracked at all; recorded as a
        chained `scope-set` activity on the collection."""
        scope = check_scope({k: v for k, v in scope.items() if v is not None})
        self._set("scope-set", collection, scope, activity)
        return scope

    def clear_scope(self, collection: str, *, activity: Activity | None = None) -> None:
        if self.scope(collection) is None:
            raise NotFound(f"{collection} has no scope: see `audit scope show`")
        self._set("scope-clear", collection, None, activity)

    def retention(self) -> dict[str, Any] | None:
        return self.policy()["retention"]

    def set_retention(self, policy: dict[str, Any], *, activity: Activity | None = None) -> dict[str, Any]:
        """The policy a bare `audit prune` applies: activity and revision ages, revisions kept per item, and the
        archive file what it removes is added to (an absolute path: cron runs elsewhere); recorded as a chained
        `retention-set` activity."""
        policy = check_retention({k: v for k, v in policy.items() if v is not None})
        if not {k: v for k, v in policy.items() if k != "archive"}:
            raise UsageError("give at least one of {activity}, {revisions}, {keep_revisions}",
                             params=("activity", "revisions", "keep_revisions"))
        self._set("retention-set", "*", policy, activity)
        return policy

    def clear_retention(self, *, activity: Activity | None = None) -> None:
        if self.retention() is not None:
            self._set("retention-clear", "*", None, activity)
