"""``kaizen check`` at CI scale on a real library (issue: check at CI scale).

The corpus is click (a real open-source library of ~12,700 lines in 17 files, installed with
Kaizen because litellm depends on it), copied into a temporary git repository. The
scripted OpenAI-compatible model answers every request after ``--delay`` seconds (1 s).

Measured, each in a fresh process and (unless said) a fresh database:
- wall time with the default ``--jobs`` against ``--jobs 1`` (target <= 25%);
- a second run on unchanged code: model calls (target 0) and its wall time against the
  first run's (target < 10%);
- ``--diff`` after a one-function change: model calls (target: that unit only);
- peak RSS of the check process and files/s with an instantly answering model.

    python benchmarks/bench_check.py [--delay 1.0]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import save
from tests.fixtures.scripted_model import ScriptedModel

ROOT = Path(__file__).resolve().parent.parent


def corpus(into: Path) -> tuple[Path, int, int]:
    """A git repository holding click's sources; (path, files, lines)."""
    import click

    source = Path(click.__file__).parent
    target = into / "click-src" / "click"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    repo = target.parent
    files = sorted(target.rglob("*.py"))
    lines = sum(len(f.read_text(encoding="utf-8").splitlines()) for f in files)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "click")
    return repo, len(files), lines


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.email=b@b", "-c", "user.name=b", *args],
        check=True,
        capture_output=True,
    )


def run_check(repo: Path, home: Path, scripted: ScriptedModel, *args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(
        KAIZEN_HOME=str(home),
        PYTHONPATH=str(ROOT / "server"),
        KAIZEN_PROVIDER="openai",
        KAIZEN_MODEL="bench",
        KAIZEN_API_BASE=scripted.url,
        OPENAI_API_KEY="sk-bench",
    )
    before = len(scripted.requests_for("issue_detector"))
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kaizen", "check", "--no-static", "--quiet", *args, "."],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    stderr = proc.stderr.read() if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise RuntimeError(f"kaizen check exited {code}: {stderr[-2000:]}")
    return {
        "wall_s": round(wall, 2),
        "model_calls": len(scripted.requests_for("issue_detector")) - before,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "max_in_flight": scripted.max_in_flight,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=1.0)
    args = parser.parse_args()
    out: dict[str, Any] = {"corpus": f"click {metadata.version('click')}"}
    with tempfile.TemporaryDirectory() as tmp, ScriptedModel() as scripted:
        base = Path(tmp)
        repo, files, lines = corpus(base)
        out.update(files=files, lines=lines)
        scripted.set_default("issue_detector", {"_delay": args.delay, "_then": {"issues": []}})

        serial = run_check(repo, base / "h1", scripted, "--jobs", "1")
        scripted.max_in_flight = 0
        parallel = run_check(repo, base / "h8", scripted)
        again = run_check(repo, base / "h8", scripted)
        out["jobs_1"] = serial
        out["jobs_default"] = parallel
        out["second_run"] = again
        out["default_vs_jobs_1_pct"] = round(100 * parallel["wall_s"] / serial["wall_s"], 1)
        out["second_vs_first_pct"] = round(100 * again["wall_s"] / parallel["wall_s"], 1)

        # --diff after a one-function change
        path = repo / "click" / "utils.py"
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("def echo(", "def echo(  # changed\n    ", 1))
        out["diff"] = run_check(repo, base / "h8", scripted, "--diff=main")
        path.write_text(text)

        # an instant model: where does the time of a file go
        scripted.set_default("issue_detector", {"issues": []})
        instant = run_check(repo, base / "h0", scripted)
        instant["files_per_s"] = round(files / instant["wall_s"], 2)
        out["instant_model"] = instant
    print(
        f"{out['corpus']}: {files} files, {lines} lines; model answers after {args.delay} s\n"
        f"--jobs 1: {serial['wall_s']} s, {serial['model_calls']} calls; default --jobs: "
        f"{parallel['wall_s']} s ({out['default_vs_jobs_1_pct']}% of --jobs 1, target <= 25%), "
        f"at most {parallel['max_in_flight']} in flight\n"
        f"second run: {again['model_calls']} calls, {again['wall_s']} s "
        f"({out['second_vs_first_pct']}% of the first, target < 10%)\n"
        f"--diff after a one-function change: {out['diff']['model_calls']} model call(s)\n"
        f"instant model: {instant['files_per_s']} files/s, peak RSS {instant['peak_rss_mb']} MB"
    )
    save("check", out)


if __name__ == "__main__":
    main()
