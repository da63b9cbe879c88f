"""Hypothesis properties: patches round-trip exactly, and random item histories keep every revision's promises.

Each store example gets its own fresh store file (a TemporaryDirectory), never the function-scoped fixture.
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path

import jsonpatch
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from audit_cli import patches
from audit_cli.cli import app
from audit_cli.errors import Conflict
from audit_cli.models import Activity
from audit_cli.store import AuditStore

# Keys with the characters JSON Pointer escapes, the empty key, and keys that look like array indexes.
KEYS = st.sampled_from(["a", "b", "title", "", "a/b", "m~n", "~1", "/", "0", "01", "-", "é"]) | st.text(max_size=3)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.integers(min_value=-3, max_value=3)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0.0, 1.0, -1.0, 2.0])
    | st.text(max_size=6)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=14,
)
OBJECTS = st.dictionaries(KEYS, VALUES, max_size=5)

FAST = settings(max_examples=100, deadline=None, database=None)
STORE = settings(max_examples=50, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def twin(value):
    """A value JSON calls different but Python's == calls equal (1 / 1.0 / true), when there is one."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and abs(value) < 2**53:
        return float(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


@st.composite
def near(draw, value, depth=0):
    """A variant of `value` that shares much of its structure, so that diffs go deep and see type-only changes."""
    if isinstance(value, dict) and depth < 4:
        out = {}
        for key, child in value.items():
            choice = draw(st.integers(0, 5))
            if choice == 0:
                continue  # removed
            out[key] = child if choice <= 2 else draw(near(child, depth + 1))
        out.update(draw(st.dictionaries(KEYS, VALUES, max_size=2)))
        return out
    if isinstance(value, list) and depth < 4 and draw(st.booleans()):
        out = [draw(near(child, depth + 1)) if draw(st.booleans()) else child for child in value]
        for _ in range(draw(st.integers(0, 2))):  # inserts and removals anywhere, not only at the end
            if out and draw(st.booleans()):
                del out[draw(st.integers(0, len(out) - 1))]
            else:
                out.insert(draw(st.integers(0, len(out))), draw(VALUES))
        return out
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return value
    if choice == 1:
        return twin(value)
    return draw(VALUES)


@st.composite
def pairs(draw):
    a = draw(VALUES | OBJECTS)
    b = draw(st.one_of(near(a), VALUES))
    return a, b


# patches: pure properties


@FAST
@given(pairs())
def test_diff_then_jsonpatch_apply_gives_the_target(pair):
    a, b = pair
    before = copy.deepcopy(a)
    patch = patches.diff(a, b)
    assert patches.same(jsonpatch.apply_patch(a, patch), b)
    assert patches.same(a, before)  # diff leaves its input alone
    json.dumps(patch)  # a patch is plain JSON


@FAST
@given(pairs())
def test_diff_then_our_apply_gives_the_target(pair):
    a, b = pair
    patch = patches.diff(a, b)
    assert patches.same(patches.apply(a, patch), b)
    assert (patch == []) == patches.same(a, b)


@FAST
@given(st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1)
       | st.integers(-(2**53) + 1, 2**53 - 1).map(float))
def test_a_type_only_change_is_a_change(value):
    other = twin(value)
    assert type(other) is not type(value) and other == value  # equal to Python, different to JSON
    patch = patches.diff({"v": value}, {"v": other})
    assert patch == [{"op": "replace", "path": "/v", "value": other}]


@settings(max_examples=50, deadline=None, database=None)
@given(OBJECTS, OBJECTS)
def test_merge_is_shallow(current, partial):
    merged = patches.merge(current, partial)
    assert set(merged) == set(current) | set(partial)
    for key, value in merged.items():
        assert value is (partial[key] if key in partial else current[key])


@FAST
@given(OBJECTS, st.data())
def test_our_apply_matches_jsonpatch_on_its_own_patches(doc, data):
    target = data.draw(near(doc))
    patch = jsonpatch.make_patch(doc, target).patch  # may hold move and copy, and array index ops
    try:
        expected = jsonpatch.apply_patch(doc, patch)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException):
        assume(False)
    assert patches.same(patches.apply(doc, patch), expected)


# random histories in a fresh store


