"""Hostile input: each is stored faithfully and read back identically (show, snapshot, export and import), or refused
with one clear error line (exit 2 usage, 1 runtime), never a traceback and never a partial write.

Most cases run in-process through CliRunner (the `cli` fixture); those that need real bytes in argv, real stdin, or
a measure of memory run the installed `audit` as a subprocess.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lines import activity_lines, without_trailers

from .helpers import (AUDIT, SQL, audit_env, canonical, count, error_line, fails, make_store, needs_script, ok,
                      refused, rows, run, verifies)

BIG = 2**70


# helpers over the in-process CLI

def n_activities(db: Path) -> int:
    return count(db) if db.exists() else 0


def show(cli, activity_id: int) -> dict:
    return cli.json("show", str(activity_id))


def roundtrip(cli, tmp_path: Path, collection: str, item: str, data, *, name: str = "rt") -> None:
    """`snapshot` gives `data` back; so does a fresh store that imported this one's export; both verify."""
    assert canonical(json.loads(cli("snapshot", collection, item).stdout)) == canonical(data)
    exported = tmp_path / f"{name}.jsonl"
    cli("export", "-o", str(exported))
    other = type(cli)(tmp_path / f"{name}.db")
    other("import", str(exported))
    assert canonical(json.loads(other("snapshot", collection, item).stdout)) == canonical(data)
    for store in (cli, other):
        assert store("verify").stdout.startswith("OK")
    again = tmp_path / f"{name}-again.jsonl"
    other("export", "-o", str(again))
    # the same lines (each trailer names the store that wrote it)
    assert without_trailers(again.read_bytes()) == without_trailers(exported.read_bytes()), \
        "export -> import -> export changed the trail"


# 50 MB documents

