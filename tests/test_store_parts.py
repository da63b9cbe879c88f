"""The store's parts (AuditStore.PARTS): each public method a part answers is that part's own, reached in one
attribute lookup, and nothing else on the store answers it instead."""

from __future__ import annotations

import inspect

import pytest

from audit_cli.store import AuditStore, _By

DELEGATED = [(part, name) for part, names in AuditStore.PARTS.items() for name in names]


@pytest.mark.parametrize(("part", "name"), DELEGATED)
def test_a_delegated_method_is_its_parts_own(store, part, name):
    collaborator = getattr(store, part)
    method = getattr(store, name)
    assert inspect.ismethod(method) and method.__self__ is collaborator
    assert method.__func__ is getattr(type(collaborator), name)


@pytest.mark.parametrize(("part", "name"), DELEGATED)
def test_no_mixin_left_defines_a_delegated_method(part, name):
    # PARTS' descriptors sit on AuditStore itself and would hide a mixin's copy, which would then be dead code.
    assert [base.__name__ for base in AuditStore.__mro__[1:] if name in vars(base)] == []


def test_each_public_method_is_answered_once():
    names = [name for _, name in DELEGATED]
    assert len(names) == len(set(names))


def test_every_delegate_on_the_store_reaches_a_method_of_its_part(store):
    # PARTS' names, and the few private ones the importer still calls the store by (store/importer.py, seen.py).
    delegates = {name: by for name, by in vars(AuditStore).items() if isinstance(by, _By)}
    assert {"_replay_versions", "_rechain", "_apply_comment_changes", "_update_comment"} <= set(delegates)
    for name, by in delegates.items():
        method = getattr(store, name)
        assert method.__self__ is getattr(store, by.part), name
        assert method.__func__ is getattr(type(method.__self__), by.name), name


# What the modules that hold rows to the chain call on the integrity part (store/integrity.py's Integrity).
INTEGRITY_INTERFACE = ("original", "link_of", "record", "rows", "scan", "comment_change_map")


@pytest.mark.parametrize("name", INTEGRITY_INTERFACE)
def test_the_integrity_parts_helpers_are_its_own_and_not_the_stores(store, name):
    method = getattr(store.integrity, name)
    assert inspect.ismethod(method) and method.__self__ is store.integrity
    # A mixin left holding the old private name would be a second way in, and nothing would say which is used.
    assert not hasattr(store, f"_{name}")


def test_the_integrity_parts_helpers_give_the_links_verify_checks(store):
    from audit_cli.models import Activity

    store.record(Activity("create", "articles", "1", "2024-01-01T00:00:00Z"), data={"title": "a"})
    store.record(Activity("login", "", "", "2024-01-02T00:00:00Z"))
    integrity = store.integrity
    changes = integrity.comment_change_map()
    rows = list(integrity.rows())
    assert [row["id"] for row, _, _ in rows] == [1, 2]
    for row, details_text, digest in rows:
        assert integrity.link_of(row, details_text, digest, row["prev_hash"], None, changes)[0] == row["hash"]
    assert integrity.scan(0, 2, None, changes) == ({}, [])
    store.conn.execute("UPDATE activity SET user = 'mallory' WHERE id = 2")
    assert integrity.scan(0, 2, None, changes) == ({2: "activity 2 is not as it was written"}, [])
