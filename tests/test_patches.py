"""patches.py: JSON Pointer escaping, strict JSON equality, diff, apply, merge, blame helpers (pure functions)."""

from __future__ import annotations

import json

import jsonpatch
import pytest

from audit_cli import patches
from audit_cli.errors import Conflict, UsageError

# pointers


@pytest.mark.parametrize(
    ("key", "token"),
    [("title", "title"), ("a/b", "a~1b"), ("m~n", "m~0n"), ("~1", "~01"), ("/~", "~1~0"), ("", "")],
)
def test_escape_and_unescape_are_inverse(key, token):
    assert patches.escape(key) == token
    assert patches.unescape(token) == key


def test_pointer_and_split_pointer():
    assert patches.pointer("a/b", "m~n", 3) == "/a~1b/m~0n/3"
    assert patches.split_pointer("/a~1b/m~0n/3") == ["a/b", "m~n", "3"]
    assert patches.split_pointer("") == []
    assert patches.split_pointer("/") == [""]


def test_split_pointer_refuses_a_relative_path():
    with pytest.raises(UsageError, match="JSON Pointer"):
        patches.split_pointer("title")


def test_resolve_walks_objects_and_arrays():
    doc = {"a/b": {"list": [10, {"x": "deep"}]}, "m~n": None}
    assert patches.resolve(doc, "/a~1b/list/1/x") == "deep"
    assert patches.resolve(doc, "/m~0n") is None
    assert patches.resolve(doc, "") == doc
    with pytest.raises(KeyError):
        patches.resolve(doc, "/missing")


# strict equality


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (1, 1, True),
        (True, 1, False),
        (1, True, False),
        (False, 0, False),
        (1, 1.0, False),
        (0, 0.0, False),
        (None, False, False),
        ("1", 1, False),
        ([1, 2], [1, 2], True),
        ([1, 2], [2, 1], False),
        ([1], [1.0], False),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}, True),
        ({"a": 1}, {"a": 1, "b": None}, False),
        ({"a": {"b": True}}, {"a": {"b": 1}}, False),
        ([], {}, False),
    ],
)
def test_same_is_strict_json_equality(a, b, expected):
    assert patches.same(a, b) is expected
    assert patches.same(b, a) is expected


# diff


def test_diff_of_equal_documents_is_empty():
    doc = {"a": [1, {"b": None}], "c": {"d": 1.5}}
    assert patches.diff(doc, {"c": {"d": 1.5}, "a": [1, {"b": None}]}) == []


def test_diff_from_empty_adds_every_key():
    assert patches.diff({}, {"title": "Hi", "n": 1}) == [
        {"op": "add", "path": "/title", "value": "Hi"},
        {"op": "add", "path": "/n", "value": 1},
    ]


def test_diff_walks_into_nested_objects():
    before = {"meta": {"author": "ann", "tags": ["x"]}, "keep": 1}
    after = {"meta": {"author": "bob", "tags": ["x"], "new": True}, "keep": 1}
    assert patches.diff(before, after) == [
        {"op": "replace", "path": "/meta/author", "value": "bob"},
        {"op": "add", "path": "/meta/new", "value": True},
    ]


def test_diff_removes_keys_and_escapes_them():
    before = {"a/b": 1, "m~n": 2, "keep": 3}
    after = {"keep": 3, "x/~y": 4}
    patch = patches.diff(before, after)
    assert patch == [
        {"op": "remove", "path": "/a~1b"},
        {"op": "remove", "path": "/m~0n"},
        {"op": "add", "path": "/x~1~0y", "value": 4},
    ]
    assert jsonpatch.apply_patch(before, patch) == after


@pytest.mark.parametrize(("old", "new"), [(1, True), (True, 1), (1, 1.0), (0, False), (None, 0), ("1", 1)])
def test_diff_sees_type_changes_as_changes(old, new):
    patch = patches.diff({"v": old}, {"v": new})
    assert patch == [{"op": "replace", "path": "/v", "value": new}]
    assert type(patch[0]["value"]) is type(new)


