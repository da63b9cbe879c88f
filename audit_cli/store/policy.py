"""Per-collection version scope and the stored retention policy (both kept in the store's settings)."""

from __future__ import annotations

import sqlite3
from typing import Any

from .. import jsontext, timeparse
from ..errors import NotFound, UsageError

TRACK = ("all", "activity", "none")


def check_scope(scope: dict[str, Any]) -> dict[str, Any]:
    if scope.get("fields") and scope.get("exclude_fields"):
        raise UsageError("give --fields or --exclude-fields, not both")
    if scope.get("track", "all") not in TRACK:
        raise UsageError(f"invalid --track {scope['track']!r}: use one of {', '.join(TRACK)}")
    keep = scope.get("keep_revisions")
    if keep is not None and keep < 1:
        raise UsageError(f"--keep-revisions must be 1 or more (the newest revision is always kept), not {keep}")
    return scope


def check_retention(policy: dict[str, Any]) -> dict[str, Any]:
    for name in ("activity", "revisions"):
        if policy.get(name) is not None:
            timeparse.check_age(policy[name], flag=f"--{name}")
    keep = policy.get("keep_revisions")
    if keep is not None and keep < 1:
        raise UsageError(f"--keep-revisions must be 1 or more (the newest revision is always kept), not {keep}")
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


class PolicyOps:
    conn: sqlite3.Connection

    def _get(self, name: str) -> Any:
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", [name]).fetchone()
        return jsontext.loads(row[0]) if row else None

    def _put(self, name: str, value: Any) -> None:
        with self._writing():
            if value is None:
                self.conn.execute("DELETE FROM settings WHERE key = ?", [name])
            else:
                self.conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
                                  [name, jsontext.dumps(value)])

    def scope(self, collection: str) -> dict[str, Any] | None:
        return self._get(f"scope:{collection}")

    def scopes(self) -> dict[str, dict[str, Any]]:
        rows = self.conn.execute("SELECT key, value FROM settings WHERE key LIKE 'scope:%' ORDER BY key")
        return {key[len("scope:"):]: jsontext.loads(value) for key, value in rows}

    def set_scope(self, collection: str, scope: dict[str, Any]) -> dict[str, Any]:
        """Which fields revisions of a collection keep, how many per item, and what is tracked at all."""
        scope = check_scope({k: v for k, v in scope.items() if v is not None})
        self._put(f"scope:{collection}", scope)
        return scope

    def clear_scope(self, collection: str) -> None:
        if self.scope(collection) is None:
            raise NotFound(f"{collection} has no scope: see `audit scope show`")
        self._put(f"scope:{collection}", None)

    def retention(self) -> dict[str, Any] | None:
        return self._get("retention")

    def set_retention(self, policy: dict[str, Any]) -> dict[str, Any]:
        """The policy a bare `audit prune` applies: activity and revision ages, revisions kept per item."""
        policy = check_retention({k: v for k, v in policy.items() if v is not None})
        if not policy:
            raise UsageError("give at least one of --activity, --revisions, --keep-revisions")
        self._put("retention", policy)
        return policy

    def clear_retention(self) -> None:
        self._put("retention", None)
