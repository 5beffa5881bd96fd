"""Learned fixes promoted to ast-grep rules through the proposal flow (rules.promoted):
three accepted fixes of one kind become a proposal with its evidence, ``kaizen rules``
accepts it into ``.kaizen/rules/<id>.yml`` that the static pre-pass runs, a refused
candidate is no proposal (and says why), two processes accepting at once write one file,
and a promoted rule the team keeps dismissing becomes a proposal again. Real database, real
git repository, real ast-grep."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
import yaml

from kaizen.cli.main import main
from kaizen.core.document import Document
from kaizen.core.findings import Edit, Finding
from kaizen.memory.fix_examples import Example, example_of, hand_edits, record
from kaizen.memory.store import Store
from kaizen.rules import promoted
from kaizen.rules.astgrep import RuleBook
from kaizen.rules.astgrep_run import rule_findings
from kaizen.rules.metrics import for_repository
from kaizen.rules.promotion import rule_id
from kaizen.rules.proposals import accept, suggest
from tests.fixtures import fake_github as fakes

REPO = "github.com/acme/widgets"
fake_github = fakes.fake_github  # the fixture
KIND = "none-compare"
SOURCES = ["if a == None:\n    pass", "x = self.b == None", "return items[0] == None"]
RID = rule_id("python", KIND)


def _seed(db: Path, sources: list[str] = SOURCES) -> None:
    store = Store.open(str(db))
    try:
        for text in sources:
            lines = text.splitlines()
            col = lines[0].index("==")
            pair = example_of(lines, [Edit(0, col, 0, col + 2, "is")])
            assert pair is not None
            record(store, REPO, Example("python", KIND, "src/m.py", *pair))
    finally:
        store.close()


@pytest.fixture
def repo(project: Path, kaizen_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project as the current directory, three accepted `x == None` fixes in memory and
    a repository of ordinary Python (the share check reads it)."""
    monkeypatch.chdir(project)
    db = kaizen_home / "promote.db"
    monkeypatch.setenv("KAIZEN_DATABASE", str(db))
    monkeypatch.setenv("KAIZEN_HOME", str(kaizen_home))
    (project / "src").mkdir()
    (project / "src/app.py").write_text("a = 1\n" * 400, encoding="utf-8")
    _seed(db)
    return project


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _store(home: Path) -> Store:
    return Store.open(str(home / "promote.db"))


def test_three_accepted_fixes_become_a_proposal_accepting_writes_a_rule_the_prepass_runs(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "rules", "--format", "json", "suggest")
    (proposal,) = json.loads(out)["proposals"]
    assert code == 0 and proposal["id"] == RID and proposal["kind"] == "promote"
    ev = proposal["evidence"]
    assert ev["accepted"] == 3 and ev["reasons"] == [] and ev["share"] == 0.0
    assert "pattern: $A == None" in ev["rule"] and "fix: $A is None" in ev["rule"]

    code, out, _ = run(capsys, "rules", "suggest")
    assert "3 accepted fixes" in out and "fix: $A is None" in out

    code, out, _ = run(capsys, "rules", "accept", RID)
    path = repo / ".kaizen/rules" / f"{RID}.yml"
    assert code == 0 and f"Accepted {RID} -> {path}" in out
    rule = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert rule["id"] == RID and rule["metadata"]["source"] == "promoted"
    tests = yaml.safe_load(promoted.test_path(repo, RID).read_text(encoding="utf-8"))
    assert len(tests["invalid"]) == 3 and all(" is None" in v for v in tests["valid"])

    # the static pre-pass runs it: the finding's code is the rule id, with its quick fix
    target = repo / "src/new.py"
    target.write_text("def f(n):\n    return n.left == None\n", encoding="utf-8")
    doc = Document(target.as_uri(), target, target.read_text(encoding="utf-8"), 1, "python")
    (finding,) = rule_findings(doc, RuleBook().load(repo).rules)
    assert finding.code == RID and finding.edits and finding.edits[0].new_text == "n.left is None"

    code, out, _ = run(capsys, "rules", "--format", "json", "suggest")
    assert json.loads(out)["proposals"] == []  # a rule now: not proposed again
    code, out, _ = run(capsys, "rules", "list")
    assert f"promoted  {RID}" in out