@pytest.mark.parametrize(("before", "after", "expected"), [
    (["a", "b", "c"], ["a", "B", "c"], [{"op": "replace", "path": "/l/1", "value": "B"}]),
    ([1, 2], [1, 2, 3, 4], [{"op": "add", "path": "/l/2", "value": 3}, {"op": "add", "path": "/l/3", "value": 4}]),
    ([1, 2, 3], [1, 3], [{"op": "remove", "path": "/l/1"}]),
    ([1, 2, 3, 4, 5], [1, 4, 5], [{"op": "remove", "path": "/l/1"}, {"op": "remove", "path": "/l/1"}]),
    ([1, 2, 3], [0, 1, 2, 3], [{"op": "add", "path": "/l/0", "value": 0}]),
    ([{"a": 1, "b": 2}, 5], [{"a": 1, "b": 3}, 5], [{"op": "replace", "path": "/l/0/b", "value": 3}]),
    ([1, 2, 3], [1, "x", 3, 4], [{"op": "replace", "path": "/l/1", "value": "x"}, {"op": "add", "path": "/l/3", "value": 4}]),
])
def test_diff_goes_into_arrays(before, after, expected):
    patch = patches.diff({"l": before}, {"l": after})
    assert patch == expected
    assert jsonpatch.apply_patch({"l": before}, patch) == {"l": after}


@pytest.mark.parametrize(("before", "after"), [([1, 2, 3], [3, 1, 2]), ([1, 2], [3, 4]), ([], [1, 2]), ([1], [])])
def test_diff_replaces_an_array_whole_when_most_of_it_changed(before, after):
    assert patches.diff({"l": before}, {"l": after}) == [{"op": "replace", "path": "/l", "value": after}]


def test_diff_of_different_root_types_replaces_the_root():
    assert patches.diff({"a": 1}, [1]) == [{"op": "replace", "path": "", "value": [1]}]


def test_a_patch_applied_shares_nothing_with_the_patch():
    """diff's values are `after`'s own (it never copies); applying copies, so documents never share structure."""
    after = {"l": [1], "m": {"k": [2]}}
    patch = patches.diff({}, after)
    doc = patches.apply({}, patch)
    doc["l"].append(9)
    doc["m"]["k"].append(9)
    assert after == {"l": [1], "m": {"k": [2]}} and patches.apply({}, patch) == after


def test_copied_keeps_integers_past_64_bits_and_json_types():
    value = {"big": 2**80, "f": 1.0, "t": True, "l": [None, -0.0]}
    copy = patches.copied(value)
    assert patches.same(copy, value) and copy is not value and copy["l"] is not value["l"]


@pytest.mark.parametrize("levels", [1, 255, 256, 900])
def test_check_depth_allows_what_orjson_writes(levels):
    doc = {}
    for _ in range(levels - 1):
        doc = {"a": doc}
    assert patches.depth(doc) == levels
    if levels <= patches.MAX_DEPTH:
        patches.check_depth(doc, what="--data")
    else:
        with pytest.raises(UsageError, match=f"--data is nested too deeply \\({levels} levels\\)"):
            patches.check_depth(doc, what="--data")


# check_patch


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"op": "add"}, "JSON array"),
        ([{"op": "frobnicate", "path": "/a"}], "needs an op"),
        (["add"], "needs an op"),
        ([{"op": "add", "path": "/a"}], "'value'"),
        ([{"op": "move", "path": "/a"}], "'from'"),
        ([{"op": "remove", "path": "a"}], "JSON Pointer"),
        ([{"op": "copy", "from": 3, "path": "/a"}], "JSON Pointer"),
    ],
)
def test_check_patch_refuses_malformed_patches(patch, message):
    with pytest.raises(UsageError, match=message):
        patches.check_patch(patch)


def test_check_patch_accepts_every_rfc6902_op():
    patch = [
        {"op": "add", "path": "/a", "value": 1},
        {"op": "remove", "path": "/a"},
        {"op": "replace", "path": "", "value": {}},
        {"op": "move", "from": "/a", "path": "/b"},
        {"op": "copy", "from": "/a", "path": "/b"},
        {"op": "test", "path": "/a", "value": None},
    ]
    assert patches.check_patch(patch) is patch


