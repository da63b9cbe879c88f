"""The store's parts (AuditStore.PARTS): each public method a part answers is that part's own, reached in one
attribute lookup, and nothing else on the store answers it instead."""

from __future__ import annotations

import inspect

import pytest

from audit_cli.store import AuditStore

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
