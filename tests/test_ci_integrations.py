"""Kaizen in CI: the GitHub Action (action.yml) and the pre-commit hooks (.pre-commit-hooks.yaml).

GitHub cannot run here, so the action is checked in two ways that can fail: its structure
(composite, every input declared, secrets only through the environment, the SARIF upload),
and its check step's script, run for real by bash exactly as the runner runs it, against a
stand-in ``kaizen`` that exits 0, 1 or 2 and records what it was given.

The hooks are run for real by pre-commit: it installs kaizen-lsp from a git repository made
of this checkout (as it would from GitHub) into its own virtualenv, then ``git commit`` runs
the hook on the staged files.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, server_env
from tests.fixtures.scripted_model import ScriptedModel

ACTION = ROOT / "action.yml"
HOOKS = ROOT / ".pre-commit-hooks.yaml"
EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.S)
INPUT_REF = re.compile(r"^\s*inputs\.([A-Za-z0-9_-]+)\s*$")
# What GitHub runs for `shell: bash` (docs: "Workflow syntax", jobs.<id>.steps[*].shell).
GITHUB_BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]


# The GitHub Action -----------------------------------------------------------------------


def load_action() -> dict[str, Any]:
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    assert isinstance(action, dict)
    return action


def steps() -> list[dict[str, Any]]:
    return list(load_action()["runs"]["steps"])


def step_named(name: str) -> dict[str, Any]:
    [step] = [s for s in steps() if s.get("name") == name]
    return step


def walk(node: Any, path: str = "") -> list[tuple[str, str]]:
    """Every string in the document with where it is (``runs.steps.2.env.X``)."""
    if isinstance(node, dict):
        return [pair for k, v in node.items() for pair in walk(v, f"{path}.{k}".lstrip("."))]
    if isinstance(node, list):
        return [pair for i, v in enumerate(node) for pair in walk(v, f"{path}.{i}")]
    return [(path, node)] if isinstance(node, str) else []


def test_action_structure():
    action = load_action()
    declared = set(action["inputs"])
    assert {"provider", "model", "api-base", "api-key", "args", "diff-ref", "sarif-file",
            "python-version", "kaizen-version"} <= declared
    assert action["inputs"]["sarif-file"]["default"] == "kaizen.sarif"
    assert action["inputs"]["diff-ref"]["default"] == ""
    assert action["runs"]["using"] == "composite"

    for i, step in enumerate(action["runs"]["steps"]):
        assert ("run" in step) != ("uses" in step), f"step {i} needs exactly one of run/uses"
        if "run" in step:  # composite run steps have no default shell
            assert step.get("shell") == "bash", f"step {i} ({step.get('name')}) has no shell"
            assert "${{" not in step["run"], (
                f"step {i} splices an expression into its script; pass it through env"
            )
        else:
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@v\d+", step["uses"]), step["uses"]

    # every expression is an input reference, to a declared input; every input is used
    used: set[str] = set()
    for where, text in walk(action["runs"]) + walk(action.get("outputs", {})):
        for expr in EXPR.findall(text):
            if expr.strip().startswith("steps.check.outputs."):
                continue
            match = INPUT_REF.match(expr)
            assert match, f"{where}: unexpected expression ${{{{{expr}}}}}"
            assert match[1] in declared, f"{where}: input {match[1]!r} is not declared"
            used.add(match[1])
    assert used == declared, f"declared but never used: {declared - used}"
    assert "secrets." not in "".join(EXPR.findall(ACTION.read_text(encoding="utf-8")))

    # the key: referenced once, as the value of a step's env variable
    key_refs = [w for w, text in walk(action["runs"]) if "inputs.api-key" in text]
    assert len(key_refs) == 1 and re.fullmatch(r"steps\.\d+\.env\.\w+", key_refs[0]), key_refs

    setup, install, check, upload = action["runs"]["steps"]
    assert setup["uses"].startswith("actions/setup-python@")
    assert setup["with"]["python-version"] == "${{ inputs.python-version }}"
    assert "GITHUB_ACTION_PATH" in install["run"] and "KAIZEN_VERSION" in install["env"]
    assert check["id"] == "check"
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert upload["with"]["sarif_file"] == "${{ inputs.sarif-file }}"
    assert "if" not in upload  # runs when the check step passed: exit 0 or 1


def test_install_step_pins_the_version(tmp_path: Path):
    """The install step's script, with pip replaced by a recorder: what it asks pip for.
    By default the action's own checkout (so it works before any publication), else the
    pinned version from the package index."""
    action_path = str(tmp_path / "action checkout")
    for version, spec in (("", action_path), ("0.1.0", "kaizen-lsp==0.1.0")):
        bin_dir = tmp_path / f"bin-{version or 'latest'}"
        log = bin_dir / "python.log"
        fake = _script(bin_dir / "python", f"""
            import sys
            with open({str(log)!r}, "a") as f:
                f.write(" ".join(sys.argv[1:]) + "\\n")
        """)
        assert fake.exists()
        done = run_step("Install Kaizen", {"kaizen-version": version}, tmp_path, bin_dir,
                        {"GITHUB_ACTION_PATH": action_path})
        assert done.returncode == 0, done.stderr
        pip_call = log.read_text().splitlines()[0]
        assert pip_call.startswith("-m pip install") and pip_call.endswith(f" {spec}"), pip_call


def _script(path: Path, body: str) -> Path:
    """An executable Python script at ``path`` (run by this interpreter)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body).strip() + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def fake_kaizen(bin_dir: Path, log: Path) -> Path:
    """A ``kaizen`` that records its arguments and environment, writes the report it was
    asked for, and exits with $FAKE_KAIZEN_EXIT."""
    return _script(bin_dir / "kaizen", f"""
        import json, os, sys
        args = sys.argv[1:]
        if "--output" in args:
            with open(args[args.index("--output") + 1], "w") as f:
                f.write('{{"version": "2.1.0", "runs": []}}')
        names = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "KAIZEN_INPUT_API_KEY", "KAIZEN_PROVIDER",
                 "KAIZEN_MODEL", "KAIZEN_API_BASE")
        with open({str(log)!r}, "w") as f:
            json.dump({{"args": args, "env": {{n: os.environ.get(n) for n in names}}}}, f)
        sys.exit(int(os.environ["FAKE_KAIZEN_EXIT"]))
    """)


