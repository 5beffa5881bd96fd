"""Kaizen in a real editor: a headless Neovim (Debian's ``neovim`` package, installed here when
missing) drives the real server against the scripted model server through Neovim's built-in
LSP client, with no Kaizen-specific client code beyond tests/nvim/kaizen.lua.

The Lua side (tests/nvim/init.lua) opens the file, waits for Kaizen's pushed diagnostics,
asks for code actions the way ``vim.lsp.buf.code_action`` does, applies the quick fix's
WorkspaceEdit, runs its command, and writes what it saw to a JSON file read here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, model_options, server_env
from tests.fixtures.editor_scenario import BUGGY, FIXED, assert_fix_accepted, script_the_guard
from tests.fixtures.scripted_model import ScriptedModel

INIT_LUA = ROOT / "tests" / "nvim" / "init.lua"
MIN_VERSION = (0, 7)
# What a server must not send a client that did not ask for it.
UNASKED = (
    "window/workDoneProgress/create",
    "$/progress",
    "client/registerCapability",
    "workspace/configuration",
    "window/showDocument",
    "workspace/diagnostic/refresh",
)


def _nvim_version(nvim: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"NVIM v(\d+)\.(\d+)", out)
    return (int(match[1]), int(match[2])) if match else None


def _unavailable(reason: str) -> None:
    """Skip with the reason, or fail when the environment says Neovim is required."""
    if os.environ.get("KAIZEN_REQUIRE_NVIM") == "1":
        pytest.fail(f"KAIZEN_REQUIRE_NVIM=1 but {reason}")
    pytest.skip(reason)


def _install_neovim() -> str:
    """apt-get install neovim (as root); returns why it failed, or '' on success."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "neovim"]):
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"`{' '.join(cmd)}` could not run: {exc}"
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            return f"`{' '.join(cmd)}` exited {done.returncode}: " + " / ".join(tail)
    return ""


@pytest.fixture(scope="session")
def nvim() -> str:
    """The ``nvim`` executable, installed with apt-get when missing and we are root."""
    path = shutil.which("nvim")
    if path is None:
        if not shutil.which("apt-get"):
            _unavailable("Neovim is not installed and apt-get is not available to install it")
        if os.geteuid() != 0:
            _unavailable("Neovim is not installed and installing it needs root (apt-get)")
        problem = _install_neovim()
        path = shutil.which("nvim")
        if problem or path is None:
            _unavailable(f"could not install Neovim with apt-get: {problem or 'nvim not on PATH'}")
    assert path is not None
    version = _nvim_version(path)
    if version is None or version < MIN_VERSION:
        needed = ".".join(map(str, MIN_VERSION))
        _unavailable(f"{path} is Neovim {version}, the test needs {needed}+")
    return path


