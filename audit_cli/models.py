"""Plain records passed between the core and the CLI."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SCHEMA = "audit/1"

# Columns of an activity, in display order. `details` is JSON; the rest are text or null (id is an integer).
ACTIVITY_FIELDS = (
    "id",
    "action",
    "user",
    "timestamp",
    "ip",
    "user_agent",
    "origin",
    "collection",
    "item",
    "comment",
    "details",
    "edited_on",
    "comment_deleted_on",
)
TIME_FIELDS = ("timestamp", "edited_on", "comment_deleted_on")
TEXT_SEARCH_FIELDS = ("action", "user", "ip", "user_agent", "origin", "collection", "item", "comment", "details")
DEFAULT_LIST_FIELDS = ("id", "timestamp", "action", "user", "collection", "item", "comment")

# What the store reads as an item's creation and deletion: ours, and Strapi's as its trails name them.
CREATES = ("create", "entry.create")
DELETES = ("delete", "entry.delete")
# Actions that change an item's data and so record a revision.
DATA_ACTIONS = ("create", "update", "delete", "soft-delete", "revert", "promote")
# Actions a trail line may carry a revision on: the data actions, a version's save (Directus names it version_save),
# and Strapi's entry events as its trails name them (an import refuses a revision on any other, as `record` refuses
# --data).
REVISION_ACTIONS = DATA_ACTIONS + ("version-save", "version_save", "entry.create", "entry.update", "entry.delete")
WELL_KNOWN_ACTIONS = DATA_ACTIONS + (
    "comment",
    "version-save",
    "login",
    "logout",
    "invalid-credentials",
    "upload",
    "publish",
    "unpublish",
    "status-update",
    "prune",
)
# Chained records of a comment's edits and soft deletes (store/integrity.py); not listed unless asked for.
COMMENT_CHANGES = ("comment-edit", "comment-delete")
ACTION_PATTERN = re.compile(r"[a-z][a-z0-9._-]*")


@dataclass
class Activity:
    """One thing that happened. Read-only once written, but for comment edits and soft deletes."""

    action: str
    collection: str
    item: str
    timestamp: str
    user: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    origin: str | None = None
    comment: str | None = None
    details: Any = None
    edited_on: str | None = None
    comment_deleted_on: str | None = None
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ACTIVITY_FIELDS}


@dataclass
class Revision:
    """An item's state after one activity: the full snapshot and the RFC 6902 patch from the one before."""

    activity: int
    collection: str
    item: str
    data: Any
    delta: list[dict[str, Any]]
    action: str = ""
    user: str | None = None
    timestamp: str = ""
    index: int = 0
    version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"data": self.data, "delta": self.delta}


@dataclass
class LogQuery:
    """What `audit log`, `stats` and `export` select. Values are already validated and normalized."""

    actions: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    collections: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    since: str | None = None
    until: str | None = None
    search: str | None = None
    filter: dict[str, Any] | None = None
    field_path: str | None = None
    include_deleted: bool = False
    comment_changes: bool = False
    sort: list[str] = field(default_factory=lambda: ["-timestamp"])
    limit: int | None = 100
    offset: int = 0
    after_id: int | None = None
    max_id: int | None = None


@dataclass
class Page:
    """A page of activities, with counts when asked for (`--meta`)."""

    rows: list[dict[str, Any]]
    total_count: int | None = None
    filter_count: int | None = None  # also given, without --meta, when more rows match than the page holds
    more: bool = False  # rows match past the page's end (its limit)


@dataclass
class Recorded:
    """What a write did: the new activity, its revision if one was kept, and a note for the user if any."""

    activity: dict[str, Any]
    revision: Revision | None = None
    note: str | None = None
