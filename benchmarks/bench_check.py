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

- Kaizen's own overhead per file on a larger library (``--corpus``, default rich: 100 files;
  or a repository on this machine, e.g. a bare mirror of httpx: nothing is downloaded),
  an instant model: files/s in all, the cost of each further file beyond half the files' run
  (start-up is paid once), peak RSS; ``--baseline-server`` runs another tree beside it.

    python benchmarks/bench_check.py [--delay 1.0] [--corpus rich] [--repeat 3]
    python benchmarks/bench_check.py --overhead-only --baseline-server ../main/server
    python benchmarks/bench_check.py --overhead-only --corpus /work/.mirror/encode+httpx/repo
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
from benchmarks.common import save
from tests.fixtures.scripted_model import ScriptedModel

ROOT = Path(__file__).resolve().parent.parent


def corpus(into: Path, source: str = "click") -> tuple[Path, int, int]:
    """A git repository holding a real library; (path, files, lines).

    ``source`` is an installed package's import name (its sources are copied), or the path
    of a repository: a bare git mirror (e.g. ``/work/.mirror/encode+httpx/repo``: its HEAD
    is archived, nothing is downloaded) or a directory (copied). The files counted are those
    ``kaizen check .`` reviews: ``corpus_files``."""
    path = Path(source)
    if path.is_dir() and (path / "HEAD").is_file() and (path / "objects").is_dir():
        repo = into / f"{path.parent.name if path.name in ('repo', '.git') else path.name}-src"
        repo.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "--git-dir", str(path), "archive", "HEAD"], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", str(repo)], input=archive.stdout, check=True)
    elif path.is_dir():
        repo = into / f"{path.name}-src"
        shutil.copytree(path, repo, ignore=shutil.ignore_patterns("__pycache__", ".git"))
    else:
        module = importlib.import_module(source)
        target = into / f"{source}-src" / source
        shutil.copytree(
            Path(str(module.__file__)).parent, target, ignore=shutil.ignore_patterns("__pycache__")
        )
        repo = target.parent
    files = corpus_files(repo)
    lines = sum(len(f.read_text(encoding="utf-8", errors="replace").splitlines()) for f in files)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "corpus")
    return repo, len(files), lines


def corpus_files(repo: Path) -> list[Path]:
    """The files ``kaizen check .`` reviews in ``repo`` (its suffixes and skipped folders)."""
    from kaizen.cli.check import iter_files

    return sorted(p.resolve() for p in iter_files([str(repo)]))


