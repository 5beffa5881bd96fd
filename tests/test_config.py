"""Settings in layers, re-read on change; bad settings and missing models never crash."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from pathlib import Path

from lsprotocol import types

from kaizen.config import load_settings
from tests.conftest import ROOT, model_options, open_document, server_env, wait_for_diagnostics

ONE = {"issues": [{"line": 1, "severity": "warning", "category": "bug", "message": "m"}]}


def test_layers_in_order(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.kaizen.autofix]\nprovider = "anthropic"\nmodel = "from-pyproject"\n'
        '[tool.kaizen.trigger]\ndebounce_ms = 300\n')
    settings, problems = load_settings(tmp_path, env={})
    assert settings.autofix.litellm_model == "anthropic/from-pyproject"
    assert settings.trigger.debounce_ms == 300 and problems == []
    (tmp_path / "kaizen.toml").write_text('[autofix]\nmodel = "from-kaizen-toml"\n')
    settings, _ = load_settings(tmp_path, env={})
    assert settings.autofix.model == "from-kaizen-toml"  # kaizen.toml wins over pyproject
    settings, _ = load_settings(tmp_path, env={"KAIZEN_MODEL": "from-env"})
    assert settings.autofix.model == "from-env"
    settings, _ = load_settings(tmp_path, {"autofix": {"model": "from-editor"}},
                                env={"KAIZEN_MODEL": "from-env"})
    assert settings.autofix.model == "from-editor"


def test_invalid_settings_fall_back_to_defaults(tmp_path: Path):
    settings, problems = load_settings(tmp_path, {
        "trigger": {"debounceMs": "soon", "onSave": False}, "maxFileBytes": -1,
        "budget": {"whenExceeded": "panic"},
    }, env={})
    assert settings.trigger.debounce_ms == 800 and settings.trigger.on_save is False
    assert settings.max_file_bytes == 500_000 and settings.budget.when_exceeded == "cheapest"
    assert len(problems) == 3 and all("using the default" in p for p in problems)


async def test_configuration_is_pulled_and_re_read(start_client, scripted, project):
    client = await start_client(model_options(scripted, model="from-init"))
    uri = open_document(client, project / "a.py", "x = 1\n")
    await wait_for_diagnostics(client, uri)
    assert scripted.requests[-1]["body"]["model"] == "from-init"

    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"kaizen": {"autofix": {"model": "from-change"}}}))
    client.diagnostics.pop(uri, None)
    client.text_document_did_save(types.DidSaveTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    await wait_for_diagnostics(client, uri)
    assert scripted.requests[-1]["body"]["model"] == "from-change"

    status = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="kaizen.setModel", arguments=[{"pipeline": "autofix", "provider": "openai",
                                               "model": "from-set-model"}]))
    assert status["autofix"] == {"provider": "openai", "model": "openai/from-set-model",
                                 "source": "explicit"}


async def test_invalid_editor_settings_message(start_client, scripted, project):
    client = await start_client(model_options(scripted, trigger={"debounceMs": "soon"}))
    uri = open_document(client, project / "b.py", "x = 1\n")
    await wait_for_diagnostics(client, uri)
    assert any("kaizen.trigger.debounceMs" in m.message for m in client.messages)


async def test_no_model_configured_says_how(start_client, project):
    client = await start_client({"localModel": False, "staticPrepass": {"enabled": False}})
    for name in ("one.py", "two.py"):
        uri = open_document(client, project / name, "x = 1\n")
        assert await wait_for_diagnostics(client, uri) == []
    notes = [m.message for m in client.messages if "no model" in m.message]
    assert len(notes) == 1  # once, not per file
    assert "OPENAI_API_KEY" in notes[0] and "Ollama" in notes[0] and "apiBase" in notes[0]


async def test_on_change_debounce_analyses_only_the_last_version(start_client, scripted, project):
    scripted.set_default("issue_detector", ONE)
    client = await start_client(model_options(
        scripted, trigger={"onOpen": False, "onChange": True, "debounceMs": 300}))
    uri = open_document(client, project / "typing.py", "x = 0\n")
    for version in range(2, 8):
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=f"x = {version}\n")]))
    await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)
    prompts = scripted.prompts_for("issue_detector")
    assert len(prompts) == 1 and "x = 7" in prompts[0]


async def test_tcp_transport(tmp_path: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "kaizen", "serve", "--tcp", f"127.0.0.1:{port}"],
                            env=server_env(tmp_path), cwd=ROOT)
    try:
        for _ in range(200):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.1)
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                           "params": {"processId": None, "rootUri": None, "capabilities": {}}})
        writer.write(f"Content-Length: {len(body)}\r\n\r\n{body}".encode())
        await writer.drain()
        header = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 20)
        length = int(header.split(b"Content-Length:")[1].split(b"\r\n")[0])
        answer = json.loads(await reader.readexactly(length))
        assert answer["id"] == 1 and answer["result"]["serverInfo"]["name"] == "kaizen"
        assert "codeActionProvider" in answer["result"]["capabilities"]
        writer.close()
    finally:
        proc.terminate()
        proc.wait(10)
