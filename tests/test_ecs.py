"""`audit export --format ecs` against ECS 8.11's own field definitions (fixtures/ecs-8.11/, a subset of
elastic/ecs's generated/ecs/ecs_flat.yml): every field the export writes outside `audit.*` is an ECS field, with
its type, its array normalization and its allowed values (and each event.type one its event.category expects)."""

from __future__ import annotations

import ipaddress
import json
from datetime import datetime
from pathlib import Path

import pytest

import trail
from audit_cli import ecs
from audit_cli.models import COMMENT_CHANGES, WELL_KNOWN_ACTIONS
from conftest import Cli

ROOT = Path(__file__).resolve().parent.parent
ECS = json.loads((ROOT / "fixtures" / "ecs-8.11" / "ecs_flat_subset.json").read_text())
FIELDS = ECS["fields"]
ALLOWED = {name: {value["name"]: value.get("expected_event_types") for value in field["allowed_values"]}
           for name, field in FIELDS.items() if "allowed_values" in field}
FREE = ("audit.details", "audit.revision")


@pytest.fixture(scope="module")
def trail_docs(tmp_path_factory) -> list[dict]:
    path = tmp_path_factory.mktemp("ecs") / "trail.db"
    trail.build(path)
    return [json.loads(line) for line in Cli(path)("export", "--format", "ecs").stdout.splitlines()]


def leaves(doc: dict, prefix: str = ""):
    """(dotted name, value) for every member down to the leaves, arrays whole, free JSON unopened."""
    for name, value in doc.items():
        dotted = prefix + name
        if isinstance(value, dict) and dotted not in FREE:
            yield from leaves(value, dotted + ".")
        else:
            yield dotted, value


def problems(doc: dict) -> list[str]:
    """What in `doc` ECS 8.11 would not accept: an empty list when it is all valid."""
    found = []
    for name, value in leaves(doc):
        if name.split(".")[0] == "audit":
            continue
        field = FIELDS.get(name)
        if field is None:
            found.append(f"{name} is not an ECS 8.11 field (or not in the fixture's subset)")
            continue
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list) and "array" not in field["normalize"]:
            found.append(f"{name} is an array, which ECS does not normalize it to")
        if "array" in field["normalize"] and not isinstance(value, list):
            found.append(f"{name} should be an array, as ECS normalizes it")
        for one in values:
            if not _of_type(field["type"], one):
                found.append(f"{name} = {one!r} is not of ECS type {field['type']}")
            if name in ALLOWED and one not in ALLOWED[name]:
                found.append(f"{name} = {one!r} is not an allowed value")
    event = doc["event"]
    for category in event.get("category", []):
        expected = ALLOWED["event.category"].get(category) or []
        found += [f"event.type {kind} is not expected with event.category {category}"
                  for kind in event.get("type", []) if kind not in expected]
    return found


def _of_type(kind: str, value) -> bool:
    if kind in ("keyword", "match_only_text"):
        return isinstance(value, str)
    if kind == "long":
        return isinstance(value, int) and not isinstance(value, bool) and -2**63 <= value < 2**63
    if kind == "ip":
        try:
            return isinstance(value, str) and "%" not in value and bool(ipaddress.ip_address(value))
        except ValueError:
            return False
    if kind == "date":
        return isinstance(value, str) and datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None
    raise AssertionError(f"the test knows no ECS type {kind}: add it")


def test_every_exported_document_is_valid_ecs_8_11(trail_docs):
    assert len(trail_docs) > 3000
    assert {doc["ecs"]["version"] for doc in trail_docs} == {ECS["ecs_version"]}
    bad = [(doc["event"]["sequence"], problem) for doc in trail_docs for problem in problems(doc)]
    assert bad == [], bad[:10]


def test_the_check_finds_what_ecs_refuses(trail_docs):
    # The old export's mistakes, each caught: creation with database, a zone id, an email-less field, no array.
    doc = json.loads(json.dumps(trail_docs[0]))
    doc["event"]["type"] = ["creation"]
    doc["source"] = {"address": "fe80::1%eth0", "ip": "fe80::1%eth0"}
    doc["event"]["category"] = "database"
    doc["user"] = {"login": "alice"}
    doc["event"]["sequence"] = 2**64
    found = problems(doc)
    assert any("creation is not expected" in p for p in found)
    assert any(p.startswith("source.ip") for p in found) and any("user.login" in p for p in found)
    assert any("should be an array" in p for p in found) and any("event.sequence" in p for p in found)


