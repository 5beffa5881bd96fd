"""The ruff pre-pass: deterministic findings first, the model told what is already known."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from tests.conftest import model_options, open_document, wait_for_diagnostics

SOURCE = "def collect(x=[]):\n    if x == None:\n        return 1 / len(x)\n    return x\n"


def static_options(scripted, **extra):
    return model_options(scripted, staticPrepass={"enabled": True, "only": False}, **extra)


async def test_ruff_findings_become_diagnostics_and_quick_fixes(
    start_client, scripted, project: Path
):
    # The model repeats the linter's E711 on line 2 and adds one only it can see.
    scripted.enqueue(
        "issue_detector",
        {
            "issues": [
                {
                    "line": 2,
                    "severity": "warning",
                    "category": "bug",
                    "message": "compares to None with ==",
                },
                {"line": 3, "severity": "error", "category": "bug", "message": "len(x) is 0 here"},
            ]
        },
    )
    client = await start_client(static_options(scripted))
    uri = open_document(client, project / "collect.py", SOURCE)
    diagnostics = await wait_for_diagnostics(client, uri, lambda d: len(d) >= 3)
    by_code = {d.code: d for d in diagnostics}
    assert set(by_code) == {"B006", "E711", "bug"}
    b006, e711 = by_code["B006"], by_code["E711"]
    assert b006.range == types.Range(start=types.Position(0, 14), end=types.Position(0, 16))
    assert e711.range == types.Range(start=types.Position(1, 12), end=types.Position(1, 16))
    assert e711.code_description.href == "https://docs.astral.sh/ruff/rules/none-comparison"
    assert e711.source == "kaizen (ruff)" and e711.data["origin"] == "ruff"
    # the model's duplicate of E711 (same line) was dropped; its line-3 finding survives
    assert len(diagnostics) == 3 and by_code["bug"].range.start.line == 2

    prompt = scripted.prompts_for("issue_detector")[0]
    assert "Already reported by the linter" in prompt
    assert "line 1: B006" in prompt and "line 2: E711" in prompt

    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=e711.range,
            context=types.CodeActionContext(diagnostics=[e711]),
        )
    )
    fix = next(a for a in actions if a.edit is not None and a.diagnostics[0].code == "E711")
    [edit] = fix.edit.changes[uri]
    # exactly ruff's edit: `x == None` (1-based columns 8..17) becomes `x is None`
    assert edit.new_text == "x is None"
    assert edit.range == types.Range(start=types.Position(1, 7), end=types.Position(1, 16))


async def test_static_only_makes_no_model_calls(start_client, scripted, project: Path):
    client = await start_client(
        model_options(scripted, staticPrepass={"enabled": True, "only": True})
    )
    uri = open_document(client, project / "only.py", SOURCE)
    diagnostics = await wait_for_diagnostics(client, uri, lambda d: len(d) == 2)
    assert {d.code for d in diagnostics} == {"B006", "E711"}
    assert scripted.requests == []


async def test_prepass_off(start_client, scripted, project: Path):
    client = await start_client(model_options(scripted))  # staticPrepass disabled
    uri = open_document(client, project / "off.py", SOURCE)
    assert await wait_for_diagnostics(client, uri) == []
    assert "Already reported" not in scripted.prompts_for("issue_detector")[0]


async def test_project_ruff_config_is_honoured(start_client, scripted, project: Path):
    (project / "ruff.toml").write_text('[lint]\nselect = ["E711"]\n')
    client = await start_client(
        model_options(scripted, staticPrepass={"enabled": True, "only": True})
    )
    uri = open_document(client, project / "cfg.py", SOURCE)
    diagnostics = await wait_for_diagnostics(client, uri, lambda d: len(d) >= 1)
    assert [d.code for d in diagnostics] == ["E711"]
