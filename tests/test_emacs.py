"""Kaizen in a real Emacs: ``emacs -nw`` (Debian's ``emacs-nox`` with ``elpa-eglot``, installed
here when missing) on a pseudo-terminal drives the real server against the scripted model
server through eglot and Flymake, configured with the Elisp that docs/editors.md shows.

``--batch`` cannot prove that setup: it has no command loop, so ``eglot-ensure`` (which
connects from ``post-command-hook``), Flymake's start and eglot's idle-time didChange never
run. Under ``-nw`` they run as in a user's session. tests/emacs/init.el steps through the
scenario from a timer and writes what it saw to a JSON file read here; every wait is bounded
on the Emacs side, and this side only waits for Emacs to exit.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, model_options, server_env
from tests.fixtures.editor_scenario import BUGGY, FIXED, assert_fix_accepted, script_the_guard
from tests.fixtures.scripted_model import ScriptedModel

INIT_EL = ROOT / "tests" / "emacs" / "init.el"
EDITORS_MD = ROOT / "docs" / "editors.md"
MIN_VERSION = (28, 1)
PACKAGES = ("emacs-nox", "elpa-eglot")
# What Emacs may take, start to exit, before the test gives up (the Elisp side gives up first).
EMACS_TIMEOUT_S = 60
ANSI = re.compile(r"\x1b(\[[0-9;?>]*[ -/]*[@-~]|[()][0-9A-Za-z]|[=>])")


def _unavailable(reason: str) -> None:
    """Skip with the reason, or fail when the environment says Emacs is required."""
    if os.environ.get("KAIZEN_REQUIRE_EMACS") == "1":
        pytest.fail(f"KAIZEN_REQUIRE_EMACS=1 but {reason}")
    pytest.skip(reason)


def _apt_install(packages: tuple[str, ...]) -> str:
    """apt-get install PACKAGES (as root); returns why it failed, or '' on success."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *packages]):
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"`{' '.join(cmd)}` could not run: {exc}"
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            return f"`{' '.join(cmd)}` exited {done.returncode}: " + " / ".join(tail)
    return ""


