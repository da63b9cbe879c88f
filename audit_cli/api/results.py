"""What the library returns: typed, read-only records. `to_dict()` gives each as the plain dict that the CLI's JSON
output shows (for records whose members vary, such as a verify report, the dict the store made, member for member).

Activities and revisions are `audit_cli.models.Activity` and `Revision`, the records the store itself uses.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..models import ACTIVITY_FIELDS, Activity, Revision

__all__ = ["Anchor", "BlameEntry", "Change", "Count", "Exported", "HistoryEntry", "Imported", "Pruned", "Recorded",
           "Retention", "RevertPlan", "Scope", "StoreInfo", "Verification", "Version", "VersionComparison"]


class _Record:
    def to_dict(self) -> dict[str, Any]:
        raw = getattr(self, "raw", None)
        if raw is not None:
            return dict(raw)
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "raw"}  # type: ignore


def activity(row: dict[str, Any]) -> Activity:
    """An activity from the store's dict of its columns (other members, such as a listing's delta, left out)."""
    return Activity(**{name: row[name] for name in ACTIVITY_FIELDS if name in row})


@dataclass(frozen=True)
class Recorded(_Record):
    """What a write did: the new activity (its `id` None when the collection's scope tracks nothing, so nothing was
    kept), the item's new revision when one was kept, and a note saying why not, if so."""

    activity: Activity
    revision: Revision | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**self.activity.to_dict(), "revision": self.revision.to_dict() if self.revision else None}


@dataclass(frozen=True)
class HistoryEntry(_Record):
    """One revision of an item: its index (0 is the oldest), the activity that made it, and the JSON Pointers it
    changed ("" is the whole item)."""

    index: int
    activity: int
    action: str
    user: str | None
    timestamp: str
    changed: list[str]


@dataclass(frozen=True)
class Change(_Record):
    """A change to an item: the RFC 6902 `patch` that turns `before` into `after`. Between revisions, `start` and
    `end` are their indexes (`start` None: from nothing); for one activity's change, `activity` is its id and
    `version` the version it was saved into, if any."""

    collection: str
    item: str
    before: Any
    after: Any
    patch: list[dict[str, Any]]
    start: int | None = None
    end: int | None = None
    activity: int | None = None
    version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.activity is not None:
            return {"collection": self.collection, "item": self.item, "activity": self.activity,
                    "version": self.version, "before": self.before, "after": self.after, "patch": self.patch}
        return {"collection": self.collection, "item": self.item, "from": self.start, "to": self.end,
                "before": self.before, "after": self.after, "patch": self.patch}


@dataclass(frozen=True)
class BlameEntry(_Record):
    """A field of an item's current state (`path`, a JSON Pointer; "/" for a whole non-object state), its value, and
    the activity that last changed it (None for each when no kept revision did)."""

    path: str
    activity: int | None
    action: str | None
    user: str | None
    timestamp: str | None
    value: Any


@dataclass(frozen=True)
class RevertPlan(_Record):
    """What a revert would do, written nowhere: the revision index it goes back to, whether it restores a deleted
    item, the patch from the current state, the state after, and a note (fields out of the collection's scope)."""

    collection: str
    item: str
    to: int
    restores: bool
    patch: list[dict[str, Any]]
    after: Any
    note: str | None = None


@dataclass(frozen=True)
class Version(_Record):
    """A detached version of an item: its `key`, readable `name`, the fields it stages, whether main changed since
    it was made (`outdated`), and who made it when."""

    collection: str
    item: str
    key: str
    name: str | None
    fields: list[str]
    outdated: bool
    created_at: str
    created_by: str | None
    base_activity: int | None = None
    id: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class VersionComparison(_Record):
    """A version against main: main's state, the staged fields, the state promoting them gives, the patch between."""

    collection: str
    item: str
    key: str
    outdated: bool
    main: Any
    staged: dict[str, Any]
    result: Any
    patch: list[dict[str, Any]]


@dataclass(frozen=True)
class Count(_Record):
    """One group of `Store.stats`: the value counted by (a tuple (collection, item) when by item) and its count."""

    by: str
    group: Any
    count: int

    def to_dict(self) -> dict[str, Any]:
        if self.by == "item":
            return {"collection": self.group[0], "item": self.group[1], "count": self.count}
        return {self.by: self.group, "count": self.count}


@dataclass(frozen=True)
class Exported(_Record):
    """What an export wrote: how many activities, and the id of the last (None when none); `cursor` is the id the
    cursor file now holds, when one was given; `unsealed`, that its trailer could not be sealed (no key given)."""

    count: int
    last_id: int | None
    cursor: int | None = None
    unsealed: bool = False  # a keyed store's trailer, sealed without the key (none was given)


@dataclass(frozen=True)
class Imported(_Record):
    """What an import did: activities added, ones already here (skipped by key), ones this store pruned before
    (not imported again: store/seen.py), invalid lines skipped (with why, when `skip_invalid`), and notes about
    the source."""

    added: int
    duplicates: int = 0
    pruned: int = 0
    skipped: int = 0
    skipped_lines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Retention(_Record):
    """The stored retention policy: keep activity for `activity` (an age such as 365d), revisions for `revisions`,
    and always each item's newest `keep_revisions`; `archive`, the file a prune with no limits adds what it removes
    to."""

    activity: str | None = None
    revisions: str | None = None
    keep_revisions: int | None = None
    archive: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {name: value for name, value in super().to_dict().items() if value is not None}


@dataclass(frozen=True)
class Scope(_Record):
    """What a collection's revisions keep: only `fields`, or all but `exclude_fields`; each item's newest
    `keep_revisions` (on a prune that applies scopes); and what is tracked at all (all, activity or none)."""

    collection: str
    fields: list[str] | None = None
    exclude_fields: list[str] | None = None
    keep_revisions: int | None = None
    track: str = "all"


@dataclass(frozen=True)
class Pruned(_Record):
    """What a prune removed (or, dry, would remove): activities, revisions, revisions rewritten to their scope, per
    collection and action in `removed`; `bytes_freed` after a vacuum; `archive`, the file they were added to.
    `raw` is the store's summary."""

    activities: int
    revisions: int
    rewritten: int
    removed: list[dict[str, Any]]
    note: str | None
    dry_run: bool
    bytes_freed: int | None = None
    archive: str | None = None  # the file what went was added to, when something went
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Verification(_Record):
    """A chain check: `ok`, how many activities (or lines) were checked, the head, and the first `failure` (its
    kind, id and message) when not ok; `partial` says why a trail that checks out cannot prove completeness. `raw`
    is the whole report."""

    ok: bool
    checked: int
    head_id: int | None
    head: str | None
    failure: dict[str, Any] | None = None
    partial: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Anchor(_Record):
    """A checkpoint to keep elsewhere (audit-anchor/1): the store, its count, head id and hash, when, and a
    signature when signed. `to_dict()` is the anchor document, what `Store.verify(anchor=...)` takes back."""

    store: str
    count: int
    head_id: int
    head_hash: str
    created_at: str
    keyed: bool
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class StoreInfo(_Record):
    """The store: its path, size in bytes, schema version and counts, first and last activity, chain head."""

    path: str
    size_bytes: int
    schema_version: int
    activities: int
    revisions: int
    items: int
    versions: int
    first_activity: str | None
    last_activity: str | None
    last_id: int | None
    store_id: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def from_dict(kind: type, values: dict[str, Any], **extra: Any) -> Any:
    """A record of `kind` from a store dict that may hold more members than the record names."""
    names = {f.name for f in dataclasses.fields(kind)}
    return kind(**{k: v for k, v in {**values, **extra}.items() if k in names})