def test_custom_fields_stay_in_their_own_field_set(trail_docs):
    assert "audit" not in ECS["top_level_names"]
    names = {name for doc in trail_docs for name, _ in leaves(doc)}
    assert {name.split(".")[0] for name in names} <= {"audit", *ECS["top_level_names"]}
    assert {"message", "related.user", "related.ip", "user.email", "source.port", "event.outcome"} <= names


def test_every_well_known_action_has_a_category_and_the_rest_a_documented_default():
    strapi = ["entry.create", "entry.update", "entry.delete", "entry.publish", "entry.unpublish",
              "admin.auth.success", "admin.logout", "media.create", "media-folder.delete", "user.create",
              "role.update", "permission.delete", "content-type.create", "locale.update"]
    own = [*WELL_KNOWN_ACTIONS, *COMMENT_CHANGES, "version-create", "version-delete", "version_save"]
    for action in own + strapi:
        assert ecs.categorize(action) != ecs.DEFAULT, action
        assert action in ecs.CATEGORIES or action.split(".")[0] in ("media", "media-folder", "user", "role",
                                                                   "permission", "content-type", "locale"), action
    assert ecs.categorize("run") == ecs.DEFAULT == ecs.Category("database", ("info",))
    readme = (ROOT / "README.md").read_text()
    assert "any other action: `database` and `info`" in readme
    for action in ecs.CATEGORIES:
        assert f"`{action}`" in readme, action


def test_data_actions_are_database_changes_and_say_what_they_did():
    for action, change in [("create", "creation"), ("entry.create", "creation"), ("update", "change"),
                           ("delete", "deletion"), ("soft-delete", "deletion"), ("entry.delete", "deletion"),
                           ("revert", "change"), ("promote", "change"), ("prune", "deletion")]:
        assert ecs.categorize(action) == ecs.Category("database", ("change",), None, change), action
    assert ecs.categorize("user.delete") == ecs.Category("iam", ("user", "deletion"), None, "deletion")
    assert ecs.categorize("invalid-credentials").outcome == "failure"


@pytest.mark.parametrize("given, parsed", [
    ("10.0.0.1", ("10.0.0.1", None)), ("::1", ("::1", None)), ("fe80::1%eth0", ("fe80::1", None)),
    ("[2001:db8::7]:443", ("2001:db8::7", 443)), ("[fe80::2%en0]", ("fe80::2", None)),
    ("10.0.0.9:51234", ("10.0.0.9", 51234)), ("::FFFF:10.0.0.3", ("::ffff:10.0.0.3", None)),
    (" 192.168.1.40 ", ("192.168.1.40", None)), ("unknown", None), ("cms.internal", None), ("10.0.0.9:99999", None),
    ("300.1.1.1", None), ("", None), ("2001:db8::1:80", ("2001:db8::1:80", None)),
])
def test_addresses_parse_without_zone_ids(given, parsed):
    assert ecs.parse_address(given) == parsed


def test_the_document_keeps_the_raw_address_and_relates_users_and_ips():
    row = {"id": 7, "key": "s/7", "action": "invalid-credentials", "timestamp": "2026-11-20T10:00:00.000000Z",
           "user": None, "ip": "fe80::dead%en0", "collection": "directus_users", "item": "root", "hash": "h",
           "prev_hash": "p"}
    doc = ecs.document(row)
    assert doc["source"] == {"address": "fe80::dead%en0", "ip": "fe80::dead"}
    assert doc["related"] == {"user": ["root"], "ip": ["fe80::dead"]} and "user" not in doc
    assert doc["message"] == "someone failed to log in as directus_users/root from fe80::dead%en0"
    doc = ecs.document({**row, "action": "update", "user": "carol@example.com", "ip": "unknown",
                        "comment": "line one\nline two " + "x" * 400})
    assert doc["user"] == {"name": "carol@example.com", "email": "carol@example.com"}
    assert doc["related"] == {"user": ["carol@example.com"]} and doc["source"] == {"address": "unknown"}
    assert "\n" not in doc["message"] and len(doc["message"]) == 240 and doc["message"].endswith("...")
    assert doc["message"].startswith("carol@example.com updated directus_users/root from unknown: line one line two")
    assert ecs.document({**row, "user": "not@an-email"})["user"] == {"name": "not@an-email"}