def test_a_rule_matching_everything_is_refused_and_says_why(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "src/app.py").write_text("if q == None: pass\n" * 50, encoding="utf-8")
    code, out, _ = run(capsys, "rules", "--format", "json", "suggest")
    assert code == 0 and json.loads(out)["proposals"] == []
    code, out, _ = run(capsys, "rules", "suggest", "--all")
    assert f"{RID} (refused: 3 fixes of `{KIND}`" in out and "too general" in out
    code, _, err = run(capsys, "rules", "accept", RID)
    assert code == 2 and f"no current proposal {RID}" in err
    assert not (repo / ".kaizen/rules" / f"{RID}.yml").exists()


def test_a_rejected_promotion_is_never_proposed_again(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run(capsys, "rules", "reject", RID, "--reason", "we like ==")
    assert code == 0
    code, out, _ = run(capsys, "rules", "--format", "json", "suggest")
    assert json.loads(out)["proposals"] == []


def test_examples_cut_from_a_body_are_kept_at_the_left_margin() -> None:
    lines = ["def f(d, k):", "    if k in d.keys():", "        return 1", "# end"]
    pair = example_of(lines, [Edit(1, 4, 2, 0, "if k in d:\n")])
    assert pair == ("if k in d.keys():\n    return 1\n", "if k in d:\n    return 1\n")


def test_the_users_own_edit_is_an_example_too() -> None:
    """A finding fixed by hand: the changed lines around it, before and after, become an
    example like an applied fix (memory.fix_examples.hand_edits)."""
    before = ["import os", "", "def f(d, k):", "    if k in d.keys():", "        return 1", "x = 1"]
    after = ["import os", "", "def f(d, k):", "    if k in d:", "        return 1", "x = 2"]
    edits = hand_edits(before, after, 4, 4)  # the finding's line; x = 2 is another change
    assert edits == [Edit(3, 0, 3, len(before[3]), "    if k in d:")]
    assert example_of(before, edits) == ("if k in d.keys():\n", "if k in d:\n")
    inserted = hand_edits(["a = f(x)", "b = 1"], ["a = f(x)", "# checked", "b = 1"], 1, 2)
    assert example_of(["a = f(x)", "b = 1"], inserted) == ("b = 1\n", "# checked\nb = 1\n")


def _accept(root: str, database: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = Store.open(database)
    try:
        queue.put(accept(store, root, [RID]))
    finally:
        store.close()


def test_two_processes_accepting_at_once_write_one_file(repo: Path, kaizen_home: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_accept, args=(str(repo), str(kaizen_home / "promote.db"), queue))
        for _ in range(2)
    ]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sorted(len(r["added"]) for r in results) == [0, 1]
    assert sorted(len(r["alreadyPresent"]) for r in results) == [0, 1]
    files = sorted(p.name for p in (repo / ".kaizen/rules").glob("*.yml"))
    assert files == [f"{RID}.yml"]
    assert yaml.safe_load((repo / ".kaizen/rules" / files[0]).read_text())["id"] == RID


def _dismiss(store: Store, n: int) -> None:
    uri = "file:///x/src/m.py"
    for i in range(n):
        run_id = store.start_run("autofix", uri, REPO, "python", None)
        f = Finding("autofix", RID, "warning", 1, 1, f"found {i}", code=RID)
        f.fingerprint = f"promoted{i}"
        store.save_findings(run_id, REPO, uri, "python", [f], shown=False)
        store.set_outcome(REPO, f.fingerprint, "rejected", None, f"y{i} == None")


def test_a_promoted_rule_whose_findings_are_dismissed_becomes_a_proposal_again(
    repo: Path, kaizen_home: Path
) -> None:
    store = _store(kaizen_home)
    try:
        accept(store, repo, [RID])
        path = repo / ".kaizen/rules" / f"{RID}.yml"
        _dismiss(store, promoted.DEMOTE_AFTER - 1)
        assert promoted.demote(store, REPO, repo, RID) == [] and path.exists()
        assert promoted.demote(store, REPO, repo, "some-other-code") == []
        _dismiss(store, promoted.DEMOTE_AFTER)
        assert promoted.demote(store, REPO, repo, RID) == [RID]
        assert not path.exists() and not promoted.test_path(repo, RID).exists()
        (back,) = suggest(store, repo)
        assert back.id == RID and back.evidence["demoted"]["dismissed"] == promoted.DEMOTE_AFTER
        assert "taken out" in back.text
    finally:
        store.close()


def test_metrics_count_promoted_rules_with_acceptance(repo: Path, kaizen_home: Path) -> None:
    store = _store(kaizen_home)
    try:
        accept(store, repo, [RID])
        uri = (repo / "src/m.py").as_uri()
        for i, status in enumerate(("accepted", "accepted", "accepted", "rejected")):
            run_id = store.start_run("autofix", uri, REPO, "python", None)
            f = Finding("autofix", RID, "warning", 1, 1, f"m{i}", code=RID)
            f.fingerprint = f"m{i}"
            store.save_findings(run_id, REPO, uri, "python", [f], shown=False)
            store.set_outcome(REPO, f.fingerprint, status)
        report = for_repository(store, repo)
    finally:
        store.close()
    row = report["bySource"]["promoted"]
    assert row["rules"] == 1 and row["findings"] == 4 and row["acceptanceRate"] == 0.75
    (rule,) = [r for r in report["rules"] if r["id"] == RID]
    assert rule["origin"] == "promoted" and rule["acceptanceRate"] == 0.75


# ---- end to end in the editor: the real server, the scripted model ----

KEYS = [  # (file, text, the fixed line 2): `k in d.keys()` fixed three times
    ("a.py", "def f(d, k):\n    if k in d.keys():\n        return 1\n    return 0\n", "    if k in d:"),
    ("b.py", "def g(cache, name):\n    found = name in cache.keys()\n    return found\n",
     "    found = name in cache"),
    ("c.py", "def h(xs, seen):\n    return [x for x in xs if x in seen.keys()]\n# end\n",
     "    return [x for x in xs if x in seen]"),
]


async def test_three_fixes_accepted_in_the_editor_become_an_instant_check(
    start_client, scripted, project: Path, kaizen_home: Path
) -> None:
    from lsprotocol import types

    from tests.conftest import model_options, open_document, wait_for_diagnostics

    scripted.set_default("issue_detector", {"issues": []})
    options = model_options(
        scripted, staticPrepass={"enabled": True}, review={"minConfidence": 0, "demoteBelow": 0}
    )
    client = await start_client(options)
    offered: list[str] = []

    @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def answer(params: types.ShowMessageRequestParams) -> None:
        offered.append(params.message)  # closed unanswered: accepted below by the command

    for name, text, fixed in KEYS:
        scripted.enqueue(
            "issue_detector",
            {"issues": [{"line": 2, "category": "performance", "message": "keys() in a test"}]},
        )
        scripted.enqueue(
            "fix_generator",
            {"fixes": [{"issue": 1, "start_line": 2, "end_line": 2, "replacement": fixed}]},
        )
        uri = open_document(client, project / name, text)
        [diag] = await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=diag.range,
                context=types.CodeActionContext(diagnostics=[diag]),
            )
        )
        fix = next(a for a in actions if a.edit is not None)
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=fix.command.command, arguments=fix.command.arguments)
        )
        lines = text.splitlines()
        lines[1] = fixed
        (project / name).write_text("\n".join(lines) + "\n", encoding="utf-8")  # saved

    rid = rule_id("python", "performance")
    listed = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="kaizen.rulesSuggest", arguments=[{"includeRefused": True}]
        )
    )
    [proposal] = [p for p in listed["proposals"] if p["kind"] == "promote"]
    assert proposal["id"] == rid and proposal["evidence"]["accepted"] == 3
    assert "$A in $B.keys()" in proposal["evidence"]["rule"]
    done = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="kaizen.rulesAccept", arguments=[{"ids": [rid]}])
    )
    assert done["added"] == [rid] and (project / ".kaizen/rules" / f"{rid}.yml").is_file()
    assert any("instantly" in m for m in offered)  # the editor offered it too

    fixes_before = len(scripted.requests_for("fix_generator"))
    scripted.set_default("issue_detector", {"issues": []})
    uri = open_document(client, project / "d.py", "def k(m, key):\n    return key in m.keys()\n")
    [diag] = await wait_for_diagnostics(client, uri, lambda d: len(d) == 1, final=False)
    assert diag.code == rid
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=diag.range,
            context=types.CodeActionContext(diagnostics=[diag]),
        )
    )
    fix = next(a for a in actions if a.edit is not None)
    assert [e.new_text for e in fix.edit.changes[uri]] == ["key in m"]
    await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)  # the model run settled
    assert len(scripted.requests_for("fix_generator")) == fixes_before  # no model for it

    # the team dismisses the rule's findings three times: it goes back to being a proposal
    others = [  # other code: a finding like a dismissed one would be hidden (memory)
        "class Registry:\n    def has(self, name):\n        return name in self.plugins.keys()\n",
        "for row in rows:\n    if row.id in index.keys():\n        print(row)\n",
    ]
    for i in range(3):
        if i:
            uri = open_document(client, project / f"e{i}.py", others[i - 1])
            shown = await wait_for_diagnostics(client, uri, timeout=10)
            [diag] = [d for d in shown if d.code == rid]
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="kaizen.dismiss",
                arguments=[{"uri": uri, "fingerprint": diag.data["fingerprint"]}],
            )
        )
    assert not (project / ".kaizen/rules" / f"{rid}.yml").exists()
    listed = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="kaizen.rulesSuggest", arguments=[{}])
    )
    [back] = [p for p in listed["proposals"] if p["kind"] == "promote"]
    assert back["id"] == rid and back["evidence"]["demoted"]["dismissed"] == 3