def run_step(name: str, inputs: dict[str, str], workdir: Path, bin_dir: Path,
             extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run step ``name`` of action.yml the way the runner does: its env with the inputs'
    expressions evaluated (declared defaults for the rest), its script in a file, GitHub's
    bash flags, GITHUB_OUTPUT pointing at a file."""
    action = load_action()
    values = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
    unknown = set(inputs) - set(values)
    assert not unknown, f"not inputs of the action: {unknown}"
    values.update(inputs)
    step = step_named(name)

    def evaluate(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            ref = INPUT_REF.match(match[1])
            assert ref, f"cannot evaluate ${{{{{match[1]}}}}} outside GitHub"
            return values[ref[1]]
        return EXPR.sub(one, text)

    script = workdir / f"{step.get('id', 'step')}.sh"
    script.write_text(step["run"])
    env = {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(workdir),
        "GITHUB_OUTPUT": str(workdir / "github_output"),
        **{k: evaluate(str(v)) for k, v in (step.get("env") or {}).items()},
        **(extra_env or {}),
    }
    return subprocess.run([*GITHUB_BASH, str(script)], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("kaizen_exit", "step_exit"), [(0, 0), (1, 0), (2, 2), (3, 3)])
def test_check_step_exit_codes(tmp_path: Path, kaizen_exit: int, step_exit: int):
    """Findings (1) are the result, not a failure; anything else non-zero fails the step."""
    log = tmp_path / "kaizen-call.json"
    fake_kaizen(tmp_path / "bin", log)
    done = run_step("Kaizen check", {}, tmp_path, tmp_path / "bin",
                    {"FAKE_KAIZEN_EXIT": str(kaizen_exit)})
    assert done.returncode == step_exit, done.stdout + done.stderr
    assert f"exit-code={kaizen_exit}" in (tmp_path / "github_output").read_text()
    call = json.loads(log.read_text())
    # no diff-ref: a bare --diff (the merge base with the default branch), then the report
    assert call["args"] == ["check", "--diff", "--format", "sarif", "--output", "kaizen.sarif", "."]
    assert (tmp_path / "kaizen.sarif").exists()
    if step_exit:
        assert "::error title=Kaizen::kaizen check could not run" in done.stdout


def test_check_step_inputs_and_key(tmp_path: Path):
    """Inputs become arguments and environment, verbatim (no shell evaluation), and the key
    reaches kaizen as the provider's variable without being printed."""
    key = "sk-test-0123456789abcdef"
    log = tmp_path / "kaizen-call.json"
    fake_kaizen(tmp_path / "bin", log)
    inputs = {
        "provider": "openai", "model": "gpt-4o-mini", "api-base": "http://llm.internal/v1",
        "api-key": key, "diff-ref": "origin/main", "sarif-file": "out/k.sarif",
        "args": "--pipeline all $(touch pwned) `touch pwned2`", "paths": "src  tests",
    }
    (tmp_path / "out").mkdir()
    done = run_step("Kaizen check", inputs, tmp_path, tmp_path / "bin", {"FAKE_KAIZEN_EXIT": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    call = json.loads(log.read_text())
    assert call["args"] == [
        "check", "--diff", "origin/main", "--format", "sarif", "--output", "out/k.sarif",
        "--pipeline", "all", "$(touch", "pwned)", "`touch", "pwned2`", "src", "tests",
    ]
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()
    assert call["env"] == {
        "OPENAI_API_KEY": key, "ANTHROPIC_API_KEY": None, "KAIZEN_INPUT_API_KEY": None,
        "KAIZEN_PROVIDER": "openai", "KAIZEN_MODEL": "gpt-4o-mini",
        "KAIZEN_API_BASE": "http://llm.internal/v1",
    }
    assert key not in done.stdout + done.stderr

    # a key without a provider cannot be placed: the step says so and stops, kaizen never runs
    log.unlink()
    done = run_step("Kaizen check", {"api-key": key}, tmp_path, tmp_path / "bin",
                    {"FAKE_KAIZEN_EXIT": "0"})
    assert done.returncode == 2 and "api-key needs a provider" in done.stdout
    assert not log.exists() and key not in done.stdout + done.stderr


def _supports_diff(kaizen_home: Path) -> bool:
    done = subprocess.run([sys.executable, "-m", "kaizen", "check", "--help"],
                          env=server_env(kaizen_home), capture_output=True, text=True, timeout=60)
    return "--diff" in done.stdout


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


GIT_ENV = {
    "GIT_AUTHOR_NAME": "Kaizen Test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Kaizen Test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
}


def test_check_step_with_real_kaizen(tmp_path: Path, kaizen_home: Path):
    """The check step with the real CLI on a branch: a SARIF report of what the branch
    changed, offline (--static-only). Needs `kaizen check --diff`."""
    if not _supports_diff(kaizen_home):
        pytest.skip("this kaizen check has no --diff yet (action.yml is written for it)")
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "old.py").write_text("import sys\n")  # unchanged on the branch: not reported
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    _git(repo, "checkout", "-qb", "feature")
    (repo / "new.py").write_text("import os\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "change")
    bin_dir = tmp_path / "bin"
    shim = bin_dir / "kaizen"
    bin_dir.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m kaizen "$@"\n')
    shim.chmod(0o755)
    env = {k: v for k, v in server_env(kaizen_home).items() if k in ("KAIZEN_HOME", "PYTHONPATH")}
    done = run_step("Kaizen check", {"diff-ref": "main", "args": "--static-only"}, repo, bin_dir,
                    {**env, **GIT_ENV})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "exit-code=1" in (repo / "github_output").read_text()
    sarif = json.loads((repo / "kaizen.sarif").read_text())
    located = {
        (loc["physicalLocation"]["artifactLocation"]["uri"], r["ruleId"])
        for r in sarif["runs"][0]["results"] for loc in r["locations"]
    }
    assert any(uri.endswith("new.py") and rule == "F401" for uri, rule in located), located
    assert not any(uri.endswith("old.py") for uri, _ in located), located


# pre-commit ------------------------------------------------------------------------------


def test_hooks_manifest_is_valid_for_pre_commit(caplog: pytest.LogCaptureFixture):
    """pre-commit's own loader accepts the manifest, with no warnings, and the hooks are
    what the README promises."""
    clientlib = pytest.importorskip("pre_commit.clientlib", reason="pre-commit (a dev extra)")

    with caplog.at_level(logging.WARNING, logger="pre_commit"):
        hooks = {h["id"]: h for h in clientlib.load_manifest(str(HOOKS))}
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    assert set(hooks) == {"kaizen", "kaizen-review"}
    for hook in hooks.values():
        assert (hook["language"], hook["pass_filenames"]) == ("python", True)
        assert hook["require_serial"] is True  # one kaizen process, one database writer
    assert hooks["kaizen"]["types"] == ["python"]  # the offline pre-pass is ruff's
    # the model review: every language the server reviews, TSX and shell scripts included
    assert {"python", "ts", "tsx", "jsx", "go", "rust", "c#", "kotlin", "shell"} <= set(
        hooks["kaizen-review"]["types_or"])
    assert hooks["kaizen"]["entry"] == "kaizen check --static-only"
    assert hooks["kaizen-review"]["entry"] == "kaizen check"


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A git repository of this checkout's package and hooks, committed: what pre-commit
    clones from GitHub. Made from the working tree, so uncommitted changes are tested too."""
    pytest.importorskip("pre_commit", reason="pre-commit is not installed (a dev extra)")
    repo = tmp_path_factory.mktemp("hook-repo")
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z", "--",
         "server", "pyproject.toml", "README.md", ".pre-commit-hooks.yaml"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")
    for name in filter(None, listed):
        source, target = ROOT / name, repo / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "kaizen")
    return repo, _git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pre-commit's cache (its clone and virtualenv of the hook repo), shared by the tests
    of this module so kaizen-lsp is installed once."""
    return tmp_path_factory.mktemp("pre-commit-home")


def user_repo(root: Path, hook_repo: tuple[Path, str], hook_id: str) -> Path:
    """A project using the hook the way the README shows."""
    repo, sha = hook_repo
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    (root / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [
        {"repo": str(repo), "rev": sha, "hooks": [{"id": hook_id}]},
    ]}))
    return root


def hook_env(kaizen_home: Path, pre_commit_home: Path, **extra: str) -> dict[str, str]:
    """The user's environment: no API keys, a private KAIZEN_HOME, git isolated from this
    machine's config; no PYTHONPATH, so the hook runs the kaizen pre-commit installed."""
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_API_KEY") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, **GIT_ENV, "KAIZEN_HOME": str(kaizen_home),
            "PRE_COMMIT_HOME": str(pre_commit_home), **extra}


