"""The release artifacts install and run as the README says, without this checkout.

``python -m build`` makes the sdist and then the wheel *from the sdist* (so a file missing from
the sdist fails here too), ``twine check --strict`` checks their metadata, and the wheel is
installed, not editable, into a fresh virtual environment whose dependencies come from this
machine's configured package index and pip cache. Then the installed ``kaizen`` runs
``check`` on a project and ``serve`` for a real LSP client, with no PYTHONPATH pointing back
into the repository: what a user gets from ``pip install kaizen_lsp-*.whl`` is what is tested.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig, client_capabilities

from tests.conftest import ROOT, wait_for_diagnostics

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
UNUSED_IMPORT = "import os\n\n\ndef f():\n    return 1\n"


def _run(cmd: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                          **kwargs)


def _clean_env(home: Path) -> dict[str, str]:
    """This environment without anything that would load Kaizen from the checkout or call a
    real provider."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.endswith("_API_KEY")}
    env["KAIZEN_HOME"] = str(home)
    return env


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = _run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], 600)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    checked = _run([sys.executable, "-m", "twine", "check", "--strict", *map(str, out.iterdir())],
                   120)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    return out


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with the built wheel installed (no --editable, no checkout)."""
    root = tmp_path_factory.mktemp("venv")
    made = _run([sys.executable, "-m", "venv", str(root)], 120)
    assert made.returncode == 0, made.stderr
    [wheel] = dist.glob("kaizen_lsp-*.whl")
    env = _clean_env(root / "home")
    # --no-compile: byte-compiling litellm alone takes longer than the rest of the install
    installed = _run([str(root / "bin" / "python"), "-m", "pip", "install", "--no-compile",
                      "--quiet", str(wheel)], 900, env=env)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    return root


def test_sdist_and_wheel_carry_every_data_file(dist: Path) -> None:
    [wheel] = dist.glob("kaizen_lsp-*.whl")
    assert wheel.name == f"kaizen_lsp-{VERSION}-py3-none-any.whl"
    assert (dist / f"kaizen_lsp-{VERSION}.tar.gz").is_file()
    tracked = _run(["git", "-C", str(ROOT), "ls-files", "server/kaizen"], 60).stdout.split()
    data = {p.removeprefix("server/") for p in tracked if not p.endswith(".py")}
    assert data, "no data files tracked under server/kaizen"
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not data - names, f"left out of the wheel: {sorted(data - names)}"
    entry_points = zipfile.ZipFile(wheel).read(f"kaizen_lsp-{VERSION}.dist-info/entry_points.txt")
    assert b"kaizen = kaizen.cli:main" in entry_points


def test_installed_wheel_runs_check(venv: Path, tmp_path: Path) -> None:
    env = _clean_env(tmp_path / "home")
    (tmp_path / "home").mkdir()
    kaizen = str(venv / "bin" / "kaizen")
    version = _run([kaizen, "--version"], 60, env=env)
    assert version.stdout.strip() == f"kaizen {VERSION}", version.stdout + version.stderr
    where = _run([str(venv / "bin" / "python"), "-c", "import kaizen; print(kaizen.__file__)"],
                 60, env=env, cwd=tmp_path)
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr

    project = tmp_path / "proj"
    project.mkdir()
    (project / "a.py").write_text(UNUSED_IMPORT)
    done = _run([kaizen, "check", "--static-only", "--format", "json", "."], 120, env=env,
                cwd=project)
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["complete"] is True
    assert [(f["line"], f["path"].endswith("a.py")) for f in report["findings"]] == [(1, True)]
    assert "F401" in json.dumps(report["findings"][0])


async def test_installed_wheel_serves_lsp(venv: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    project = tmp_path / "proj"
    project.mkdir()
    file = project / "a.py"
    file.write_text(UNUSED_IMPORT)
    config = ClientServerConfig(server_command=[str(venv / "bin" / "kaizen"), "serve"],
                                server_env=_clean_env(home))
    client = await config.start()
    try:
        result = await client.initialize_session(types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=project.as_uri(),
            initialization_options={"staticPrepass": {"enabled": True, "only": True},
                                    "localModel": False},
        ))
        assert result.server_info is not None and result.server_info.version == VERSION
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=file.as_uri(), language_id="python",
                                                 version=1, text=UNUSED_IMPORT)))
        diagnostics = await wait_for_diagnostics(client, file.as_uri(), bool, timeout=60)
        assert [str(d.code) for d in diagnostics] == ["F401"]
        await asyncio.wait_for(client.shutdown_session(), timeout=20)
    finally:
        await client.stop()
