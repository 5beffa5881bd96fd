"""The refactor pipeline through the real server: opportunities, improvements, pull requests
(through the real PyGithub against a fake GitHub REST server on 127.0.0.1)."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.conftest import model_options, open_document, server_env, wait_for_diagnostics
from tests.fixtures.fake_github import TEST_TOKEN, running_fake_github

SOURCE = (
    "def total_price(items):\n"
    "    total = 0\n"
    "    for item in items:\n"
    "        total = total + item['price'] * item['qty']\n"
    "    return total\n"
)
IMPROVED = (
    "def total_price(items):\n    return sum(item['price'] * item['qty'] for item in items)\n"
)


def script_refactor(scripted) -> None:
    scripted.enqueue(
        "opportunity_detector",
        {
            "opportunities": [
                {
                    "line": 1,
                    "end_line": 5,
                    "kind": "simplify",
                    "title": "Use sum() with a generator",
                    "message": "The accumulation loop is sum()",
                    "rationale": "shorter and clearer",
                    "impact": "medium",
                }
            ]
        },
    )
    scripted.enqueue(
        "improvement_generator",
        {
            "start_line": 1,
            "end_line": 5,
            "replacement": IMPROVED.rstrip("\n"),
            "summary": "Replace the loop with sum()",
            "rationale": "The loop only accumulates.",
        },
    )


async def run_refactor(client, uri: str) -> list[types.Diagnostic]:
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="kaizen.runRefactor", arguments=[{"uri": uri}])
    )
    assert result["findings"] == 1
    return await wait_for_diagnostics(
        client, uri, lambda d: any(str(x.code).startswith("refactor/") for x in d)
    )


async def test_refactor_diagnostic_and_apply(start_client, scripted, project: Path):
    script_refactor(scripted)
    client = await start_client(model_options(scripted, trigger={"onOpen": False}))
    uri = open_document(client, project / "prices.py", SOURCE)
    [d] = await run_refactor(client, uri)
    assert d.code == "refactor/simplify"
    assert d.severity == types.DiagnosticSeverity.Information
    assert d.range.start.line == 0 and d.range.end.line == 4
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=d.range,
            context=types.CodeActionContext(diagnostics=[d]),
        )
    )
    kinds = {a.title.split(" — ")[0]: a for a in actions}
    apply = kinds["Kaizen: apply refactor"]
    assert apply.kind == types.CodeActionKind.RefactorRewrite
    [edit] = apply.edit.changes[uri]
    assert edit.new_text == IMPROVED and edit.range.start == types.Position(0, 0)
    assert edit.range.end == types.Position(5, 0)
    assert kinds["Kaizen: open pull request"].command.command == "kaizen.createPullRequest"
    assert "Use sum()" in scripted.prompts_for("improvement_generator")[0]


def commit_all(root: Path) -> None:
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(root),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "init",
        ],
        check=True,
    )


async def test_open_pull_request(start_client, scripted, project: Path, kaizen_home: Path):
    script_refactor(scripted)
    (project / "prices.py").write_text(SOURCE)
    commit_all(project)
    with running_fake_github() as github:
        repo = github.add_repo("acme/widgets", {"prices.py": SOURCE})
        client = await start_client(
            model_options(scripted, trigger={"onOpen": False}, github={"baseUrl": github.base_url}),
            env=server_env(kaizen_home, GITHUB_TOKEN=TEST_TOKEN),
        )
        uri = open_document(client, project / "prices.py", SOURCE)
        [d] = await run_refactor(client, uri)
        pr = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="kaizen.createPullRequest",
                arguments=[{"uri": uri, "fingerprint": d.data["fingerprint"]}],
            )
        )
    assert pr["number"] == 1 and pr["branch"].startswith("kaizen/")
    writes = [(c.method, c.path.split("/")[-1]) for c in github.writes()]
    assert [w[0] for w in writes] == ["POST", "POST", "POST", "POST", "POST"]
    assert [w[1] for w in writes] == ["blobs", "trees", "commits", "refs", "pulls"]
    assert repo.files_at(pr["branch"]) == {"prices.py": IMPROVED}
    body = repo.pulls[0]["body"]
    assert "The loop only accumulates." in body and TEST_TOKEN not in body
    db = sqlite3.connect(kaizen_home / "kaizen.db")
    assert db.execute("select pr_url, pr_number from findings").fetchone() == (pr["url"], 1)
    assert TEST_TOKEN not in "".join(map(str, db.execute("select * from runs").fetchall()))
    # the working tree is untouched
    assert (project / "prices.py").read_text() == SOURCE
    status = subprocess.run(
        ["git", "-C", str(project), "status", "--porcelain"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert status == ""


async def test_pull_request_without_token_says_so(
    start_client, scripted, project: Path, kaizen_home: Path
):
    script_refactor(scripted)
    client = await start_client(
        model_options(scripted, trigger={"onOpen": False}), env=server_env(kaizen_home)
    )
    uri = open_document(client, project / "prices.py", SOURCE)
    [d] = await run_refactor(client, uri)
    with pytest.raises(JsonRpcException) as error:
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(
                command="kaizen.createPullRequest",
                arguments=[{"uri": uri, "fingerprint": d.data["fingerprint"]}],
            )
        )
    assert "GITHUB_TOKEN" in str(error.value)
    assert any("GITHUB_TOKEN" in m.message for m in client.messages)
