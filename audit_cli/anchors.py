"""Anchors (`audit-anchor/1`): what `audit checkpoint` writes, and how one is read, signed and its signature checked.

An anchor states a store's identity, whether its chain is keyed, how many activities it held and its head. Kept
where the store's writers cannot reach, it lets `audit verify --anchor` prove that the store still extends it.
Signed with Ed25519 (`checkpoint --sign`), it can be handed to a third party, who checks it with the public key
alone: the signature covers the canonical JSON of every other member.
"""

from __future__ import annotations

import base64
from typing import Any

from . import jsontext
from .errors import AnchorError, BadSignature, UsageError

SCHEMA = "audit-anchor/1"
_MEMBERS = {"schema": str, "store": str, "count": int, "head_id": int, "head_hash": str, "created_at": str,
            "keyed": bool}
ALGORITHM = "ed25519"


def parse(anchor: Any) -> dict[str, Any]:
    """The anchor, its members checked (types, not truth: verify judges that)."""
    if not isinstance(anchor, dict) or anchor.get("schema") != SCHEMA:
        raise AnchorError(f"the anchor is not an {SCHEMA} file: make one with `audit checkpoint`")
    for name, kind in _MEMBERS.items():
        value = anchor.get(name)
        if type(value) is not kind or (kind is int and value < 0):
            raise AnchorError(f"the anchor's {name} is missing or not {'a count' if kind is int else kind.__name__}: "
                              "make one with `audit checkpoint`")
    return anchor


def signed_bytes(anchor: dict[str, Any]) -> bytes:
    return jsontext.canonical({k: v for k, v in anchor.items() if k != "signature"}).encode()


def sign(anchor: dict[str, Any], private_key: bytes) -> dict[str, Any]:
    """The anchor with an Ed25519 signature by `private_key` (PEM, PKCS#8 or OpenSSH)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = (serialization.load_ssh_private_key(private_key, None) if b"OPENSSH PRIVATE KEY" in private_key
               else serialization.load_pem_private_key(private_key, None))
    except (ValueError, TypeError) as exc:
        raise UsageError(f"the signing key is not an unencrypted Ed25519 private key in PEM or OpenSSH form ({exc})"
                         ": make one with `openssl genpkey -algorithm ed25519 -out anchor.key`") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError("the signing key is not an Ed25519 key: make one with "
                         "`openssl genpkey -algorithm ed25519 -out anchor.key`")
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    unsigned = {k: v for k, v in anchor.items() if k != "signature"}
    return {**unsigned, "signature": {
        "algorithm": ALGORITHM, "public_key": base64.b64encode(public).decode(),
        "value": base64.b64encode(key.sign(signed_bytes(unsigned))).decode()}}


def load_public_key(text: bytes) -> Any:
    """An Ed25519 public key: PEM (`openssl pkey -pubout`), OpenSSH (`ssh-ed25519 AAAA...`), or the base64 of its
    32 raw bytes (as a signed anchor names it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    stripped = text.strip()
    try:
        if stripped.startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(stripped)
        elif stripped.startswith(b"ssh-ed25519 "):
            key = serialization.load_ssh_public_key(stripped)
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(stripped, validate=True))
    except (ValueError, TypeError) as exc:
        raise AnchorError(f"the public key is not an Ed25519 public key in PEM, OpenSSH or base64 form ({exc})") \
            from None
    if not isinstance(key, Ed25519PublicKey):
        raise AnchorError("the public key is not an Ed25519 key")
    return key


def check_signature(anchor: dict[str, Any], public_key: bytes) -> None:
    """Raise BadSignature unless `anchor` carries a valid Ed25519 signature by `public_key`."""
    from cryptography.exceptions import InvalidSignature

    key = load_public_key(public_key)
    signature = anchor.get("signature")
    if not isinstance(signature, dict) or signature.get("algorithm") != ALGORITHM:
        raise BadSignature("the anchor is not signed (a public key was given): it may have been replaced; "
                           "sign anchors with `audit checkpoint --sign KEY`")
    try:
        key.verify(base64.b64decode(str(signature.get("value")), validate=True), signed_bytes(anchor))
    except (InvalidSignature, ValueError):
        raise BadSignature("the anchor's signature does not verify with the public key given: the anchor was "
                           "altered after it was signed, or signed with another key") from None
