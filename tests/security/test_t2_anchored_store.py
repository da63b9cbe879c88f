"""T2: an unkeyed store, a defender who kept an anchor elsewhere. Every change to history up to the anchor's head is
caught by `audit verify --anchor`, except what a real `audit prune` could also have done, which shows as a prune.
The attacker here knows chain.py and makes every hash again after the change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit_cli import chain
from audit_cli.store import AuditStore
from .attack import audit, caught, tamper, verify


def rechain(path: Path) -> None:
    """Every link made again from the first, as the store's own code would make it (without a key)."""
    with AuditStore.open(path) as store:
        store.chain_key = None
        with store._writing():
            store.conn.execute("DELETE FROM settings WHERE key = 'chain_key_check'")
            store._rechain(0, chain.GENESIS)


@pytest.fixture
def anchored(plain, tmp_path):
    path, ids = plain
    anchor = tmp_path / "anchor.json"
    assert audit("--db", path, "checkpoint", "-o", anchor).exit_code == 0
    return path, ids, anchor


REWRITES = {
    "a user renamed": lambda ids: ("UPDATE activity SET user = 'mallory' WHERE id = ?", [ids["update"]]),
    "a middle row deleted": lambda ids: ("DELETE FROM activity WHERE id = ?", [ids["login"]]),
    "a timestamp moved": lambda ids: ("UPDATE activity SET timestamp = '2020-01-01T00:00:00.000000Z' WHERE id = ?",
                                      [ids["create"]]),
    "a key changed": lambda ids: ("UPDATE activity SET key = 'elsewhere/1' WHERE id = ?", [ids["create"]]),
}


@pytest.mark.parametrize("change", list(REWRITES))
def test_a_change_with_every_hash_made_again_verifies_alone_but_not_against_the_anchor(anchored, change):
    path, ids, anchor = anchored
    tamper(path, REWRITES[change](ids))
    rechain(path)
    assert verify(path)[0] == 0  # what an unkeyed store cannot prove alone (README, Security)
    caught(path, "--anchor", anchor)


def test_the_newest_rows_removed_fail_the_anchor(anchored):
    path, ids, anchor = anchored
    tamper(path, ("DELETE FROM activity WHERE id = ?", [ids["last"]]),
           ("DELETE FROM revisions WHERE activity = ?", [ids["last"]]),
           ("UPDATE sqlite_sequence SET seq = ? WHERE name = 'activity'", [ids["last"] - 1]))
    assert caught(path, "--anchor", anchor)["kind"] == "truncated"


def test_an_anchor_whose_count_the_store_contradicts_fails(anchored):
    path, _, anchor = anchored
    doc = json.loads(anchor.read_text())
    anchor.write_text(json.dumps({**doc, "count": doc["count"] + 1}))
    assert caught(path, "--anchor", anchor)["kind"] == "deleted"


def test_an_anchor_of_a_keyed_chain_fails_on_an_unkeyed_one(anchored):
    path, _, anchor = anchored
    anchor.write_text(json.dumps({**json.loads(anchor.read_text()), "keyed": True}))
    assert caught(path, "--anchor", anchor)["kind"] == "modified"


def test_an_anchor_of_another_store_cannot_be_used(anchored, tmp_path):
    _, _, anchor = anchored
    from .attack import build

    other = tmp_path / "other.db"
    build(other)
    code, report = verify(other, "--anchor", anchor)
    assert code == 1 and "another store" in report["error"]


@pytest.mark.parametrize("bad", ["{}", '{"schema": "audit-anchor/1"}', "[1]", "not json"])
def test_what_is_not_an_anchor_is_refused(plain, tmp_path, bad):
    path, _ = plain
    anchor = tmp_path / "bad.json"
    anchor.write_text(bad)
    code, report = verify(path, "--anchor", anchor)
    assert code in (1, 2) and "audit: error:" in report["error"]


# signed anchors: a third party with the public key only


@pytest.fixture
def signer(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private, public = tmp_path / "anchor.key", tmp_path / "anchor.pub"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def test_a_signed_anchor_verifies_with_its_public_key(plain, tmp_path, signer):
    path, _ = plain
    private, public = signer
    anchor = tmp_path / "signed.json"
    assert audit("--db", path, "checkpoint", "--sign", private, "-o", anchor).exit_code == 0
    assert json.loads(anchor.read_text())["signature"]["algorithm"] == "ed25519"
    assert verify(path, "--anchor", anchor, "--public-key", public)[0] == 0


@pytest.mark.parametrize("member, value", [("head_hash", "0" * 64), ("count", 1), ("head_id", 1), ("keyed", True)])
def test_an_altered_signed_anchor_is_refused_with_the_public_key(plain, tmp_path, signer, member, value):
    path, _ = plain
    private, public = signer
    anchor = tmp_path / "signed.json"
    audit("--db", path, "checkpoint", "--sign", private, "-o", anchor)
    anchor.write_text(json.dumps({**json.loads(anchor.read_text()), member: value}))
    code, report = verify(path, "--anchor", anchor, "--public-key", public)
    assert code == 3 and "signature" in report["error"]


def test_an_anchor_re_signed_by_another_key_or_unsigned_is_refused(plain, tmp_path, signer):
    path, _ = plain
    private, public = signer
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from audit_cli import anchors

    anchor = tmp_path / "a.json"
    audit("--db", path, "checkpoint", "-o", anchor)
    plain_anchor = json.loads(anchor.read_text())
    assert verify(path, "--anchor", anchor, "--public-key", public)[0] == 3  # unsigned, where a signature is asked
    from cryptography.hazmat.primitives import serialization

    mallory = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    anchor.write_text(json.dumps(anchors.sign(plain_anchor, mallory)))
    assert verify(path, "--anchor", anchor, "--public-key", public)[0] == 3
    # The public key as a signed anchor names it (base64 of its raw bytes) is read too.
    pub_raw = tmp_path / "raw.pub"
    signed = tmp_path / "s.json"
    audit("--db", path, "checkpoint", "--sign", private, "-o", signed)
    pub_raw.write_text(json.loads(signed.read_text())["signature"]["public_key"])
    assert verify(path, "--anchor", signed, "--public-key", pub_raw)[0] == 0