def document(megabytes: int, shape: str) -> bytes:
    if shape == "records":  # many objects (the parser's and the differ's work grows with their number)
        row = {"id": 0, "name": "x" * 60, "email": "someone@example.com", "tags": ["a", "b", "c"], "score": 0.5,
               "active": True, "parent": None, "big": BIG, "body": "lorem ipsum dolor sit amet " * 30}
        n = megabytes * 1_000_000 // (len(json.dumps(row)) + 8)
        value = {"rows": [{**row, "id": i, "score": i / 3} for i in range(n)]}
    else:  # a few large strings with every escape in them
        chunk = "a\"b\\c/d\u0000e\u00e9\U0001f600\n\t" * 1000
        value = {f"blob{i}": chunk * (megabytes * 1_000_000 // len(json.dumps(chunk)) // 8 + 1) for i in range(8)}
    return json.dumps(value).encode()


def measured(db: Path, args: list[str], stdin_path: Path | None = None) -> tuple[int, float, float, bytes]:
    """Run `audit`; its exit code, wall seconds, peak RSS in MB (its own, from wait4), and stderr."""
    stdin = open(stdin_path, "rb") if stdin_path is not None else subprocess.DEVNULL
    started = time.monotonic()
    proc = subprocess.Popen([str(AUDIT), "--db", str(db), *args], stdin=stdin, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=audit_env())
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if stdin_path is not None:
        stdin.close()
    return proc.returncode, elapsed, usage.ru_maxrss / 1024, err


@needs_script
def test_a_50mb_document_through_a_file_and_through_stdin(tmp_path, measure):
    from concurrent.futures import ThreadPoolExecutor

    cases = {"file": ("records", None), "stdin": ("strings", None)}
    paths = {}
    for how, (shape, _) in cases.items():
        paths[how] = tmp_path / f"{how}.json"
        paths[how].write_bytes(document(50, shape))
    runs = {
        "file": (tmp_path / "file.db", ["record", "create", "-c", "docs", "-i", "file", "--data", f"@{paths['file']}"], None),
        "stdin": (tmp_path / "stdin.db", ["record", "create", "-c", "docs", "-i", "stdin", "--data", "-"], paths["stdin"]),
    }
    with ThreadPoolExecutor(2) as pool:
        results = dict(zip(runs, pool.map(lambda r: measured(*r), runs.values())))
    for how, (code, seconds, rss, err) in results.items():
        assert code == 0, err.decode()[-2000:]
        measure(f"{how}_bytes", paths[how].stat().st_size)
        measure(f"{how}_seconds", round(seconds, 1))
        measure(f"{how}_peak_rss_mb", round(rss))
        assert seconds < 90, f"{how}: {seconds:.1f}s for a 50 MB document"
        assert rss < 2500, f"{how}: {rss:.0f} MB peak for a 50 MB document"
    # Read back identically: the file's through snapshot, stdin's through the export.
    db, _, _ = runs["file"]
    snap = ok(run(db, "snapshot", "docs", "file"))
    assert canonical(json.loads(snap.stdout)) == canonical(json.loads(paths["file"].read_bytes()))
    db, _, _ = runs["stdin"]
    exported = tmp_path / "stdin.jsonl"
    ok(run(db, "export", "-o", exported))
    line, = activity_lines(exported.read_bytes())
    assert canonical(line["revision"]["data"]) == canonical(json.loads(paths["stdin"].read_bytes()))
    verifies(db)


@needs_script
def test_a_refused_50mb_document_writes_nothing(tmp_path):
    db = make_store(tmp_path / "audit.db", 10)
    before = rows(db)
    body = document(50, "records")
    bad = tmp_path / "bad.json"
    bad.write_bytes(body[:-1] + b', "rows": 1}')  # a duplicate key, 50 MB in
    fails(run(db, "record", "create", "-c", "docs", "-i", "1", "--data", f"@{bad}"), 2)
    assert rows(db) == before


# deep nesting

def nested(depth: int, leaf: str = "1") -> str:
    return '{"a": ' + "[" * depth + leaf + "]" * depth + "}"


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_too_deep_nesting_is_refused_everywhere(cli, db_path, tmp_path, depth):
    cli("record", "create", "-c", "deep", "-i", "0", "--data", "{}")
    text = nested(depth)
    path = tmp_path / "deep.json"
    path.write_text(text)
    for args, stdin in ((["--data", f"@{path}"], None), (["--data", "-"], text), (["--data", text], None)):
        line = refused(cli("record", "create", "-c", "deep", "-i", "1", *args, input=stdin, ok=False), 2)
        assert "nested too deeply" in line
    assert "nested too deeply" in refused(cli("record", "login", "-c", "deep", "-i", "1", "--details", text, ok=False), 2)
    assert "nested too deeply" in refused(
        cli("record", "update", "-c", "deep", "-i", "0", "--patch", f'[{{"op": "add", "path": "/x", "value": {text}}}]',
            ok=False), 2)
    assert n_activities(db_path) == 1


@pytest.mark.parametrize("depth", [300, 1_000, 100_000])
def test_deeply_nested_import_lines_are_imported_or_refused_cleanly(cli, db_path, tmp_path, depth):
    """Lines nested past what orjson writes (255) but within what it reads (1,024), and far beyond both: the fast
    path of jsonl.parse_record must fall back, and the result be kept or refused in one line."""
    cli("record", "login", "-c", "deep", "-i", "0")
    head = '{"action": "login", "timestamp": "2026-01-01T00:00:00Z", "collection": "deep", "item": '
    details = "[" * depth + "]" * depth
    trail = tmp_path / "deep.jsonl"
    trail.write_text(head + '"1"}\n' + head + '"2", "details": ' + details + "}\n")
    result = cli("import", str(trail), ok=False)
    if result.exit_code:
        assert "line 2" in refused(result, 1) and "nested too deeply" in result.stderr
        assert n_activities(db_path) == 1
    else:
        assert canonical(cli.json("log", "--item", "2")[0]["details"]) == canonical(json.loads(details))


@pytest.mark.parametrize("depth", [100, 254, 255, 256, 400, 600, 900])
def test_nesting_that_is_accepted_keeps_working(cli, db_path, tmp_path, depth):
    """Whatever depth `record` accepts, the item can be read, changed, exported and imported; or it is refused."""
    data = json.loads(nested(depth))
    result = cli("record", "create", "-c", "deep", "-i", "1", "--data", nested(depth), ok=False)
    assert (result.exit_code == 0) == (depth + 1 <= 255), result.stderr  # revisions keep up to 255 levels
    if result.exit_code != 0:
        assert "nested too deeply" in refused(result, 2)
        assert n_activities(db_path) == 0
        return
    cli("record", "update", "-c", "deep", "-i", "1", "--data", '{"b": 1}')
    cli("diff", "deep", "1")
    roundtrip(cli, tmp_path, "deep", "1", {**data, "b": 1})


def test_deep_details_are_kept_or_refused(cli, tmp_path):
    for depth in (200, 800):
        text = "[" * depth + "]" * depth
        result = cli("record", "login", "-c", "deep", "-i", str(depth), "--details", text, ok=False)
        if result.exit_code:
            assert "nested too deeply" in refused(result, 2)
            continue
        assert canonical(show(cli, int(result.stdout))["details"]) == canonical(json.loads(text))
    exported = tmp_path / "deep.jsonl"
    cli("export", "-o", str(exported))
    other = type(cli)(tmp_path / "other.db")
    other("import", str(exported))
    assert other("verify").stdout.startswith("OK")


# invalid UTF-8, NUL bytes, control characters

def test_invalid_utf8_in_json_input_is_refused(cli, db_path, tmp_path):
    cli("record", "create", "-c", "c", "-i", "0", "--data", "{}")
    bad = tmp_path / "bad.json"
    for raw in (b'{"a": "\xff"}', b'{"\xc3": 1}', b'{"a": "\xed\xa0\x80"}', b"\xfe\xff{}"):
        bad.write_bytes(raw)
        assert "UTF-8" in refused(cli("record", "create", "-c", "c", "-i", "1", "--data", f"@{bad}", ok=False), 2)
        assert "UTF-8" in refused(cli("record", "create", "-c", "c", "-i", "1", "--data", "-", input=raw, ok=False), 2)
        assert "UTF-8" in refused(cli("record", "login", "-c", "c", "-i", "1", "--details", f"@{bad}", ok=False), 2)
    assert "surrogate" in refused(cli("record", "create", "-c", "c", "-i", "1", "--data", '{"a": "\\ud800"}', ok=False), 2)
    assert n_activities(db_path) == 1


@needs_script
def test_invalid_utf8_in_arguments_is_refused(tmp_path):
    """argv bytes that are not UTF-8 reach Python as lone surrogates, which neither the chain's JSON nor SQLite can
    hold: each is refused up front, naming the argument, and nothing is written."""
    db = make_store(tmp_path / "audit.db", 5)
    before = rows(db)
    bad = b"x\xffy"
    for named, args in (("--user", [b"record", b"login", b"-c", b"c", b"-i", b"1", b"--user", bad]),
                        ("--collection", [b"record", b"login", b"-c", bad, b"-i", b"1"]),
                        ("--item", [b"record", b"login", b"-c", b"c", b"-i", bad]),
                        ("--comment", [b"record", b"comment", b"-c", b"c", b"-i", b"1", b"--comment", bad]),
                        ("TEXT", [b"comment", b"add", b"posts", b"1", bad]),
                        ("--user", [b"log", b"--user", bad]), ("--search", [b"log", b"-q", bad]),
                        ("COLLECTION", [b"snapshot", bad, b"1"]), ("ITEM", [b"history", b"posts", bad])):
        proc = subprocess.run([str(AUDIT).encode(), b"--db", str(db).encode(), *args], capture_output=True,
                              env=audit_env(), timeout=60)
        assert proc.returncode in (1, 2), (args, proc.stderr.decode(errors="replace")[-1500:])
        line = error_line(proc.stderr)
        assert "UTF-8" in line and line.startswith(f"audit: error: {named} "), (args, line)
        assert "\\xff" in line, line  # the bytes as given, escaped
    assert rows(db) == before


@needs_script
def test_file_names_need_not_be_utf8_but_the_login_name_must(tmp_path):
    """A POSIX file name is any bytes: export, import and --data @FILE take one. $AUDIT_USER is text."""
    db = make_store(tmp_path / "audit.db", 5)
    folder = str(tmp_path).encode()
    trail, data = folder + b"/tr\xe9il.jsonl", folder + b"/d\xe9ta.json"
    Path(os.fsdecode(data)).write_text('{"a": 1}')
    for args in ([b"export", b"-o", trail], [b"record", b"create", b"-c", b"c", b"-i", b"1", b"--data", b"@" + data]):
        ok(subprocess.run([str(AUDIT).encode(), b"--db", str(db).encode(), *args], capture_output=True,
                          env=audit_env(), timeout=60))
    assert os.path.exists(trail)
    other = tmp_path / "other.db"
    ok(subprocess.run([str(AUDIT).encode(), b"--db", str(other).encode(), b"import", trail], capture_output=True,
                      env=audit_env(), timeout=60))
    assert count(other) == 5
    before = rows(db)
    env = {k.encode(): v.encode() for k, v in audit_env().items()}
    env[b"AUDIT_USER"] = b"b\xffd"
    proc = subprocess.run([str(AUDIT).encode(), b"--db", str(db).encode(), b"record", b"login", b"-c", b"c", b"-i",
                           b"1"], capture_output=True, env=env, timeout=60)
    line = fails(proc, 2)
    assert "$AUDIT_USER" in line and "UTF-8" in line, line
    assert rows(db) == before


def test_nul_and_control_characters_round_trip(cli, tmp_path):
    weird = "a\u0000b\u0001\u001b[31m\u2028\ufeff\U0001f600\r\n"
    data = {weird: weird, "nested": {"\u0000": ["\u0000", weird]}}
    out = cli("record", "create", "-c", "c", "-i", "1", "--data", json.dumps(data),
              "--details", json.dumps({"k\u0000": weird}), "--comment", "line1\nline2\u0001",
              "--user-agent", "ua\u001b]0;title\u0007", "--origin", "\u2028")
    activity = show(cli, int(out.stdout))
    assert activity["details"] == {"k\u0000": weird}
    assert (activity["comment"], activity["user_agent"], activity["origin"]) == (
        "line1\nline2\u0001", "ua\u001b]0;title\u0007", "\u2028")
    trail = tmp_path / "nul.jsonl"
    trail.write_text(json.dumps({"action": "login", "timestamp": "2026-01-01T00:00:00Z", "collection": "c\u0000d",
                                 "item": "\u0000", "user": "u\u0000", "ip": "\u0000", "details": [weird]}) + "\n")
    cli("import", str(trail))
    listed = cli.json("log", "--collection", "c\u0000d")
    assert [(r["item"], r["user"], r["details"]) for r in listed] == [("\u0000", "u\u0000", [weird])]
    roundtrip(cli, tmp_path, "c", "1", data)


def test_raw_nul_bytes_in_files_are_refused(cli, db_path, tmp_path):
    cli("record", "create", "-c", "c", "-i", "0", "--data", "{}")
    bad = tmp_path / "nul.json"
    bad.write_bytes(b'{"a": "x\x00y"}')
    refused(cli("record", "create", "-c", "c", "-i", "1", "--data", f"@{bad}", ok=False), 2)
    good = json.dumps({"action": "login", "timestamp": "2026-01-01T00:00:00Z", "collection": "c", "item": "1"})
    trail = tmp_path / "nul.jsonl"
    for raw in (f"{good}\n\x00\n", f"{good}\n{good[:20]}\x00{good[20:]}\n", "\x00" * 4096):
        trail.write_bytes(raw.replace(good, good.replace('"1"', '"2"'), 1).encode())
        refused(cli("import", str(trail), ok=False), 1)
    assert n_activities(db_path) == 1


# duplicate keys, NaN and Infinity, non-objects

@pytest.mark.parametrize("text", ['{"a": 1, "a": 2}', '{"a": {"b": 1, "b": 1}}', '{"a": [{"x": 1, "x": 1}]}'])
def test_duplicate_keys_are_refused_everywhere(cli, db_path, tmp_path, text):
    cli("record", "create", "-c", "c", "-i", "0", "--data", "{}")
    assert "duplicate key" in refused(cli("record", "create", "-c", "c", "-i", "1", "--data", text, ok=False), 2)
    assert "duplicate key" in refused(cli("record", "login", "-c", "c", "-i", "1", "--details", text, ok=False), 2)
    assert "duplicate key" in refused(
        cli("record", "update", "-c", "c", "-i", "0", "--patch", f'[{{"op": "add", "path": "/x", "value": {text}}}]',
            ok=False), 2)
    assert "duplicate key" in refused(cli("log", "--filter", '{"user": {"_eq": "x"}, "user": {"_eq": "y"}}', ok=False), 2)
    trail = tmp_path / "dup.jsonl"
    trail.write_text('{"action": "login", "timestamp": "2026-01-01T00:00:00Z", "collection": "c", "item": "1", '
                     f'"details": {text}}}\n')
    assert "duplicate key" in refused(cli("import", str(trail), ok=False), 1)
    trail.write_text('{"action": "login", "action": "logout", "timestamp": "2026-01-01T00:00:00Z", '
                     '"collection": "c", "item": "1"}\n')
    assert "duplicate key" in refused(cli("import", str(trail), ok=False), 1)
    assert n_activities(db_path) == 1


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_everywhere(cli, db_path, tmp_path, constant):
    cli("record", "create", "-c", "c", "-i", "0", "--data", "{}")
    text = f'{{"a": {constant}}}'
    refused(cli("record", "create", "-c", "c", "-i", "1", "--data", text, ok=False), 2)
    refused(cli("record", "login", "-c", "c", "-i", "1", "--details", text, ok=False), 2)
    refused(cli("record", "update", "-c", "c", "-i", "0", "--patch", f'[{{"op": "add", "path": "/x", "value": {constant}}}]', ok=False), 2)
    refused(cli("log", "--filter", f'{{"id": {{"_eq": {constant}}}}}', ok=False), 2)
    trail = tmp_path / "nan.jsonl"
    trail.write_text('{"action": "create", "timestamp": "2026-01-01T00:00:00Z", "collection": "c", "item": "9", '
                     f'"revision": {{"data": {text}}}}}\n')
    refused(cli("import", str(trail), ok=False), 1)
    assert n_activities(db_path) == 1


_OVERFLOW = ("a JSON number past the double range (1e400) parses to inf, which jsontext.parse lets through and orjson "
             "then writes as null: --data '{\"a\": 1e400}' is stored as {\"a\": null}, neither kept nor refused "
             "(jsontext.py parse: no parse_float check)")


@pytest.mark.parametrize("number", ["1e400", "-1e999"])
def test_numbers_past_the_double_range_are_refused(cli, db_path, tmp_path, number):
    refused(cli("record", "create", "-c", "c", "-i", "1", "--data", f'{{"a": {number}}}', ok=False), 2)
    refused(cli("record", "login", "-c", "c", "-i", "1", "--details", number, ok=False), 2)
    trail = tmp_path / "inf.jsonl"
    trail.write_text('{"action": "login", "timestamp": "2026-01-01T00:00:00Z", "collection": "c", "item": "1", '
                     f'"details": {{"n": {number}}}}}\n')
    refused(cli("import", str(trail), ok=False), 1)
    assert n_activities(db_path) == 0


@pytest.mark.parametrize("text", ["[]", "[1, 2]", '"text"', "1", "true", "null", "", "   ", "{", "{}{}"])
def test_data_that_is_not_one_object_is_refused_before_the_store_exists(cli, db_path, tmp_path, text):
    line = refused(cli("record", "create", "-c", "c", "-i", "1", "--data", text, ok=False), 2)
    assert "--data" in line
    path = tmp_path / "data.json"
    path.write_text(text)
    refused(cli("record", "create", "-c", "c", "-i", "1", "--data", f"@{path}", ok=False), 2)
    refused(cli("record", "update", "-c", "c", "-i", "1", "--replace", "--data", "-", input=text, ok=False), 2)
    assert not db_path.exists()


# JSON Pointer escaping: keys with / and ~

POINTER_KEYS = {"a/b": "/a~1b", "m~n": "/m~0n", "~1": "/~01", "/": "/~1", "": "/", "~": "/~0", "01": "/01",
                "-": "/-", "a~1b": "/a~01b", "é ü": "/é ü"}


def test_keys_with_slash_and_tilde_are_escaped_in_diff_blame_and_log_field(cli, tmp_path):
    import jsonpatch

    first = {key: {"v": 0, "inner/~": [0]} for key in POINTER_KEYS}
    cli("record", "create", "-c", "p", "-i", "1", "--data", json.dumps(first))
    second = {key: {"v": 1, "inner/~": [0, 1]} for key in POINTER_KEYS}
    cli("record", "update", "-c", "p", "-i", "1", "--replace", "--data", json.dumps(second), "--user", "bob")
    # Each key on its own: a third activity changes only one.
    cli("record", "update", "-c", "p", "-i", "1", "--data", json.dumps({"a/b": {"v": 2}}), "--user", "carol")
    patch = json.loads(cli("diff", "p", "1", "--from", "0", "--to", "1", "--format", "patch").stdout)
    paths = {op["path"] for op in patch}
    for pointer in POINTER_KEYS.values():
        assert f"{pointer}/v" in paths, pointer
        assert any(path.startswith(f"{pointer}/inner~1~0") for path in paths), pointer
    assert jsonpatch.apply_patch(first, patch) == second
    text = cli("diff", "p", "1", "--from", "0", "--to", "1", "--format", "text").stdout
    assert "/a~1b/v" in text and "/m~0n/v" in text
    blame = {row["path"]: row["user"] for row in cli.json("blame", "p", "1")}
    assert blame["/a~1b/v"] == "carol"
    for key, pointer in POINTER_KEYS.items():
        if key != "a/b":
            assert blame[f"{pointer}/v"] == "bob" and blame[f"{pointer}/inner~1~0"] == "bob", pointer
    assert [r["id"] for r in cli.json("log", "--field", "/a~1b")] == [3, 2, 1]
    for key, pointer in POINTER_KEYS.items():
        if key != "a/b":
            assert [r["id"] for r in cli.json("log", "--field", f"{pointer}/v")] == [2, 1], pointer
    assert cli.json("log", "--field", "/a/b") == []  # a pointer into key "a", not key "a/b"
    assert cli.json("log", "--field", "/m~n") == []  # an unescaped ~ names nothing
    assert "JSON Pointer" in refused(cli("log", "--field", "a~1b", ok=False), 2)
    roundtrip(cli, tmp_path, "p", "1", {**second, "a/b": {"v": 2}})


# very long lines, empty and binary files to import

@needs_script
def test_very_long_lines_round_trip(tmp_path, measure):
    db = tmp_path / "audit.db"
    comment = "y" * 30_000_000
    trail = tmp_path / "long.jsonl"
    trail.write_text(json.dumps({"action": "comment", "timestamp": "2026-01-01T00:00:00Z", "collection": "c",
                                 "item": "1", "comment": comment, "details": {"k": "z" * 5_000_000}}) + "\n")
    started = time.monotonic()
    ok(run(db, "import", trail))
    measure("import_30mb_line_seconds", round(time.monotonic() - started, 1))
    (stored,) = rows(db)
    assert stored["comment"] == comment
    user = "u" * 100_000  # about the longest single argument Linux passes (MAX_ARG_STRLEN is 128 KiB)
    new_id = int(ok(run(db, "record", "login", "-c", "c", "-i", "2", "--user", user)).stdout)
    listed = json.loads(ok(run(db, "log", "--user", user, "--format", "json")).stdout)
    assert [r["id"] for r in listed] == [new_id]
    exported = tmp_path / "long-out.jsonl"
    ok(run(db, "export", "-o", exported))
    other = tmp_path / "other.db"
    ok(run(other, "import", exported))
    assert rows(other)[0]["comment"] == comment
    verifies(other)


def test_empty_and_blank_files_import_nothing(cli, db_path, tmp_path):
    cli("record", "login", "-c", "c", "-i", "1")
    for name, raw in (("empty", b""), ("blank", b"\n\n   \n\t\n"), ("crlf-blank", b"\r\n\r\n")):
        path = tmp_path / f"{name}.jsonl"
        path.write_bytes(raw)
        result = cli("import", str(path))
        assert "imported 0 activities" in result.stderr
    empty_gz = tmp_path / "empty.jsonl.gz"
    empty_gz.write_bytes(gzip.compress(b""))
    assert "imported 0 activities" in cli("import", str(empty_gz)).stderr
    assert n_activities(db_path) == 1


def test_binary_and_broken_files_are_refused_whole(cli, db_path, tmp_path):
    make_store(db_path, 20)
    before = rows(db_path)
    good = "".join(json.dumps({"action": "login", "timestamp": "2026-02-01T00:00:00Z", "collection": "new",
                               "item": str(i)}) + "\n" for i in range(500))
    rng = random.Random(7)
    cases = {
        "random.bin": bytes(rng.randrange(256) for _ in range(65536)),
        "elf": Path(os.path.realpath(sys.executable)).read_bytes()[:200_000],
        "zeros": b"\x00" * 10_000,
        "bom.jsonl": b"\xef\xbb\xbf" + good.encode(),
        "utf16.jsonl": good.encode("utf-16"),
        "good-then-binary.jsonl": good.encode() + bytes(range(256)),
        "good-then-truncated.jsonl": good.encode() + good.encode()[:70],
        "truncated.gz": gzip.compress(good.encode())[:300],
        "a-directory": None,
    }
    for name, raw in cases.items():
        path = tmp_path / name
        if raw is None:
            path.mkdir()
        else:
            path.write_bytes(raw)
        refused(cli("import", str(path), ok=False), 1)
        assert rows(db_path) == before, name
    gz = tmp_path / "good.jsonl.gz"
    gz.write_bytes(gzip.compress(good.encode()))
    cli("import", str(gz))
    assert n_activities(db_path) == len(before) + 500
    assert cli("verify").stdout.startswith("OK")


# SQL-looking strings

def test_sql_looking_strings_in_every_flag_and_field(cli, db_path, tmp_path):
    cli("record", "create", "-c", SQL, "-i", SQL, "--user", SQL, "--ip", SQL, "--user-agent", SQL, "--origin", SQL,
        "--comment", SQL, "--details", json.dumps({SQL: SQL}), "--data", json.dumps({SQL: SQL, "n": 1}))
    cli("record", "update", "-c", SQL, "-i", SQL, "--user", SQL, "--data", json.dumps({SQL: SQL + "2"}))
    cli("record", "login", "-c", "users", "-i", "1", "--user", "alice")
    (first,) = [r for r in cli.json("log", "--user", SQL, "--limit", "-1") if r["action"] == "create"]
    for name in ("collection", "item", "user", "ip", "user_agent", "origin", "comment"):
        assert first[name] == SQL, name
    assert first["details"] == {SQL: SQL}
    for flag in ("--user", "--collection", "--item", "--search"):
        assert len(cli.json("log", flag, SQL)) == 2, flag
    assert len(cli.json("log", "--filter", json.dumps({"user": {"_eq": SQL}}))) == 2
    assert len(cli.json("log", "--filter", json.dumps({"details": {"_contains": "DROP TABLE"}}))) == 1
    assert len(cli.json("log", "--filter", json.dumps({"user": {"_in": [SQL, "x' OR '1'='1"]}}))) == 2
    assert cli.json("log", "--user", "x' OR '1'='1") == []
    assert cli.json("log", "-q", "%") == [] and cli.json("log", "-q", "_") == []
    for args in (["log", "--action", SQL], ["log", "--sort", SQL], ["log", "--sort", "id; DROP TABLE activity"],
                 ["log", "--fields", SQL], ["log", "--since", SQL], ["log", "--until", SQL], ["log", "--field", SQL],
                 ["log", "--filter", json.dumps({SQL: {"_eq": 1}})], ["log", "--filter", json.dumps({"user": {SQL: 1}})],
                 ["stats", "--by", SQL], ["log", "--format", SQL], ["record", SQL, "-c", "c", "-i", "1"],
                 ["prune", "--older-than", SQL], ["retention", "set", "--activity", SQL],
                 ["version", "create", SQL, SQL, SQL], ["snapshot", SQL, SQL, "--at", SQL]):
        refused(cli(*args, ok=False), 2)
    assert json.loads(cli("snapshot", SQL, SQL).stdout) == {SQL: SQL + "2", "n": 1}
    assert [h["user"] for h in cli.json("history", SQL, SQL)] == [SQL, SQL]
    assert {row["path"] for row in cli.json("blame", SQL, SQL)} == {"/" + SQL, "/n"}
    assert "/" + SQL in cli("diff", SQL, SQL).stdout
    cli("comment", "add", SQL, SQL, SQL)
    cli("scope", "set", SQL, "--fields", f"{SQL},n")
    cli("prune", "-c", SQL, "--keep-revisions", "1", "--yes")
    tables = {name for (name,) in sqlite3.connect(db_path).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"activity", "revisions", "settings", "versions"} <= tables
    assert cli("verify").stdout.startswith("OK")
    roundtrip(cli, tmp_path, SQL, SQL, {SQL: SQL + "2", "n": 1})


# huge integers

def test_huge_integers_round_trip_exactly(cli, tmp_path):
    values = [BIG, -BIG, 2**64, 2**63, -(2**63) - 1, 2**200, 10**40 + 1]
    data = {"n": BIG, "list": values, "nested": {"x": [{"y": 2**100}]}}
    out = cli("record", "create", "-c", "c", "-i", "1", "--data", json.dumps(data), "--details", json.dumps(values))
    activity = show(cli, int(out.stdout))
    assert activity["details"] == values and all(type(v) is int for v in activity["details"])
    assert canonical(activity["revision"]["data"]) == canonical(data)
    cli("record", "update", "-c", "c", "-i", "1", "--patch", json.dumps([{"op": "replace", "path": "/n", "value": BIG + 1}]))
    assert json.loads(cli("snapshot", "c", "1", "--rev", "0").stdout)["n"] == BIG
    assert json.loads(cli("snapshot", "c", "1").stdout)["n"] == BIG + 1
    patch = json.loads(cli("diff", "c", "1", "--format", "patch").stdout)
    assert patch == [{"op": "replace", "path": "/n", "value": BIG + 1}]
    trail = tmp_path / "big.jsonl"
    trail.write_text(json.dumps({"action": "login", "timestamp": "2026-01-01T00:00:00Z", "collection": "c",
                                 "item": "2", "details": {"n": -BIG}}) + "\n")
    cli("import", str(trail))
    assert cli.json("log", "--item", "2")[0]["details"] == {"n": -BIG}
    roundtrip(cli, tmp_path, "c", "1", {**data, "n": BIG + 1})


_INT_FLAGS = ("an integer argument past SQLite's 64 bits (an id, --limit, --offset, a --filter number) reaches "
              "sqlite3 unchecked and raises OverflowError, which cli/app.py's `command` wrapper does not catch: a "
              "traceback instead of 'no activity with id ...' or a usage error")


@pytest.mark.parametrize("args", [
    ["show", str(BIG)], ["log", "--limit", str(BIG)], ["log", "--offset", str(BIG)], ["comment", "edit", str(BIG), "x"],
    ["comment", "delete", str(BIG)], ["log", "--filter", json.dumps({"id": {"_eq": BIG}})],
    ["export", "--filter", json.dumps({"id": {"_gt": BIG}})], ["stats", "--filter", json.dumps({"id": {"_in": [BIG]}})],
], ids=lambda a: " ".join(a[:2]))
def test_huge_integers_in_flags_are_a_clean_error(cli, args):
    cli("record", "login", "-c", "c", "-i", "1")
    result = cli(*args, ok=False)
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if result.exit_code:
        error_line(result.stderr)


@pytest.mark.parametrize("name", ["x\ny", "x\ry", "x\x1b[2Jy", "x\u2028y", "x\x1fy"])
def test_errors_name_user_values_on_one_line(cli, name):
    """Errors quote what the user gave; a newline or a control character in it must not break the one line."""
    cli("record", "login", "-c", name, "-i", name)
    for args in (["record", "update", "-c", "articles", "-i", name, "--data", "{}"], ["snapshot", name, name],
                 ["history", "articles", name], ["version", "create", "articles", name, "draft"]):
        line = refused(cli(*args, ok=False), 1)
        assert "\x1b" not in line


def test_timestamps_at_the_edges(cli):
    for at in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "2026-02-28T23:59:59+14:00"):
        cli("record", "login", "-c", "t", "-i", at, "--at", at)
    for at in ("99999-01-01", "2026-02-30", "2026-01-01T25:00:00Z", "1e9", "9999999999d", "x" * 10_000):
        refused(cli("record", "login", "-c", "t", "-i", "x", "--at", at, ok=False), 2)
    assert len(cli.json("log", "--collection", "t")) == 3
    assert cli("verify").stdout.startswith("OK")
