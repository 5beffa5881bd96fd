"""Failures a user and a CI can trust: the real CLI as a subprocess, the real server over
stdio, the scripted model server's failure modes (garbage, HTTP 500, a refused connection,
an unknown model, a misspelt provider).

The policy under test, for every command: exit 0 clean, 1 findings, 2 the job could not be
done; one clear line naming the model, URL, setting or file; never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.conftest import model_options, open_document, server_env, wait_for_diagnostics

SARIF_SCHEMA = json.loads(
    (Path(__file__).parent / "fixtures" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8")
)  # the OASIS SARIF 2.1.0 schema (errata01), vendored: tests run offline
BUGGY = "def mean(xs):\n    return sum(xs) / len(xs)\n"
ISSUE = {"line": 2, "severity": "error", "category": "bug",
         "message": "Division by zero on an empty list", "snippet": "len(xs)"}


def kaizen(args: list[str], home: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = server_env(home, **env)
    for name in ("KAIZEN_PROVIDER", "KAIZEN_MODEL", "KAIZEN_API_BASE", "KAIZEN_DATABASE"):
        environment.setdefault(name, "")
    proc = subprocess.run([sys.executable, "-m", "kaizen", *args], capture_output=True,
                          text=True, env=environment, cwd=cwd, timeout=180)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def model_args(url: str, model: str = "scripted", provider: str = "openai") -> list[str]:
    return ["--no-static", "--provider", provider, "--model", model, "--api-base", url]


def refused_url() -> str:
    """A 127.0.0.1 port nobody listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def validate_sarif(log: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)


# 1, 6. the model failed: never "No findings." and exit 0 --------------------------------------

FAILURES = {
    "garbage": ("this is not JSON", "scripted", "openai",
                "invalid answer: answer is not JSON (Expecting value: line 1 column 1 (char 0))"),
    "http-500": ({"_status": 500, "_body": {"error": {"message": "boom"}}}, "scripted", "openai",
                 "InternalServerError: OpenAIException - boom"),
    "refused": (None, "scripted", "openai",
                "InternalServerError: OpenAIException - Connection error"),
    "misspelt-provider": (None, "scripted", "opneai",
                          "unknown provider 'opneai' (did you mean 'openai'?): set "
                          "kaizen.autofix.provider (or --provider, KAIZEN_PROVIDER) to a litellm "
                          "provider such as 'openai', 'anthropic', 'ollama'"),
}


@pytest.mark.parametrize("mode", list(FAILURES))
def test_a_failed_model_is_exit_2_with_the_cause(mode, scripted, kaizen_home, project):
    answer, model, provider, cause = FAILURES[mode]
    if answer is not None:
        scripted.set_default("issue_detector", answer)
    url = refused_url() if mode == "refused" else scripted.url
    (project / "m.py").write_text(BUGGY)
    proc = kaizen(["check", *model_args(url, model, provider), "m.py"], kaizen_home, project,
                  OPENAI_API_KEY="sk-test")
    assert proc.returncode == 2
    assert proc.stdout.splitlines() == [
        f"Not reviewed: m.py (autofix): issue_detector failed ({provider}/{model} at {url}: "
        f"{cause})",
        "Found 0 findings; 1 review could not be done (the result is incomplete).",
    ]
    assert proc.stderr == ""  # said once, in the report; no logging WARNING beside it


def test_an_unknown_model_is_named_for_every_file_not_masked_by_a_cooldown(
    scripted, kaizen_home, project
):
    scripted.set_default("issue_detector", {"_status": 404, "_body": {"error": {
        "message": "The model `nosuch` does not exist", "type": "invalid_request_error",
        "code": "model_not_found"}}})
    for name in ("a.py", "b.py"):
        (project / name).write_text(BUGGY)
    proc = kaizen(["check", *model_args(scripted.url, "nosuch"), "a.py", "b.py"], kaizen_home,
                  project, OPENAI_API_KEY="sk-test")
    assert proc.returncode == 2
    cause = "NotFoundError: OpenAIException - The model `nosuch` does not exist"
    assert proc.stdout.splitlines()[:2] == [
        f"Not reviewed: {name} (autofix): issue_detector failed (openai/nosuch at "
        f"{scripted.url}: {cause})" for name in ("a.py", "b.py")
    ]
    assert "cooldown" not in proc.stdout + proc.stderr


