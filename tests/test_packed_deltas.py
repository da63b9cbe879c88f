"""Deltas packed against their own snapshot (schema 5, store/codec.py pack_delta): every reader sees the same JSON
text as from a delta stored as text, which every store before schema 5 holds and which still reads as it is."""

from __future__ import annotations

import random
import sqlite3
import zlib
from pathlib import Path

import pytest

from audit_cli import jsonl, jsontext
from audit_cli.errors import Damaged
from audit_cli.models import Activity as Made, LogQuery
from audit_cli.store import AuditStore, codec, damage

PATHS = ("/title", "/tags", "/meta/n", "/body/2", "/ü")


def test_a_packed_delta_reads_back_as_its_text():
    rng = random.Random(5)
    for _ in range(200):
        state = {"title": "t" * rng.randrange(40), "n": rng.randrange(10**6), "ü": "✓" * rng.randrange(3),
                 "body": [rng.choice(["a", "bb", "ccc"]) * rng.randrange(30) for _ in range(rng.randrange(8))]}
        snapshot = jsontext.dumps(state).encode()
        delta = jsontext.dumps([{"op": "replace", "path": "/title", "value": state["title"]},
                                {"op": "add", "path": "/body/0", "value": state["body"][:1]}])
        stored = codec.pack_delta(delta, snapshot)
        assert codec.delta_text(stored, snapshot) == delta
        if isinstance(stored, bytes):
            assert len(stored) < len(delta.encode())
    assert codec.pack_delta("[]", b'{"a":1}') == "[]"  # nothing to gain: kept as text
    # As schema 5 first packed them: the snapshot alone as the dictionary, no byte before the stream.
    text = delta.encode()
    first = zlib.compressobj(6, zlib.DEFLATED, -15, 8, zdict=snapshot)
    assert codec.delta_text(first.compress(text) + first.flush() + zlib.crc32(text).to_bytes(4, "big"),
                            snapshot) == delta
    scribbled = bytearray(codec.pack_delta(delta, snapshot))
    scribbled[len(scribbled) // 2] ^= 0x10
    with pytest.raises(Damaged):  # the text's CRC-32 finds it, where the deflate stream alone may not
        codec.delta_text(bytes(scribbled), snapshot)
    edit = '[{"op":"replace","path":"/title","value":"' + "a title that the snapshot holds" + '"}]'
    stored = codec.pack_delta(edit, b'{"body":"...","title":"a title that the snapshot holds"}')
    assert isinstance(stored, bytes) and len(stored) < 0.6 * len(edit)  # the value is the snapshot's


def build(path: Path) -> None:
    rng = random.Random(18)
    moments = (f"2026-11-01T{n // 60:02d}:{n % 60:02d}:00.000000Z" for n in range(10**4))

    def Activity(action: str, collection: str, item: str, **fields) -> Made:  # noqa: N802 - stands for it
        return Made(action, collection, item, next(moments), **fields)

    with AuditStore.open(path, create=True) as store:
        for item in map(str, range(4)):
            state = {"title": f"item {item}", "tags": ["a"], "meta": {"n": 0}, "body": ["p"] * 5, "ü": "é"}
            store.record(Activity("create", "articles", item, user="ann"), data=state)
            for n in range(30):
                field = rng.choice(["title", "tags", "meta", "body", "ü"])
                if field == "body":
                    patch = [{"op": "replace", "path": f"/body/{rng.randrange(5)}", "value": f"paragraph {n} " * 5}]
                    store.record(Activity("update", "articles", item, user="bob"), patch=patch)
                    continue
                value = {"title": f"title {n} of {item}", "tags": ["a", str(n)], "meta": {"n": n},
                         "ü": "✓" * n}[field]
                store.record(Activity("update", "articles", item, user="bob"), data={field: value})
        store.create_version("articles", "1", "draft", name=None, activity=Activity("version-create", "", ""))
        store.save_version("articles", "1", "draft", {"title": "Draft title"}, activity=Activity("v", "", ""))
        store.record(Activity("delete", "articles", "2"))


def readings(path: Path) -> dict:
    """What every reader of deltas makes of the store: export, history, revisions, changed-path filters, verify."""
    with AuditStore.open(path) as store:
        exported = b"".join(store.export_lines(LogQuery()))
        ecs = b"".join(store.export_lines(LogQuery(), fmt="ecs"))
        ids = [row[0] for row in store.conn.execute("SELECT activity FROM revisions ORDER BY activity")]
        return {
            "export": exported,
            "ecs": ecs,
            "history": [store.history("articles", item) for item in map(str, range(4))],
            "revisions": [(r.data, r.delta) for r in map(store.revision_of, ids)],
            "touching": {path: [row["id"] for row in store.log(LogQuery(field_path=path, limit=None)).rows]
                         for path in PATHS},
            "verify": store.verify(),
            "damaged": damage.locate(store.conn),
        }


def unpacked(path: Path) -> int:
    """Every packed delta of the store rewritten as its JSON text, as a store before schema 5 holds it."""
    with AuditStore.open(path) as store:
        texts = [(store.snapshots.delta(base, data, delta), activity) for activity, base, data, delta in
                 store.conn.execute("SELECT activity, base, data, delta FROM revisions WHERE typeof(delta) = 'blob'")]
    with sqlite3.connect(path) as db:
        db.executemany("UPDATE revisions SET delta = ? WHERE activity = ?", texts)
    db.close()
    return len(texts)


def kinds(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        found = dict(db.execute("SELECT typeof(delta), count(*) FROM revisions GROUP BY 1").fetchall())
    db.close()
    return found


def test_packed_and_text_deltas_read_the_same_everywhere(tmp_path):
    path = tmp_path / "audit.db"
    build(path)
    blobs = kinds(path)["blob"]
    assert blobs > 100 and kinds(path)["text"] >= 1  # the delete's empty delta stays text
    packed = readings(path)
    assert packed["verify"]["ok"] and packed["damaged"] is None
    assert all(packed["touching"][p] for p in PATHS)  # each filter finds revisions
    assert unpacked(path) == blobs
    assert "blob" not in kinds(path)
    assert readings(path) == packed


def test_an_import_packs_deltas_and_round_trips(tmp_path):
    source, copy = tmp_path / "source.db", tmp_path / "copy.db"
    build(source)
    unpacked(source)  # an older store's text deltas, exported and imported into a new one
    trail = tmp_path / "trail.jsonl"
    with AuditStore.open(source) as store:
        trail.write_bytes(b"".join(store.export_lines(LogQuery())))
    with AuditStore.open(copy, create=True) as store:
        assert store.import_lines(jsonl.read_lines(str(trail)), source="trail")["added"] > 100
    assert kinds(copy)["blob"] > 100
    before, after = readings(source), readings(copy)
    for reading in (before, after):  # the trailer names the store that wrote the export
        reading["export"] = reading["export"].splitlines()[:-1]
    assert after == before