# apply


def test_apply_leaves_its_input_alone():
    doc = {"a": {"b": [1]}}
    out = patches.apply(doc, [{"op": "add", "path": "/a/b/-", "value": 2}])
    assert out == {"a": {"b": [1, 2]}}
    assert doc == {"a": {"b": [1]}}


def test_apply_array_operations():
    doc = {"l": [1, 2, 3]}
    assert patches.apply(doc, [{"op": "add", "path": "/l/0", "value": 0}]) == {"l": [0, 1, 2, 3]}
    assert patches.apply(doc, [{"op": "add", "path": "/l/3", "value": 4}]) == {"l": [1, 2, 3, 4]}
    assert patches.apply(doc, [{"op": "add", "path": "/l/-", "value": 4}]) == {"l": [1, 2, 3, 4]}
    assert patches.apply(doc, [{"op": "remove", "path": "/l/1"}]) == {"l": [1, 3]}
    assert patches.apply(doc, [{"op": "replace", "path": "/l/2", "value": "c"}]) == {"l": [1, 2, "c"]}


def test_apply_move_copy_and_test():
    doc = {"a": {"x": 1}, "l": [1, 2]}
    patch = [
        {"op": "test", "path": "/a/x", "value": 1},
        {"op": "copy", "from": "/a", "path": "/b"},
        {"op": "move", "from": "/a/x", "path": "/y"},
        {"op": "move", "from": "/l/0", "path": "/l/1"},
    ]
    assert patches.apply(doc, patch) == {"a": {}, "b": {"x": 1}, "y": 1, "l": [2, 1]}


def test_apply_copy_is_deep():
    out = patches.apply({"a": {"x": [1]}}, [
        {"op": "copy", "from": "/a", "path": "/b"},
        {"op": "add", "path": "/b/x/-", "value": 2},
    ])
    assert out == {"a": {"x": [1]}, "b": {"x": [1, 2]}}


def test_apply_escaped_keys():
    out = patches.apply({}, [
        {"op": "add", "path": "/a~1b", "value": 1},
        {"op": "add", "path": "/m~0n", "value": 2},
        {"op": "move", "from": "/a~1b", "path": "/~01"},
    ])
    assert out == {"m~n": 2, "~1": 1}


def test_apply_root_replace_and_add():
    assert patches.apply({"a": 1}, [{"op": "replace", "path": "", "value": [1]}]) == [1]
    assert patches.apply({"a": 1}, [{"op": "add", "path": "", "value": {"b": 2}}]) == {"b": 2}


@pytest.mark.parametrize(
    "op",
    [
        {"op": "remove", "path": "/missing"},
        {"op": "replace", "path": "/missing", "value": 1},
        {"op": "add", "path": "/missing/child", "value": 1},
        {"op": "remove", "path": "/l/5"},
        {"op": "replace", "path": "/l/2", "value": 1},
        {"op": "add", "path": "/l/3", "value": 1},
        {"op": "add", "path": "/l/01", "value": 1},
        {"op": "add", "path": "/l/x", "value": 1},
        {"op": "add", "path": "/s/x", "value": 1},
        {"op": "remove", "path": ""},
        {"op": "test", "path": "/s", "value": "other"},
        {"op": "test", "path": "/t", "value": 1},
        {"op": "move", "from": "/missing", "path": "/x"},
        {"op": "copy", "from": "/missing", "path": "/x"},
    ],
)
def test_apply_refuses_operations_that_do_not_apply(op):
    doc = {"l": [1, 2], "s": "text", "t": True}
    with pytest.raises(Conflict, match="patch does not apply"):
        patches.apply(doc, [op])
    assert doc == {"l": [1, 2], "s": "text", "t": True}