class History:
    """Drives one item through random operations, keeping the model of what every revision must hold."""

    def __init__(self, store: AuditStore, draw):
        self.store, self.draw = store, draw
        self.revisions: list[tuple[str, object]] = []  # (action, data) for each revision, oldest first
        self.state = None
        self.live = False

    def record(self, action, **kw):
        return self.store.record(Activity(action, "articles", "1", ""), **kw)

    def create(self):
        doc = self.draw(OBJECTS)
        done = self.record("create", data=doc)
        assert done.revision is not None
        self.state, self.live = copy.deepcopy(doc), True
        self.revisions.append(("create", self.state))

    def change(self, kind):
        if kind == "update":
            partial = self.draw(st.dictionaries(st.sampled_from(list(self.state) or ["a"]) | KEYS,
                                                VALUES, min_size=1, max_size=3))
            after, kw = patches.merge(self.state, partial), {"data": partial}
        elif kind == "replace":
            whole = self.draw(near(self.state))
            after, kw = whole, {"data": whole, "replace": True}
        else:
            patch = jsonpatch.make_patch(self.state, self.draw(near(self.state))).patch
            try:
                after = jsonpatch.apply_patch(self.state, patch)
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException):
                return
            kw = {"patch": patch}
            event(f"patch ops: {' '.join(sorted({op['op'] for op in patch})) or 'none'}")
        if not self.live:
            with pytest.raises(Conflict, match="was deleted"):
                self.record("update", **kw)
            return
        after = copy.deepcopy(after)
        done = self.record("update", **kw)
        if patches.same(after, self.state):
            assert done.revision is None and "nothing changed" in done.note
        else:
            assert done.revision is not None
            assert patches.same(done.revision.data, after)
            self.state = after
            self.revisions.append(("update", after))

    def delete(self):
        if not self.live:
            with pytest.raises(Conflict):
                self.record("delete")
            return
        done = self.record("delete")
        assert patches.same(done.revision.data, self.state) and done.revision.delta == []
        self.live = False
        self.revisions.append(("delete", self.state))

    def revert(self, index=None):
        count = len(self.revisions)
        if index is None:
            index = self.draw(st.integers(-count, count - 1))
        action, data = self.revisions[index]  # a delete's: the state it removed, which reverting to it restores
        if self.live and patches.same(data, self.state):
            with pytest.raises(Conflict, match="nothing to revert"):
                self.store.revert("articles", "1", to=index)
            return
        was_live = self.live
        done = self.store.revert("articles", "1", to=index)
        assert done.activity["details"]["reverted_to"]["index"] == index % count
        assert done.activity["details"].get("restored", False) is (not was_live)
        # revert to N, then snapshot, gives revision N's data; a deleted item comes back whole
        assert patches.same(self.store.snapshot("articles", "1"), data)
        self.state, self.live = copy.deepcopy(data), True
        self.revisions.append(("revert", self.state))

    def check_now(self):
        assert len(self.store.history("articles", "1")) == len(self.revisions)
        if self.live:
            assert patches.same(self.store.snapshot("articles", "1"), self.state)
        else:
            with pytest.raises(Conflict, match="deleted"):
                self.store.snapshot("articles", "1")

    def check_all(self, *, pairs=True):
        history = self.store.history("articles", "1")
        assert [row["action"] for row in history] == [action for action, _ in self.revisions]
        stored = [self.store.revision("articles", "1", n) for n in range(len(history))]
        for n, (revision, (action, data)) in enumerate(zip(stored, self.revisions)):
            assert patches.same(revision.data, data), n
            previous = {} if action == "create" else stored[n - 1].data
            # applying each revision's delta to the previous snapshot gives its data
            assert patches.same(jsonpatch.apply_patch(previous, revision.delta), revision.data), n
            assert patches.same(patches.apply(previous, revision.delta), revision.data), n
            # a delete changes the whole item (the root), though it stores no delta: it keeps the last state
            assert history[n]["changed"] == ([""] if action == "delete" else [op["path"] for op in revision.delta])
        if not pairs:
            return
        # diff --from A --to B applied to the state at A gives the state at B, for every pair; after a delete the
        # item is not there, its state nothing
        states = [{} if action == "delete" else revision.data for revision, (action, _) in zip(stored, self.revisions)]
        for a in range(len(stored)):
            for b in range(len(stored)):
                result = self.store.diff("articles", "1", start=a, end=b)
                assert patches.same(jsonpatch.apply_patch(states[a], result["patch"]), states[b]), (a, b)


