"""The static pre-pass beyond Python: oxlint (TypeScript) and shellcheck (shell), real
binaries, their findings and fixes as Kaizen findings in the first paint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lsprotocol import types

from kaizen.config import StaticPrepass
from kaizen.core.document import Document
from kaizen.core.findings import Edit
from kaizen.pipelines.linters import Complaints, linter_findings
from tests.conftest import model_options, server_env, wait_for_diagnostics

TS = (
    "export function price(x: number | null): number {\n"
    "  debugger;\n"
    "  if (x == null) return 0;\n"
    "  return x * 2;\n"
    "}\n"
)
SH = '#!/bin/bash\nname=$1\nrm -rf $name/*\nif [ "$name" == "a" ]; then echo `ls`; fi\n'


def check(args: list[str], home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``kaizen check`` as a user runs it (static only: no model is configured)."""
    return subprocess.run(
        [sys.executable, "-m", "kaizen", "check", "--static-only", *args],
        capture_output=True,
        text=True,
        env=server_env(home),
        cwd=cwd,
        timeout=120,
    )


def open_as(client, path: Path, text: str, language: str) -> str:
    """didOpen with the language id the editor would send (and the text on disk too)."""
    path.write_text(text, encoding="utf-8")
    uri = path.as_uri()
    client.diagnostics.pop(uri, None)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id=language, version=1, text=text
            )
        )
    )
    return uri


def apply(text: str, edits: list[Edit]) -> str:
    """The edits (non-overlapping, 0-based, code points) applied back to front."""
    lines = text.split("\n")
    for e in sorted(edits, key=lambda e: (e.start_line, e.start_col), reverse=True):
        head = "\n".join([*lines[: e.start_line], lines[e.start_line][: e.start_col]])
        tail = lines[e.end_line][e.end_col :]
        rest = "\n".join([tail, *lines[e.end_line + 1 :]])
        lines = (head + e.new_text + rest).split("\n")
    return "\n".join(lines)


async def test_oxlint_findings_are_in_the_first_paint_with_its_fix(
    start_client, scripted, project: Path
):
    # the model takes 3 s; the linter's findings must not wait for it
    scripted.enqueue(
        "issue_detector",
        {"_delay": 3.0, "_then": {"issues": [
            {"line": 4, "severity": "warning", "category": "bug", "message": "doubles a price"}
        ]}},
    )  # fmt: skip
    rules = project / ".kaizen" / "rules"
    rules.mkdir(parents=True)
    (rules / "team.yml").write_text(
        "id: no-zero\nlanguage: ts\nmessage: a zero price\nrule:\n  pattern: return 0\n"
    )
    client = await start_client(model_options(scripted, staticPrepass={"enabled": True}))
    uri = open_as(client, project / "price.ts", TS, "typescript")
    first = await wait_for_diagnostics(client, uri, lambda d: len(d) >= 3, final=False)
    by_code = {d.code: d for d in first}
    # the model is still busy: oxlint's two and the repository rule's one
    assert set(by_code) == {"eslint(no-debugger)", "eslint(eqeqeq)", "no-zero"}
    debugger, eqeqeq = by_code["eslint(no-debugger)"], by_code["eslint(eqeqeq)"]
    assert debugger.source == "kaizen (oxlint)" and debugger.data["origin"] == "oxlint"
    assert debugger.range == types.Range(start=types.Position(1, 2), end=types.Position(1, 11))
    assert eqeqeq.range == types.Range(start=types.Position(2, 8), end=types.Position(2, 10))
    assert debugger.code_description.href.startswith("https://oxc.rs/")

    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=debugger.range,
            context=types.CodeActionContext(diagnostics=[debugger]),
        )
    )
    fix = next(a for a in actions if a.edit is not None and a.diagnostics[0].code == debugger.code)
    assert fix.title.endswith("Remove the debugger statement")
    [edit] = fix.edit.changes[uri]
    assert edit.new_text == "" and edit.range == debugger.range  # exactly `debugger;`

    final = await wait_for_diagnostics(client, uri, lambda d: len(d) == 4)
    assert {d.code for d in final} == {"eslint(no-debugger)", "eslint(eqeqeq)", "no-zero", "bug"}
    prompt = scripted.prompts_for("issue_detector")[0]
    assert "Already reported" in prompt and "line 3: eslint(eqeqeq)" in prompt
    assert "line 3: no-zero a zero price" in prompt  # the rule's finding is covered too


