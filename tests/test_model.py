"""Issue 14, "nothing lost where features meet": a model-based test of the whole product.

A hypothesis state machine drives a real store file through the in-process CLI (CliRunner on `audit_cli.cli.app`),
interleaving every feature that writes: records (create, update by merge, `--replace` and `--patch`, delete,
soft-delete), reverts (of deleted items too), comments (add, edit, delete), versions (create, save, promote),
scopes and retention, prunes (by age, by count, by scope, by collection, the stored policy, with archives),
incremental exports into a mirror store (`export --cursor-file`, then `import`), whole exports into fresh stores,
and re-imports of old exports and of archives. After every step it holds both stores to a plain in-memory model
(tests/model_store.py): every activity the model holds is there with its revision and comment state, each item's
current state and remaining revisions, the versions, the mirror showing what the source shows, every archive plus
the store holding all that was ever recorded, and `audit verify` passing on both stores.

Times: every `--at` is an absolute time from 2025 on, an hour apart; what the CLI stamps itself (versions, scopes,
prunes) is now, later than all of them. A prune by age gets `--older-than` as the seconds from now back to a moment
half an hour after one of those times, so what it removes does not depend on how long the run takes.

In CI it runs 20 examples of up to 40 steps (about a minute on an idle 2-core machine, two when it is shared);
`AUDIT_MODEL_EXAMPLES` and `AUDIT_MODEL_STEPS` ask for more, and `--hypothesis-seed` picks the run. By hand:

    AUDIT_MODEL_EXAMPLES=500 AUDIT_MODEL_STEPS=100 python -m pytest tests/test_model.py -q --hypothesis-seed=7

(`--hypothesis-show-statistics` tells how the steps were spent). A failure prints the steps that reproduce it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from audit_cli.store import AuditStore
from conftest import Cli
import model_checks as checks
from model_store import Model, ago, at, draw_patch, scoped

EXAMPLES = int(os.environ.get("AUDIT_MODEL_EXAMPLES") or 20)
STEPS = int(os.environ.get("AUDIT_MODEL_STEPS") or 40)

COLLECTIONS = st.sampled_from(["a", "b"])
ITEMS_ALL = [(c, i) for c in "ab" for i in "12"]  # the items the steps act on; scopes are set on b
FIELDS = ["title", "status", "n", "tags", "body"]
VALUES = st.one_of(st.integers(-3, 3), st.sampled_from(["", "x", "draft", "é ✓", "a\nb"]), st.none(),
                   st.lists(st.integers(0, 3), max_size=3))
DOCS = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=4)
TEXTS = st.sampled_from(["looks good", "needs work", "ok", "ünïcode ✓", "two\nlines"])
KEYS = st.sampled_from(["v1", "v2"])


class StoreMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="audit-model-"))
        self.src, self.mirror = Cli(self.dir / "source.db"), Cli(self.dir / "mirror.db")
        with AuditStore.open(self.src.db_path, create=True) as store:
            self.model = Model(store.store_id())
        AuditStore.open(self.mirror.db_path, create=True).close()
        self.hours = 0
        self.files = 0
        self.comment_ids: list[int] = []

    def teardown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def tick(self) -> str:
        self.hours += 1
        return at(self.hours)

    def name(self, stem: str, suffix: str = ".jsonl") -> Path:
        self.files += 1
        return self.dir / f"{stem}-{self.files}{suffix}"

    # records

    def target(self, draw, wanted) -> tuple[str, str]:
        """An item: four times in five one that `wanted` says the step can act on (when there is one), else any,
        so that steps are mostly done, and sometimes refused."""
        fitting = [where for where in ITEMS_ALL if wanted(*where)]
        if fitting and draw.draw(st.integers(0, 4)):
            return draw.draw(st.sampled_from(fitting))
        return draw.draw(st.sampled_from(ITEMS_ALL))

    @rule(doc=DOCS, draw=st.data())
    def record_create(self, doc, draw):
        self.record("create", *self.target(draw, lambda c, i: not self.model.live(c, i)), doc, "merge", draw)

    @precondition(lambda self: any(self.model.live(*where) for where in ITEMS_ALL))
    @rule(action=st.sampled_from(["update", "update", "soft-delete"]), doc=DOCS,
          mode=st.sampled_from(["merge", "replace", "patch"]), draw=st.data())
    def record_change(self, action, doc, mode, draw):
        self.record(action, *self.target(draw, self.model.live), doc, mode, draw)

    @precondition(lambda self: any(self.model.live(*where) for where in ITEMS_ALL))
    @rule(doc=DOCS, mode=st.sampled_from(["merge", "replace", "patch"]), draw=st.data())
    def record_update(self, doc, mode, draw):  # updates are most of what a trail holds: a second rule for them
        self.record("update", *self.target(draw, self.model.live), doc, mode, draw)

    @precondition(lambda self: any(self.model.live(*where) for where in ITEMS_ALL))
    @rule(draw=st.data())
    def record_delete(self, draw):
        self.record("delete", *self.target(draw, self.model.live), {}, "merge", draw)

    def record(self, action, coll, item, doc, mode, draw):
        m, ts = self.model, self.tick()
        args = ["record", action, coll, item, "--at", ts]
        head, live = m.head(coll, item), m.live(coll, item)
        before = live.data if live is not None else {}
        if mode == "patch":
            patch, after = draw_patch(draw, before, FIELDS, VALUES)
            args += ["--patch", json.dumps(patch)]
        elif action != "delete":
            args += ["--data", json.dumps(doc)] + (["--replace"] if mode == "replace" else [])
            after = doc if mode == "replace" else {**before, **doc}
        scope, track = m.scopes.get(coll), m.track(coll)
        if track == "none":
            self.src(*args)
        elif track == "activity":
            self.src(*args)
            m.add(action, coll, item, ts)
        elif action == "create" and live is not None or action != "create" and (head is None or live is None):
            self.src.fails(*args, code=1)
        else:
            self.src(*args)
            after = scoped(before if action == "delete" else after, scope)
            # A change is what differs within the scope: a field that left it is not removed by the next change.
            if action in ("create", "delete") or after != scoped(before, scope):
                m.add(action, coll, item, ts, has_rev=True, data=after)
            else:
                m.add(action, coll, item, ts)

    @precondition(lambda self: any(self.model.mainline(*where) for where in ITEMS_ALL))
    @rule(to=st.integers(-4, 3), draw=st.data())
    def revert(self, to, draw):
        m, ts = self.model, self.tick()
        coll, item = self.target(draw, lambda c, i: len(m.mainline(c, i)) > 1)
        args = ["revert", coll, item, "--to", str(to), "--at", ts]
        line = m.mainline(coll, item)
        index = to + len(line) if to < 0 else to
        if not 0 <= index < len(line):
            self.src.fails(*args, code=1)
            return
        target, head = line[index], line[-1]
        # A delete's revision keeps the state it removed: reverting to it restores that state.
        restored = scoped(target.data, m.scopes.get(coll))
        if head.action != "delete" and restored == scoped(head.data, m.scopes.get(coll)):
            self.src.fails(*args, code=1)
            return
        self.src(*args)
        m.add("revert", coll, item, ts, has_rev=True, data=restored)

    # comments

    @rule(where=st.sampled_from(ITEMS_ALL), text=TEXTS)
    def comment_add(self, where, text):
        coll, item = where
        ts = self.tick()
        self.src("comment", "add", coll, item, text, "--at", ts)
        self.comment_ids.append(self.model.add("comment", coll, item, ts, comment=text).id)

    @precondition(lambda self: self.comment_ids)
    @rule(pick=st.integers(0, 20), text=TEXTS, delete=st.booleans())
    def comment_change(self, pick, text, delete):
        m, ts = self.model, self.tick()
        cid = self.comment_ids[pick % len(self.comment_ids)]
        args = ["comment", "delete", str(cid)] if delete else ["comment", "edit", str(cid), text]
        args += ["--at", ts]
        comment = m.acts.get(cid)
        if comment is None or comment.deleted:
            self.src.fails(*args, code=1)
            return
        self.src(*args)
        if delete:
            comment.deleted = True
        else:
            comment.comment = text
        m.add("comment-delete" if delete else "comment-edit", comment.coll, comment.item, ts, target=cid,
              after=(comment.comment, comment.deleted))

    # versions

    @precondition(lambda self: any(self.model.live(*where) for where in ITEMS_ALL))
    @rule(key=KEYS, draw=st.data())
    def version_create(self, key, draw):
        m = self.model
        coll, item = self.target(draw, m.live)
        args = ["version", "create", coll, item, key]
        live = m.live(coll, item)
        if live is None or (coll, item, key) in m.versions:
            self.src.fails(*args, code=1)
            return
        self.src(*args)
        m.add("version-create", coll, item, None, vstate=(key, {}))
        m.versions[coll, item, key] = {"staged": {}, "base": live.id}

    def version(self, draw) -> tuple[str, str, str]:
        """A version: four times in five one that exists (when one does)."""
        if self.model.versions and draw.draw(st.integers(0, 4)):
            return draw.draw(st.sampled_from(sorted(self.model.versions)))
        return (*draw.draw(st.sampled_from(ITEMS_ALL)), draw.draw(KEYS))

    @precondition(lambda self: self.model.versions)
    @rule(doc=DOCS, draw=st.data())
    def version_save(self, doc, draw):
        m = self.model
        coll, item, key = self.version(draw)
        args = ["version", "save", coll, item, key, "--data", json.dumps(doc)]
        version = m.versions.get((coll, item, key))
        if version is None:
            self.src.fails(*args, code=1)
            return
        self.src(*args)
        staged = {**version["staged"], **doc}
        if staged != version["staged"]:
            m.add("version-save", coll, item, None, has_rev=True, data=staged, version=key, vstate=(key, staged))
            version["staged"] = staged
        else:
            m.add("version-save", coll, item, None, vstate=(key, staged))

    @precondition(lambda self: self.model.versions)
    @rule(force=st.booleans() | st.just(True), some=st.sets(st.sampled_from(FIELDS)), draw=st.data())
    def version_promote(self, force, some, draw):
        m = self.model
        coll, item, key = self.version(draw)
        version, live = m.versions.get((coll, item, key)), m.live(coll, item)
        taken = sorted(some & set(version["staged"])) if version else []
        args = ["version", "promote", coll, item, key] + (["--force"] if force else [])
        args += ["--fields", ",".join(taken)] if taken else []
        if version is None or live is None or (live.id != version["base"] and not force):
            self.src.fails(*args, code=1)
            return
        self.src(*args)
        staged = {k: v for k, v in version["staged"].items() if not taken or k in taken}
        after = scoped({**live.data, **staged}, m.scopes.get(coll))
        changed = after != scoped(live.data, m.scopes.get(coll))
        act = m.add("promote", coll, item, None, **({"has_rev": True, "data": after} if changed else {}))
        remaining = {k: v for k, v in version["staged"].items() if k not in staged}
        act.vstate = (key, remaining or None)
        if remaining:
            version.update(staged=remaining, base=act.id if act.has_rev else live.id)
        else:
            del m.versions[coll, item, key]

    # scope and retention

    @rule(how=st.sampled_from(["fields", "exclude-fields", None]), names=st.sets(st.sampled_from(FIELDS), min_size=1),
          keep=st.sampled_from([None, 1, 2]), track=st.sampled_from(["all", "all", "activity", "none"]))
    def scope_set(self, how, names, keep, track):
        scope = {"track": track}
        args = ["scope", "set", "b", "--track", track]
        if how is not None:
            scope[how.replace("-", "_")] = sorted(names)
            args += [f"--{how}", ",".join(sorted(names))]
        if keep is not None:
            scope["keep_revisions"] = keep
            args += ["--keep-revisions", str(keep)]
        self.src(*args)
        self.model.scopes["b"] = scope
        self.model.add("scope-set", "b", "*", None)

    @rule()
    def scope_clear(self):
        if "b" not in self.model.scopes:
            self.src.fails("scope", "clear", "b", code=1)
            return
        self.src("scope", "clear", "b")
        del self.model.scopes["b"]
        self.model.add("scope-clear", "b", "*", None)

    @rule(activity=st.none() | st.integers(0, 60), revisions=st.none() | st.integers(0, 60),
          keep=st.sampled_from([None, 1, 2]))
    def retention_set(self, activity, revisions, keep):
        policy, args = {}, ["retention", "set"]
        for name, hour in (("activity", activity), ("revisions", revisions)):
            if hour is not None:
                policy[name] = at(min(hour, self.hours) + 0.5)
                args += [f"--{name}", ago(policy[name])]
        if keep is not None:
            policy["keep"] = keep
            args += ["--keep-revisions", str(keep)]
        if not policy:
            self.src.fails(*args, code=2)
            return
        self.src(*args)
        self.model.retention = policy
        self.model.add("retention-set", "*", "*", None)

    @rule()
    def retention_clear(self):
        self.src("retention", "clear")
        if self.model.retention is not None:
            self.model.retention = None
            self.model.add("retention-clear", "*", "*", None)

    # prunes

    @rule(age=st.none() | st.integers(0, 60), keep=st.sampled_from([None, 1, 2]), scopes=st.booleans(),
          coll=st.none() | COLLECTIONS, archive=st.booleans(), gz=st.booleans(), again=st.booleans())
    def prune(self, age, keep, scopes, coll, archive, gz, again):
        m = self.model
        args = ["prune", "--yes", "--format", "json"]
        cutoff = at(min(age, self.hours) + 0.5) if age is not None else None
        if cutoff is not None:
            args += ["--older-than", ago(cutoff)]
        if keep is not None:
            args += ["--keep-revisions", str(keep)]
        args += ["--apply-scopes"] * scopes + (["--collection", coll] if coll else [])
        if cutoff is None and keep is None and not scopes:  # the stored policy
            coll, policy = None, m.retention or {}
            args = args[:4]
            limits = {"activity_before": policy.get("activity"), "revision_before": policy.get("revisions"),
                      "revision_only": bool(policy.get("revisions")) or bool(policy.get("keep"))
                      and not policy.get("activity"), "keep": policy.get("keep") or 1}
        else:
            limits = {"activity_before": cutoff, "revision_only": keep is not None and cutoff is None,
                      "keep": keep or 1}
        plan = m.plan(**limits, collection=coll, apply_scopes=scopes) if m.retention or len(args) > 4 else None
        dry = json.loads(self.src(*args, "--dry-run").stdout)
        if plan is not None:
            assert (dry["activities"], dry["revisions"]) == (len(plan.whole), plan.removed_revisions), (dry, plan)
        path = self.name("archive", ".jsonl.gz" if gz else ".jsonl") if archive else None
        if archive and again and m.archives:
            path = Path(sorted(m.archives)[0])  # an archive that exists: a second prune adds to it
        summary = json.loads(self.src(*args, *(["--archive", str(path)] if path else [])).stdout)
        if plan is None:
            assert summary["activities"] == summary["revisions"] == 0 and "prune_id" not in summary, summary
            return
        assert (summary["activities"], summary["revisions"]) == (len(plan.whole), plan.removed_revisions), summary
        wrote = bool(plan.whole or plan.revisions or plan.rewrites)
        # A scope rewrite that changes only a delta (its revision's predecessor pruned) is still a rewrite.
        assert wrote == ("prune_id" in summary) or scopes and "prune_id" in summary, (summary, plan)
        if path and "prune_id" not in summary:
            assert path.exists() == (str(path) in m.archives), "an archive is written only by a prune that removed"
        m.carry_out(plan, str(path) if path and "prune_id" in summary else None, summary.get("prune_id"), coll)

    # moving trails

    @rule()
    def sync_mirror(self):
        m = self.model
        piece = self.name("piece")
        self.src("export", "--cursor-file", str(self.dir / "cursor"), "-o", str(piece))
        self.mirror("import", str(piece))
        m.sync()
        assert (self.dir / "cursor").read_text().split()[0] == str(self.model.cursor)

    @rule()
    def export_whole(self):
        whole, fresh = self.name("whole"), self.name("fresh", ".db")
        self.src("export", "-o", str(whole))
        Cli(fresh)("import", str(whole))
        Cli(fresh)("verify")
        copy = Cli(fresh)("export", "--no-trailer", "-o", "-").stdout.splitlines()  # (a trailer names its store)
        assert copy == self.src("export", "--no-trailer", "-o", "-").stdout.splitlines()
        self.model.exports.append((str(whole), self.model.snapshot()))

    def trails(self):
        firsts = []  # an archive may hold an activity twice (its revision, then itself): an import takes the first
        for path, lines in self.model.archives.items():
            held: dict = {}
            for act in lines:
                held.setdefault(act.key, act)
            firsts.append((path, held))
        return self.model.exports + firsts

    @precondition(lambda self: self.model.exports or self.model.archives)
    @rule(pick=st.integers(0, 20))
    def reimport_into_source(self, pick):
        # All of it is here, or was pruned here and stays pruned: nothing changes.
        self.src("import", self.trails()[pick % len(self.trails())][0])

    @precondition(lambda self: self.model.exports or self.model.archives)
    @rule(pick=st.integers(0, 20))
    def reimport_into_mirror(self, pick):
        path, lines = self.trails()[pick % len(self.trails())]
        ids = [a.id for a in lines.values() if a.key not in self.model.mirror]
        if any(i <= self.model.mirror_top for i in ids) or ids != sorted(ids):
            # Older than what the mirror holds (or, from an archive two prunes wrote, than what comes before it in
            # the file): whether it comes in depends on the prune records the mirror holds (store/seen.py), and
            # where, on ids the model does not follow.
            return
        self.mirror("import", path)
        self.model.take(list(lines.values()))

    # checks, after every step (tests/model_checks.py)

    @invariant()
    def source_holds_the_model(self):
        checks.source_holds_the_model(self.src, self.model, ITEMS_ALL)

    @invariant()
    def mirror_shows_what_the_source_shows(self):
        checks.mirror_shows_what_the_source_shows(self.src, self.mirror, self.model, ITEMS_ALL)

    @invariant()
    def archives_and_store_hold_all_ever_recorded(self):
        checks.archives_and_store_hold_all_ever_recorded(self.model)


def test_model():
    run_state_machine_as_test(StoreMachine, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
