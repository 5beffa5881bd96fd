"""Shared test harness: the scripted model server, a project on disk, and the real Kaizen
server started as a subprocess and driven over stdio by pytest-lsp's client.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Union

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.fixtures.scripted_model import ScriptedModel
from tests.pg_fixtures import pg_server, pg_url  # noqa: F401 - PostgreSQL fixtures

ROOT = Path(__file__).resolve().parent.parent
SERVER = [sys.executable, "-m", "kaizen", "serve"]


@pytest.fixture
def scripted() -> Iterator[ScriptedModel]:
    with ScriptedModel() as server:
        yield server


@pytest.fixture
def kaizen_home(tmp_path: Path) -> Path:
    home = tmp_path / "kaizen-home"
    home.mkdir()
    return home


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git repository with an origin remote, as most users' projects are."""
    root = tmp_path / "proj"
    root.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run(
        ["git", "-C", str(root), "remote", "add", "origin", "https://github.com/acme/widgets.git"],
        check=True,
    )
    return root


@pytest.fixture
def database_url(request: pytest.FixtureRequest, kaizen_home: Path) -> str | None:
    """The memory the server under test uses: None is the default SQLite file in
    KAIZEN_HOME. Parametrize indirectly with "sqlite" or "postgresql" to run a test on
    both backends (PostgreSQL: a fresh database on the session's pgserver)."""
    backend = getattr(request, "param", None)
    if backend == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    if backend == "sqlite":
        return f"sqlite:///{kaizen_home / 'kaizen.db'}"
    return None


def server_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(KAIZEN_HOME=str(home), PYTHONPATH=str(ROOT / "server"), **extra)
    return env


def model_options(
    scripted: ScriptedModel, model: str = "scripted-model", **extra: Any
) -> dict[str, Any]:
    """initializationOptions pointing both pipelines at the scripted server."""
    choice = {"provider": "openai", "model": model, "apiBase": scripted.url, "apiKey": "sk-test"}
    options: dict[str, Any] = {
        "autofix": dict(choice),
        "refactor": dict(choice),
        "staticPrepass": {"enabled": False},
        "localModel": False,
    }
    options.update(extra)
    return options


def _fix_code_action_union(client: LanguageClient) -> None:
    """lsprotocol structures any result item with a ``command`` key as a ``Command``, even
    a ``CodeAction`` whose ``command`` is an object. Real editors tell them apart by the type
    of ``command``; teach the test client to do the same."""
    converter = client.protocol._converter

    def hook(obj: Any, _type: Any) -> types.Command | types.CodeAction:
        if isinstance(obj.get("command"), str):
            return converter.structure(obj, types.Command)
        return converter.structure(obj, types.CodeAction)

    converter.register_structure_hook(types.Command | types.CodeAction, hook)
    converter.register_structure_hook(Union[types.Command, types.CodeAction], hook)  # noqa: UP007


StartClient = Callable[..., Awaitable[LanguageClient]]


@pytest_asyncio.fixture
async def start_client(
    kaizen_home: Path, project: Path, database_url: str | None
) -> AsyncIterator[StartClient]:
    """Start the real server; ``await start_client(options)`` returns an initialized client."""
    clients: list[LanguageClient] = []

    async def start(
        options: dict[str, Any],
        *,
        root: Path | None = None,
        capabilities: str = "visual-studio-code",
        env: dict[str, str] | None = None,
    ) -> LanguageClient:
        if not env:
            extra = {"KAIZEN_DATABASE": database_url} if database_url else {}
            env = server_env(kaizen_home, **extra)
        config = ClientServerConfig(server_command=SERVER, server_env=env)
        client = await config.start()
        _fix_code_action_union(client)
        clients.append(client)
        await client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities(capabilities),
                root_uri=(root or project).as_uri(),
                initialization_options=options,
            )
        )
        return client

    yield start
    for client in clients:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.shutdown_session(), timeout=10)
        await client.stop()


async def wait_for_diagnostics(
    client: LanguageClient,
    uri: str,
    predicate: Callable[[list[types.Diagnostic]], bool] | None = None,
    timeout: float = 20.0,
    final: bool = True,
) -> list[types.Diagnostic]:
    """Wait until diagnostics for ``uri`` are published and satisfy ``predicate``.

    The server publishes static and cached findings at once and the model's in a later
    publish for the same version; ``final`` (the default) also waits until no run for
    ``uri`` is pending (``kaizen.getStatus`` lists them), so what is returned is the run's
    last word. ``final=False`` returns the first publish that satisfies ``predicate``.
    """

    async def settled() -> bool:
        status = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="kaizen.getStatus", arguments=[{}])
        )
        return uri not in (status or {}).get("pending", [])

    async def wait() -> list[types.Diagnostic]:
        while True:
            if uri in client.diagnostics:
                current = list(client.diagnostics[uri])
                if (predicate is None or predicate(current)) and (not final or await settled()):
                    latest = list(client.diagnostics[uri])
                    if predicate is None or predicate(latest):
                        return latest
            # bounded: the final publish may land while settled() awaits its answer. Not
            # asyncio.wait_for: cancelling pytest-lsp's waiter leaves a cancelled future
            # that the next publishDiagnostics sets, which raises in the client's reader
            # and fails whatever request is in flight (kaizen.getStatus, seen in CI)
            waiter = client.protocol.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
            await asyncio.wait([asyncio.wrap_future(waiter)], timeout=0.5)

    return await asyncio.wait_for(wait(), timeout)


def open_document(
    client: LanguageClient, path: Path, text: str, version: int = 1, language_id: str = ""
) -> str:
    """didOpen as an editor sends it: the language id is the editor's name for the file's
    language (from the language table's first LSP id for its extension) unless given."""
    from kaizen.core.workspace import language_entry

    if not language_id:
        entry = language_entry(path)
        language_id = entry.lsp_ids[0] if entry is not None and entry.lsp_ids else "plaintext"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    uri = path.as_uri()
    client.diagnostics.pop(uri, None)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id=language_id, version=version, text=text
            )
        )
    )
    return uri


@pytest_asyncio.fixture
async def fuzz_client(start_client: StartClient, scripted: ScriptedModel, project: Path):
    """One server for every hypothesis example: surviving all of them is the point."""
    client = await start_client(model_options(scripted, requestTimeoutS=5))
    return client, scripted, project


async def learned(client: LanguageClient) -> None:
    """Wait until the server has recorded the insights of every finished run."""
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="kaizen.getStatus", arguments=[{"waitForLearning": True}])
    )