def run_history(data, steps):
    with tempfile.TemporaryDirectory() as tmp, AuditStore.open(Path(tmp) / "audit.db", create=True) as store:
        model = History(store, data.draw)
        model.create()
        for _ in range(steps):
            kind = data.draw(st.sampled_from(["update", "update", "replace", "patch", "delete", "revert", "create"]))
            if kind == "create":
                if model.live:
                    with pytest.raises(Conflict, match="already exists"):
                        model.record("create", data={})
                else:
                    model.create()
            elif kind == "delete":
                model.delete()
            elif kind == "revert":
                model.revert()
            else:
                model.change(kind)
            model.check_now()
        event(f"revisions: {min(len(model.revisions), 8)}+" if len(model.revisions) >= 8 else
              f"revisions: {len(model.revisions)}")
        event(f"actions: {' '.join(sorted({action for action, _ in model.revisions}))}")
        model.check_all(pairs=False)
        with AuditStore.open(store.path) as fresh:  # everything reads back the same from a cold cache
            model.store = fresh
            model.check_all()
        return model


@STORE
@given(st.data(), st.integers(min_value=3, max_value=10))
def test_random_histories_keep_every_revision_exact(data, steps):
    run_history(data, steps)


@STORE
@given(st.data(), st.integers(min_value=0, max_value=5))
def test_deleted_then_reverted_items_come_back_whole(data, edits):
    with tempfile.TemporaryDirectory() as tmp, AuditStore.open(Path(tmp) / "audit.db", create=True) as store:
        model = History(store, data.draw)
        model.create()
        for _ in range(edits):
            model.change(data.draw(st.sampled_from(["update", "replace", "patch"])))
        model.delete()
        target = data.draw(st.integers(0, len(model.revisions) - 2))
        expected = model.revisions[target][1]
        done = store.revert("articles", "1", to=target)
        assert done.activity["details"]["restored"] is True
        assert patches.same(store.snapshot("articles", "1"), expected)
        assert patches.same(store.revision("articles", "1", -1).data, expected)
        model.state, model.live = copy.deepcopy(expected), True
        model.revisions.append(("revert", model.state))
        model.check_all()


@settings(max_examples=15, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data(), st.integers(min_value=1, max_value=4))
def test_cli_diff_patch_turns_snapshot_a_into_snapshot_b(data, steps):
    runner = CliRunner(env={"NO_COLOR": "1", "AUDIT_DB": None})
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "audit.db"
        with AuditStore.open(db, create=True) as store:
            model = History(store, data.draw)
            model.create()
            for _ in range(steps):
                model.change(data.draw(st.sampled_from(["update", "replace", "patch"])))
        count = len(model.revisions)
        a = data.draw(st.integers(-count, count - 1))
        b = data.draw(st.integers(-count, count - 1))

        def run(*args):
            result = runner.invoke(app, ["--db", str(db), *args])
            assert result.exit_code == 0, result.output
            return json.loads(result.stdout)

        patch = run("diff", "articles", "1", "--from", str(a), "--to", str(b), "--format", "patch")
        snapshot_a = run("snapshot", "articles", "1", "--rev", str(a))
        snapshot_b = run("snapshot", "articles", "1", "--rev", str(b))
        assert patches.same(snapshot_a, model.revisions[a][1])
        assert patches.same(snapshot_b, model.revisions[b][1])
        assert patches.same(jsonpatch.apply_patch(snapshot_a, patch), snapshot_b)


@FAST
@given(pairs(), st.booleans())
def test_the_imports_fast_apply_matches_ours(pair, theirs):
    """store/lines.apply (the import's path: no copies, object members and array elements in place) gives what
    patches.apply gives, or refuses what it refuses, on our own patches and on jsonpatch's."""
    from audit_cli.store import lines

    a, b = pair
    patch = jsonpatch.make_patch(a, b).patch if theirs else patches.diff(a, b)
    text, exact = lines.dump(a)
    try:
        expected = patches.apply(a, patch)
    except Conflict:
        with pytest.raises(Conflict):
            lines.apply(text, exact, patch)
        return
    assert patches.same(lines.apply(text, exact, patch), expected)
