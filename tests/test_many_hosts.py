"""Many hosts into one, as README.md ("Into your pipeline") describes it, with the CLI as a user runs it: three
stores ("hosts") record at once, each in its own process stream; while they do, a shipper takes each host's new
activity with `audit export --cursor-file` (audit/1, gzipped), checks the piece (`audit verify PIECE`), and sends it
to a central store (`audit import`) and to ClickHouse (chDB, with integrations/clickhouse/ as shipped). At the end
each host's pieces are its whole chain, the central store holds every host's activity under its host's identity and
verifies, and the counts agree in the hosts, the central store and ClickHouse."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import chdb.session
import pytest

ROOT = Path(__file__).resolve().parent.parent
CLICKHOUSE = ROOT / "integrations" / "clickhouse"
HOSTS = {"web": "articles", "api": "orders", "worker": "invoices"}
STEPS = 10


def runner(folder: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUDIT_", "XDG_"))}
    env.update(NO_COLOR="1", XDG_DATA_HOME=str(folder / "xdg"))

    def run(db: Path, *args, user: str = "shipper", ok: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "audit_cli", "--db", str(db), *map(str, args)],
                              capture_output=True, text=True, env={**env, "AUDIT_USER": user}, cwd=folder,
                              timeout=120)
        assert done.returncode == 0 or not ok, f"audit {' '.join(map(str, args))}: {done.stderr}"
        return done

    return run


def record(audit, db: Path, collection: str, halfway: threading.Barrier) -> None:
    """What one host does: creates, updates, a login and a failed one, a comment and, in the second half (after a
    piece was shipped), its edit."""
    audit(db, "record", "create", "-c", collection, "-i", "1", "--data", '{"n": 0, "tags": []}', "--ip", "10.0.0.1")
    comment = None
    for step in range(1, STEPS):
        if step == STEPS // 2:
            halfway.wait(timeout=120)  # the shipper ships each host's first half
            halfway.wait(timeout=120)
        if step % 4 == 0:
            audit(db, "record", "invalid-credentials", "-c", "users", "-i", "root", "--ip", f"203.0.113.{step}")
        elif step % 5 == 0:
            audit(db, "record", "login", "-c", "users", "-i", "ops", user="ops")
        elif step == 3:
            comment = audit(db, "comment", "add", collection, "1", f"checked at step {step}").stdout.strip()
        elif step == 9:
            audit(db, "comment", "edit", comment, "checked twice")
        else:
            data = json.dumps({"n": step, "tags": [step, {"nested": str(step)}]})
            audit(db, "record", "update", "-c", collection, "-i", "1", "--data", data, user=f"{collection}-bot")


def lines(path: Path) -> list[dict]:
    with gzip.open(path, "rt") as file:
        return [json.loads(line) for line in file if line.strip()]


class Shipped:
    """The whole run: three hosts recording while a shipper sends their pieces on."""

    def __init__(self, folder: Path):
        self.folder, self.audit = folder, runner(folder)
        audit = self.audit
        self.hosts = {name: folder / f"{name}.db" for name in HOSTS}
        for name, db in self.hosts.items():
            audit(db, "record", "create", "-c", "settings", "-i", name, "--data", '{"host": "' + name + '"}')
        self.ids = {name: self.info(db)["store_id"] for name, db in self.hosts.items()}
        self.central = folder / "central.db"
        self.clickhouse = chdb.session.Session(str(folder / "ch"))
        self.clickhouse.query((CLICKHOUSE / "audit.sql").read_text())
        self.insert = (CLICKHOUSE / "insert.sql").read_text()
        self.pieces: dict[str, list[Path]] = {name: [] for name in HOSTS}
        self.ship()
        halfway = threading.Barrier(len(HOSTS) + 1)
        writers = [threading.Thread(target=record, args=(audit, self.hosts[name], HOSTS[name], halfway))
                   for name in HOSTS]
        for writer in writers:
            writer.start()
        halfway.wait(timeout=120)
        self.during = self.ship()  # pieces shipped while the hosts were still recording
        halfway.wait(timeout=120)
        while any(writer.is_alive() for writer in writers):
            self.during += self.ship()
            time.sleep(0.2)
        for writer in writers:
            writer.join()
        self.ship()
        self.count = {name: self.info(db)["activities"] for name, db in self.hosts.items()}

    def info(self, db: Path) -> dict:
        return json.loads(self.audit(db, "info", "--format", "json").stdout)

    def ship(self) -> int:
        shipped = 0
        for name, db in self.hosts.items():
            piece = self.folder / f"{name}-{len(self.pieces[name]):03d}.jsonl.gz"
            self.audit(db, "export", "--cursor-file", self.folder / f"{name}.cursor", "-o", piece, "--quiet")
            if not any("action" in line for line in lines(piece)):  # only its trailer: nothing new
                continue
            self.pieces[name].append(piece)
            self.audit(self.central, "verify", "--partial", piece)  # a piece: partial by design
            self.audit(self.central, "import", piece, "-q")
            self.clickhouse.query(self.insert, params={"path": str(piece)})
            shipped += len(self.pieces[name]) > 1
        return shipped

    def export(self, db: Path) -> list[dict]:
        return [json.loads(line) for line in self.audit(db, "export").stdout.splitlines() if '"action"' in line]

    def clickhouse_rows(self, sql: str) -> list[list]:
        return json.loads(self.clickhouse.query(sql, "JSONCompact").bytes())["data"]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    run = Shipped(tmp_path_factory.mktemp("hosts"))
    yield run
    run.clickhouse.close()


def test_pieces_were_shipped_while_the_hosts_recorded(shipped):
    assert shipped.during >= 3 and all(len(shipped.pieces[name]) >= 3 for name in HOSTS), shipped.pieces
    assert all(shipped.count[name] == STEPS + 1 for name in HOSTS)


def test_each_hosts_pieces_are_its_chain_piece_after_piece(shipped):
    for name, db in shipped.hosts.items():
        # Each piece was verified as a part when shipped; here: each starts where the one before ended, from the
        # first link to the host's own head, and they hold every activity once. (A comment edited after it was
        # shipped is in its piece as it was then; its edit record follows in a later piece.)
        links = ("key", "action", "prev_hash", "hash")
        shipped_lines = [line for piece in shipped.pieces[name] for line in lines(piece) if "action" in line]
        assert [tuple(line[k] for k in links) for line in shipped_lines] == \
            [tuple(line[k] for k in links) for line in shipped.export(db)]
        starts = [next(line for line in lines(piece) if "action" in line)["prev_hash"]
                  for piece in shipped.pieces[name]]
        ends = [[line for line in lines(piece) if "action" in line][-1]["hash"] for piece in shipped.pieces[name]]
        assert starts == ["0" * 64] + ends[:-1]
        own = json.loads(shipped.audit(db, "verify", "--format", "json").stdout)
        assert (own["checked"], own["head"]) == (shipped.count[name], ends[-1])


def test_the_concatenated_pieces_verify_as_one_trail(shipped):
    for name, db in shipped.hosts.items():
        whole = shipped.folder / f"{name}-whole.jsonl.gz"
        whole.write_bytes(b"".join(piece.read_bytes() for piece in shipped.pieces[name]))
        assert shipped.audit(db, "verify", whole, ok=False).returncode == 0, name


def test_the_central_store_keeps_each_hosts_activity_under_its_identity(shipped):
    everything = shipped.export(shipped.central)
    # The central store chains each piece anew onto its own chain, and says so with its own import records.
    exported = [line for line in everything if line["action"] != "import"]
    assert {line["key"].split("/")[0] for line in everything if line["action"] == "import"} == \
        {json.loads(shipped.audit(shipped.central, "info", "--format", "json").stdout)["store_id"]}
    ids, count = shipped.ids, shipped.count
    assert Counter(line["key"].split("/")[0] for line in exported) == {ids[name]: count[name] for name in HOSTS}
    for name in HOSTS:
        mine = [line["key"] for line in exported if line["key"].startswith(ids[name] + "/")]
        assert mine == [f"{ids[name]}/{n}" for n in range(1, count[name] + 1)]
    history = json.loads(shipped.audit(shipped.central, "history", HOSTS["web"], "1", "--format", "json").stdout)
    assert [row["action"] for row in history] == ["create"] + ["update"] * 4  # the web host's only
    central = json.loads(shipped.audit(shipped.central, "stats", "--include-deleted", "--format", "json").stdout)
    edits = json.loads(shipped.audit(shipped.central, "stats", "--action", "comment-edit", "--format", "json").stdout)
    imports = len(everything) - len(exported)
    assert sum(row["count"] for row in central + edits) == sum(count.values()) + imports


def test_the_central_store_verifies_and_its_comments_carry_their_edits(shipped):
    comments = [line for line in shipped.export(shipped.central) if line["action"] == "comment"]
    assert len(comments) == 3 and {line["comment"] for line in comments} == {"checked twice"}
    assert shipped.audit(shipped.central, "verify", ok=False).returncode == 0


def test_clickhouse_counts_agree_with_the_hosts_and_the_central_store(shipped):
    per_host = shipped.clickhouse_rows(
        "SELECT splitByChar('/', key)[1] AS host, count() FROM audit FINAL GROUP BY host")
    assert {host: int(n) for host, n in per_host} == {shipped.ids[name]: shipped.count[name] for name in HOSTS}
    listed = shipped.clickhouse_rows("SELECT action, count() FROM audit_listed GROUP BY action")
    stats = json.loads(shipped.audit(shipped.central, "stats", "--by", "action", "--format", "json").stdout)
    # (ClickHouse loaded the pieces; the central store's own import records are not in them)
    assert {action: int(n) for action, n in listed} == {row["action"]: row["count"] for row in stats
                                                         if row["action"] != "import"}


# Two stores into one central store, item by item (in-process, real store files).

def _ship(host, central, tmp_path, name: str):
    piece = tmp_path / f"{name}.jsonl"
    host("export", "--cursor-file", str(tmp_path / f"{host.db_path.stem}.cursor"), "-o", str(piece))
    return central("import", str(piece), ok=False)


def test_two_hosts_with_items_of_their_own_meet_in_one_central_store(tmp_path):
    from conftest import Cli

    web, api, central = Cli(tmp_path / "web.db"), Cli(tmp_path / "api.db"), Cli(tmp_path / "central.db")
    web("record", "create", "articles", "1", "--data", '{"t": "w1"}', "--at", "2025-01-01T01:00:00Z")
    api("record", "create", "articles", "2", "--data", '{"t": "a2"}', "--at", "2025-01-01T01:30:00Z")
    assert _ship(web, central, tmp_path, "web-1").exit_code == 0
    assert _ship(api, central, tmp_path, "api-1").exit_code == 0
    web("record", "update", "articles", "1", "--data", '{"t": "w1b"}', "--at", "2025-01-01T02:00:00Z")
    web("record", "update", "articles", "1", "--data", '{"t": "w1c"}', "--at", "2025-01-01T03:00:00Z")
    web("prune", "--keep-revisions", "1", "--yes")  # an update goes before it is shipped
    api("record", "delete", "articles", "2", "--at", "2025-01-01T04:00:00Z")
    assert _ship(api, central, tmp_path, "api-2").exit_code == 0
    assert _ship(web, central, tmp_path, "web-2").exit_code == 0
    assert json.loads(central("snapshot", "articles", "1").stdout) == {"t": "w1c"}
    assert central.json("history", "articles", "2")[-1]["action"] == "delete"
    central("verify")


def test_two_stores_items_of_the_same_ids_are_refused_in_one_central_store(tmp_path):
    # One store keeps one history per collection and item: the second store's articles 1 is another item, and
    # taking its lines onto the first's would mix two histories (an update of it, once its create was refused,
    # went onto the other store's item). Refused, naming both stores; nothing of the piece is kept.
    from conftest import Cli

    web, api, central = Cli(tmp_path / "web.db"), Cli(tmp_path / "api.db"), Cli(tmp_path / "central.db")
    web("record", "create", "articles", "1", "--data", '{"t": "web"}', "--at", "2025-01-01T01:00:00Z")
    api("record", "create", "articles", "1", "--data", '{"t": "api"}', "--at", "2025-01-01T02:00:00Z")
    assert _ship(web, central, tmp_path, "web-1").exit_code == 0
    stores = {name: json.loads(cli("info", "--format", "json").stdout)["store_id"] for name, cli in
              (("web", web), ("api", api))}
    for n, change in enumerate(([], ["update", "--data", '{"t": "api 2"}']), 1):
        if change:
            api("record", change[0], "articles", "1", *change[1:], "--at", "2025-01-01T03:00:00Z")
        refused = _ship(api, central, tmp_path, f"api-{n}")
        assert refused.exit_code == 1
        line = refused.stderr.strip().splitlines()[-1]
        assert line.startswith("audit: error: ") and f"store {stores['web']}" in line and \
            f"store {stores['api']}" in line and "nothing was imported" in line, line
    assert json.loads(central("snapshot", "articles", "1").stdout) == {"t": "web"}
    assert len(central.json("log")) == 1
    central("verify")


def test_a_store_restored_from_anothers_trail_goes_on_with_its_items(tmp_path):
    # A host rebuilt from its backup is a new store (a new id) whose trail holds the old one's lines: its pieces
    # go on with the old store's items in the central store, also an item its first piece does not touch.
    from conftest import Cli

    old, central = Cli(tmp_path / "old.db"), Cli(tmp_path / "central.db")
    old("record", "create", "articles", "1", "--data", '{"t": "1"}', "--at", "2025-01-01T01:00:00Z")
    old("record", "create", "articles", "2", "--data", '{"t": "2"}', "--at", "2025-01-01T02:00:00Z")
    assert _ship(old, central, tmp_path, "old-1").exit_code == 0
    old("export", "-o", str(tmp_path / "backup.jsonl"))
    new = Cli(tmp_path / "new.db")
    new("import", str(tmp_path / "backup.jsonl"))
    new("record", "update", "articles", "1", "--data", '{"t": "1b"}', "--at", "2025-01-01T03:00:00Z")
    assert _ship(new, central, tmp_path, "new-1").exit_code == 0  # the old store's lines again, then its own
    new("record", "update", "articles", "2", "--data", '{"t": "2b"}', "--at", "2025-01-01T04:00:00Z")
    assert _ship(new, central, tmp_path, "new-2").exit_code == 0
    assert [json.loads(central("snapshot", "articles", i).stdout) for i in "12"] == [{"t": "1b"}, {"t": "2b"}]
    central("verify")
