"""How revision snapshots are packed: zlib, with a recent snapshot of the same item as the preset dictionary.

Small edits to a large document then cost tens of bytes, and any revision unpacks in two decompressions (its base and
itself), with no chain of deltas to replay. A revision starts a new base when packing against the old one stops
paying off, so the scheme adapts to documents that drift.
"""

from __future__ import annotations

import zlib

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
    return zlib.compress(text, level(text))


def unpack_base(body: bytes) -> bytes:
    return zlib.decompress(body)


def pack(text: bytes, base: bytes | None) -> bytes:
    packer = zlib.compressobj(level(text), zdict=base[-_WINDOW:]) if base else zlib.compressobj(level(text))
    return packer.compress(text) + packer.flush()


def unpack(data: bytes, base: bytes | None) -> bytes:
    unpacker = zlib.decompressobj(zdict=base[-_WINDOW:]) if base else zlib.decompressobj()
    text = unpacker.decompress(data)
    return text if unpacker.eof else text + unpacker.flush()  # a whole stream (every one) needs no flush


def worth_rebasing(packed: bytes, base_packed_size: int) -> bool:
    return len(packed) > 64 + REBASE_RATIO * base_packed_size