def test_apply_matches_jsonpatch_on_a_mixed_patch():
    doc = {"a": {"b": [1, 2, {"c": None}]}, "x/y": "z", "n": 1}
    patch = [
        {"op": "add", "path": "/a/b/1", "value": "ins"},
        {"op": "remove", "path": "/a/b/0"},
        {"op": "replace", "path": "/a/b/2/c", "value": False},
        {"op": "move", "from": "/x~1y", "path": "/moved"},
        {"op": "copy", "from": "/a/b", "path": "/copied"},
        {"op": "test", "path": "/n", "value": 1},
        {"op": "replace", "path": "/n", "value": 1.0},
    ]
    ours = patches.apply(doc, patch)
    assert patches.same(ours, jsonpatch.apply_patch(doc, patch))
    assert ours["n"] == 1.0 and isinstance(ours["n"], float)


# merge


def test_merge_is_shallow_and_keeps_nulls():
    current = {"a": 1, "b": {"x": 1, "y": 2}, "c": "keep"}
    assert patches.merge(current, {"a": None, "b": {"x": 9}, "d": 4}) == {
        "a": None, "b": {"x": 9}, "c": "keep", "d": 4,
    }
    assert current == {"a": 1, "b": {"x": 1, "y": 2}, "c": "keep"}


# blame helpers


def test_changed_paths():
    assert patches.changed_paths([{"op": "add", "path": "/a"}, {"op": "remove", "path": "/b~1c"}]) == ["/a", "/b~1c"]


def test_leaf_paths_go_down_through_objects():
    doc = {"a": 1, "b": {"c": {"d": None}, "e": []}, "f/g": {}, "h": [1, {"i": 2}]}
    assert patches.leaf_paths(doc) == ["/a", "/b/c/d", "/b/e", "/f~1g", "/h"]
    assert patches.leaf_paths({}) == [""]


@pytest.mark.parametrize(
    ("op_path", "field", "expected"),
    [
        ("/a", "/a", True),
        ("/a", "/a/b", True),
        ("/a/b/c", "/a/b", True),
        ("", "/a", True),
        ("/ab", "/a", False),
        ("/a", "/ab", False),
        ("/b", "/a", False),
        ("/a~1b", "/a", False),
    ],
)
def test_touches(op_path, field, expected):
    assert patches.touches(op_path, field) is expected


def test_blame_finds_the_last_revision_for_each_field():
    history = [
        ("r0", [{"op": "add", "path": "/a", "value": 1}, {"op": "add", "path": "/m", "value": {"x": 1, "y": 1}}]),
        ("r1", [{"op": "replace", "path": "/m/x", "value": 2}]),
        ("r2", [{"op": "replace", "path": "/a", "value": 3}]),
        ("r3", []),
    ]
    current = {"a": 3, "m": {"x": 2, "y": 1}}
    assert patches.blame(current, history) == {"/a": "r2", "/m/x": "r1", "/m/y": "r0"}


def test_blame_credits_a_parent_replace_to_its_children():
    history = [
        ("r0", [{"op": "add", "path": "/m", "value": "flat"}]),
        ("r1", [{"op": "replace", "path": "/m", "value": {"x": 1}}]),
    ]
    assert patches.blame({"m": {"x": 1}}, history) == {"/m/x": "r1"}


@pytest.mark.parametrize("patch", [
    [{"op": "add", "path": "/a", "value": {}}, {"op": "copy", "path": "/a/x", "from": "/a"}],
    [{"op": "replace", "path": "", "value": {"b": []}}, {"op": "add", "path": "/b/-", "value": 1}],
    [{"op": "add", "path": "/a", "value": {"c": 1}}, {"op": "move", "from": "/a/c", "path": "/d"}],
])
def test_applying_without_copies_never_changes_the_patch(patch):
    """copy_values=False (an import's lines) puts the patch's values in the document as they are, unless a later
    operation writes inside one: the patch, which is stored and used again, stays as it was."""
    before = json.loads(json.dumps(patch))
    assert patches.apply_in_place({}, patch, copy_values=False) == patches.apply({}, before)
    assert patch == before
