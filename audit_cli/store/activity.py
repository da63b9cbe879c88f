"""What a record request must be, checked before anything is opened or written (AuditStore.record records it), so
that the API and the CLI refuse the same things."""

from __future__ import annotations

from typing import Any

from .. import jsontext, timeparse
from ..errors import UsageError
from ..models import ACTION_PATTERN, DATA_ACTIONS, Activity

# Recorded only through their own commands, which know what to write.
_OWN_COMMAND = {"revert": "audit revert", "promote": "audit version promote", "version-save": "audit version save",
                "prune": "audit prune"}


def check_action(action: str) -> str:
    if not isinstance(action, str) or not ACTION_PATTERN.fullmatch(action):
        raise UsageError(
            f"invalid action {action!r}: use a lowercase slug ([a-z][a-z0-9._-]*), such as update or entry.update",
            params=("action",), value=action)
    return action


def check_request(activity: Activity, *, data: Any = None, patch: Any = None, replace: bool = False) -> None:
    """Refuse a record request that can never succeed, before anything is opened or written; normalise its time
    (a datetime or any text `timeparse` reads) to the stored form."""
    check_action(activity.action)
    for name in ("collection", "item"):
        if not isinstance(getattr(activity, name), str):
            raise UsageError(f"{{{name}}} must be text, not {type(getattr(activity, name)).__name__}",
                             params=(name,), value=getattr(activity, name))
    if activity.action in _OWN_COMMAND:
        raise UsageError(f"{activity.action} activities are recorded by `{_OWN_COMMAND[activity.action]}`",
                         params=("action",), value=activity.action)
    if data is not None and patch is not None:
        raise UsageError("give {data} or {patch}, not both", params=("data", "patch"))
    if replace and data is None:
        raise UsageError("{replace} goes with {data} (the whole new state)", params=("replace", "data"))
    if activity.action not in DATA_ACTIONS and (data is not None or patch is not None):
        raise UsageError(
            f"{{data}} and {{patch}} go with the data actions ({', '.join(DATA_ACTIONS[:4])}); "
            "put other context in {details}", params=("data", "patch", "details"))
    if data is not None and not isinstance(data, dict):
        raise UsageError(f"{{data}} must be a JSON object such as {jsontext.DATA_EXAMPLE}, not "
                         f"{jsontext.type_name(data)}", params=("data",), value=data)
    if data is not None:
        jsontext.check_value(data, param="data")
    if activity.action == "comment" and not activity.comment:
        raise UsageError("a comment activity needs its text: {comment} TEXT (or use `audit comment add`)",
                         params=("comment",))
    if activity.action in ("create", "delete") and patch is not None:
        raise UsageError(f"{{patch}} goes with update and soft-delete, not {activity.action}", params=("patch",))
    if activity.action == "delete" and data is not None:
        raise UsageError("{data} goes with create, update and soft-delete, not delete: a delete keeps the item's "
                         "last state as it is (record an update first to change it)", params=("data",))
    if patch is not None:
        from ..patches import check_patch

        check_patch(patch)
    if activity.details is not None:
        jsontext.check_value(activity.details, param="details")
    activity.timestamp = timeparse.instant(activity.timestamp) if activity.timestamp else ""