def test_json_and_sarif_say_the_review_is_incomplete(scripted, kaizen_home, project):
    scripted.set_default("issue_detector", "garbage")
    (project / "m.py").write_text(BUGGY)
    why = (f"issue_detector failed (openai/scripted at {scripted.url}: invalid answer: answer "
           "is not JSON (Expecting value: line 1 column 1 (char 0)))")
    proc = kaizen(["check", *model_args(scripted.url), "--format", "json", "m.py"], kaizen_home,
                  project, OPENAI_API_KEY="sk-test")
    assert proc.returncode == 2
    assert json.loads(proc.stdout) == {"findings": [], "complete": False, "errors": [
        {"path": "m.py", "pipeline": "autofix", "message": why}],
        "suppressed": {"total": 0, "byDismissal": []}}
    assert proc.stderr == f"kaizen: not reviewed: m.py (autofix): {why}\n"

    proc = kaizen(["check", *model_args(scripted.url), "--format", "sarif", "-o", "k.sarif",
                   "m.py"], kaizen_home, project, OPENAI_API_KEY="sk-test")
    assert proc.returncode == 2 and proc.stdout == ""
    log = json.loads((project / "k.sarif").read_text())
    validate_sarif(log)
    [invocation] = log["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    [note] = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and note["message"]["text"] == f"m.py (autofix): {why}"
    assert log["runs"][0]["results"] == []


def test_a_clean_sarif_run_validates_and_says_it_succeeded(kaizen_home, project):
    (project / "ok.py").write_text("x = 1\n")
    proc = kaizen(["check", "--static-only", "--format", "sarif", "ok.py"], kaizen_home, project)
    assert proc.returncode == 0, proc.stderr
    log = json.loads(proc.stdout)
    validate_sarif(log)
    assert log["runs"][0]["invocations"] == [{"executionSuccessful": True}]


# 2. a missing path ------------------------------------------------------------------------------

def test_a_missing_path_is_exit_2(kaizen_home, project):
    proc = kaizen(["check", "nope.py", "--static-only"], kaizen_home, project)
    assert proc.returncode == 2
    assert proc.stdout.splitlines() == [
        "Not reviewed: nope.py: no such file or directory",
        "Found 0 findings; 1 review could not be done (the result is incomplete).",
    ]


# 3. configuration validated as a whole ---------------------------------------------------------

@pytest.mark.parametrize("name, text, column", [
    ("kaizen.toml", "[autofix\n", 9), ("pyproject.toml", "[tool.kaizen\n", 13)])
def test_a_toml_syntax_error_names_file_and_line(name, text, column, kaizen_home, project):
    (project / name).write_text(text)
    (project / "ok.py").write_text("x = 1\n")
    proc = kaizen(["check", "--static-only", "ok.py"], kaizen_home, project)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (
        f"kaizen: {project / name}: not valid TOML (Expected ']' at the end of a table "
        f"declaration (at line 1, column {column})); the file is ignored\n"
    )


def test_unknown_keys_are_reported_with_the_nearest_name(kaizen_home, project):
    (project / "kaizen.toml").write_text(
        '[autofx]\nmodel = "x"\n[autofix]\napi_bse = "http://x"\n[learnings]\ntokenbudget = 5\n')
    (project / "ok.py").write_text("x = 1\n")
    proc = kaizen(["check", "--static-only", "ok.py"], kaizen_home, project)
    assert proc.returncode == 0 and proc.stdout == "No findings.\n"
    path = project / "kaizen.toml"
    assert proc.stderr.splitlines() == [
        f"kaizen: {path}: autofx: unknown setting, ignored (did you mean autofix?)",
        f"kaizen: {path}: autofix.api_bse: unknown setting, ignored (did you mean "
        "autofix.api_base?)",
        f"kaizen: {path}: learnings.tokenbudget: unknown setting, ignored (did you mean "
        "learnings.token_budget?)",
    ]


async def test_the_editor_gets_one_message_for_the_configuration(start_client, scripted, project):
    options = model_options(scripted, trigger={"debounceMs": "soon"})
    options["autofix"]["apiBse"] = "http://x"
    options["interpreter"] = "/usr/bin/python3"  # the VS Code client's own setting: not unknown
    client = await start_client(options)
    uri = open_document(client, project / "b.py", "x = 1\n")
    await wait_for_diagnostics(client, uri)
    about = [m.message for m in client.messages if "kaizen.autofix.apiBse" in m.message]
    assert about == [
        "Kaizen settings: kaizen.autofix.apiBse: unknown setting, ignored (did you mean "
        "kaizen.autofix.apiBase?); kaizen.trigger.debounceMs: Input should be a valid integer, "
        "unable to parse string as an integer (using the default)"
    ]


# 4. one provider for both pipelines ------------------------------------------------------------

def test_autofix_settings_serve_the_refactor_pipeline(scripted, kaizen_home, project):
    (project / "kaizen.toml").write_text(
        f'[autofix]\nprovider = "openai"\nmodel = "scripted"\napi_base = "{scripted.url}"\n')
    (project / "m.py").write_text(BUGGY)
    proc = kaizen(["check", "--no-static", "--pipeline", "refactor", "m.py"], kaizen_home,
                  project, OPENAI_API_KEY="sk-test")
    assert proc.returncode == 0, proc.stderr
    [request] = scripted.requests_for("opportunity_detector")
    assert request["body"]["model"] == "scripted"
    assert "tiny model" not in proc.stderr


# 7. known failures are one line, never a traceback ---------------------------------------------

def test_an_unusable_kaizen_home_is_one_line(tmp_path, project):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    home = blocker / "home"
    why = (f"cannot create the database folder {home} (Not a directory); set KAIZEN_HOME, "
           "KAIZEN_DATABASE or --database to a writable place")
    for args in (["learnings"], ["db", "export"]):
        proc = kaizen(args, home, project)
        assert (proc.returncode, proc.stderr) == (2, f"kaizen: {why}\n"), args
    (project / "ok.py").write_text("x = 1\n")
    proc = kaizen(["check", "--static-only", "ok.py"], home, project)
    assert proc.returncode == 0 and proc.stdout == "No findings.\n"
    assert proc.stderr == f"kaizen: Kaizen could not open its database ({why}); running without memory\n"


def test_db_import_of_a_missing_or_invalid_file_is_exit_2(kaizen_home, project):
    proc = kaizen(["db", "import", "missing.jsonl"], kaizen_home, project)
    assert (proc.returncode, proc.stderr) == (2, "kaizen: missing.jsonl: No such file or directory\n")
    (project / "bad.jsonl").write_text("not json\n[1, 2]\n")
    proc = kaizen(["db", "import", "bad.jsonl"], kaizen_home, project)
    assert proc.returncode == 2
    assert proc.stderr == (
        "kaizen: Nothing imported: none of the 2 lines is a valid kaizen-learnings record "
        "(line 1: Expecting value: line 1 column 1 (char 0)).\n")


def test_a_closed_pipe_ends_quietly(kaizen_home, project):
    read, write = os.pipe()
    os.close(read)  # the reader is gone before Kaizen writes a byte, as with `| head -0`
    try:
        proc = subprocess.run([sys.executable, "-m", "kaizen", "learnings", "list"], stdout=write,
                              stderr=subprocess.PIPE, text=True, env=server_env(kaizen_home),
                              cwd=project, timeout=60)
    finally:
        os.close(write)
    assert (proc.returncode, proc.stderr) == (141, "")


# 8. the CLI does not teach "ignored"; placeholders are no lessons -----------------------------

def test_check_runs_are_not_ignored_outcomes_and_placeholders_are_not_learned(
    scripted, kaizen_home, project
):
    echo = {"line": 1, "severity": "error", "category": "bug", "message": "one sentence"}
    scripted.set_default("issue_detector", {"issues": [ISSUE, echo]})
    (project / "m.py").write_text(BUGGY)
    for _ in range(4):
        proc = kaizen(["check", *model_args(scripted.url), "m.py"], kaizen_home, project,
                      OPENAI_API_KEY="sk-test")
        assert proc.returncode == 1, proc.stderr
    db = sqlite3.connect(kaizen_home / "kaizen.db")
    kinds = db.execute("select kind, summary from workflow_insights").fetchall()
    assert kinds and all(kind != "ignored" for kind, _ in kinds)
    assert not any("one sentence" in summary for _, summary in kinds)
    # the echo is dropped by grounding before it is a finding; the real one is never "shown"
    assert db.execute("select count(*), max(times_shown) from findings").fetchone() == (1, 0)


# 9. repository ids in either form -------------------------------------------------------------

def test_repository_ids_in_any_form(scripted, kaizen_home, project):
    scripted.set_default("issue_detector", {"issues": [ISSUE]})
    (project / "m.py").write_text(BUGGY)
    kaizen(["check", *model_args(scripted.url), "m.py"], kaizen_home, project,
           OPENAI_API_KEY="sk-test")
    stored = json.loads(kaizen(["learnings", "list", "--format", "json"], kaizen_home,
                               project).stdout)
    assert stored and {r["repository"] for r in stored} == {"github.com/acme/widgets"}
    for form in ("acme/widgets", "github.com/acme/widgets", "https://github.com/acme/widgets.git",
                 "git@github.com:acme/widgets.git"):
        listed = json.loads(kaizen(["learnings", "list", "--repository", form, "--format",
                                    "json"], kaizen_home, project).stdout)
        assert listed == stored, form
    proc = kaizen(["db", "export", "--repository", "acme/widgets"], kaizen_home, project)
    insights = [json.loads(line) for line in proc.stdout.splitlines()][1:]
    assert len([i for i in insights if i["type"] == "insight"]) == len(stored)


def test_bug_patterns_keep_model_names():
    from kaizen.improvement.bugs import normalise

    assert normalise("NotFoundError: model gpt-4o-minii not found after 3 tries in 13.6 s") == (
        "NotFoundError: model gpt-4o-minii not found after N tries in N s")


# 10. every LSP request answered ---------------------------------------------------------------

class RawClient:
    """JSON-RPC over the server's stdio, byte for byte: a typed client cannot send the
    malformed params under test."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    async def answer(self, msg_id: int, timeout: float = 20) -> dict[str, Any]:
        """The response to ``msg_id`` (notifications and server requests are skipped)."""
        assert self.proc.stdout is not None

        async def read() -> dict[str, Any]:
            while True:
                header = await self.proc.stdout.readuntil(b"\r\n\r\n")  # type: ignore[union-attr]
                length = int(header.split(b"Content-Length:")[1].split(b"\r\n")[0])
                message = json.loads(await self.proc.stdout.readexactly(length))  # type: ignore[union-attr]
                if message.get("id") == msg_id and "method" not in message:
                    return message

        return await asyncio.wait_for(read(), timeout)


async def test_invalid_code_action_params_get_a_json_rpc_error(kaizen_home, project):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kaizen", "serve", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, env=server_env(kaizen_home), cwd=project)
    raw = RawClient(proc)
    try:
        raw.send({"id": 1, "method": "initialize", "params": {
            "processId": None, "rootUri": project.as_uri(), "capabilities": {},
            "initializationOptions": {"staticPrepass": {"enabled": False}}}})
        assert "result" in await raw.answer(1)
        raw.send({"method": "initialized", "params": {}})
        uri = (project / "c.py").as_uri()
        raw.send({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": "x = 1\n"}}})
        start = {"line": -1, "character": 0}
        cases = {
            2: {"range": {"start": start, "end": {"line": 0, "character": 0}}},  # negative
            3: {},  # no range at all
        }
        for msg_id, extra in cases.items():
            raw.send({"id": msg_id, "method": "textDocument/codeAction", "params": {
                "textDocument": {"uri": uri}, "context": {"diagnostics": []}, **extra}})
            error = (await raw.answer(msg_id))["error"]
            assert error["code"] == -32602  # InvalidParams
            assert error["message"].startswith("invalid params for textDocument/codeAction")
        # and the server keeps serving
        raw.send({"id": 4, "method": "textDocument/codeAction", "params": {
            "textDocument": {"uri": uri}, "context": {"diagnostics": []},
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}}}})
        assert "result" in await raw.answer(4)
        raw.send({"id": 5, "method": "shutdown"})
        assert (await raw.answer(5))["result"] is None
        raw.send({"method": "exit"})
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_shutdown_with_a_pending_request_answers_both(start_client, scripted, project):
    # no review cache: the command's run must reach the model even though the text is as before
    client = await start_client(model_options(scripted, review={"cache": False}))
    uri = open_document(client, project / "d.py", "x = 1\n")
    await wait_for_diagnostics(client, uri)
    scripted.enqueue("issue_detector", {"_delay": 20, "_then": {"issues": []}})
    count = len(scripted.requests)
    pending = asyncio.ensure_future(client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="kaizen.runAutofix", arguments=[{"uri": uri}])))
    await asyncio.to_thread(scripted.wait_for_requests, count + 1, 20)  # the call is in flight
    await asyncio.wait_for(client.shutdown_async(None), 10)
    with pytest.raises(JsonRpcException):  # cancelled: an error, not silence
        await asyncio.wait_for(pending, 10)
    errors = [m.message for m in client.messages if "dictionary changed size" in m.message]
    assert errors == []
    client.exit(None)


# 11. the offline default: static pre-pass and learnings, the bundled model by choice ----------

def test_no_provider_is_the_static_pass_and_says_how_to_configure(kaizen_home, project):
    (project / "m.py").write_text("import os\n")
    proc = kaizen(["check", "m.py"], kaizen_home, project, KAIZEN_STATIC_ONLY="")
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0] == "m.py:1:8: warning [F401] `os` imported but unused (ruff)"
    assert "no model" in proc.stderr and "--provider local" in proc.stderr
    assert "Ollama" in proc.stderr and "tiny model" not in proc.stderr


# 12. the smaller ones -------------------------------------------------------------------------

def test_version_and_learnings_options_anywhere(kaizen_home, project):
    from kaizen import __version__
    from kaizen.cli.learnings import KINDS
    from kaizen.memory.insights import KIND_LABELS

    assert kaizen(["--version"], kaizen_home, project).stdout == f"kaizen {__version__}\n"
    proc = kaizen(["learnings", "list", "--format", "json"], kaizen_home, project)
    assert (proc.returncode, proc.stdout) == (0, "[]\n")
    proc = kaizen(["learnings", "delete", "99999", "11"], kaizen_home, project)
    assert proc.returncode == 1
    assert proc.stderr == "kaizen: no learning with id 99999, 11: nothing to delete\n"
    proc = kaizen(["learnings", "list", "--kind", "bogus"], kaizen_home, project)
    assert proc.returncode == 2 and "invalid choice: 'bogus'" in proc.stderr
    assert tuple(KIND_LABELS) == KINDS


def test_json_fix_entries_are_named_and_one_based(kaizen_home, project):
    (project / "m.py").write_text("import os\nx = 1\n")
    proc = kaizen(["check", "--static-only", "--format", "json", "m.py"], kaizen_home, project)
    [finding] = json.loads(proc.stdout)["findings"]
    assert finding["line"] == 1 and finding["fix"] == [
        {"line": 1, "column": 1, "endLine": 2, "endColumn": 1, "newText": ""}]


def test_regression_hint_names_this_interpreter(tmp_path, kaizen_home, project):
    proc = kaizen(["regression-tests", "--write", str(tmp_path / "out")], kaizen_home, project)
    assert proc.returncode == 0, proc.stderr
    assert f"run them with: {sys.executable} -m pytest {tmp_path / 'out'}" in proc.stderr


def test_the_bundled_model_is_only_an_explicit_choice():
    from kaizen.config import Settings
    from kaizen.models import local
    from kaizen.models.router import LOCAL_MISSING, NO_MODEL_MESSAGE, ModelRouter

    nothing = ModelRouter(Settings()).choose("issue_detector")
    assert (nothing.targets, nothing.notices, nothing.error) == ([], [NO_MODEL_MESSAGE], None)
    for settings in (Settings(autofix={"provider": "local"}), Settings(localModel=True)):
        chosen = ModelRouter(settings).choose("opportunity_detector")  # refactor follows autofix
        if local.available():
            assert [t.model for t in chosen.targets] == [local.LOCAL_MODEL]
        else:
            assert (chosen.targets, chosen.error) == ([], LOCAL_MISSING)
