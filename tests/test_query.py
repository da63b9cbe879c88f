"""query: flags and Directus filter rules, checked by the rows they select from a real store (not by their SQL)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_cli import jsontext
from audit_cli.errors import UsageError
from audit_cli.models import TEXT_SEARCH_FIELDS, Activity, LogQuery
from audit_cli.query import OPERATORS, filter_clause, parse_fields, parse_sort
from audit_cli.store import AuditStore

# id: (action, collection, item, timestamp, fields)
ROWS = {
    1: ("login", "directus_users", "alice", "2026-11-01T10:00:00.000000Z",
        dict(user="alice", ip="10.0.0.1", user_agent="curl/8.5", origin="https://app.example",
             details={"reason": "password", "attempt": 1})),
    2: ("create", "articles", "1", "2026-11-02T10:00:00.000000Z", dict(user="bob", data={"title": "Hello"})),
    3: ("update", "articles", "1", "2026-11-03T10:00:00.000000Z",
        dict(user="alice", comment="Fixed Typo", data={"title": "Hello!"}, details={"reason": "typo"})),
    4: ("publish", "articles", "2", "2026-11-04T10:00:00.000000Z", dict(user=None)),
    5: ("invalid-credentials", "directus_users", "mallory", "2026-11-05T10:00:00.000000Z",
        dict(user="Mallory", ip="192.168.1.5", details={"email": "m@evil.example"})),
    6: ("upload", "files", "10", "2026-11-06T10:00:00.000000Z", dict(user="bob", user_agent="Mozilla/5.0", comment="")),
    7: ("entry.update", "pages", "7", "2026-11-07T23:59:59.999999Z",
        dict(user="carol", details={"nested": {"level": 2}})),
    8: ("comment", "articles", "2", "2026-11-08T00:00:00.000000Z",
        dict(user="o'brien", comment="50% off_sale \\ 'quoted'")),
}
ALL = set(ROWS)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    path = tmp_path_factory.mktemp("query") / "audit.db"
    with AuditStore.open(path, create=True) as store:
        for expected_id, (action, collection, item, timestamp, fields) in ROWS.items():
            fields = dict(fields)
            data = fields.pop("data", None)
            recorded = store.record(Activity(action, collection, item, timestamp, **fields), data=data)
            assert recorded.activity["id"] == expected_id
        yield store


def ids(store: AuditStore, **kw) -> set[int]:
    kw.setdefault("limit", None)
    return {row["id"] for row in store.log(LogQuery(**kw)).rows}


def matching(store: AuditStore, rules) -> set[int]:
    return ids(store, filter=rules)


# --- flags ---


def test_no_filters_selects_everything_newest_first(seeded):
    rows = seeded.log(LogQuery(limit=None)).rows
    assert [row["id"] for row in rows] == [8, 7, 6, 5, 4, 3, 2, 1]


def test_flag_values_combine_with_or_and_flags_with_and(seeded):
    assert ids(seeded, actions=["update"]) == {3}
    assert ids(seeded, actions=["update", "create"]) == {2, 3}
    assert ids(seeded, users=["alice", "bob"]) == {1, 2, 3, 6}
    assert ids(seeded, collections=["articles"]) == {2, 3, 4, 8}
    assert ids(seeded, collections=["articles"], items=["2"]) == {4, 8}
    assert ids(seeded, collections=["articles"], users=["alice"]) == {3}
    assert ids(seeded, items=["1", "10"]) == {2, 3, 6}
    assert ids(seeded, users=["nobody"]) == set()


def test_since_and_until_are_inclusive(seeded):
    assert ids(seeded, since="2026-11-05T10:00:00.000000Z") == {5, 6, 7, 8}
    assert ids(seeded, until="2026-11-02T10:00:00.000000Z") == {1, 2}
    assert ids(seeded, since="2026-11-03T00:00:00.000000Z", until="2026-11-04T10:00:00.000000Z") == {3, 4}


@pytest.mark.parametrize(
    ("needle", "expected"),
    [
        ("MOZILLA", {6}),  # user_agent
        ("fixed typo", {3}),  # comment
        ("10.0.0", {1}),  # ip
        ("APP.EXAMPLE", {1}),  # origin
        ("EVIL", {5}),  # inside details
        ("password", {1}),  # a details value
        ("mallory", {5}),  # user and item, case-insensitive
        ("ENTRY.", {7}),  # action
        ("PAGES", {7}),  # collection
        ("_", {1, 5, 8}),  # LIKE wildcards are literal
        ("%", {8}),
        ("\\", {8}),
        ("'", {8}),
        ("'; DROP TABLE activity; --", set()),
        ("no such text", set()),
    ],
)
def test_search_is_case_insensitive_over_text_fields(seeded, needle, expected):
    assert ids(seeded, search=needle) == expected


def test_search_combines_with_other_flags(seeded):
    assert ids(seeded, search="alice") == {1, 3}
    assert ids(seeded, search="alice", actions=["login"]) == {1}


def test_search_is_case_insensitive_beyond_ascii(store, record):
    record("login", "directus_users", "jose", user="José Müller", timestamp="2026-11-01T00:00:00.000000Z")
    record("login", "directus_users", "zoe", user="ZOË", timestamp="2026-11-01T00:00:00.000000Z")
    assert ids(store, search="josé") == {1}
    assert ids(store, search="MÜLLER") == {1}
    assert ids(store, search="zoë") == {2}


def _model_text(row: dict) -> str:
    values = []
    for name in TEXT_SEARCH_FIELDS:
        value = row[name]
        if name == "details" and value is not None:
            value = jsontext.dumps(value)
        values.append(value or "")
    return "\x00".join(values)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=string.printable, max_size=8))
def test_search_matches_a_python_model(seeded, needle):
    every = seeded.log(LogQuery(limit=None)).rows
    expected = {row["id"] for row in every if needle.lower() in _model_text(row).lower()}
    assert ids(seeded, search=needle) == expected


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=20))
def test_search_and_text_operators_never_error(seeded, text):
    assert ids(seeded, search=text) <= ALL
    for op in ("_eq", "_neq", "_contains", "_ncontains", "_icontains", "_starts_with", "_istarts_with",
               "_ends_with", "_nends_with"):
        assert matching(seeded, {"comment": {op: text}}) <= ALL


# --- filter rules ---


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ({"user": {"_eq": "alice"}}, {1, 3}),
        ({"user": {"_in": ["alice", "bob"]}}, {1, 2, 3, 6}),
        ({"user": {"_in": []}}, set()),
        ({"action": {"_nin": ["login", "create", "update", "publish"]}}, {5, 6, 7, 8}),
        ({"action": {"_nin": []}}, ALL),
        ({"timestamp": {"_gt": "2026-11-05T10:00:00Z"}}, {6, 7, 8}),
        ({"timestamp": {"_gte": "2026-11-05T10:00:00Z"}}, {5, 6, 7, 8}),
        ({"timestamp": {"_gt": "2026-11-05"}}, {5, 6, 7, 8}),
        ({"timestamp": {"_lt": "2026-11-03T10:00:00Z"}}, {1, 2}),
        ({"timestamp": {"_lte": "2026-11-03T10:00:00Z"}}, {1, 2, 3}),
        ({"timestamp": {"_lte": "2026-11-03T12:00:00+02:00"}}, {1, 2, 3}),
        ({"timestamp": {"_between": ["2026-11-02", "2026-11-04T10:00:00Z"]}}, {2, 3, 4}),
        ({"timestamp": {"_nbetween": ["2026-11-02", "2026-11-04T10:00:00Z"]}}, {1, 5, 6, 7, 8}),
        ({"id": {"_gt": 6}}, {7, 8}),
        ({"id": {"_lte": 2}}, {1, 2}),
        ({"id": {"_in": [1, 7]}}, {1, 7}),
        ({"id": {"_between": [3, 5]}}, {3, 4, 5}),
        ({"item": {"_eq": 1}}, {2, 3}),  # items are text; an integer means the same id
        ({"comment": {"_contains": "Typo"}}, {3}),
        ({"comment": {"_contains": "typo"}}, set()),  # case-sensitive
        ({"comment": {"_contains": "%"}}, {8}),
        ({"comment": {"_ncontains": "Typo"}}, {6, 8}),  # null comments contain nothing and are not listed
        ({"comment": {"_icontains": "TYPO"}}, {3}),
        ({"comment": {"_icontains": "_"}}, {8}),
        ({"collection": {"_starts_with": "direct"}}, {1, 5}),
        ({"collection": {"_starts_with": "Direct"}}, set()),
        ({"collection": {"_istarts_with": "DIRECT"}}, {1, 5}),
        ({"collection": {"_nstarts_with": "direct"}}, {2, 3, 4, 6, 7, 8}),
        ({"item": {"_ends_with": "ice"}}, {1}),
        ({"item": {"_nends_with": "ice"}}, ALL - {1}),
        ({"user": {"_null": True}}, {4}),
        ({"user": {"_null": False}}, ALL - {4}),
        ({"user": {"_nnull": True}}, ALL - {4}),
        ({"user": {"_nnull": False}}, {4}),
        ({"user": {"_eq": None}}, {4}),
        ({"comment": {"_empty": True}}, {1, 2, 4, 5, 6, 7}),
        ({"comment": {"_nempty": True}}, {3, 8}),
        ({"details": {"_null": True}}, {2, 4, 6, 8}),
        ({"details": {"_icontains": "PASSWORD"}}, {1}),
        ({"details": {"reason": {"_eq": "typo"}}}, {3}),
        ({"details": {"reason": {"_in": ["typo", "password"]}}}, {1, 3}),
        ({"details": {"attempt": {"_gte": 1}}}, {1}),
        ({"details": {"nested": {"level": {"_eq": 2}}}}, {7}),
        ({"user": {"_eq": "alice"}, "action": {"_eq": "login"}}, {1}),  # fields combine with AND
        ({"user": {"_gte": "a", "_lt": "c"}}, {1, 2, 3, 6}),  # operators on one field combine with AND
        ({"_and": [{"user": {"_eq": "alice"}}, {"collection": {"_eq": "articles"}}]}, {3}),
        ({"_or": [{"user": {"_eq": "carol"}}, {"action": {"_eq": "publish"}}]}, {4, 7}),
        ({"_or": [{"user": {"_eq": "alice"}},
                  {"_and": [{"collection": {"_eq": "articles"}}, {"action": {"_eq": "publish"}}]}]}, {1, 3, 4}),
        ({"_and": [{"_or": [{"user": {"_eq": "bob"}}, {"user": {"_eq": "alice"}}]},
                   {"_or": [{"action": {"_eq": "upload"}}, {"action": {"_eq": "login"}}]}]}, {1, 6}),
        ({"user": {"_eq": "'; DROP TABLE activity; --"}}, set()),
    ],
)
def test_filter_rules_select_the_right_rows(seeded, rules, expected):
    assert matching(seeded, rules) == expected


def test_neq_and_nin_agree_on_rows_without_a_value(seeded):
    # "user is not alice" and "user is not in [alice]" must select the same rows, whatever is done with null users.
    assert matching(seeded, {"user": {"_neq": "alice"}}) == matching(seeded, {"user": {"_nin": ["alice"]}})
    assert {2, 5, 6, 7, 8} <= matching(seeded, {"user": {"_neq": "alice"}})


def test_filter_combines_with_flags(seeded):
    assert ids(seeded, actions=["login", "update"], filter={"user": {"_eq": "alice"}}) == {1, 3}
    assert ids(seeded, collections=["articles"], filter={"_or": [{"user": {"_null": True}}, {"user": {"_eq": "bob"}}]}) == {2, 4}


def test_every_listed_operator_is_accepted(seeded):
    issue_operators = "_eq _neq _in _nin _gt _gte _lt _lte _contains _icontains _starts_with _null _nnull _between".split()
    assert set(issue_operators) <= set(OPERATORS)
    for op in OPERATORS:
        if op in ("_and", "_or"):
            continue
        value = {"_in": ["carol"], "_nin": ["carol"], "_between": ["carol", "carol"], "_nbetween": ["carol", "carol"],
                 "_null": False, "_nnull": True, "_empty": False, "_nempty": True}.get(op, "carol")
        selected = matching(seeded, {"user": {op: value}})
        carol_matches = op in ("_eq", "_in", "_gte", "_lte", "_contains", "_icontains", "_starts_with", "_istarts_with",
                               "_ends_with", "_between", "_null", "_nnull", "_empty", "_nempty")
        assert (7 in selected) == carol_matches, op


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"nope": {"_eq": 1}}, "unknown field 'nope'"),
        ({"user; DROP TABLE activity": {"_eq": 1}}, "unknown field"),
        ({"user": {"_like": "a"}}, "unknown operator '_like'"),
        ({"user": {"_and": []}}, "unknown operator '_and'"),
        ({"_eq": "alice"}, "_eq is not allowed at the top level"),
        ({"user": "alice"}, "user needs operators"),
        ({"user": {}}, "user needs operators"),
        ({"_and": {}}, "_and takes a non-empty array"),
        ({"_or": []}, "_or takes a non-empty array"),
        ({"_or": [{"nope": {"_eq": 1}}]}, "unknown field 'nope'"),
        ({"user": {"_in": "alice"}}, "_in takes an array"),
        ({"user": {"_between": ["a"]}}, "_between takes an array of two"),
        ({"user": {"_null": "yes"}}, "_null takes true or false"),
        ({"id": {"_eq": "5"}}, "id _eq takes an integer"),
        ({"id": {"_eq": True}}, "id _eq takes an integer"),
        ({"timestamp": {"_gt": "soon"}}, "invalid time 'soon'"),
        ({"timestamp": {"_gt": 5}}, "takes a time"),
        ({"user": {"_eq": {"a": 1}}}, "takes a string"),
        ({"details": {'a"b': {"_eq": 1}}}, "double quote"),
    ],
)
def test_bad_filter_rules_are_usage_errors(rules, message):
    with pytest.raises(UsageError) as caught:
        filter_clause(rules)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("rules", [[], "x", 1, None])
def test_filter_must_be_an_object(rules):
    with pytest.raises(UsageError, match="must be a JSON object"):
        filter_clause(rules)


# --- sort, fields, paging ---


def test_sort_keys_apply_in_order(seeded):
    rows = seeded.log(LogQuery(sort=parse_sort("collection,-id"), limit=None)).rows
    assert [(row["collection"], row["id"]) for row in rows] == [
        ("articles", 8), ("articles", 4), ("articles", 3), ("articles", 2),
        ("directus_users", 5), ("directus_users", 1), ("files", 6), ("pages", 7),
    ]
    assert [row["id"] for row in seeded.log(LogQuery(sort=["timestamp"], limit=None)).rows] == [1, 2, 3, 4, 5, 6, 7, 8]


def test_equal_timestamps_keep_insertion_order(store, record):
    for _ in range(3):
        record("login", "u", "x", timestamp="2026-01-01T00:00:00.000000Z")
    assert [row["id"] for row in store.log(LogQuery()).rows] == [3, 2, 1]
    assert [row["id"] for row in store.log(LogQuery(sort=["timestamp"])).rows] == [1, 2, 3]


def test_sort_ties_break_by_id_in_the_first_keys_direction(store, record):
    # Inserted out of time order, so that an index on (action, timestamp) alone would give another order.
    for stamp in ("2026-01-03", "2026-01-01", "2026-01-02"):
        record("login", "u", "x", timestamp=f"{stamp}T00:00:00.000000Z")
    assert [row["id"] for row in store.log(LogQuery(sort=["action"])).rows] == [1, 2, 3]
    assert [row["id"] for row in store.log(LogQuery(sort=["-action"])).rows] == [3, 2, 1]
    assert [row["id"] for row in store.log(LogQuery(sort=["action", "timestamp"])).rows] == [2, 3, 1]


def test_limit_and_offset_page_through(seeded):
    assert [row["id"] for row in seeded.log(LogQuery(limit=3)).rows] == [8, 7, 6]
    assert [row["id"] for row in seeded.log(LogQuery(limit=3, offset=3)).rows] == [5, 4, 3]
    assert [row["id"] for row in seeded.log(LogQuery(limit=3, offset=6)).rows] == [2, 1]
    assert [row["id"] for row in seeded.log(LogQuery(limit=0)).rows] == []


def test_meta_counts_total_and_filtered(seeded):
    page = seeded.log(LogQuery(actions=["login", "update"], limit=1), meta=True)
    assert (page.total_count, page.filter_count, len(page.rows)) == (8, 2, 1)


def test_fields_pick_columns(seeded):
    rows = seeded.log(LogQuery(limit=2), fields=parse_fields("id, action"))
    assert rows.rows == [{"id": 8, "action": "comment"}, {"id": 7, "action": "entry.update"}]


@pytest.mark.parametrize(
    ("call", "message", "accepted"),
    [
        (lambda: parse_sort("nope"), "unknown field 'nope' in sort", "timestamp"),
        (lambda: parse_sort("-nope"), "unknown field 'nope' in sort", "timestamp"),
        (lambda: parse_sort("timestamp desc"), "unknown field 'timestamp desc'", "user_agent"),
        (lambda: parse_sort(" , "), "sort is empty", "-timestamp"),
        (lambda: parse_fields("id,nope"), "unknown field 'nope' in fields", "user_agent"),
        (lambda: parse_fields("id;DROP TABLE activity"), "unknown field", "user_agent"),
        (lambda: parse_fields(""), "fields is empty", "id,action"),
    ],
)
def test_bad_sort_and_fields_are_usage_errors(call, message, accepted):
    with pytest.raises(UsageError) as caught:
        call()
    assert message in str(caught.value)
    assert accepted in str(caught.value)  # says what is accepted


def test_sql_looking_values_leave_the_table_intact(seeded):
    evil = "'; DROP TABLE activity; --"
    assert ids(seeded, actions=[], users=[evil], collections=[evil], items=[evil], search=evil) == set()
    assert matching(seeded, {"comment": {"_in": [evil, "Fixed Typo"]}}) == {3}
    assert len(seeded.log(LogQuery(limit=None)).rows) == 8
