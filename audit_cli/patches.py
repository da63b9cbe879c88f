"""JSON Patch (RFC 6902) deltas, snapshots, merges and blame: pure functions over JSON values.

`diff` is a direct structural walk rather than `jsonpatch.make_patch`: it is exact, about 10x cheaper on the write
path (PERF-NOTES), and the property tests check it against jsonpatch's own `apply_patch`. Objects are walked key by
key; arrays element by element between their common head and tail, with adds or removes for a change of length, so
that editing one paragraph of a long body stores that paragraph, not the whole array. Applying uses a fast in-place
path for add/remove/replace and hands every other operation to jsonpatch.

Documents nest at most MAX_DEPTH levels (orjson's own limit): deeper ones are refused where they come in, so that
everything here, recursive as it is, works on every document the store holds.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import orjson

from . import jsontext
from .errors import Conflict, UsageError

Patch = list[dict[str, Any]]
MAX_DEPTH = 255
_OPS = {"add": ("path", "value"), "remove": ("path",), "replace": ("path", "value"),
        "move": ("from", "path"), "copy": ("from", "path"), "test": ("path", "value")}


def escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def pointer(*keys: str) -> str:
    return "".join("/" + escape(str(key)) for key in keys)


def split_pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise UsageError(f"invalid JSON Pointer {path!r}: it must be empty or start with /")
    if "~" not in path:  # nothing escaped, as in nearly every path: a fifth of applying an import's deltas
        return path[1:].split("/")
    return [unescape(token) for token in path[1:].split("/")]


def resolve(doc: Any, path: str) -> Any:
    """The value at a JSON Pointer; KeyError, IndexError or ValueError when there is none."""
    for key in split_pointer(path):
        doc = doc[_list_index(doc, key)] if isinstance(doc, list) else doc[key]
    return doc


def same(a: Any, b: Any) -> bool:
    """JSON equality: unlike Python's ==, true is not 1 and 1 is not 1.0.

    Arrays and objects are compared in C first: what == finds unequal is not the same, and what has the same
    sorted-keys JSON text is; only the rest (1 against 1.0 inside, -0.0, integers past 64 bits) is walked here.
    Walking every unchanged member in Python was a third of preparing a full-state line (bench_fullstate.py)."""
    kind = type(a)
    if kind is not type(b):
        return False
    if kind is dict or kind is list:
        if a != b:
            return False
        try:
            # The same text is the same value; members in the same order (two states of one item, nearly always)
            # need no sorting to show it, which costs 40% more (orders of 560 B).
            if orjson.dumps(a) == orjson.dumps(b) or \
                    orjson.dumps(a, option=orjson.OPT_SORT_KEYS) == orjson.dumps(b, option=orjson.OPT_SORT_KEYS):
                return True
        except TypeError:
            pass
        return _same_walk(a, b)
    return a == b


def _same_walk(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        if a.keys() != b.keys():
            return False
        for key in a:  # loops, not all(...): one stack frame a level, not two
            if not _same_walk(a[key], b[key]):
                return False
        return True
    if type(a) is list:
        if len(a) != len(b):
            return False
        for x, y in zip(a, b):
            if not _same_walk(x, y):
                return False
        return True
    return a == b


def same_within_scope(applied: Any, data: Any, delta: Patch) -> bool:
    """Whether `data` is `applied` (the previous state with the delta applied) as a version scope keeps it: the
    same but for top-level fields the delta does not touch and `data` leaves out, which left the item's scope
    (store/policy.py scoped_change)."""
    if type(applied) is not dict or type(data) is not dict:
        return same(applied, data)
    touched = {unescape(op["path"][1:].split("/")[0]) for op in delta if op.get("path", "").startswith("/")}
    if any(op.get("path") == "" for op in delta):
        return same(applied, data)
    return all(key in applied for key in data) and all(
        same(applied[key], data[key]) if key in data else key not in touched for key in applied)


def depth(value: Any) -> int:
    """How many levels of arrays and objects `value` nests (0 for a scalar); without recursion, so any depth."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        children = node.values() if type(node) is dict else node if type(node) is list else None
        if children is not None:
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in children if type(child) in (dict, list))
    return deepest


def check_depth(value: Any, *, what: str) -> None:
    """Refuse a document nested deeper than MAX_DEPTH. Cheap for the documents that matter: orjson, which writes
    at most that depth, is tried first."""
    try:
        orjson.dumps(value)
        return
    except TypeError:  # too deep, or an integer past 64 bits: count
        pass
    levels = depth(value)
    if levels > MAX_DEPTH:
        raise UsageError(f"{what} is nested too deeply ({levels} levels): revisions keep at most {MAX_DEPTH}")


def check_document(value: Any, *, what: str) -> None:
    """Refuse what cannot be an item's state: documents are always JSON objects (so that --data merges onto them,
    scopes pick their fields, and blame names them), nested at most MAX_DEPTH levels."""
    if type(value) is not dict:
        raise UsageError(f"{what} would be {jsontext.type_name(value)}: an item's state is always a JSON object")
    check_depth(value, what=what)


