"""``kaizen rules``, ``kaizen learnings edit`` and the rules in ``kaizen metrics``, run as the
command line runs them (``kaizen.cli.main.main``) over a real database and a real git
repository; pull requests go to the GitHub REST fake."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from kaizen.cli.main import main
from kaizen.core.findings import Finding
from kaizen.memory.store import Store
from tests.fixtures import fake_github as fakes
from tests.fixtures.fake_github import TEST_TOKEN, FakeGitHub

REPO = "github.com/acme/widgets"
fake_github = fakes.fake_github  # the fixture


@pytest.fixture
def repo(project: Path, kaizen_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project as the current directory, its database seeded with outcomes: performance
    findings dismissed under tests/ (9), security findings accepted in src/ (20)."""
    monkeypatch.chdir(project)
    db = kaizen_home / "cli.db"
    monkeypatch.setenv("KAIZEN_DATABASE", str(db))
    monkeypatch.setenv("KAIZEN_HOME", str(kaizen_home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(project.parent / "gitconfig"))
    store = Store.open(str(db))
    try:
        for code, folder, status, n in (
            ("performance", "tests", "rejected", 9),
            ("security", "src", "accepted", 20),
        ):
            for i in range(n):
                path = project / folder / f"m{i}.py"
                run = store.start_run("autofix", path.as_uri(), REPO, "python", None)
                f = Finding("autofix", code, "warning", 1, 1, f"{code} {i}", code=code)
                f.fingerprint = f"{code}{i}"
                store.save_findings(run, REPO, path.as_uri(), "python", [f], shown=False)
                store.set_outcome(REPO, f.fingerprint, status)
    finally:
        store.close()
    return project


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_suggest_accept_reject_list(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rules", "--format", "json", "suggest")
    proposals = {p["id"]: p for p in json.loads(out)["proposals"]}
    assert code == 0
    assert set(proposals) == {"learned/no-performance-tests", "learned/check-security-src"}
    assert proposals["learned/no-performance-tests"]["evidence"]["dismissed"] == 9

    code, out, _ = run(capsys, "rules", "suggest")
    assert "Beta(1, 10)" in out and "Do not report performance findings in tests/**" in out

    code, out, _ = run(capsys, "rules", "accept", "learned/no-performance-tests")
    assert code == 0 and "Accepted learned/no-performance-tests" in out
    learned = (repo / ".kaizen/rules/learned.md").read_text(encoding="utf-8")
    assert "id: learned/no-performance-tests" in learned and "dismissed: 9" in learned

    code, out, _ = run(capsys, "rules", "reject", "learned/check-security-src", "--reason", "no")
    assert code == 0
    code, out, _ = run(capsys, "rules", "--format", "json", "suggest")
    assert json.loads(out)["proposals"] == []  # one accepted, one rejected: none left

    code, out, err = run(capsys, "rules", "accept", "learned/nonsense")
    assert code == 2 and "no current proposal learned/nonsense" in err

    code, out, _ = run(capsys, "rules", "list")
    assert "learned   learned/no-performance-tests" in out

    code, out, _ = run(capsys, "rules", "export", "--agents")
    assert code == 0 and "Wrote 1 learned rule" in out
    code, out, _ = run(capsys, "rules", "export", "--agents")
    assert "Unchanged" in out
    assert "Do not report performance findings in tests/**" in (repo / "AGENTS.md").read_text()


def test_accept_with_pr_opens_a_pull_request_with_the_rules_file(
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    fake_github: FakeGitHub,
    monkeypatch,
) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "init"],
        check=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
            "PATH": "/usr/bin:/bin",
        },
    )
    remote = fake_github.add_repo("acme/widgets", {"README.md": "# widgets\n"})
    (repo / "kaizen.toml").write_text(f'[github]\nbase_url = "{fake_github.base_url}"\n')
    monkeypatch.setenv("GITHUB_TOKEN", TEST_TOKEN)
    code, out, err = run(capsys, "rules", "accept", "--pr", "learned/no-performance-tests")
    assert code == 0, err
    assert "Opened " in out
    [pull] = remote.pulls
    files = remote.files_at(pull["head"]["ref"])
    assert "id: learned/no-performance-tests" in files[".kaizen/rules/learned.md"]
    assert TEST_TOKEN not in pull["body"]


def test_learnings_edit(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kaizen.config import Settings
    from kaizen.memory.insights import InsightInput, record
    from kaizen.memory.loop import LearningLoop

    store = Store.open(str(repo.parent / "kaizen-home" / "cli.db"))
    try:
        loop = LearningLoop(store, Settings())
        [insight] = record(
            store.engine,
            loop.embedder,
            [InsightInput("finding_rejected", "bug", "Magic numbers are fine", "", REPO, "python")],
        )
    finally:
        store.close()
    code, out, _ = run(
        capsys, "learnings", "edit", str(insight), "--text", "Magic numbers are fine in tests only"
    )
    assert code == 0 and "now reads: Magic numbers are fine in tests only" in out
    code, out, _ = run(capsys, "learnings", "--format", "json", "search", "tests only")
    assert json.loads(out)[0]["summary"] == "Magic numbers are fine in tests only"
    code, _, err = run(capsys, "learnings", "edit", "99999", "--text", "x")
    assert code == 1 and "no learning with id 99999" in err


def test_metrics_count_rules_by_source(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "rules", "accept", "learned/no-performance-tests")
    (repo / "AGENTS.md").write_text("Prefer pathlib.\n")
    (repo / ".kaizen/rules/style.yml").write_text(
        "id: no-eq-none\nlanguage: python\nrule: {pattern: $A == None}\nfix: $A is None\n"
        "metadata: {source: promoted}\n"
    )
    code, out, _ = run(capsys, "metrics", "--format", "json")
    rules = json.loads(out)["rules"]
    assert code == 0
    assert {s: rules["bySource"][s]["rules"] for s in ("written", "learned", "promoted")} == {
        "written": 1,
        "learned": 1,
        "promoted": 1,
    }
    code, out, _ = run(capsys, "metrics")
    assert "Rules by source" in out and "learned" in out


def test_kaizen_check_applies_the_review_policy(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "tests").mkdir(exist_ok=True)
    (repo / "tests" / "a.py").write_text("import os\n")
    code, out, _ = run(capsys, "check", "--static-only", "--format", "json", "tests/a.py")
    assert code == 1 and "F401" in out
    (repo / "kaizen.toml").write_text(
        '[[review.paths]]\nglob = "tests/**"\ndisable = ["F401"]\n'
    )
    code, out, _ = run(capsys, "check", "--static-only", "--show-suppressed", "tests/a.py")
    assert code == 0, out
    assert "review.paths tests/** disables F401" in out
