"""``kaizen check`` at CI scale: concurrency, the shared review cache, --diff, --shard.

The real CLI as a subprocess against the scripted model server, which counts the requests
it answers at once (``max_in_flight``) and records every prompt.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from kaizen.app.check_run import in_shard
from kaizen.app.git_diff import parse_hunks
from tests.test_cli import kaizen

FUNCS = "def f{n}(x):\n    return x / {n}\n\n\ndef g{n}(y):\n    return y * {n}\n"


def issue_on(line: int, message: str) -> dict:
    return {"issues": [{"line": line, "severity": "warning", "category": "bug", "message": message}]}


def write_files(root: Path, count: int) -> list[str]:
    names = []
    for n in range(1, count + 1):
        (root / f"mod{n}.py").write_text(FUNCS.format(n=n))
        names.append(f"mod{n}.py")
    return names


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.email=t@t", "-c", "user.name=t", *args],
        check=True,
        capture_output=True,
    )


def test_jobs_run_files_concurrently_with_a_deterministic_order(scripted, kaizen_home, project):
    write_files(project, 6)
    scripted.set_default("issue_detector", {"_delay": 0.5, "_then": issue_on(2, "divides")})
    proc = kaizen(
        ["check", "--no-static", "--jobs", "4", "--format", "json", "."],
        scripted,
        kaizen_home,
        project,
    )
    assert proc.returncode == 1, proc.stderr
    assert scripted.max_in_flight >= 2  # more than one request in flight
    assert scripted.max_in_flight <= 4  # never more than --jobs
    paths = [(f["path"], f["line"]) for f in json.loads(proc.stdout)["findings"]]
    assert paths == sorted(paths) and len(paths) == 6

    # --jobs 1 keeps one request in flight
    scripted.max_in_flight = 0
    proc = kaizen(
        ["check", "--no-static", "--jobs", "1", "--no-cache", "mod1.py", "mod2.py"],
        scripted,
        kaizen_home,
        project,
    )
    assert proc.returncode == 1, proc.stderr
    assert scripted.max_in_flight == 1


def test_models_max_concurrency_bounds_requests_per_provider(scripted, kaizen_home, project):
    write_files(project, 5)
    (project / "kaizen.toml").write_text("[models]\nmax_concurrency = 2\n")
    scripted.set_default("issue_detector", {"_delay": 0.4, "_then": {"issues": []}})
    proc = kaizen(["check", "--no-static", "--jobs", "5", "."], scripted, kaizen_home, project)
    assert proc.returncode == 0, proc.stderr
    assert scripted.max_in_flight == 2


def test_a_second_run_on_unchanged_code_makes_no_model_call(scripted, kaizen_home, project):
    write_files(project, 3)
    scripted.set_default("issue_detector", issue_on(2, "divides"))
    first = kaizen(["check", "--no-static", "--stats", "."], scripted, kaizen_home, project)
    assert first.returncode == 1, first.stderr
    calls = len(scripted.requests_for("issue_detector"))
    assert calls == 3
    assert "3 files, 6 reviewed, 0 cached" in first.stderr  # two functions a file
    second = kaizen(["check", "--no-static", "--stats", "."], scripted, kaizen_home, project)
    assert second.returncode == 1, second.stderr
    assert len(scripted.requests_for("issue_detector")) == calls
    assert "3 files, 0 reviewed, 6 cached" in second.stderr
    assert second.stdout == first.stdout  # the same findings, from the cache

    forced = kaizen(["check", "--no-static", "--no-cache", "."], scripted, kaizen_home, project)
    assert forced.returncode == 1, forced.stderr
    assert len(scripted.requests_for("issue_detector")) == 2 * calls


def test_diff_reviews_only_the_touched_unit_and_reports_changed_lines(
    scripted, kaizen_home, project
):
    write_files(project, 2)
    git(project, "add", ".")
    git(project, "commit", "-qm", "base")
    git(project, "branch", "base-branch")
    text = (project / "mod2.py").read_text().replace("return y * 2", "return y * 20")
    (project / "mod2.py").write_text(text)
    # the model flags the changed line and another line of the same unit
    scripted.set_default(
        "issue_detector",
        {
            "issues": [
                {"line": 6, "severity": "warning", "category": "bug", "message": "changed"},
                {"line": 5, "severity": "warning", "category": "bug", "message": "untouched"},
            ]
        },
    )
    proc = kaizen(
        ["check", "--no-static", "--diff=base-branch", "--format", "json", "."],
        scripted,
        kaizen_home,
        project,
    )
    assert proc.returncode == 1, proc.stderr
    prompts = scripted.prompts_for("issue_detector")
    assert len(prompts) == 1  # one file, one unit
    assert "return y * 20" in prompts[0] and "return x / 2" not in prompts[0]
    assert [(f["path"], f["line"], f["message"]) for f in json.loads(proc.stdout)["findings"]] == [
        ("mod2.py", 6, "changed")
    ]
    every = kaizen(
        ["check", "--no-static", "--diff=base-branch", "--all-findings", "--format", "json"],
        scripted,
        kaizen_home,
        project,
    )
    assert {f["message"] for f in json.loads(every.stdout)["findings"]} == {"changed", "untouched"}

    bad = kaizen(["check", "--diff=no-such-ref", "."], scripted, kaizen_home, project)
    assert bad.returncode == 2
    assert "no-such-ref" in bad.stderr and "Traceback" not in bad.stderr


def test_shards_split_the_files_stably_and_completely(scripted, kaizen_home, project):
    names = write_files(project, 9)
    seen: list[str] = []
    for i in (1, 2, 3):
        proc = kaizen(
            ["check", "--static-only", "--stats", "--shard", f"{i}/3", "--format", "json", *names],
            scripted,
            kaizen_home,
            project,
        )
        assert proc.returncode in (0, 1), proc.stderr
        summary = [line for line in proc.stderr.splitlines() if " files, " in line]
        count = int(summary[-1].split("kaizen: ")[1].split(" file")[0])
        seen += [n for n in names if in_shard(Path(n), i, 3)]
        assert count == len([n for n in names if in_shard(Path(n), i, 3)])
    assert sorted(seen) == sorted(names)
    bad = kaizen(["check", "--shard", "4/3", "."], scripted, kaizen_home, project)
    assert bad.returncode == 2 and "--shard 4/3" in bad.stderr


def test_no_progress_bar_when_not_a_terminal(scripted, kaizen_home, project):
    write_files(project, 2)
    proc = kaizen(["check", "--static-only", "."], scripted, kaizen_home, project)
    assert "\x1b[" not in proc.stderr and "━" not in proc.stderr
    quiet = kaizen(["check", "--static-only", "--quiet", "."], scripted, kaizen_home, project)
    assert quiet.stderr == ""


def test_parse_hunks() -> None:
    diff = (
        "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n"
        "@@ -3 +3,2 @@\n-x\n+y\n+z\n@@ -10,2 +11,0 @@\n-gone\n-gone\n"
        "diff --git a/old.py b/old.py\n--- a/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n"
    )
    assert parse_hunks(diff) == {"a.py": {3, 4, 11}}


def test_litellm_is_imported_ahead_only_when_the_run_will_call_a_model(
    scripted, kaizen_home, project, monkeypatch
):
    """``kaizen check`` starts litellm's import at once only when a model is configured and
    the review cache cannot answer: never for a static + learnings run, nor a cached re-run."""
    from kaizen.app.services import Services
    from kaizen.cli.check import litellm_needed_ahead
    from kaizen.config import Settings

    monkeypatch.setenv("KAIZEN_HOME", str(kaizen_home))
    files = [project / name for name in write_files(project, 2)]
    model = {"autofix": {"provider": "openai", "model": "scripted"}}

    def needed(options: dict, pipelines: list[str] = ["autofix"]) -> bool:  # noqa: B006
        services = Services(Settings.model_validate(options))
        services.open_store()
        try:
            return litellm_needed_ahead(services, pipelines, files)
        finally:
            assert services.store is not None
            services.store.close()

    assert not needed({})  # nothing configured: static + learnings, no litellm
    assert not needed({"layers": {"balanced": []}})
    assert not needed(model, [])  # nothing to run
    assert needed(model)  # a model and an empty cache: the first file will call it
    assert needed({"layers": {"balanced": ["openai/scripted"]}})
    assert needed({"autofix": {"provider": "local"}})

    scripted.set_default("issue_detector", {"issues": []})
    proc = kaizen(["check", "--no-static", "."], scripted, kaizen_home, project)
    assert proc.returncode == 0, proc.stderr
    assert not needed(model)  # the cache answers a re-run: no import ahead
    assert needed({**model, "review": {"cache": False}})  # --no-cache: every unit is sent