async def test_a_finding_fixed_by_hand_in_the_editor_is_kept_as_an_example(
    start_client, scripted, project: Path, kaizen_home: Path
) -> None:
    import asyncio
    import sqlite3

    from lsprotocol import types

    from tests.conftest import model_options, open_document, wait_for_diagnostics

    name, text, fixed = KEYS[0]
    scripted.enqueue(
        "issue_detector",
        {"issues": [{"line": 2, "category": "performance", "message": "keys() in a test"}]},
    )
    scripted.set_default("issue_detector", {"issues": []})
    client = await start_client(model_options(scripted))
    uri = open_document(client, project / name, text)
    await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    lines = text.splitlines()
    lines[1] = fixed
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="\n".join(lines))],
        )
    )
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    await wait_for_diagnostics(client, uri, lambda d: d == [])
    db = sqlite3.connect(kaizen_home / "kaizen.db")
    query = "select kind, before, after, how from fix_examples"
    for _ in range(100):  # recorded in the background after the publish
        if rows := db.execute(query).fetchall():
            break
        await asyncio.sleep(0.1)
    print(db.execute("select status, code, category, start_line from findings").fetchall())
    assert rows == [("performance", "if k in d.keys():\n", "if k in d:\n", "fixed_by_hand")]


def test_accept_with_pr_opens_a_pull_request_with_the_rule_file(
    repo: Path, capsys: pytest.CaptureFixture[str], fake_github, monkeypatch
) -> None:
    import subprocess

    from tests.fixtures.fake_github import TEST_TOKEN

    who = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env = {**who, "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"}
    subprocess.run(
        ["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "init"], check=True, env=env
    )
    remote = fake_github.add_repo("acme/widgets", {"README.md": "# widgets\n"})
    (repo / "kaizen.toml").write_text(f'[github]\nbase_url = "{fake_github.base_url}"\n')
    monkeypatch.setenv("GITHUB_TOKEN", TEST_TOKEN)
    code, out, err = run(capsys, "rules", "accept", "--pr", RID)
    assert code == 0, err
    assert "Opened " in out
    [pull] = remote.pulls
    files = remote.files_at(pull["head"]["ref"])
    assert f"id: {RID}" in files[f".kaizen/rules/{RID}.yml"]
