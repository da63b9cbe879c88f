"""The store's schema, as append-only named migrations (sqlite-utils `Migrations`).

Never edit or reorder a migration that has shipped: add a new one. `PRAGMA user_version` holds the count applied, so
that opening an up-to-date store costs one pragma read and never imports sqlite-utils (about 120 ms of start-up).
"""

from __future__ import annotations

import sqlite3
import uuid

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("audit")


@migrations(name="m001_initial")
def m001_initial(db: Database) -> None:
    # AUTOINCREMENT: ids are never reused, even after the newest activity is pruned.
    db.execute(
        """CREATE TABLE activity (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            action TEXT NOT NULL,
            user TEXT,
            timestamp TEXT NOT NULL,
            ip TEXT,
            user_agent TEXT,
            origin TEXT,
            collection TEXT NOT NULL,
            item TEXT NOT NULL,
            comment TEXT,
            details TEXT,
            edited_on TEXT,
            comment_deleted_on TEXT,
            key TEXT,
            hash TEXT NOT NULL,
            prev_hash TEXT NOT NULL
        )"""
    )
    # A stable identity for each activity, independent of local ids, so that importing the same trail twice adds
    # nothing the second time. Activities recorded here leave it null and are known as "<store id>/<id>"; imported
    # ones keep the identity they came with.
    db.execute("CREATE UNIQUE INDEX activity_key ON activity (key)")
    # One index per query shape served: each filter with time order, so "latest N updates since T" is a range scan.
    for name, columns in (
        ("activity_timestamp", "timestamp"),
        ("activity_action", "action, timestamp"),
        ("activity_user", "user, timestamp"),
        ("activity_item", "collection, item, timestamp"),
    ):
        db.execute(f"CREATE INDEX {name} ON activity ({columns})")
    # A revision's snapshot is zlib-compressed with a shared base snapshot of the same item as the dictionary, so
    # near-identical revisions cost tens of bytes, and any revision reads in two decompressions without replaying
    # deltas. `delta` stays plain JSON text for `log --field` and export. Base ids are never reused once committed,
    # so a cached base can never go stale.
    db.execute(
        """CREATE TABLE bases (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            body BLOB NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE revisions (
            activity INTEGER PRIMARY KEY REFERENCES activity(id),
            collection TEXT NOT NULL,
            item TEXT NOT NULL,
            version TEXT,
            base INTEGER REFERENCES bases(id),
            data BLOB NOT NULL,
            delta TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX revisions_item ON revisions (collection, item, version, activity)")
    db.execute("CREATE INDEX revisions_base ON revisions (base)")
    db.execute(
        """CREATE TABLE versions (
            id INTEGER PRIMARY KEY,
            collection TEXT NOT NULL,
            item TEXT NOT NULL,
            key TEXT NOT NULL,
            name TEXT,
            base_activity INTEGER,
            staged TEXT NOT NULL,
            created_at TEXT NOT NULL,
            created_by TEXT,
            UNIQUE (collection, item, key)
        )"""
    )
    db.execute("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO settings (key, value) VALUES ('store_id', ?)", [str(uuid.uuid4())])


@migrations(name="m002_prune")
def m002_prune(db: Database) -> None:
    # The revision digests that prunes removed or rewrote: an activity's hash still covers its revision as written,
    # so verify needs the former digest; the latest prune record attests this table as a whole.
    db.execute("CREATE TABLE attested (activity INTEGER PRIMARY KEY, revision TEXT NOT NULL)")
    # What a prune still has to delete, so that one killed between batches is finished by the next.
    db.execute("CREATE TABLE prune_plan (activity INTEGER PRIMARY KEY, what TEXT NOT NULL)")


@migrations(name="m003_prune_plan_done")
def m003_prune_plan_done(db: Database) -> None:
    # A prune marks what it deleted instead of forgetting it, until it is finished: verify then knows that a row at a
    # planned id is one the prune already removed (so one there now was put back), and the whole plan stays what the
    # prune's chained record holds a digest of.
    db.execute("ALTER TABLE prune_plan ADD COLUMN done INTEGER NOT NULL DEFAULT 0")


@migrations(name="m004_pruned")
def m004_pruned(db: Database) -> None:
    # Each activity a prune removes leaves its id, the digest of its record and its link: a link covers the record's
    # digest (chain.py), so verify still recomputes the chain from the first activity through what was removed, and a
    # prune can only drop whole rows, in view. `digest` is NULL for a row linked by chain format 1, whose link is
    # over the record itself: its link then stands, unproven. `prune` is the id of the prune record that removed it.
    db.execute("CREATE TABLE pruned (id INTEGER PRIMARY KEY, digest TEXT, hash TEXT NOT NULL, prune INTEGER NOT NULL)")


@migrations(name="m005_packed_deltas")
def m005_packed_deltas(db: Database) -> None:
    # From here a revision's `delta` may be a BLOB: its JSON text deflated with the revision's own snapshot as the
    # dictionary (store/codec.py pack_delta; 112 to 48 B a revision on package-manifest histories). Text deltas,
    # all of an older store's, read as they are, so nothing is rewritten; the schema changes only so that an older
    # release refuses this store as newer rather than reading a packed delta as text (and reporting tampering).
    pass


def count() -> int:
    return len(migrations._migrations)


def names() -> list[str]:
    """The migrations of this release, in the order they are applied."""
    return [migration.name for migration in migrations._migrations]


def apply(conn: sqlite3.Connection) -> None:
    """Apply pending migrations on a connection already holding the write lock."""
    migrations.apply(Database(conn))
    conn.execute(f"PRAGMA user_version = {count()}")
