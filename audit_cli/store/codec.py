"""How revision snapshots are packed: zlib, with a recent snapshot of the same item as the preset dictionary.

Small edits to a large document then cost tens of bytes, and any revision unpacks in two decompressions (its base and
itself), with no chain of deltas to replay. A revision starts a new base when packing against the old one stops
paying off, so the scheme adapts to documents that drift.
"""

from __future__ import annotations

import zlib
from typing import NamedTuple

from ..errors import Damaged

LEVEL = 6
FAST_LEVEL = 1
LARGE = 2**20
# Re-base when a packed revision is larger than 64 bytes plus this share of its base's own packed size. Packed
# against an older base, a drifting document costs more each revision; a new base costs its own size once. Measured
# on the bench histories (snapshot + base bytes a revision): 1.9 KB package manifests edited 1,300 times 259 B at
# 0.35, 130 B at 0.12, 117 B at 0.08; 2.1 KB articles (bench_revisions) 266, 203, 228 B; 560 B orders 122, 108,
# 107 B. Reads stay two decompressions whatever the ratio.
REBASE_RATIO = 0.12
_WINDOW = 32 * 1024  # zlib uses at most the last 32 KiB of a dictionary


def level(text: bytes) -> int:
    return FAST_LEVEL if len(text) >= LARGE else LEVEL


def pack_base(text: bytes) -> bytes:
    """A base's body: the text packed alone (a whole zlib stream, which unpack_base reads)."""
    return pack(text, None)


def unpack_base(body: bytes) -> bytes:
    return zlib.decompress(body)


def pack(text: bytes, base: bytes | None) -> bytes:
    """`text` packed against `base` (None: alone), with zlib's window and hash table sized to the text.

    zlib's defaults (a 32 KiB window, memLevel 8) allocate about 256 KiB per stream, and for a snapshot of a few
    hundred bytes that is nine tenths of the cost (~100 us against ~10 us here). A smaller window holds the same
    matches when the dictionary's tail and the text fit in it. The dictionary is the bytes unpack passes (the
    stream's checksum covers them all) and deflate uses its last window's worth, so any inflate reads the stream.
    """
    zdict = base[-_WINDOW:] if base else None
    need = len(text) + (len(zdict) if zdict else 0)
    wbits = min(15, max(10, need.bit_length()))
    memory = max(1, min(8, wbits - 7))
    if zdict:
        packer = zlib.compressobj(level(text), zlib.DEFLATED, wbits, memory, zdict=zdict)
    else:
        packer = zlib.compressobj(level(text), zlib.DEFLATED, wbits, memory)
    return packer.compress(text) + packer.flush()


def unpack(data: bytes, base: bytes | None) -> bytes:
    unpacker = zlib.decompressobj(zdict=base[-_WINDOW:]) if base else zlib.decompressobj()
    text = unpacker.decompress(data)
    return text if unpacker.eof else text + unpacker.flush()  # a whole stream (every one) needs no flush


# What a delta is packed with before its snapshot: the words of JSON Patch, which a snapshot does not hold. On
# bench_history's package manifests a packed delta takes 31 B with them, 52 B with the snapshot alone.
_PATCH_WORDS = (b'{"op":"move","from":"/","path":"/"},{"op":"copy","from":"/","path":"/"},{"op":"remove","path":"/"},'
                b'{"op":"add","path":"/","value":"},{"op":"replace","path":"/","value":"')
# The first byte of a delta packed with them: the header of a final deflate block of type 3, a type deflate
# reserves, so that no deflate stream starts so: a delta packed with its snapshot alone (as schema 5 first wrote
# them, in 5d761eb, before any release) still reads.
_WORDS = b"\x07"


def pack_delta(delta: str, snapshot: bytes) -> str | bytes:
    """A revision's delta as stored: its JSON text deflated with the words of JSON Patch and the revision's own
    snapshot as the dictionary (the values an edit writes are in the state after it), as bytes (a BLOB); or the
    text itself where that is no longer (an empty delta). A raw deflate stream, after a byte that says so, and the
    CRC-32 of the text (4 bytes), so that a scribbled byte is found when the delta is read, not only by verify: a
    zlib stream would add 10 (its header, and the dictionary's id). Old stores hold text only, and read as they are
    (delta_text).

    Measured on bench_history's package manifests: 112 B of delta text a revision to 48 B of deflate with the
    snapshot alone (59 B as zlib streams), 52 B with the check, 32 B with the words and the byte before it."""
    text = delta.encode()
    if len(text) < 8:
        return delta
    zdict = (_PATCH_WORDS + snapshot)[-_WINDOW:]
    wbits = min(15, max(10, (len(text) + len(zdict)).bit_length()))
    packer = zlib.compressobj(level(text), zlib.DEFLATED, -wbits, max(1, min(8, wbits - 7)), zdict=zdict)
    packed = _WORDS + packer.compress(text) + packer.flush() + zlib.crc32(text).to_bytes(4, "big")
    return packed if len(packed) < len(text) else delta


def delta_text(stored: str | bytes, snapshot: bytes) -> str:
    """A revision's delta JSON text from its stored form (pack_delta) and its snapshot's text; Damaged when the
    bytes are not one (a scribbled page, an edit by hand)."""
    if isinstance(stored, str):
        return stored
    try:
        words = stored[:1] == _WORDS
        zdict = (_PATCH_WORDS + snapshot if words else snapshot)[-_WINDOW:]
        unpacker = zlib.decompressobj(-15, zdict=zdict)
        text = unpacker.decompress(stored[1 if words else 0:-4]) + unpacker.flush()
        if unpacker.eof and not unpacker.unused_data and zlib.crc32(text).to_bytes(4, "big") == stored[-4:]:
            return text.decode()
    except (zlib.error, UnicodeDecodeError, TypeError):
        pass
    raise Damaged("a revision's delta does not unpack: the store is damaged (`audit verify` says where)")


def worth_rebasing(packed: bytes, base_packed_size: int) -> bool:
    return len(packed) > 64 + REBASE_RATIO * base_packed_size


class Packing(NamedTuple):
    """How a revision's snapshot is stored: `data` (its packed text), and either `new_base` (the body of the base
    it starts, which it was packed against), or `alone` (packed against nothing, with no base), or neither (packed
    against the base it was given)."""

    data: bytes
    new_base: bytes | None = None
    alone: bool = False


def pack_revision(text: bytes, base: bytes | None, base_size: int | None) -> Packing:
    """The one rule for packing a snapshot: against its item's current base (`base`, whose packed size is
    `base_size`) while that pays off, else as the start of a new base; a text of LARGE bytes or more alone."""
    if len(text) >= LARGE:
        return Packing(pack(text, None), alone=True)
    if base is not None:
        packed = pack(text, base)
        if not worth_rebasing(packed, base_size or 0):
            return Packing(packed)
    return Packing(pack(text, text), new_base=pack_base(text))