def _probe(emacs: str) -> tuple[tuple[int, int] | None, bool]:
    """Emacs's version, and whether eglot is loadable once packages are activated (as they
    are in a session with an init file; --batch does not activate them by itself)."""
    probe = (
        '(progn (package-activate-all) (princ (format "%s %s" emacs-version'
        ' (if (locate-library "eglot") "eglot" "none"))))'
    )
    try:
        out = subprocess.run(
            [emacs, "--batch", "--eval", probe], capture_output=True, text=True, timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None, False
    match = re.search(r"(\d+)\.(\d+)\S* (eglot|none)", out)
    if not match:
        return None, False
    return (int(match[1]), int(match[2])), match[3] == "eglot"


@pytest.fixture(scope="session")
def emacs() -> str:
    """The ``emacs`` executable with eglot, both installed with apt-get when missing."""
    path = shutil.which("emacs")
    version, has_eglot = _probe(path) if path else (None, False)
    if path is None or not has_eglot:
        missing = "Emacs" if path is None else "eglot"
        if not shutil.which("apt-get"):
            _unavailable(f"{missing} is not installed and apt-get is not available to install it")
        if os.geteuid() != 0:
            _unavailable(f"{missing} is not installed and installing it needs root (apt-get)")
        problem = _apt_install(PACKAGES if path is None else PACKAGES[1:])
        path = shutil.which("emacs")
        if problem or path is None:
            _unavailable(f"could not install {' '.join(PACKAGES)} with apt-get: "
                         f"{problem or 'emacs not on PATH'}")
        assert path is not None
        version, has_eglot = _probe(path)
    if version is None or version < MIN_VERSION or not has_eglot:
        needed = ".".join(map(str, MIN_VERSION))
        _unavailable(f"{path} is Emacs {version} (eglot: {has_eglot}); the test needs "
                     f"{needed}+ with eglot")
    return path


def documented_setup() -> str:
    """Every ```elisp block of docs/editors.md's Emacs section: what users copy."""
    text = EDITORS_MD.read_text(encoding="utf-8")
    section = re.search(r"^## Emacs\b.*?(?=^## )", text, re.S | re.M)
    assert section, "docs/editors.md has no '## Emacs' section"
    blocks = re.findall(r"^```elisp\n(.*?)^```", section[0], re.S | re.M)
    assert len(blocks) >= 2, "the Emacs section should show the setup and the command helpers"
    return "\n".join(blocks)


def run_emacs(emacs: str, tmp_path: Path, file: Path, loose: Path, kaizen_home: Path,
              options: dict[str, Any]) -> dict[str, Any]:
    """Run the scenario in ``emacs -nw`` on a pty; return what tests/emacs/init.el saw."""
    output = tmp_path / "emacs-result.json"
    setup = tmp_path / "kaizen-setup.el"
    setup.write_text(documented_setup(), encoding="utf-8")
    config = tmp_path / "emacs-config.json"
    config.write_text(json.dumps({
        "setup": str(setup), "python": sys.executable, "init_options": options,
        "file": str(file), "loose": str(loose), "output": str(output),
        "timeout_s": int(os.environ.get("KAIZEN_EMACS_TIMEOUT_S", "30")),
    }))
    # A fresh HOME whose init file loads the driver: Emacs starts as a user's does.
    home = tmp_path / "home"
    (home / ".emacs.d").mkdir(parents=True)
    (home / ".emacs.d" / "init.el").write_text(f"(load {json.dumps(str(INIT_EL))} nil t)\n")
    env = server_env(kaizen_home, KAIZEN_EMACS_TEST=str(config), HOME=str(home),
                     TERM="xterm-256color", LANG="C.UTF-8", LC_ALL="C.UTF-8")
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env.pop(name, None)

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))

    screen = bytearray()
    try:
        # Emacs opens /dev/tty: util-linux's setsid makes the pty its controlling terminal
        # (a preexec_fn doing the same is unsafe with the scripted model's threads running).
        proc = subprocess.Popen(
            ["setsid", "--ctty", "--wait", emacs, "-nw", str(loose), str(file)],
            cwd=file.parent, env=env, stdin=slave, stdout=slave, stderr=slave,
        )
    finally:
        os.close(slave)

    def drain() -> None:  # Emacs blocks if nobody reads its terminal
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the terminal closed
                return
            if not data:
                return
            screen.extend(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        returncode = proc.wait(timeout=EMACS_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        returncode = None
    finally:
        reader.join(timeout=5)
        os.close(master)
    shown = ANSI.sub(" ", screen.decode(errors="replace"))
    shown = re.sub(r"[ \t]+", " ", shown)[-1500:]
    if returncode is None:
        pytest.fail(f"Emacs did not exit within {EMACS_TIMEOUT_S} s; screen: {shown}")
    assert output.exists(), f"Emacs exited {returncode} and wrote no results; screen: {shown}"
    result: dict[str, Any] = json.loads(output.read_text())
    assert "error" not in result, (
        f"{result['error']}\nsteps: {result.get('steps')}\n"
        f"messages: {result.get('messages_buffer')}\n{result.get('events')}\nscreen: {shown}"
    )
    assert returncode == 0, f"Emacs exited {returncode}; screen: {shown}"
    return result


def test_emacs_eglot_quick_fix(
    emacs: str, scripted: ScriptedModel, project: Path, kaizen_home: Path, tmp_path: Path,
):
    script_the_guard(scripted)
    file = project / "stats.py"
    file.write_text(BUGGY, encoding="utf-8")
    loose = tmp_path / "loose" / "scratch.py"  # in no project: the hook leaves it alone
    loose.parent.mkdir()
    loose.write_text("print('hello')\n", encoding="utf-8")

    result = run_emacs(emacs, tmp_path, file, loose, kaizen_home, model_options(scripted))

    assert result["steps"] == [
        "connected", "diagnostics", "quick fix applied", "diagnostic cleared", "saved and reviewed again",
        "stopped",
    ]
    # the documented entry was there, in the documented shape, before the test swapped it
    documented = result["documented"]
    # every language Kaizen reviews, Python and TypeScript/TSX (tree-sitter modes) among them
    assert {"python-mode", "python-ts-mode", "typescript-ts-mode", "tsx-ts-mode", "go-ts-mode",
            "sh-mode"} <= set(documented["modes"])
    assert documented["program"] == ["kaizen", "serve"]
    assert documented["initializationOptions"]["autofix"]["provider"] == "openai"
    assert result["loose_file_server"] is False  # kaizen-eglot-ensure: no project, no server

    # the diagnostic, as eglot gave it to Flymake (1-based lines, 0-based columns)
    [d] = result["diagnostics"]
    assert d["text"] == "kaizen [bug]: Division by zero on an empty list"
    assert d["type"] == "eglot-error"
    assert (d["line"], d["col"], d["end_line"], d["end_col"]) == (2, 11, 2, 28)
    assert d["lsp"]["data"]["fingerprint"]  # what the code action request sends back

    # the code actions eglot offers there, and the default one applied by M-x eglot-code-actions RET RET
    offered = {(a["kind"], a["command"], a["has_edit"], a["isPreferred"]) for a in result["actions"]}
    assert ("quickfix", "kaizen.recordOutcome", True, True) in offered
    assert ("quickfix", "kaizen.dismiss", False, False) in offered
    assert result["text_after_edit"] == FIXED
    assert result["modified"] is True
    # saving wrote the fix and sent didSave: Kaizen reviewed the fixed text, found nothing
    assert file.read_text(encoding="utf-8") == FIXED
    assert result["publishes"][0] == 1 and result["publishes"][-1] == 0
    assert result["diagnostics_after"] == 0

    # kaizen.getStatus through the documented kaizen-command helper
    status = result["status"]
    assert status["autofix"]["provider"] == "openai"
    assert status["autofix"]["model"] in ("scripted-model", "openai/scripted-model")
    assert result["running_after_shutdown"] is False  # eglot-shutdown stopped the server

    assert_fix_accepted(kaizen_home)
    assert len(scripted.requests_for("issue_detector")) == 2  # on open, and on save
    assert not [m for m in result["messages"] if "failed" in m.lower()], result["messages"]
