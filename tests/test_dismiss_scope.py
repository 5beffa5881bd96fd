"""Dismissals stay where they were made and can be undone (issue 24): a dismissal in
``tests/`` suppresses alike findings in ``tests/`` only, never the same words about code in
``src/``; every face lists dismissals and undoes them, and the finding comes back on the
next review. One project of three files, the scripted model and the real CLI, MCP server
and language server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import jsonschema
from lsprotocol import types
from mcp import Client

from kaizen.config import load_settings
from kaizen.memory.dismissals import code_alike, in_scope
from tests.conftest import model_options, open_document, wait_for_diagnostics
from tests.test_cli import kaizen
from tests.test_mcp import call, server_params
from tests.test_precision import SARIF_SCHEMA

MESSAGE = "Any hides type errors in the parsed value"
FILES = {  # the same words fit all three; the code is alike, the folders are not
    "tests/test_a.py": "data",
    "tests/test_b.py": "text",
    "src/a.py": "raw",
}


def source(name: str) -> str:
    return (
        "import json\nfrom typing import Any\n\n\n"
        f"def parse({name}):\n    value: Any = json.loads({name})\n    return value\n"
    )


def write_project(project: Path, scripted: Any) -> None:
    for path, name in FILES.items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(source(name), encoding="utf-8")
    issue = {"line": 6, "severity": "warning", "category": "typing", "message": MESSAGE}
    scripted.set_default("issue_detector", {"issues": [issue]})


def test_alike_code_and_scope():
    assert code_alike("value: Any = json.loads(data)", "value: Any = json.loads(raw)  # ok")
    assert not code_alike("value: Any = json.loads(data)", "return cast(Any, payload)")
    assert not code_alike(None, "value: Any = json.loads(raw)")  # no code kept: exact only
    made = "file:///p/tests/test_a.py"
    assert in_scope(made, "file:///p/tests/unit/test_c.py", "folder")
    assert not in_scope(made, "file:///p/src/a.py", "folder")
    assert not in_scope(made, "file:///p/tests-old/a.py", "folder")
    assert not in_scope(made, "file:///p/tests/test_b.py", "file")
    assert in_scope(made, "file:///p/src/a.py", "repository")
    assert not in_scope(made, made, "finding")


def test_dismiss_scope_setting(tmp_path: Path):
    (tmp_path / "kaizen.toml").write_text('[review]\ndismiss_scope = "file"\n')
    settings, problems = load_settings(tmp_path, env={})
    assert settings.review.dismiss_scope == "file" and problems == []
    settings, problems = load_settings(tmp_path, {"review": {"dismissScope": "everywhere"}}, env={})
    assert settings.review.dismiss_scope == "folder"  # refused, named, the default used
    [problem] = problems
    assert "dismissScope" in problem and "using the default" in problem


def check(scripted: Any, home: Path, project: Path, fmt: str) -> Any:
    proc = kaizen(["check", "--no-static", "--format", fmt, "tests", "src"], scripted, home, project)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.stdout if fmt == "text" else json.loads(proc.stdout)


def shown_paths(report: dict[str, Any]) -> set[str]:
    return {f["path"] for f in report["findings"]}


async def test_cli_and_mcp_dismissal_stays_in_its_folder_and_undoes(scripted, kaizen_home, project):
    write_project(project, scripted)
    assert shown_paths(check(scripted, kaizen_home, project, "json")) == set(FILES)

    dismissed = kaizen(["dismiss", "tests/test_a.py:6", "--reason", "any is fine in tests"],
                       scripted, kaizen_home, project)
    assert dismissed.returncode == 0, dismissed.stderr
    listed = json.loads(kaizen(["dismissals", "list", "--format", "json"], scripted, kaizen_home,
                               project).stdout)
    [entry] = listed["dismissals"]
    assert listed["scope"] == "folder" and entry["path"].endswith("tests/test_a.py")
    fp = entry["fingerprint"]

    report = check(scripted, kaizen_home, project, "json")
    assert shown_paths(report) == {"src/a.py"}  # test_b is like it, src/ is out of its reach
    assert report["suppressed"] == {
        "total": 2,
        "byDismissal": [{"dismissal": fp, "count": 2, "reason": "any is fine in tests"}],
    }
    text = check(scripted, kaizen_home, project, "text")
    assert "src/a.py:6:" in text and "tests/test_b.py:6:" not in text
    assert f"Suppressed 2 findings by 1 dismissal: 2 by {fp}" in text
    sarif = check(scripted, kaizen_home, project, "sarif")
    jsonschema.validate(sarif, SARIF_SCHEMA)
    run = sarif["runs"][0]
    suppressed = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r.get("suppressions")
        for r in run["results"]
    }
    assert suppressed["src/a.py"] is None
    assert suppressed["tests/test_a.py"] == [
        {"kind": "external", "justification": "any is fine in tests"}
    ]
    assert suppressed["tests/test_b.py"][0]["justification"].startswith("like a dismissed finding")
    assert run["properties"]["suppressed"]["total"] == 2

    # the MCP tools: the same list, and undismiss by the id it shows
    async with Client(server_params(kaizen_home, project)) as client:
        assert (await call(client, "list_dismissals"))["dismissals"] == listed["dismissals"]
        undone = await call(client, "undismiss_finding", {"target": str(entry["id"])})
        assert undone["undismissed"]["fingerprint"] == fp
        assert (await call(client, "list_dismissals"))["dismissals"] == []
    report = check(scripted, kaizen_home, project, "json")
    assert shown_paths(report) == set(FILES) and report["suppressed"]["total"] == 0

    # and the CLI's undismiss, by fingerprint
    assert kaizen(["dismiss", fp], scripted, kaizen_home, project).returncode == 0
    assert shown_paths(check(scripted, kaizen_home, project, "json")) == {"src/a.py"}
    back = kaizen(["undismiss", fp], scripted, kaizen_home, project)
    assert back.returncode == 0 and "Undismissed" in back.stdout, back.stderr
    assert shown_paths(check(scripted, kaizen_home, project, "json")) == set(FILES)
    again = kaizen(["undismiss", fp], scripted, kaizen_home, project)
    assert again.returncode == 2 and "no dismissal" in again.stderr


async def test_editor_dismissal_offers_undo_and_stays_in_its_folder(
    start_client, scripted, project
):
    write_project(project, scripted)
    client = await start_client(model_options(scripted))
    offers: asyncio.Queue[types.ShowMessageRequestParams] = asyncio.Queue()
    answers: asyncio.Queue[types.MessageActionItem | None] = asyncio.Queue()

    @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    async def on_request(params: types.ShowMessageRequestParams) -> Any:
        await offers.put(params)
        return await answers.get()  # the user answers later; the server must not wait

    async def dismiss(d: types.Diagnostic) -> None:
        await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="kaizen.dismiss",
            arguments=[{"uri": uris["tests/test_a.py"], "fingerprint": d.data["fingerprint"],
                        "reason": "any is fine in tests"}]))
        await wait_for_diagnostics(client, uris["tests/test_a.py"], lambda d: d == [])

    uris = {path: open_document(client, project / path, source(name))
            for path, name in FILES.items()}
    for uri in uris.values():
        await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    [d] = client.diagnostics[uris["tests/test_a.py"]]
    await dismiss(d)
    params = await asyncio.wait_for(offers.get(), 20)
    assert [a.title for a in params.actions or []] == ["Undo dismiss"]

    async def command(name: str, args: dict[str, Any]) -> Any:
        return await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=[args]))

    for path in ("tests/test_b.py", "src/a.py"):  # reviewed again while the offer is open
        await command("kaizen.runAutofix", {"uri": uris[path]})
    assert await wait_for_diagnostics(client, uris["tests/test_b.py"], lambda d: d == []) == []
    assert len(await wait_for_diagnostics(client, uris["src/a.py"], lambda d: len(d) == 1)) == 1
    [listed] = (await command("kaizen.listDismissals", {}))["dismissals"]
    assert listed["fingerprint"] == d.data["fingerprint"]

    await answers.put(types.MessageActionItem(title="Undo dismiss"))
    for uri in uris.values():  # every open document is reviewed again: all three are back
        await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    assert (await command("kaizen.listDismissals", {}))["dismissals"] == []

    # dismissed again, the offer left unanswered: kaizen.undismiss (the tool) undoes it
    [d] = client.diagnostics[uris["tests/test_a.py"]]
    await dismiss(d)
    await asyncio.wait_for(offers.get(), 20)
    [listed] = (await command("kaizen.listDismissals", {}))["dismissals"]
    await command("kaizen.undismiss", {"target": str(listed["id"])})
    await wait_for_diagnostics(client, uris["tests/test_a.py"], lambda d: len(d) == 1)
    await answers.put(None)  # the message closed without a choice: nothing happens
