"""A realistic trail for the pipeline tests (test_ecs.py, test_integrations.py): thousands of activities over six
weeks, recorded through the core into a real store, seeded so every run writes the same one.

What engines trip over is in it on purpose: deltas whose values are text in one line and objects or arrays in the
next, details whose `user_id` is a number here and text there, a details key that first appears near the end (after
any sample a schema inference reads), nested documents, integers past 64 bits, users who are email addresses,
addresses with ports, brackets and IPv6 zone ids next to ones that are no address at all, failed logins, comments
edited and soft-deleted, versions saved and promoted, and the names Strapi and Directus give their actions.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

from audit_cli.models import Activity
from audit_cli.store import AuditStore

START = datetime(2026, 10, 1, 6, 0, tzinfo=timezone.utc)
USERS = ["alice", "bob", "carol@example.com", "dana@example.com", "svc-importer", None]
ADDRESSES = ["10.0.4.21", "10.0.4.22", "192.168.1.40", "2001:db8::5", "fe80::1%eth0", "[2001:db8::7]:443",
             "10.0.0.9:51234", "::ffff:10.0.0.3", "unknown", "cms.internal", None]
ATTACKERS = ["203.0.113.9", "203.0.113.77", "198.51.100.4", "2001:db8:bad::1", "fe80::dead%en0"]
COLLECTIONS = ["articles", "pages", "products"]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0", "curl/8.5.0", None]
ORIGINS = ["https://cms.example.com", "admin-panel", None]
BIG = 2**70 + 3
OTHER_ACTIONS = ["publish", "unpublish", "status-update", "entry.update", "entry.publish", "admin.auth.success",
                 "admin.logout", "media.create", "user.update", "role.update", "run", "version_save"]


def _document(rng: random.Random, n: int) -> dict:
    return {
        "title": f"Item {n}", "status": rng.choice(["draft", "review", "published"]),
        "price": rng.choice([n, n + 0.5, str(n), None]),
        "meta": {"tags": rng.sample(["news", "sale", "eu", "us", "archive"], rng.randint(0, 3)),
                 "seo": {"score": rng.randint(0, 100), "keywords": ["a", "b"]}},
        "blocks": [{"type": "p", "text": f"paragraph {i} of {n}"} for i in range(rng.randint(1, 4))],
    }


def _change(rng: random.Random, doc: dict, step: int) -> dict:
    """A shallow --data merge whose values alternate between text, numbers, objects and arrays."""
    pick = rng.randrange(6)
    if pick == 0:
        return {"title": f"{doc['title']} (rev {step})"}
    if pick == 1:
        return {"meta": {**doc["meta"], "seo": {"score": rng.randint(0, 100), "keywords": ["c"] * rng.randint(0, 3)}}}
    if pick == 2:
        return {"blocks": doc["blocks"] + [{"type": "quote", "text": f"q{step}", "cite": {"by": "x", "n": step}}]}
    if pick == 3:
        return {"price": rng.choice([step, f"{step}.00", {"amount": step, "currency": "EUR"}, [step, "EUR"], None])}
    if pick == 4:
        return {"status": rng.choice(["draft", "review", "published"]), "counter": BIG if step % 97 == 0 else step}
    return {"extra": rng.choice(["text", 3, 2.5, True, {"deep": {"er": [1, {"est": "x"}]}}, ["x", 1]])}


def _details(rng: random.Random, step: int, total: int) -> object:
    pick = rng.randrange(6)
    if pick == 0:
        return None
    if pick == 5:
        return rng.choice([["imported", 3], "free text", 42])
    if pick == 1:
        return {"user_id": rng.randint(1, 40)}
    if pick == 2:
        return {"user_id": f"u-{rng.randint(1, 40)}", "request": {"id": f"r{step}", "headers": {"x-forwarded": "1"}}}
    details = {"tags": [1, "a", {"x": step}], "ratio": step / 7, "ok": step % 2 == 0}
    if step > total * 0.98:
        details["late_key"] = {"first": "seen only at the end", "n": step}
    return details


def build(path: Path, activities: int = 3000, seed: int = 17) -> dict:
    """Record about `activities` activities into a new store at `path`; returns what was recorded by kind, for
    the tests to check themselves against."""
    rng = random.Random(seed)
    made: dict[str, int] = {}
    items: dict[tuple[str, str], dict] = {}
    comments: list[int] = []
    created = 0
    at = START

    def when() -> str:
        nonlocal at
        at += timedelta(seconds=rng.randint(30, 2400))
        return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{rng.randrange(1000000):06d}Z"

    def act(action: str, collection: str, item: str, **fields) -> Activity:
        made[action] = made.get(action, 0) + 1
        user = fields.pop("user", rng.choice(USERS))
        return Activity(action, collection, item, when(), user=user, ip=fields.pop("ip", rng.choice(ADDRESSES)),
                        user_agent=rng.choice(AGENTS), origin=rng.choice(ORIGINS), **fields)

    with AuditStore.open(path, create=True) as store:
        for step in range(activities):
            roll = rng.random()
            details = _details(rng, step, activities)
            if roll < 0.08 or not items:
                created += 1
                key = (rng.choice(COLLECTIONS), str(created))
                items[key] = _document(rng, created)
                store.record(act("create", *key, details=details), data=items[key], replace=True)
            elif roll < 0.55:
                key = rng.choice(list(items))
                change = _change(rng, items[key], step)
                items[key] = {**items[key], **change}
                store.record(act("update", *key, details=details, comment=rng.choice([None, "typo", "per\nreview"])),
                             data=change)
            elif roll < 0.58:
                key = rng.choice(list(items))
                store.record(act(rng.choice(["delete", "soft-delete"]), *key, details=details))
                del items[key]
            elif roll < 0.66:
                name = rng.choice(["alice", "bob", "carol@example.com"])
                store.record(act(rng.choice(["login", "logout"]), "directus_users", name, user=name))
            elif roll < 0.72:
                store.record(act("invalid-credentials", "directus_users", rng.choice(["admin", "root", "alice"]),
                                 user=None, ip=rng.choice(ATTACKERS), details={"reason": "bad password"}))
            elif roll < 0.80:
                key = rng.choice(list(items))
                comments.append(store.add_comment(act("comment", *key, comment=f"note {step}"))["id"])
            elif roll < 0.84 and comments:
                target = rng.choice(comments)
                if rng.random() < 0.5:
                    store.edit_comment(target, f"edited {step}", activity=act("comment-edit", "", ""))
                else:
                    store.delete_comment(target, activity=act("comment-delete", "", ""))
                    comments.remove(target)
            elif roll < 0.87:
                key = rng.choice(list(items))
                version = f"v{step}"
                store.create_version(*key, version, name=f"Draft {step}", activity=act("version-create", *key))
                store.save_version(*key, version, {"title": f"Staged {step}"}, activity=act("version-save", *key))
                if rng.random() < 0.5 and key in items:
                    store.promote_version(*key, version, fields=None, force=True, activity=act("promote", *key))
                    items[key] = {**items[key], "title": f"Staged {step}"}
            elif roll < 0.89:
                store.record(act("upload", "directus_files", f"f{step}", details={"filename": f"f{step}.png",
                                                                               "size": rng.randint(1, 10**6)}))
            else:
                key = rng.choice(list(items))
                store.record(act(rng.choice(OTHER_ACTIONS), *key, details=details))
    return made
