"""What the log filters match: whole flag values, inclusive day ranges, one Unicode case folding, numbers compared
as numbers, and the comment bookkeeping that a filter on action asks for."""

from __future__ import annotations

import json

import pytest


def ids(cli, *args) -> list[int]:
    return [row["id"] for row in cli.json("log", "--limit", "-1", *args)]


@pytest.fixture
def people(cli):
    """1 Zoë, 2 Hopper, Grace on item 2024,17, 3 straße, 4..6 items 9, 10, 100, 7 a comment, 8 its edit."""
    cli("record", "login", "-c", "users", "-i", "zoe", "--user", "Zoë", "--at", "2026-11-27T08:00:00Z")
    cli("record", "create", "-c", "inv,oices", "-i", "2024,17", "--data", "{}", "--user", "Hopper, Grace",
        "--at", "2026-11-27T23:59:59.999999Z")
    cli("record", "login", "-c", "users", "-i", "x", "--user", "Straße", "--at", "2026-11-28T00:00:00Z")
    for n, item in enumerate(("9", "10", "100")):
        cli("record", "create", "-c", "articles", "-i", item, "--data", "{}", "--at", f"2026-11-2{n}T10:00:00Z")
    cli("comment", "add", "articles", "9", "first text", "--at", "2026-11-28T10:00:00Z")
    cli("comment", "edit", "7", "second text")
    return cli


@pytest.mark.parametrize(("args", "expected"), [
    (["-u", "Hopper, Grace"], [2]),
    (["-u", "Hopper"], []),
    (["-i", "2024,17"], [2]),
    (["-i", "2024"], []),
    (["-c", "inv,oices"], [2]),
    (["-u", "Zoë", "-u", "Hopper, Grace"], [2, 1]),
    (["-i", "9", "-i", "10"], [7, 5, 4]),
])
def test_flag_values_are_matched_whole(people, args, expected):
    assert ids(people, *args) == expected


@pytest.mark.parametrize(("args", "expected"), [
    (["--since", "2026-11-27", "--until", "2026-11-27"], [2, 1]),
    (["--until", "2026-11-27"], [2, 1, 6, 5, 4]),
    (["--since", "2026-11-28", "--until", "2026-11-28 UTC"], [7, 3]),
    (["--filter", '{"timestamp": {"_lte": "2026-11-27"}}'], [2, 1, 6, 5, 4]),
    (["--filter", '{"timestamp": {"_between": ["2026-11-27", "2026-11-27"]}}'], [2, 1]),
    (["--filter", '{"timestamp": {"_eq": "2026-11-27"}}'], [2, 1]),
    (["--filter", '{"timestamp": {"_in": ["2026-11-20", "2026-11-27"]}}'], [2, 1, 4]),
    (["--filter", '{"timestamp": {"_neq": "2026-11-27"}}'], [7, 3, 6, 5, 4]),
    (["--filter", '{"timestamp": {"_starts_with": "2026-11-2"}}'], [7, 3, 2, 1, 6, 5, 4]),
])
def test_a_date_as_an_end_includes_its_whole_day(people, args, expected):
    assert ids(people, *args) == expected


@pytest.mark.parametrize(("rule", "expected"), [
    ({"action": {"_eq": "comment-edit"}}, [8]),
    ({"action": {"_in": ["comment", "comment-edit"]}}, [8, 7]),
    ({"action": {"_starts_with": "comment"}}, [8, 7]),
    ({"_or": [{"action": {"_eq": "comment-edit"}}, {"user": {"_eq": "Zoë"}}]}, [8, 1]),
    ({"user": {"_eq": "tester"}, "action": {"_neq": "create"}}, [8, 7]),
])
def test_a_filter_on_action_finds_what_the_action_flag_finds(people, rule, expected):
    assert ids(people, "--filter", json.dumps(rule)) == expected


def test_the_flag_and_the_filter_agree_on_comment_edits(people):
    assert ids(people, "-a", "comment-edit") == ids(people, "--filter", '{"action": {"_eq": "comment-edit"}}')
    assert 8 not in ids(people)  # still bookkeeping when nobody asks by action


def test_a_filter_on_comment_deleted_on_finds_deleted_comments(people):
    people("comment", "delete", "7")
    assert ids(people, "--filter", '{"comment_deleted_on": {"_nnull": true}}') == [7]
    assert 7 not in ids(people)


@pytest.mark.parametrize(("needle", "expected"), [
    ("ZOË", [1]), ("zoë", [1]), ("ZOE\u0308", [1]), ("STRASSE", [3]), ("strasse", [3]), ("ß", [3]),
    ("hopper, GRACE", [2]), ("ZO", [1]), ("STRAS", [3]),
])
def test_case_insensitive_matches_fold_unicode_alike(people, needle, expected):
    contains = json.dumps({"user": {"_icontains": needle}})
    starts = json.dumps({"user": {"_istarts_with": needle}})
    assert ids(people, "--filter", contains) == expected
    assert ids(people, "--filter", starts) == (expected if needle.lower() != "ß" else [])
    assert ids(people, "-q", needle, "-c", "users", "-c", "inv,oices") == expected


def test_a_decomposed_letter_in_the_store_is_found_by_the_composed_one(cli):
    cli("record", "login", "-c", "users", "-i", "z", "--user", "Zoe\u0308")
    assert ids(cli, "--filter", '{"user": {"_icontains": "ZOË"}}') == [1]
    assert ids(cli, "-q", "zoë") == [1]


@pytest.mark.parametrize(("rule", "expected"), [
    ({"item": {"_gt": 9}}, {5, 6}),
    ({"item": {"_gte": 10}}, {5, 6}),
    ({"item": {"_lt": 10}}, {7, 4}),
    ({"item": {"_lte": 9.5}}, {7, 4}),
    ({"item": {"_between": [9, 10]}}, {7, 4, 5}),
    ({"item": {"_nbetween": [9, 10]}}, {6}),
    ({"item": {"_gt": 2024.5}}, set()),  # "2024,17" is not a number: neither above nor below
    ({"item": {"_gt": "9"}}, set()),  # a string compares as text, as given: "9" is above "10" and "100"
    ({"item": {"_lt": "9"}}, {2, 5, 6}),
])
def test_numbers_compare_as_numbers(people, rule, expected):
    rule = {"collection": {"_in": ["articles", "inv,oices"]}, **rule}
    assert set(ids(people, "--filter", json.dumps(rule))) == expected


def test_a_mix_of_numbers_and_strings_is_a_usage_error(people):
    err = people.fails("log", "--filter", '{"item": {"_between": [1, "9"]}}', code=2)
    assert "audit: error:" in err and "numbers or strings" in err