def run_nvim(
    nvim: str, tmp_path: Path, file: Path, kaizen_home: Path, options: dict[str, Any], profile: str,
) -> dict[str, Any]:
    output = tmp_path / "nvim-result.json"
    config = tmp_path / "nvim-config.json"
    config.write_text(json.dumps({
        "cmd": [sys.executable, "-m", "kaizen", "serve"],
        "root_dir": str(file.parent),
        "init_options": options,
        "output": str(output),
        "profile": profile,
        "timeout_ms": int(os.environ.get("KAIZEN_NVIM_TIMEOUT_MS", "20000")),
        "log_level": os.environ.get("KAIZEN_NVIM_LOG_LEVEL"),
    }))
    xdg = tmp_path / "xdg"
    env = server_env(kaizen_home, KAIZEN_NVIM_TEST=str(config))
    for name in ("CONFIG", "DATA", "STATE", "CACHE"):
        (xdg / name.lower()).mkdir(parents=True, exist_ok=True)
        env[f"XDG_{name}_HOME"] = str(xdg / name.lower())
    try:
        done = subprocess.run(
            [nvim, "--headless", "--clean", "-u", str(INIT_LUA), str(file)],
            cwd=file.parent, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr
        if isinstance(stderr, bytes):
            stderr = stderr.decode(errors="replace")
        pytest.fail(f"Neovim did not exit within {exc.timeout} s; stderr: {stderr}")
    logs = "\n".join(p.read_text(errors="replace")[-4000:] for p in xdg.rglob("lsp.log"))
    where = f"nvim exited {done.returncode}\nstdout: {done.stdout[-2000:]}\n" \
            f"stderr: {done.stderr[-2000:]}\nlsp.log: {logs}"
    assert output.exists(), f"Neovim wrote no results\n{where}"
    result = json.loads(output.read_text())
    assert "error" not in result, f"{result['error']}\nsteps: {result['steps']}\n" \
        f"messages: {result['messages']}\n{where}"
    return result


@pytest.mark.parametrize("profile", ["minimal", "default"])
def test_neovim_quick_fix(
    nvim: str, scripted: ScriptedModel, project: Path, kaizen_home: Path, tmp_path: Path,
    profile: str,
):
    script_the_guard(scripted)
    file = project / "stats.py"
    file.write_text(BUGGY, encoding="utf-8")

    result = run_nvim(nvim, tmp_path, file, kaizen_home, model_options(scripted), profile)

    # what Neovim told the server: the options as given, and (minimal) no work-done progress
    sent = result["initialize"]
    assert sent["initializationOptions"]["autofix"]["model"] == "scripted-model"
    caps = sent["capabilities"]
    assert caps["window"]["workDoneProgress"] is (profile == "default")
    assert "configuration" not in caps.get("workspace", {})  # Neovim 0.7 does not advertise it
    assert "diagnostic" not in caps.get("textDocument", {})  # no pull diagnostics
    assert caps["window"]["showDocument"]["support"] is False

    # the diagnostic, pushed, in Neovim's 0-based coordinates
    [d] = result["diagnostics"]
    assert (d["source"], d["code"], d["severity"]) == ("kaizen", "bug", 1)  # 1 = ERROR
    assert (d["lnum"], d["col"], d["end_lnum"], d["end_col"]) == (1, 11, 1, 28)
    assert d["message"].startswith("Division by zero")
    assert result["server_methods"].get("textDocument/publishDiagnostics", 0) >= 2
    [ctx] = result["context_diagnostics"]
    assert ctx["data"]["fingerprint"]  # the fingerprint survived Neovim's round trip

    # the code actions, the fix applied to the buffer, the outcome recorded
    kinds = {(a["kind"], a["command"], a["has_edit"]) for a in result["actions"]}
    assert ("quickfix", "kaizen.recordOutcome", True) in kinds
    assert ("quickfix", "kaizen.dismiss", False) in kinds
    assert result["text_after_edit"] == FIXED
    assert result["command"] == {"name": "kaizen.recordOutcome", "result": {"ok": True, "similar": 0}}
    assert result["diagnostics_after"] == 0
    # :write sent didSave (the server asked for it), Kaizen ran again on the saved text, and
    # that publish is for the buffer's current version
    assert result["save_capability"]
    after_save = result["publish_after_save"]
    assert after_save["count"] == 0
    assert after_save["version"] in (None, after_save["document_version"]), result["publishes"]
    assert file.read_text(encoding="utf-8") == FIXED
    assert result["text"] == FIXED
    assert result["status"]["autofix"]["provider"] == "openai"
    assert result["status"]["autofix"]["model"] in ("scripted-model", "openai/scripted-model")
    assert result["set_model"]["autofix"]["model"] in ("chosen-model", "openai/chosen-model")
    if "kaizen.analyzeMetrics" in (result["server_commands"] or []):
        assert isinstance(result["metrics"]["models"], list)
    assert result["steps"][-1] == "stopped"

    assert_fix_accepted(kaizen_home)

    # the server used only what this client advertised
    methods = result["server_methods"]
    if profile == "minimal":
        assert not [m for m in UNASKED if m in methods], methods
    else:
        unasked = [m for m in UNASKED if m in methods and "Progress" not in m and m != "$/progress"]
        assert not unasked, methods
        assert methods.get("window/workDoneProgress/create", 0) >= 1
        titles = [p.get("title") for p in result["progress"] if p.get("kind") == "begin"]
        assert "Kaizen" in titles
        assert any(p.get("kind") == "end" for p in result["progress"])
    assert not [m for m in result["messages"] if "failed" in m.lower()], result["messages"]


def test_neovim_applies_a_ruff_fix_to_the_similar_places(
    nvim: str, scripted: ScriptedModel, project: Path, kaizen_home: Path, tmp_path: Path,
):
    """Accept ruff's fix in one of three files with the same rule: Neovim is offered "apply
    to 2 similar places" and applying it edits exactly those places, on disk."""
    (project / "b.py").write_text("import sys\n\n\ndef b():\n    return 2\n")
    (project / "c.py").write_text("import json\nimport re\n\nprint(re.escape('x'))\n")
    (project / "clean.py").write_text("import re\n\nprint(re)\n")
    file = project / "a.py"
    file.write_text("import os\n\nx = 1\n")
    options = model_options(scripted, staticPrepass={"enabled": True, "only": True})
    result = run_nvim(nvim, tmp_path, file, kaizen_home, options, "minimal")
    assert result["command"]["result"] == {"ok": True, "similar": 2}
    similar = result["similar"]
    assert similar["title"] == "Kaizen: apply to 2 similar places (F401)"
    assert sorted(similar["uris"]) == sorted([(project / "b.py").as_uri(), (project / "c.py").as_uri()])
    assert similar["result"] == {"accepted": 2}
    assert (project / "b.py").read_text() == "\n\ndef b():\n    return 2\n"
    assert (project / "c.py").read_text() == "import re\n\nprint(re.escape('x'))\n"
    assert (project / "clean.py").read_text() == "import re\n\nprint(re)\n"
    assert file.read_text() == "\nx = 1\n"


EDITORS_MD = ROOT / "docs" / "editors.md"
RECIPE_LUA = ROOT / "tests" / "nvim" / "recipe.lua"
MEAN_TS = "export function mean(xs: number[]): number {\n  return xs.reduce((a, b) => a + b, 0) / xs.length;\n}\n"
WIDGET_TSX = (
    "export function Average({ xs }: { xs: number[] }) {\n"
    "  return <span>{xs.reduce((a, b) => a + b, 0) / xs.length}</span>;\n"
    "}\n"
)


def documented_recipe(cmd: list[str], init_options: dict[str, Any]) -> str:
    """The Lua block of docs/editors.md's "Neovim 0.7 to 0.10" section, with only its server
    command and init_options replaced (each exactly once) by the test's."""
    text = EDITORS_MD.read_text(encoding="utf-8")
    section = re.search(r"^### Neovim 0\.7 to 0\.10\b.*?(?=^##)", text, re.S | re.M)
    assert section, "docs/editors.md has no '### Neovim 0.7 to 0.10' section"
    [block] = re.findall(r"^```lua\n(.*?)^```", section[0], re.S | re.M)
    lua_cmd = "cmd = vim.json.decode(" + _lua_string(json.dumps(cmd)) + "),"
    lua_options = "init_options = vim.json.decode(" + _lua_string(json.dumps(init_options)) + "),"
    for pattern, replacement in ((r"cmd = \{ 'kaizen', 'serve' \},", lua_cmd),
                                 (r"init_options = \{.*\},\n", lua_options + "\n")):
        block, n = re.subn(pattern, lambda _m, r=replacement: r, block)
        assert n == 1, f"the documented recipe should have one {pattern!r}"
    return block


def _lua_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def test_neovim_documented_recipe_reviews_typescript_and_tsx(
    nvim: str, scripted: ScriptedModel, project: Path, kaizen_home: Path, tmp_path: Path,
):
    """The 0.7 recipe users copy, run as their init.lua: a .ts and a .tsx buffer in one git
    project get Kaizen's diagnostics from one shared client rooted at the project."""
    scripted.set_default("issue_detector", {"issues": [{
        "line": 2, "severity": "error", "category": "bug",
        "message": "Division by zero on an empty list", "rationale": "it crashes"}]})
    (project / "src").mkdir()
    ts, tsx = project / "src" / "mean.ts", project / "src" / "Widget.tsx"
    ts.write_text(MEAN_TS)
    tsx.write_text(WIDGET_TSX)
    setup = tmp_path / "kaizen-setup.lua"
    setup.write_text(documented_recipe([sys.executable, "-m", "kaizen", "serve"],
                                       model_options(scripted)))
    output = tmp_path / "recipe-result.json"
    config = tmp_path / "recipe-config.json"
    config.write_text(json.dumps({
        "setup": str(setup), "files": [str(ts), str(tsx)], "output": str(output),
        "timeout_ms": int(os.environ.get("KAIZEN_NVIM_TIMEOUT_MS", "20000")),
    }))
    xdg = tmp_path / "xdg"
    env = server_env(kaizen_home, KAIZEN_NVIM_RECIPE=str(config))
    for name in ("CONFIG", "DATA", "STATE", "CACHE"):
        (xdg / name.lower()).mkdir(parents=True, exist_ok=True)
        env[f"XDG_{name}_HOME"] = str(xdg / name.lower())
    done = subprocess.run([nvim, "--headless", "--clean", "-u", str(RECIPE_LUA)], cwd=tmp_path,
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=90)
    assert output.exists(), f"nvim exited {done.returncode}: {done.stderr[-2000:]}"
    result = json.loads(output.read_text())
    assert "error" not in result, result
    if result["nvim_version"].startswith("0.7."):
        # the recipe's reason to exist: 0.7 has neither, and it still works
        assert not result["has_vim_fs"] and not result["has_lsp_start"]
    [on_ts, on_tsx] = result["buffers"]
    assert (on_ts["filetype"], on_tsx["filetype"]) == ("typescript", "typescriptreact")
    for buffer in (on_ts, on_tsx):
        assert not buffer["timed_out"], buffer
        [d] = buffer["diagnostics"]
        assert (d["lnum"], d["severity"]) == (1, 1), d  # line 2, ERROR
        assert d["message"].startswith("Division by zero"), d
        [client] = buffer["clients"]
        assert (client["name"], client["root_dir"]) == ("kaizen", str(project))
    assert on_ts["clients"][0]["id"] == on_tsx["clients"][0]["id"]  # one server per project


def test_neovim_applies_a_promoted_rule_and_its_fix_to_the_similar_places(
    nvim: str, scripted: ScriptedModel, project: Path, kaizen_home: Path, tmp_path: Path,
):
    """A rule promoted from three accepted fixes (written as accepting its proposal writes
    it) in a real editor: its finding, its quick fix and "apply to similar places", no model."""
    from kaizen.memory.fix_examples import Example
    from kaizen.rules.promoted import as_proposal, write_rules
    from kaizen.rules.promotion import promote

    pairs = [
        ("if k in d.keys():\n    return 1\n", "if k in d:\n    return 1\n"),
        ("found = name in cache.keys()\n", "found = name in cache\n"),
        ("return [x for x in xs if x in seen.keys()]\n", "return [x for x in xs if x in seen]\n"),
    ]
    examples = [Example("python", "performance", "m.py", b, a) for b, a in pairs]
    [promotion] = promote({("python", "performance"): examples})
    assert promotion.ok, promotion.reasons
    write_rules(project, [as_proposal(promotion, examples, None)])
    (project / "b.py").write_text("def b(t, k):\n    return k in t.keys()\n")
    file = project / "a.py"
    file.write_text("def a(m, key):\n    return key in m.keys()\n")
    options = model_options(scripted, staticPrepass={"enabled": True, "only": True})
    result = run_nvim(nvim, tmp_path, file, kaizen_home, options, "minimal")
    assert result["command"]["result"] == {"ok": True, "similar": 1}
    assert result["similar"]["result"] == {"accepted": 1}
    assert file.read_text() == "def a(m, key):\n    return key in m\n"
    assert (project / "b.py").read_text() == "def b(t, k):\n    return k in t\n"
    assert scripted.requests == []  # no model call, no token