def corpus_name(source: str) -> str:
    """The corpus as the results name it: a package with its version, a repository with its
    commit."""
    path = Path(source)
    if path.is_dir():
        git_dir = path if (path / "HEAD").is_file() else path / ".git"
        head = subprocess.run(
            ["git", "--git-dir", str(git_dir), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        return f"{path} {head[:12] or '(not a git repository)'}"
    return f"{source} {metadata.version(source)}"


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.email=b@b", "-c", "user.name=b", *args],
        check=True,
        capture_output=True,
    )


def run_check(
    repo: Path,
    home: Path,
    scripted: ScriptedModel,
    *args: str,
    server: Path = ROOT / "server",
    paths: tuple[str, ...] = (".",),
) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(
        KAIZEN_HOME=str(home),
        PYTHONPATH=str(server),
        KAIZEN_PROVIDER="openai",
        KAIZEN_MODEL="bench",
        KAIZEN_API_BASE=scripted.url,
        OPENAI_API_KEY="sk-bench",
    )
    before = len(scripted.requests_for("issue_detector"))
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kaizen", "check", "--no-static", "--quiet", *args, *paths],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # the report is read whole once the process ended (a few lines: the pipe never fills)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    stdout = proc.stdout.read() if proc.stdout else ""
    stderr = proc.stderr.read() if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise RuntimeError(f"kaizen check exited {code}: {stderr[-2000:]}")
    return {
        "wall_s": round(wall, 2),
        "model_calls": len(scripted.requests_for("issue_detector")) - before,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "max_in_flight": scripted.max_in_flight,
        "report": hashlib.sha1(stdout.encode()).hexdigest()[:12],
    }


def overhead(base: Path, scripted: ScriptedModel, args: argparse.Namespace) -> dict[str, Any]:
    """Kaizen's own cost per file with an instantly answering model, on a larger library.

    Each repetition checks the whole corpus and then every other file of it (the same fixed
    cost: process start, imports, the database, litellm's import overlapping the planning),
    each in a fresh process with a fresh database. Per-file overhead = (whole - half) /
    (files - half files): the cost each further file adds once start-up is paid, in CPU
    time (user + sys; the wall-time difference is reported too, but it swings by 2x between
    repetitions on a loaded machine). Each whole run is followed by a re-run of the
    unchanged code on its database. With ``--baseline-server DIR`` (e.g. main's ``server``)
    the same runs are made with that tree, interleaved, so before/after is a same-run ratio.
    """
    repo, files, lines = corpus(base / "overhead", args.corpus)
    half = tuple(str(p.relative_to(repo.resolve())) for p in corpus_files(repo)[::2])
    trees = {"this": ROOT / "server"}
    if args.baseline_server:
        trees["baseline"] = Path(args.baseline_server).resolve()
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        t: {"all": [], "half": [], "rerun": []} for t in trees
    }
    for rep in range(args.repeat):
        for name, tree in trees.items():
            home = base / f"o-{name}-{rep}"
            runs[name]["all"].append(run_check(repo, home / "a", scripted, server=tree))
            runs[name]["rerun"].append(run_check(repo, home / "a", scripted, server=tree))
            runs[name]["half"].append(
                run_check(repo, home / "h", scripted, server=tree, paths=half)
            )
    out: dict[str, Any] = {"corpus": corpus_name(args.corpus)}
    out.update(files=files, lines=lines, repeat=args.repeat)
    for name, by in runs.items():
        whole = statistics.median(r["wall_s"] for r in by["all"])
        part = statistics.median(r["wall_s"] for r in by["half"])
        per_file_ms = 1000 * max(0.0, whole - part) / (files - len(half))
        cpu_whole = statistics.median(r["cpu_s"] for r in by["all"])
        cpu_part = statistics.median(r["cpu_s"] for r in by["half"])
        cpu_per_file_ms = 1000 * max(0.0, cpu_whole - cpu_part) / (files - len(half))
        out[name] = {
            "whole_s": round(whole, 2),
            "half_s": round(part, 2),
            "files_per_s": round(files / whole, 2),
            "per_file_overhead_ms": round(per_file_ms, 1),
            # CPU (user + sys) is the overhead's measure: the wall-time difference swings
            # by 2x between repetitions on a loaded machine, CPU by a few percent
            "files_per_s_past_start": (
                round(1000 / cpu_per_file_ms, 1) if cpu_per_file_ms else None
            ),
            "cpu_whole_s": round(cpu_whole, 2),
            "cpu_per_file_ms": round(cpu_per_file_ms, 1),
            "cpu_start_s": round(cpu_whole - files * cpu_per_file_ms / 1000, 2),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in by["all"]),
            "rerun_s": round(statistics.median(r["wall_s"] for r in by["rerun"]), 2),
            "rerun_cpu_s": round(statistics.median(r["cpu_s"] for r in by["rerun"]), 2),
            # each re-run against the whole run it followed (same database), median of pairs
            "rerun_cpu_pct": _pct_of_first(by, "cpu_s"),
            "rerun_wall_pct": _pct_of_first(by, "wall_s"),
            # a re-run reports what the run before it reported (same stdout)
            "rerun_same_report": all(
                a["report"] == r["report"] for a, r in zip(by["all"], by["rerun"], strict=True)
            ),
            "rerun_model_calls": max(r["model_calls"] for r in by["rerun"]),
            "model_calls": by["all"][0]["model_calls"],
            "runs": by,
        }
    if "baseline" in out:
        out["per_file_vs_baseline_pct"] = round(
            100 * out["this"]["per_file_overhead_ms"] / out["baseline"]["per_file_overhead_ms"], 1
        )
        out["cpu_per_file_vs_baseline_pct"] = round(
            100 * out["this"]["cpu_per_file_ms"] / out["baseline"]["cpu_per_file_ms"], 1
        )
        out["rerun_vs_baseline_pct"] = round(
            100 * out["this"]["rerun_s"] / out["baseline"]["rerun_s"], 1
        )
        out["whole_vs_baseline_pct"] = round(
            100 * out["this"]["whole_s"] / out["baseline"]["whole_s"], 1
        )
    return out