def commit(repo: Path, env: dict[str, str], message: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "commit", "-m", message], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=600)


def test_pre_commit_hook_blocks_a_commit(
    tmp_path: Path, hook_repo: tuple[Path, str], pre_commit_home: Path, kaizen_home: Path,
    scripted: ScriptedModel,
):
    """`kaizen`: a real `git commit` with a ruff-detectable bug fails with Kaizen's findings;
    fixed, it passes. A model is configured and reachable, yet never called: offline."""
    repo = user_repo(tmp_path / "project", hook_repo, "kaizen")
    env = hook_env(kaizen_home, pre_commit_home, KAIZEN_PROVIDER="openai",
                   KAIZEN_MODEL="scripted-model", KAIZEN_API_BASE=scripted.url,
                   OPENAI_API_KEY="sk-test")
    subprocess.run([sys.executable, "-m", "pre_commit", "install"], cwd=repo, env=env,
                   check=True, capture_output=True, timeout=60)
    (repo / "stats.py").write_text("import os\n\n\ndef is_missing(x):\n    return x == None\n")
    (repo / "notes.txt").write_text("x == None\n")  # not Python: not given to the hook
    _git(repo, "add", "-A")

    done = commit(repo, env, "add stats")
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert "stats.py:1:8: warning [F401]" in out, out
    assert "stats.py:5:" in out and "[E711]" in out, out
    assert "notes.txt" not in out
    with pytest.raises(subprocess.CalledProcessError):
        _git(repo, "rev-parse", "--verify", "HEAD")  # nothing was committed

    (repo / "stats.py").write_text("def is_missing(x):\n    return x is None\n")
    _git(repo, "add", "-A")
    done = commit(repo, env, "add stats")
    out = done.stdout + done.stderr  # git shows the hook's output on stderr
    assert done.returncode == 0, out
    assert re.search(r"kaizen \(static, offline\)\.+Passed", out), out
    assert _git(repo, "log", "--format=%s") == "add stats"
    assert scripted.requests == []  # --static-only: no model call, not even to a local one


