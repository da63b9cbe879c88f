"""Revisions: recording item changes, and reading history, snapshots, diffs, reverts and blame."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from .. import jsontext, patches, timeparse
from .policy import scoped_change
from ..errors import Conflict, NotFound, UsageError
from ..models import CREATES, DELETES, Activity, Recorded, Revision
from . import codec
from .recorder import NewRevision
from .snapshots import Snapshots

# The snapshot comes too (base, data) where the delta is packed against it (codec.pack_delta); not for a delta
# stored as text.
_PACKED = "CASE WHEN typeof(r.delta) = 'blob' THEN r.base END, CASE WHEN typeof(r.delta) = 'blob' THEN r.data END"
_MAIN = f"""SELECT r.activity, a.action, a.user, a.timestamp, r.delta, {_PACKED} FROM revisions r
            JOIN activity a ON a.id = r.activity
            WHERE r.collection = ? AND r.item = ? AND r.version IS NULL ORDER BY r.activity"""


def _with_text(snapshots: Snapshots, row: tuple) -> tuple:
    """(activity, action, user, timestamp, delta JSON text) of a row read with _PACKED."""
    *head, delta, base, data = row
    return (*head, delta if isinstance(delta, str) else snapshots.delta(base, data, delta))




class _MainLine:
    """An item's main-line revisions as an indexable sequence of (activity, action, user, timestamp, delta)."""

    _AT = ("SELECT activity FROM revisions WHERE collection = ? AND item = ? AND version IS NULL "
           "ORDER BY activity LIMIT 1 OFFSET ?")
    _ROW = (f"SELECT a.id, a.action, a.user, a.timestamp, r.delta, {_PACKED} FROM revisions r JOIN activity a "
            "ON a.id = r.activity WHERE r.activity = ?")

    def __init__(self, conn: sqlite3.Connection, snapshots: Snapshots, collection: str, item: str):
        self.conn, self.snapshots, self.key = conn, snapshots, (collection, item)
        self.count = conn.execute("SELECT count(*) FROM revisions WHERE collection = ? AND item = ? "
                                  "AND version IS NULL", self.key).fetchone()[0]
        self._cache: dict[int, tuple] = {}

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple:
        if index < 0:
            index += self.count
        if not 0 <= index < self.count:
            raise IndexError(index)
        if index not in self._cache:
            (activity,) = self.conn.execute(self._AT, [*self.key, index]).fetchone()
            self._cache[index] = _with_text(self.snapshots, self.conn.execute(self._ROW, [activity]).fetchone())
        return self._cache[index]

    def last_at(self, moment: str) -> int | None:
        """The index of the newest revision (in recording order) made at or before `moment`."""
        found = self.conn.execute(
            "SELECT max(r.activity) FROM revisions r JOIN activity a ON a.id = r.activity WHERE r.collection = ? "
            "AND r.item = ? AND r.version IS NULL AND a.timestamp <= ?", [*self.key, moment]).fetchone()[0]
        if found is None:
            return None
        return self.conn.execute("SELECT count(*) FROM revisions WHERE collection = ? AND item = ? "
                                 "AND version IS NULL AND activity < ?", [*self.key, found]).fetchone()[0]


@dataclass
class Head:
    """The newest main-line revision of an item."""

    activity: int
    action: str
    base: int | None
    data: Any

    @property
    def deleted(self) -> bool:
        return self.action in DELETES