async def test_shellcheck_on_a_script_with_its_fixes(project: Path):
    path = project / "deploy.sh"
    doc = Document(uri=path.as_uri(), path=path, text=SH)  # never written: the editor's text
    found = await linter_findings(doc, StaticPrepass(), Complaints())
    codes = {f.code for f in found}
    assert {"SC2086", "SC2115", "SC2006"} <= codes
    assert all(f.origin == "shellcheck" and f.code_url.endswith(f.code) for f in found)
    quote = next(f for f in found if f.code == "SC2086")
    assert (quote.start_line, quote.start_col, quote.end_col) == (3, 7, 12)
    fixed = apply(SH, quote.edits)
    assert fixed.splitlines()[2] == 'rm -rf "$name"/*'
    backticks = next(f for f in found if f.code == "SC2006")
    assert "$(ls)" in apply(SH, backticks.edits).splitlines()[3]


async def test_a_script_without_shebang_is_checked_as_bash(project: Path):
    path = project / "x.sh"
    doc = Document(uri=path.as_uri(), path=path, text="echo $1\n")
    found = await linter_findings(doc, StaticPrepass(), Complaints())
    assert [f.code for f in found] == ["SC2086"]  # not SC2148 (unknown shell)


async def test_oxlint_reads_the_unsaved_text_and_keeps_crlf(project: Path):
    path = project / "w.js"
    path.write_text("export const ok = 1;\n")  # the disk says something else
    text = "const a = 1;\r\ndebugger;\r\nexport default a;\r\n"
    doc = Document(uri=path.as_uri(), path=path, text=text, language_id="javascript")
    [finding] = await linter_findings(doc, StaticPrepass(), Complaints())
    assert finding.code == "eslint(no-debugger)" and finding.start_line == 2
    assert finding.edits == [Edit(1, 0, 1, 9, "")]


def test_a_missing_linter_is_one_log_line_and_the_check_succeeds(kaizen_home, project: Path):
    (project / "kaizen.toml").write_text('[static_prepass.paths]\noxlint = "/nonexistent/oxlint"\n')
    for name in ("a.ts", "b.ts", "c.tsx"):
        (project / name).write_text(TS)
    (project / "run.sh").write_text(SH)
    proc = check(["--format", "json", "a.ts", "b.ts", "c.tsx", "run.sh"], kaizen_home, project)
    assert proc.returncode == 1, proc.stderr  # findings (shellcheck's), not a failure
    said = [line for line in proc.stderr.splitlines() if "oxlint" in line]
    assert len(said) == 1 and "/nonexistent/oxlint" in said[0], proc.stderr
    report = json.loads(proc.stdout)
    origins = {f["origin"] for f in report["findings"]}
    assert origins == {"shellcheck"}


async def test_a_failing_linter_is_one_log_line_however_often_it_runs(
    project: Path, tmp_path: Path, caplog
):
    broken = tmp_path / "oxlint"
    broken.write_text("#!/bin/sh\necho 'oxlint: internal error' >&2\nexit 3\n")
    broken.chmod(0o755)
    settings = StaticPrepass(paths={"oxlint": str(broken)})
    complaints = Complaints()
    path = project / "a.ts"
    doc = Document(uri=path.as_uri(), path=path, text=TS, language_id="typescript")
    with caplog.at_level("WARNING", logger="kaizen.pipelines.linters"):
        for _ in range(3):
            assert await linter_findings(doc, settings, complaints) == []
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "exited with 3: oxlint: internal error" in said[0]


async def test_oxlint_byte_offsets_become_code_point_columns(project: Path):
    path = project / "u.ts"
    text = 'const s = "héllo😀"; debugger;\nexport default s;\n'
    doc = Document(uri=path.as_uri(), path=path, text=text)
    [finding] = await linter_findings(doc, StaticPrepass(), Complaints())
    assert (finding.start_col, finding.end_col) == (20, 29)  # `debugger;`, not 4 bytes later
    assert text.split("\n")[0][20:29] == "debugger;"
    assert finding.edits == [Edit(0, 20, 0, 29, "")]