def test_pre_commit_review_hook_uses_the_model(
    tmp_path: Path, hook_repo: tuple[Path, str], pre_commit_home: Path, kaizen_home: Path,
    scripted: ScriptedModel,
):
    """`kaizen-review`: the configured model reviews the staged file; its finding fails the
    hook even though ruff has nothing to say."""
    scripted.enqueue("issue_detector", {"issues": [{
        "line": 2, "severity": "error", "category": "bug", "snippet": "sum(xs) / len(xs)",
        "message": "Division by zero on an empty list", "rationale": "it crashes",
    }]})
    repo = user_repo(tmp_path / "project", hook_repo, "kaizen-review")
    env = hook_env(kaizen_home, pre_commit_home, KAIZEN_PROVIDER="openai",
                   KAIZEN_MODEL="scripted-model", KAIZEN_API_BASE=scripted.url,
                   OPENAI_API_KEY="sk-test")
    (repo / "stats.py").write_text("def mean(xs):\n    return sum(xs) / len(xs)\n")
    _git(repo, "add", "-A")
    done = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "kaizen-review", "--verbose", "--files",
         "stats.py"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=600,
    )
    out = done.stdout + done.stderr
    missing = re.search(r"No module named '([\w.]+)'", out)
    assert not missing, (
        f"kaizen-lsp as pip installs it cannot review: it imports {missing and missing[1]!r}, "
        "which pyproject.toml does not declare\n" + out
    )
    assert done.returncode == 1, out
    assert "stats.py:2:" in out and "Division by zero on an empty list" in out, out
    [request] = scripted.requests_for("issue_detector")
    assert request["body"]["model"] == "scripted-model"