def _pct_of_first(by: dict[str, list[dict[str, Any]]], measure: str) -> float:
    pairs = zip(by["all"], by["rerun"], strict=True)
    return round(statistics.median(100 * r[measure] / a[measure] for a, r in pairs), 1)


def overhead_lines(o: dict[str, Any]) -> str:
    rows = [
        f"instant model on {o['corpus']} ({o['files']} files, {o['lines']} lines), "
        f"median of {o['repeat']}:"
    ]
    for name in ("this", "baseline"):
        if name in o:
            r = o[name]
            rows.append(
                f"  {name}: {r['files_per_s']} files/s in all ({r['whole_s']} s; half the files "
                f"{r['half_s']} s); CPU {r['cpu_whole_s']} s = {r['cpu_start_s']} s start-up + "
                f"{r['cpu_per_file_ms']} ms a further file (= {r['files_per_s_past_start']} "
                f"files/s past start-up, target >= 30; wall {r['per_file_overhead_ms']} ms, "
                "noisy); "
                f"peak RSS {r['peak_rss_mb']} MB; re-run of unchanged code {r['rerun_s']} s, "
                f"CPU {r['rerun_cpu_s']} s ({r['rerun_cpu_pct']}% of the first run's CPU, "
                f"{r['rerun_wall_pct']}% of its wall time, target < 10%; "
                f"{r['rerun_model_calls']} calls; same report: {r['rerun_same_report']})"
            )
    if "per_file_vs_baseline_pct" in o:
        rows.append(
            f"  this tree against the baseline: CPU per file {o['cpu_per_file_vs_baseline_pct']}%"
            f" (wall {o['per_file_vs_baseline_pct']}%),"
            f" whole run {o['whole_vs_baseline_pct']}%, re-run {o['rerun_vs_baseline_pct']}%"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument(
        "--corpus",
        default="rich",
        help="the overhead's library: an installed package, or a repository's path (a bare "
        "git mirror such as /work/.mirror/encode+httpx/repo, or a directory)",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-server", help="another server/ tree to compare, same run")
    parser.add_argument("--overhead-only", action="store_true")
    args = parser.parse_args()
    if args.overhead_only:
        with tempfile.TemporaryDirectory() as tmp, ScriptedModel() as scripted:
            scripted.set_default("issue_detector", {"issues": []})
            result = overhead(Path(tmp), scripted, args)
        print(overhead_lines(result))
        save("check_overhead", result)
        return
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
        out["overhead"] = overhead(base, scripted, args)
    print(
        f"{out['corpus']}: {files} files, {lines} lines; model answers after {args.delay} s\n"
        f"--jobs 1: {serial['wall_s']} s, {serial['model_calls']} calls; default --jobs: "
        f"{parallel['wall_s']} s ({out['default_vs_jobs_1_pct']}% of --jobs 1, target <= 25%), "
        f"at most {parallel['max_in_flight']} in flight\n"
        f"second run: {again['model_calls']} calls, {again['wall_s']} s "
        f"({out['second_vs_first_pct']}% of the first, target < 10%)\n"
        f"--diff after a one-function change: {out['diff']['model_calls']} model call(s)\n"
        f"instant model: {instant['files_per_s']} files/s, peak RSS {instant['peak_rss_mb']} MB\n"
        + overhead_lines(out["overhead"])
    )
    save("check", out)


if __name__ == "__main__":
    main()