class RevisionOps:
    conn: sqlite3.Connection
    snapshots: Snapshots

    # packing

    def _base_text(self, base_id: int) -> bytes:
        return self.snapshots.base_text(base_id)  # the name verify (integrity.py) reads bases by

    def _head(self, collection: str, item: str) -> Head | None:
        found = self._recorder.item_head(collection, item)
        return None if found is None else Head(found.activity, found.action, found.base, found.data())

    # recording

    def _record_change(
        self, activity: Activity, *, data: dict | None, replace: bool, patch: list | None,
        scope: dict[str, Any] | None = None,
    ) -> Recorded:
        head = self._head(activity.collection, activity.item)
        live = head is not None and not head.deleted
        action = activity.action
        where = f"{activity.collection} {activity.item}"
        if action == "create":
            if live:
                raise Conflict(f"{where} already exists (created or changed in activity {head.activity}): use update")
            before, after = {}, ({} if data is None else data)
        else:
            if head is None:
                raise NotFound(f"{where} has no recorded state: record a create first")
            if head.deleted:
                raise Conflict(f"{where} was deleted in activity {head.activity}: use `audit revert` to restore it")
            before = head.data
            if action == "delete":
                after = head.data  # a delete keeps the last state, so that a revert can restore it
            elif patch is not None:
                after = patches.apply(before, patch)
            elif data is None:
                after = before
            elif replace:
                after = data
            else:
                if not isinstance(before, dict):
                    raise Conflict(f"{where} is not a JSON object, so {{data}} cannot be merged: use {{replace}}",
                                   params=("data", "replace"))
                after = patches.merge(before, data)
        patches.check_document(after, what=f"the new state of {where}")
        after, delta, dropped = scoped_change(before, after,
                                              scope if scope is not None else self.scope(activity.collection))
        if not delta and action not in ("create", "delete"):
            return Recorded(self._insert_activity(activity, defer=self._deferring),
                            note=f"nothing changed on {where}: no revision recorded")
        saved = self._insert_activity(activity, revision=NewRevision(after, delta, head.base if head else None),
                                      defer=self._deferring)
        return Recorded(saved, Revision(saved["id"], activity.collection, activity.item, after, delta, action,
                                        activity.user, activity.timestamp))

    # reading

    def _main_all(self, collection: str, item: str) -> list[tuple[int, str, str | None, str, str]]:
        """Every main-line revision of an item, oldest first (for history and blame, which need them all)."""
        rows = [_with_text(self.snapshots, row) for row in self.conn.execute(_MAIN, [collection, item])]
        if not rows:
            raise NotFound(f"{collection} {item} has no revisions: check the collection and item (`audit log --item`)")
        return rows

    def _main(self, collection: str, item: str) -> _MainLine:
        """An item's main line, read a revision at a time: one revision of a long history costs one indexed
        query, not the whole history."""
        line = _MainLine(self.conn, self.snapshots, collection, item)
        if not len(line):
            raise NotFound(f"{collection} {item} has no revisions: check the collection and item (`audit log --item`)")
        return line

    def _resolve(self, rows: list, index: int, *, param: str = "rev") -> int:
        count = len(rows)
        resolved = index + count if index < 0 else index
        if not 0 <= resolved < count:
            raise NotFound(f"no revision {index}: {{{param}}} takes 0 to {count - 1}, or -1 to -{count} counting back",
                           params=(param,), value=index)
        return resolved

    def _revision(self, rows: list, index: int, collection: str, item: str) -> Revision:
        activity, action, user, timestamp, delta = rows[index]
        base, data = self.conn.execute("SELECT base, data FROM revisions WHERE activity = ?", [activity]).fetchone()
        return Revision(activity, collection, item, self.snapshots.data(base, data), jsontext.loads(delta), action, user,
                        timestamp, index)

    def history(self, collection: str, item: str) -> list[dict[str, Any]]:
        """The item's revisions, oldest first, with what each changed."""
        rows = self._main_all(collection, item)
        # A delete changes the whole item (the root, ""): its stored delta is empty, as it keeps the last state.
        return [
            {"index": n, "activity": activity, "action": action, "user": user, "timestamp": timestamp,
             "changed": [""] if action in DELETES else patches.changed_paths(jsontext.loads(delta))}
            for n, (activity, action, user, timestamp, delta) in enumerate(rows)
        ]

    def revision(self, collection: str, item: str, index: int) -> Revision:
        rows = self._main(collection, item)
        return self._revision(rows, self._resolve(rows, index), collection, item)

    def revision_of(self, activity_id: int) -> Revision | None:
        """The revision an activity made, if any (main line or version)."""
        row = self.conn.execute(
            "SELECT collection, item, version, base, data, delta FROM revisions WHERE activity = ?", [activity_id]
        ).fetchone()
        if row is None:
            return None
        collection, item, version, base, data, delta = row
        text = self.snapshots.text(base, data)
        return Revision(activity_id, collection, item, jsontext.loads(text),
                        jsontext.loads(codec.delta_text(delta, text)),
                        version=version)

    def snapshot(self, collection: str, item: str, *, rev: int | None = None, at: str | None = None) -> Any:
        """The item's state at revision `rev` (default: now) or at the moment `at`."""
        rows = self._main(collection, item)
        where = f"{collection} {item}"
        if at is not None:
            index = rows.last_at(at)
            if index is None:
                raise NotFound(self._before_kept(rows, collection, item, at))
        else:
            index = self._resolve(rows, -1 if rev is None else rev)
        if rows[index][1] in DELETES:
            raise Conflict(
                f"{where} was deleted at revision {index} (activity {rows[index][0]}): the delete keeps the state it "
                f"removed, which `audit diff --activity {rows[index][0]}` shows and `audit revert --to {index}` "
                "restores"
            )
        return self._revision(rows, index, collection, item).data

    def _before_kept(self, rows: _MainLine, collection: str, item: str, at: str) -> str:
        """Why there is no state of an item at `at`, before its first kept revision: it did not exist yet, or what
        came before was pruned (its first kept revision is no create, or a prune removed activity from then)."""
        where, (first_action, first_time) = f"{collection} {item}", rows[0][1:4:2]
        cutoff = self._pruned_after(collection, at)
        if first_action not in CREATES or cutoff is not None:
            by = f" (a prune removed its activity older than {cutoff})" if cutoff is not None else ""
            return (f"the history of {where} before {first_time} was pruned{by}: no state of it at {at} is kept; "
                    f"its first kept revision ({first_action}) is at {first_time}")
        return f"{where} did not exist yet at {at}: its first revision is at {first_time}"

    def _pruned_after(self, collection: str, moment: str) -> str | None:
        """The latest cutoff past `moment` of the prunes by age of this collection (or of all), if any: what was
        recorded at `moment` may have been removed."""
        latest = None
        for (details,) in self.conn.execute("SELECT details FROM activity INDEXED BY activity_action "
                                            "WHERE action = 'prune' AND details IS NOT NULL"):
            policy = (jsontext.loads(details) or {}).get("policy")
            if not isinstance(policy, dict) or policy.get("collection") not in (None, collection):
                continue
            before = policy.get("activity_before")
            if isinstance(before, str) and before > moment and (latest is None or before > latest):
                latest = before
        return latest

    def diff(self, collection: str, item: str, *, start: int | None = None, end: int | None = None) -> dict[str, Any]:
        """The patch that turns revision `start` into revision `end` (default: the last change)."""
        rows = self._main(collection, item)
        to = self._resolve(rows, -1 if end is None else end, param="end")
        if start is not None:
            frm = self._resolve(rows, start, param="start")
        else:  # the last change: a create's is from nothing, even after an earlier delete
            frm = -1 if rows[to][1] in CREATES else to - 1
        # After a delete the item is not there: its state is nothing ({}), although the revision keeps the state it
        # removed (for revert). So --from a delete reads as a create's last change does, and --to one removes all.
        before = self._revision(rows, frm, collection, item).data if frm >= 0 and rows[frm][1] not in DELETES else {}
        after = self._revision(rows, to, collection, item).data if rows[to][1] not in DELETES else {}
        return {"collection": collection, "item": item, "from": frm if frm >= 0 else None, "to": to,
                "before": before, "after": after, "patch": patches.diff(before, after)}

    def diff_activity(self, activity_id: int) -> dict[str, Any]:
        """The change one activity made: its stored delta, with the state before and after it."""
        revision = self.revision_of(activity_id)
        if revision is None:
            self.get_activity(activity_id)  # NotFound when there is no such activity at all
            raise NotFound(f"activity {activity_id} changed no data (it has no revision): pick a create or update")
        action = self.conn.execute("SELECT action FROM activity WHERE id = ?", [activity_id]).fetchone()[0]
        if action in DELETES:  # it removed the whole item, whose last state it keeps
            return {"collection": revision.collection, "item": revision.item, "activity": activity_id,
                    "version": revision.version, "before": revision.data, "after": {},
                    "patch": patches.diff(revision.data, {})}
        row = None if action in CREATES else self.conn.execute(
            "SELECT base, data FROM revisions WHERE collection = ? AND item = ? AND version IS ? AND activity < ? "
            "ORDER BY activity DESC LIMIT 1",
            [revision.collection, revision.item, revision.version, activity_id],
        ).fetchone()
        before = self.snapshots.data(*row) if row else {}
        return {"collection": revision.collection, "item": revision.item, "activity": activity_id,
                "version": revision.version, "before": before, "after": revision.data, "patch": revision.delta}

    def revert(
        self, collection: str, item: str, *, to: int, activity: Activity | None = None, dry_run: bool = False
    ) -> Recorded | dict[str, Any]:
        """Make revision `to` the current state again, recorded as a `revert`; restores deleted items."""
        with self._writing():
            rows = self._main(collection, item)
            index = self._resolve(rows, to, param="to")
            where = f"{collection} {item}"
            # A delete's revision keeps the state it removed: reverting to it brings that state back, which after a
            # prune may be the only state of the item still kept.
            target = self._revision(rows, index, collection, item)
            head = self._head(collection, item)
            assert head is not None
            patches.check_document(target.data, what=f"revision {index} of {where}")
            restored, delta, dropped = scoped_change(head.data, target.data, self.scope(collection))
            if not head.deleted and not delta:
                raise Conflict(f"{where} is already as it was at revision {index}: nothing to revert")
            note = (f"{', '.join(dropped)} {'is' if len(dropped) == 1 else 'are'} out of {collection}'s scope "
                    f"and {'was' if len(dropped) == 1 else 'were'} not restored") if dropped else None
            if dry_run:
                return {"collection": collection, "item": item, "to": index, "restores": head.deleted,
                        "patch": delta, "after": restored, "note": note}
            activity = activity or Activity("revert", collection, item, "")
            activity.action, activity.collection, activity.item = "revert", collection, item
            details = dict(activity.details or {})
            details["reverted_to"] = {"index": index, "activity": target.activity}
            if head.deleted:
                details["restored"] = True
            activity.details = details
            if dropped:
                details["out_of_scope"] = dropped
            saved = self._insert_activity(activity, revision=NewRevision(restored, delta, head.base))
            return Recorded(saved, Revision(saved["id"], collection, item, restored, delta, "revert",
                                            activity.user, activity.timestamp), note)

    def blame(self, collection: str, item: str) -> list[dict[str, Any]]:
        """For each field of the current state, the activity that last changed it."""
        rows = self._main_all(collection, item)
        current = self._revision(rows, len(rows) - 1, collection, item)
        if current.action in DELETES:
            raise Conflict(f"{collection} {item} is deleted (activity {current.activity}): blame shows live items")
        history = [({"activity": a, "action": act, "user": u, "timestamp": ts}, jsontext.loads(d))
                   for a, act, u, ts, d in rows]
        found = patches.blame(current.data, history)
        out = []
        for path, revision in found.items():
            value = patches.resolve(current.data, path)
            out.append({"path": path or "/", **(revision or {"activity": None, "action": None, "user": None,
                                                              "timestamp": None}), "value": value})
        return out

    # comments

    def add_comment(self, activity: Activity) -> dict[str, Any]:
        activity.action = "comment"
        if not activity.comment or not activity.comment.strip():
            raise UsageError("a comment needs text: audit comment add COLLECTION ITEM TEXT")
        with self._writing():
            return self._insert_activity(activity)

    def _change_comment(self, activity_id: int, after: dict[str, Any], action: str,
                        activity: Activity | None) -> dict[str, Any]:
        """Change a comment's state, chained as a comment-edit or comment-delete record holding before and after,
        so that the original text stays provable and verify tells the change from tampering."""
        with self._writing():
            record = self._comment(activity_id)
            before = {name: record[name] for name in ("comment", "edited_on", "comment_deleted_on")}
            after = {**before, **{k: v for k, v in after.items() if k in before}}
            change = activity or Activity(action, "", "", "")
            change.action, change.collection, change.item = action, record["collection"], record["item"]
            record["key"] = self.conn.execute("SELECT key FROM activity WHERE id = ?", [activity_id]).fetchone()[0]
            change.details = {"comment": self._effective_key(record), "before": before, "after": after}
            change.timestamp = change.timestamp or after.get("edited_on") or after.get("comment_deleted_on") or ""
            self._insert_activity(change)
            self.conn.execute("UPDATE activity SET comment = ?, edited_on = ?, comment_deleted_on = ? WHERE id = ?",
                              [after["comment"], after["edited_on"], after["comment_deleted_on"], activity_id])
            return self.get_activity(activity_id)

    def _comment(self, activity_id: int) -> dict[str, Any]:
        record = self.get_activity(activity_id)
        if record["action"] != "comment":
            raise UsageError(f"activity {activity_id} is a {record['action']}, not a comment: only comments can change")
        if record["comment_deleted_on"]:
            raise Conflict(f"comment {activity_id} was deleted on {record['comment_deleted_on']}")
        return record

    def edit_comment(self, activity_id: int, text: str, *, activity: Activity | None = None) -> dict[str, Any]:
        """Change a comment's text (edited_on records when); chained as a comment-edit record."""
        if not text.strip():
            raise UsageError("a comment needs text: to remove it, use `audit comment delete ID`")
        now = (activity.timestamp if activity and activity.timestamp else "") or timeparse.format_ts(timeparse.utcnow())
        return self._change_comment(activity_id, {"comment": text, "edited_on": now}, "comment-edit", activity)

    def delete_comment(self, activity_id: int, *, activity: Activity | None = None) -> dict[str, Any]:
        """Soft-delete a comment (comment_deleted_on records when); chained as a comment-delete record."""
        now = (activity.timestamp if activity and activity.timestamp else "") or timeparse.format_ts(timeparse.utcnow())
        return self._change_comment(activity_id, {"comment_deleted_on": now}, "comment-delete", activity)


