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