def copied(value: Any) -> Any:
    """A deep copy of a JSON value: through orjson (ten times faster than copy.deepcopy, and no Python recursion),
    or copy.deepcopy for what orjson cannot write (integers past 64 bits)."""
    if type(value) not in (dict, list):
        return value
    try:
        return orjson.loads(orjson.dumps(value))
    except (TypeError, orjson.JSONDecodeError):
        return copy.deepcopy(value)


def diff(before: Any, after: Any) -> Patch:
    """An RFC 6902 patch that turns `before` into `after` (empty when they are the same).

    Its values are `after`'s own, not copies: the patch is serialized or applied (which copies), never changed."""
    ops: Patch = []
    _diff(before, after, "", ops)
    return ops


def _diff(before: Any, after: Any, path: str, ops: Patch) -> None:
    if type(before) is dict and type(after) is dict:
        for key in before:
            if key not in after:
                ops.append({"op": "remove", "path": f"{path}/{escape(key)}"})
        for key, value in after.items():
            if key not in before:
                ops.append({"op": "add", "path": f"{path}/{escape(key)}", "value": value})
            elif not same(before[key], value):
                _diff(before[key], value, f"{path}/{escape(key)}", ops)
    elif type(before) is list and type(after) is list and before and after:
        _diff_list(before, after, path, ops)
    elif not same(before, after):
        ops.append({"op": "replace", "path": path, "value": after})


def _diff_list(before: list, after: list, path: str, ops: Patch) -> None:
    """Element by element between the common head and tail; the rest added or removed. No LCS: edits, appends and
    single inserts or removals (what documents see) come out small, and a reshuffle becomes one replace."""
    head, end_b, end_a = 0, len(before), len(after)
    while head < end_b and head < end_a and same(before[head], after[head]):
        head += 1
    while end_b > head and end_a > head and same(before[end_b - 1], after[end_a - 1]):
        end_b -= 1
        end_a -= 1
    paired = min(end_b, end_a) - head
    mine: Patch = []
    for i in range(head, head + paired):
        _diff(before[i], after[i], f"{path}/{i}", mine)
    for i in range(head + paired, end_a):
        mine.append({"op": "add", "path": f"{path}/{i}", "value": after[i]})
    mine.extend({"op": "remove", "path": f"{path}/{head + paired}"} for _ in range(end_b - head - paired))
    if len(mine) > 1 and len(mine) >= len(after):  # most of it changed: the new array is shorter than the edits
        ops.append({"op": "replace", "path": path, "value": after})
    else:
        ops.extend(mine)


def check_patch(patch: Any, *, what: str = "patch") -> Patch:
    """Refuse anything that is not an RFC 6902 operation list, with the reason. `what` is the argument it came as."""
    def bad(message: str) -> UsageError:
        return UsageError("{" + what + "}" + message, params=(what,))

    if not isinstance(patch, list):
        raise bad(' must be a JSON array of operations, such as [{"op": "replace", "path": "/title", "value": "New"}]')
    for n, op in enumerate(patch):
        if not isinstance(op, dict) or op.get("op") not in _OPS:
            raise bad(f" operation {n} needs an op of {', '.join(_OPS)}")
        for member in _OPS[op["op"]]:
            if member not in op:
                raise bad(f" operation {n} ({op['op']}) needs {member!r}")
        for member in ("path", "from"):
            if member in op and (not isinstance(op[member], str) or (op[member] and not op[member].startswith("/"))):
                raise bad(f" operation {n}: {member} must be a JSON Pointer such as /title")
    return patch


def apply(doc: Any, patch: Patch) -> Any:
    """The document after the patch; `doc` is left as it was."""
    return apply_in_place(copied(doc), patch)


def apply_in_place(doc: Any, patch: Patch, *, copy_values: bool = True) -> Any:
    """Apply to a document this caller owns (freshly parsed), returning the result (the root may be replaced).

    copy_values: put copies of the patch's values into the document, so that it shares nothing with the patch.
    False is for a patch and document nobody else holds, whose result is only compared or serialized (an import's
    lines): copying each value was most of the cost of applying a line's delta there."""
    shared = _written_into(patch) if not copy_values else None
    for n, op in enumerate(patch):
        try:
            doc = _apply_one(doc, op, copied if copy_values or n in shared else _same_value)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            # Our own words only: a library's message would print Python's reprs of the whole document.
            reason = exc.args[0] if exc.args and isinstance(exc.args[0], str) else "its path does not resolve"
            raise Conflict(f"patch does not apply: operation {n} ({op.get('op')} {op.get('path')!r}): {reason}") \
                from None
    return doc


