"""`store.batch()` gathers records and writes them together (store/recorder.py): what it stores must be what the
same records store one at a time, row for row and link for link, and whatever else is asked inside a batch must see
every record made before it."""

from __future__ import annotations

import random
import shutil
import sqlite3

import pytest

import audit_cli
import audit_cli.store as store_module  # where AuditStore.record reads FLUSH_ROWS

TABLES = {"activity": "id", "revisions": "activity", "bases": "id", "sqlite_sequence": "name"}


def rows(path):
    conn = sqlite3.connect(path)
    try:
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall()
                for table, key in TABLES.items()}
    finally:
        conn.close()


@pytest.fixture
def twins(tmp_path):
    """Two paths to one new store (the same identity, which every local link covers)."""
    first, second = tmp_path / "one.db", tmp_path / "batch.db"
    audit_cli.open(first).close()
    shutil.copy(first, second)
    return first, second


def events(seed, count=300):
    """Creates, updates (some changing nothing), deletes, soft-deletes, re-creates after a delete, logins, and
    requests that fail (an update of an unknown item, a create of a live one), with big and drifting documents
    so that bases are started again."""
    rng = random.Random(seed)
    made, out = [], []
    for n in range(count):
        stamp = f"2026-11-{1 + n // 100:02d}T10:{n // 60 % 60:02d}:{n % 60:02d}Z"
        roll = rng.random()
        if roll < 0.15 or not made:
            item = str(len(made) + 1)
            made.append(item)
            out.append(("create", item, {"title": f"t{item}", "body": "x" * rng.randrange(10, 3000)}, stamp))
        elif roll < 0.7:
            change = {"status": rng.choice(["a", "b"]), f"k{rng.randrange(40)}": "y" * rng.randrange(200)}
            out.append(("update", rng.choice(made), change, stamp))
        elif roll < 0.75:
            out.append(("delete", rng.choice(made), None, stamp))
        elif roll < 0.8:
            out.append(("soft-delete", rng.choice(made), {"hidden": True}, stamp))
        elif roll < 0.85:
            out.append(("create", rng.choice(made), {"again": n}, stamp))
        elif roll < 0.9:
            out.append(("update", f"missing{n}", {"a": 1}, stamp))
        else:
            out.append(("login", f"user{rng.randrange(5)}", None, stamp))
    return out


def record(store, event):
    action, item, data, stamp = event
    collection = "users" if action == "login" else "articles"
    try:
        store.record(action, collection, item, data=data, user="u", timestamp=stamp)
    except audit_cli.AuditError:
        pass


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_batch_stores_what_records_one_at_a_time_store(twins, monkeypatch, seed):
    monkeypatch.setattr(store_module, "FLUSH_ROWS", 7)  # every path: writes mid-batch and at its end
    one, batch = twins
    todo = events(seed)
    with audit_cli.open(one) as store:
        for event in todo:
            record(store, event)
    with audit_cli.open(batch) as store:
        with store.batch():
            for event in todo:
                record(store, event)
        assert store.verify().ok
    assert rows(one) == rows(batch)


def state_of(store, item):
    try:
        return store.snapshot("articles", item)
    except audit_cli.AuditError as error:
        return str(error)


def test_what_is_asked_inside_a_batch_sees_every_record_before_it(twins, monkeypatch):
    monkeypatch.setattr(store_module, "FLUSH_ROWS", 1000)
    one, batch = twins
    todo = events(4, 120)
    seen = []
    with audit_cli.open(one) as store:
        for event in todo:
            record(store, event)
            seen.append((store.count(), state_of(store, event[1])))
    with audit_cli.open(batch) as store, store.batch():
        for event, (count, state) in zip(todo, seen):
            record(store, event)
            # a read in between: what it sees, and the records after it (which read the store again), are right
            assert store.count() == count and state_of(store, event[1]) == state
    assert rows(one) == rows(batch)


def test_other_writes_inside_a_batch_come_after_its_records_and_records_after_them_see_them(tmp_path):
    with audit_cli.open(tmp_path / "a.db") as store:
        with store.batch():
            store.record("create", "articles", "1", data={"title": "a", "n": 1})
            store.record("update", "articles", "1", data={"n": 2})
            reverted = store.revert("articles", "1", to=0, user="carol")
            assert reverted.revision.data == {"title": "a", "n": 1}
            store.record("update", "articles", "1", data={"n": 3})
            note = store.comments.add("articles", "1", "checked")
            store.comments.edit(note.id, "checked twice")
            store.versions.create("articles", "1", "draft")
            store.versions.save("articles", "1", "draft", {"title": "b"})
            store.record("update", "articles", "1", data={"n": 4})
            promoted = store.versions.promote("articles", "1", "draft", force=True)
            assert promoted.revision.data == {"title": "b", "n": 4}
            store.record("update", "articles", "1", data={"n": 5})
            store.scopes.set("sessions", track="none")
            assert store.record("login", "sessions", "s1").activity.id is None
            store.record("login", "users", "u1")
            assert store.snapshot("articles", "1") == {"title": "b", "n": 5}
        assert [entry.action for entry in store.history("articles", "1")] == [
            "create", "update", "revert", "update", "update", "promote", "update"]
        assert store.snapshot("articles", "1") == {"title": "b", "n": 5} and store.verify().ok


def test_a_scope_recorded_inside_a_batch_applies_to_the_records_after_it(tmp_path):
    with audit_cli.open(tmp_path / "a.db") as store:
        with store.batch():
            store.record("login", "sessions", "s1")
            store.scopes.set("sessions", track="none")
            store.record("login", "sessions", "s2")
            store.scopes.clear("sessions")
            store.record("login", "sessions", "s3")
        assert [row.item for row in store.query(collection="sessions", action="login", sort="id")] == ["s1", "s3"]


def test_a_failed_inner_batch_is_undone_alone_and_the_outer_goes_on(tmp_path):
    with audit_cli.open(tmp_path / "a.db") as store:
        with store.batch():
            store.record("create", "articles", "1", data={"n": 1})
            with pytest.raises(RuntimeError), store.batch():
                store.record("update", "articles", "1", data={"n": 2})
                store.record("create", "articles", "2", data={"n": 1})
                raise RuntimeError("the inner part failed")
            store.record("update", "articles", "1", data={"n": 3})
            with pytest.raises(audit_cli.NotFound):
                store.record("update", "articles", "2", data={"n": 2})
        assert [entry.action for entry in store.history("articles", "1")] == ["create", "update"]
        assert store.snapshot("articles", "1") == {"n": 3} and store.count() == 2 and store.verify().ok


def test_a_keyed_store_batches_with_its_key(tmp_path):
    with audit_cli.open(tmp_path / "k.db", chain_key="secret") as store, store.batch():
        for n in range(20):
            store.record("create", "articles", str(n), data={"n": n})
    with audit_cli.open(tmp_path / "k.db", chain_key="secret") as store:
        assert store.count() == 20 and store.verify().ok
    with audit_cli.open(tmp_path / "k.db") as store, pytest.raises(audit_cli.AuditError), store.batch():
        store.record("login", "users", "u")