# The README's snippets ---------------------------------------------------------------------


def readme_yaml(marker: str) -> dict[str, Any]:
    """The ```yaml block of the README's CI section that starts with ``# {marker}``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## CI: GitHub Actions and pre-commit$.*?(?=^## )", text, re.S | re.M)
    assert section, "README.md has no 'CI: GitHub Actions and pre-commit' section"
    [block] = [b for b in re.findall(r"^```yaml\n(.*?)^```", section[0], re.S | re.M)
               if b.startswith(f"# {marker}\n")]
    loaded = yaml.safe_load(block)
    assert isinstance(loaded, dict)
    return loaded


def test_readme_workflow_uses_the_action_as_declared():
    workflow = readme_yaml(".github/workflows/kaizen.yml")
    assert workflow["permissions"]["security-events"] == "write"
    [job] = workflow["jobs"].values()
    checkout, kaizen = job["steps"]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["fetch-depth"] == 0  # --diff needs the merge base
    assert kaizen["uses"].startswith("kaizen-lsp/kaizen@")
    assert set(kaizen["with"]) <= set(load_action()["inputs"])
    assert kaizen["with"]["api-key"] == "${{ secrets.OPENAI_API_KEY }}"


def test_readme_pre_commit_config_is_valid(tmp_path: Path):
    clientlib = pytest.importorskip("pre_commit.clientlib", reason="pre-commit (a dev extra)")
    config = readme_yaml(".pre-commit-config.yaml")
    path = tmp_path / ".pre-commit-config.yaml"
    path.write_text(yaml.safe_dump(config))
    [repo] = clientlib.load_config(str(path))["repos"]
    manifest = {h["id"] for h in clientlib.load_manifest(str(HOOKS))}
    assert {h["id"] for h in repo["hooks"]} <= manifest
    assert repo["repo"] == "https://github.com/kaizen-lsp/kaizen"