def _shown(value: Any) -> str:
    text = jsontext.dumps(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _at(doc: Any, path: str, what: str) -> Any:
    try:
        return resolve(doc, path)
    except (KeyError, IndexError, ValueError, TypeError):
        raise KeyError(f"{what} {path!r} does not exist in the item") from None


def _same_value(value: Any) -> Any:
    return value


def _written_into(patch: Patch) -> set[int]:
    """The operations whose value a later operation of the patch writes inside (add /a, then add /a/x): put in
    uncopied, that write would change the patch itself, and with it the patch's later uses and what is stored."""
    found: set[int] = set()
    if len(patch) < 2:  # nothing comes later (most deltas of an import are one or two operations)
        return found
    inside: set[str] = set()  # every proper prefix of a path that a later operation writes or removes
    for n in range(len(patch) - 1, -1, -1):
        op = patch[n]
        path = op.get("path")
        if isinstance(path, str) and path in inside:
            found.add(n)
        for written in (path, op.get("from") if op.get("op") == "move" else None):
            if isinstance(written, str):
                at = written.rfind("/")
                while at >= 0:
                    inside.add(written[:at])
                    at = written.rfind("/", 0, at)
    return found


def _apply_one(doc: Any, op: dict[str, Any], take: Callable[[Any], Any] = copied) -> Any:
    kind = op["op"]
    if kind == "test":
        found = _at(doc, op["path"], "the tested path")
        if not same(found, op["value"]):
            raise ValueError(f"the item holds {_shown(found)}, not {_shown(op['value'])}")
        return doc
    if kind in ("move", "copy"):
        value = copied(_at(doc, op["from"], "from"))
        if kind == "move":
            if op["path"].startswith(op["from"] + "/"):
                raise ValueError(f"cannot move {op['from']!r} into itself")
            if op["path"] == op["from"]:
                return doc
            doc = _apply_one(doc, {"op": "remove", "path": op["from"]}, take)
        return _apply_one(doc, {"op": "add", "path": op["path"], "value": value}, take)
    keys = split_pointer(op["path"])
    if not keys:
        if kind == "remove":
            raise ValueError("cannot remove the whole document")
        return take(op["value"])
    parent = doc
    for key in keys[:-1]:
        parent = parent[key] if type(parent) is dict else parent[_index(parent, key)]
    last = keys[-1]
    if isinstance(parent, dict):
        if kind == "add":
            parent[last] = take(op["value"])
        elif last not in parent:
            raise KeyError(f"there is no member {last!r} to {kind}")
        elif kind == "remove":
            del parent[last]
        else:
            parent[last] = take(op["value"])
    elif isinstance(parent, list):
        if kind == "add":
            position = len(parent) if last == "-" else _list_index(parent, last, insert=True)
            parent.insert(position, take(op["value"]))
        elif kind == "remove":
            del parent[_list_index(parent, last)]
        else:
            parent[_list_index(parent, last)] = take(op["value"])
    else:
        raise TypeError(f"{type(parent).__name__} has no members")
    return doc


def _index(container: Any, key: str) -> Any:
    if isinstance(container, list):
        return _list_index(container, key)
    if isinstance(container, dict):
        return key
    raise TypeError(f"{type(container).__name__} has no members")


def _list_index(items: list[Any], token: str, *, insert: bool = False) -> int:
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise ValueError(f"{token!r} is not an array index")
    index = int(token)
    if index > len(items) or (index == len(items) and not insert):
        raise IndexError(f"index {index} is out of range")
    return index


def merge(current: dict[str, Any], partial: dict[str, Any]) -> dict[str, Any]:
    """Shallow merge: each top-level key given replaces that key's value; null stores null."""
    return {**current, **partial}


def changed_paths(delta: Patch) -> list[str]:
    return [op["path"] for op in delta]


def leaf_paths(doc: Any, prefix: str = "") -> list[str]:
    """Every field of a document as a JSON Pointer, down through objects (arrays count as one field)."""
    if isinstance(doc, dict) and doc:
        return [path for key, value in doc.items() for path in leaf_paths(value, f"{prefix}/{escape(key)}")]
    return [prefix]


def touches(op_path: str, field: str) -> bool:
    """Whether an operation at `op_path` changes `field`: the same path, a parent of it, or inside it."""
    return op_path == field or field.startswith(op_path + "/") or op_path.startswith(field + "/") or op_path == ""


def blame(current: Any, revisions: list[tuple[Any, Patch]]) -> dict[str, Any]:
    """For each field of `current`, the revision (given oldest first, each with its delta) that last changed it."""
    pending = leaf_paths(current)
    found: dict[str, Any] = {}
    for revision, delta in reversed(revisions):
        if not pending:
            break
        paths = [op["path"] for op in delta] + [op["from"] for op in delta if op.get("op") == "move"]
        still = []
        for field in pending:
            if any(touches(path, field) for path in paths):
                found[field] = revision
            else:
                still.append(field)
        pending = still
    return {field: found.get(field) for field in leaf_paths(current)}
