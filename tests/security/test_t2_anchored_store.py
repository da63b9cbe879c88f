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
            store.transfers.rechain(0, chain.GENESIS)


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


# Forged prunes: the attacker removes rows and writes a prune record for them, so that verify takes the removal
# as a prune's. A prune keeps the digest of each activity it removes (store/pruned.py), so the chain still runs
# from the first activity to the head through them: a forged prune can remove rows in view, never change one.


def _relink(store: AuditStore, activity_id: int) -> None:
    """Give a changed row the hash that covers it, after the prev_hash it has (the attacker knows chain.py)."""
    for row, details, digest in store.integrity.rows(activity_id - 1, activity_id):
        new, _ = store.integrity.link_of(row, details, digest, row["prev_hash"], None)
        store.conn.execute("UPDATE activity SET hash = ? WHERE id = ?", [new, activity_id])


def _forge_prune(store: AuditStore, removed: list[int], boundary: dict, *, keep_digests: bool) -> None:
    """Remove `removed` and append a prune record that accounts for them, as `audit prune` writes one (with the
    digests of what it removed kept, or as a release before them did), then chain on from it."""
    from audit_cli.models import Activity
    from audit_cli.store import derived, pruned
    from audit_cli.store.pruned import survivors_digest

    marks = ", ".join("?" * len(removed))
    with store._writing():
        if keep_digests:
            pruned.keep(store, removed, store._next_id())
        count, digest = survivors_digest(store.conn.execute(
            f"SELECT id, hash FROM activity WHERE id <= ? AND id NOT IN ({marks}) ORDER BY id",
            [boundary["id"], *removed]))
        details = {"removed": {"activities": len(removed), "revisions": 0, "rewritten": 0, "by": []},
                   "policy": {}, "boundary": boundary, "survivors": {"count": count, "digest": digest},
                   "attested": dict(zip(("count", "digest"), store.attested_digest())),
                   "rewrites": derived.rewrites_digest(store), "plan": derived.plan_digest(store.conn),
                   "versions": derived.versions_state(store), "settings": store.policy()}
        if keep_digests:
            details["pruned"] = pruned.table_digest(store.conn)
        store._insert_activity(Activity("prune", "*", "*", "", details=details))  # chained on from the head
        store.conn.execute(f"DELETE FROM revisions WHERE activity IN ({marks})", removed)
        store.conn.execute(f"DELETE FROM activity WHERE id IN ({marks})", removed)


def _hash(store: AuditStore, activity_id: int) -> str:
    return store.conn.execute("SELECT hash FROM activity WHERE id = ?", [activity_id]).fetchone()[0]


def test_a_forged_prune_that_removes_the_anchors_head_after_a_change_fails_the_anchor(anchored):
    path, ids, anchor = anchored
    head = json.loads(anchor.read_text())["head_id"]
    with AuditStore.open(path) as store:
        boundary = {"id": head, "hash": _hash(store, head)}
    tamper(path, ("UPDATE activity SET user = 'mallory' WHERE id = ?", [ids["update"]]))
    with AuditStore.open(path) as store:
        with store._writing():
            store.transfers.rechain(0, chain.GENESIS)  # every link made again: alone, the store verifies
        _forge_prune(store, [head], {"id": head, "hash": _hash(store, head)}, keep_digests=True)
    assert verify(path)[0] == 0
    assert caught(path, "--anchor", anchor)["kind"] == "head mismatch"
    assert boundary["hash"] != _hash_after(path)


def _hash_after(path):
    return json.loads(audit("--db", path, "checkpoint").stdout)["head_hash"]


def test_a_forged_prune_of_an_earlier_release_cannot_vouch_for_rows_after_the_anchor(anchored):
    """A prune record without kept digests (as a release before them wrote): rows below its boundary are checked
    each alone, which cannot prove a change before the anchor's head, so verify refuses to vouch for the anchor."""
    path, ids, anchor = anchored
    head = json.loads(anchor.read_text())["head_id"]
    tamper(path, ("UPDATE activity SET user = 'mallory' WHERE id = ?", [ids["update"]]))
    with AuditStore.open(path) as store:
        with store._writing():
            _relink(store, ids["update"])
        _forge_prune(store, [ids["login"]], {"id": head, "hash": _hash(store, head)}, keep_digests=False)
    assert verify(path)[0] == 0  # the prune's account holds, alone
    failure = caught(path, "--anchor", anchor)
    assert failure["kind"] == "deleted" and "kept no digest" in failure["message"]


def test_a_forged_prune_with_kept_digests_shows_as_the_prune_it_is(anchored):
    """Rows removed with their digests kept, and a prune record for them: what `audit prune` does. The anchor
    still verifies (T2's exception), and the removal shows as a prune."""
    path, ids, anchor = anchored
    with AuditStore.open(path) as store:
        _forge_prune(store, [ids["login"]], {"id": 0, "hash": chain.GENESIS}, keep_digests=True)
    code, report = verify(path, "--anchor", anchor)
    assert code == 0 and "pruned" in report, report


def test_rows_removed_with_their_digests_kept_but_no_prune_record_are_caught(anchored):
    path, ids, anchor = anchored
    with AuditStore.open(path) as store:
        with store._writing():
            from audit_cli.store import pruned

            pruned.keep(store, [ids["login"]], store._next_id())
            store.conn.execute("DELETE FROM activity WHERE id = ?", [ids["login"]])
    assert caught(path)["kind"] == "deleted"
