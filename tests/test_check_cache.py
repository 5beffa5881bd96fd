"""``kaizen check``'s result cache: a re-run of unchanged code answered without running a
pipeline reports exactly what the normal path reports (every format, exit status, stderr,
dismissals, ``--diff``), and anything a file's findings depend on sends the next run down
the normal path: the file, a file it imports, a setting, the environment, a team rule, a
dismissal.

The real CLI as a subprocess against the scripted model server. Whether a run took the
normal path is read from the database: every pipeline run records a row in ``runs``; a run
the cache answered records none. ``--no-check-cache`` is the normal path on demand.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

from tests.test_cli import kaizen

LIB = "def scale(x, factor):\n    y = x * factor\n    return y\n"
APP = "from lib import scale\ndef area(w, h):\n    return scale(w, h) / 0\n"
ISSUE = {
    "issues": [
        {
            "line": 3,
            "severity": "warning",
            "category": "bug",
            "message": "Returns a value computed from a division by zero",
            "snippet": "return",
        }
    ]
}
# verified on app.py (it still parses, adds no linter finding); refused on lib.py (F841)
FIX = {
    "fixes": [
        {"issue": 1, "start_line": 3, "end_line": 3, "replacement": "    return scale(w, h)\n"}
    ]
}


def runs(home: Path) -> int:
    conn = sqlite3.connect(home / "kaizen.db")
    try:
        return int(conn.execute("select count(*) from runs").fetchone()[0])
    finally:
        conn.close()


def setup(project: Path, scripted) -> None:
    (project / "lib.py").write_text(LIB)
    (project / "app.py").write_text(APP)
    scripted.set_default("issue_detector", ISSUE)
    scripted.set_default("fix_generator", FIX)


class Checker:
    """``kaizen check ARGS`` in ``project``: (exit status, stdout, stderr) and whether the
    run went down the normal path (it recorded runs)."""

    def __init__(self, scripted, home: Path, project: Path) -> None:
        self.scripted, self.home, self.project = scripted, home, project

    def __call__(self, *args: str, **env: str) -> tuple[tuple[int, str, str], bool]:
        before = runs(self.home) if (self.home / "kaizen.db").exists() else 0
        proc = kaizen(["check", "--stats", *args], self.scripted, self.home, self.project, **env)
        assert proc.returncode in (0, 1), proc.stderr
        return (proc.returncode, proc.stdout, proc.stderr), runs(self.home) > before

    def same_as_normal(self, *args: str) -> tuple[int, str, str]:
        """The normal path's report (which stores it), then the cache's: the same."""
        normal, ran = self(*args, "--no-check-cache")
        assert ran
        cached, ran = self(*args)
        assert not ran, "a re-run of unchanged code ran the pipelines"
        assert cached == normal
        return cached


def test_a_rerun_from_the_cache_reports_what_the_normal_path_reports(
    scripted, kaizen_home, project
):
    setup(project, scripted)
    check = Checker(scripted, kaizen_home, project)
    first, ran = check("--format", "json", ".")
    assert ran and first[0] == 1
    found = json.loads(first[1])["findings"]
    assert {f["path"] for f in found} >= {"app.py", "lib.py"}
    assert any(f["fix"] for f in found)  # a fix's edits come back from the cache too
    again, ran = check("--format", "json", ".")
    assert not ran and again[0] == 1
    assert json.loads(again[1])["findings"] == found
    calls = len(scripted.requests)
    for fmt in ("text", "json", "sarif"):
        code, out, err = check.same_as_normal("--format", fmt, ".")
        assert code == 1 and "0 reviewed" in err
    assert len(scripted.requests) == calls  # the normal re-runs took every unit from the cache

    # a dismissal is a write to the database: the next run is the normal path's, which
    # suppresses the finding; then the cache repeats that, --show-suppressed included
    target = next(f for f in found if f["path"] == "app.py" and f["origin"] == "model")
    assert (
        kaizen(["dismiss", target["fingerprint"]], scripted, kaizen_home, project).returncode == 0
    )
    (code, out, _), ran = check("--format", "json", "--show-suppressed", ".")
    assert ran
    report = json.loads(out)
    assert target["fingerprint"] not in [
        f["fingerprint"] for f in report["findings"] if not f.get("suppressed")
    ]
    assert report["suppressed"]["total"] == 1
    cached = check.same_as_normal("--format", "json", "--show-suppressed", ".")
    assert json.loads(cached[1])["suppressed"]["total"] == 1
    text = check.same_as_normal("--show-suppressed", ".")
    assert "Suppressed (1, dismissed before):" in text[1]


def test_whatever_the_findings_depend_on_sends_the_next_run_down_the_normal_path(
    scripted, kaizen_home, project
):
    setup(project, scripted)
    check = Checker(scripted, kaizen_home, project)
    assert check("app.py")[1]
    assert not check("app.py")[1]

    def normal_then_cached(*args: str, **env: str) -> None:
        """After a change: the normal path, then the cache answers with its report."""
        (code, out, _), ran = check(*args, **env)
        assert ran, "a change did not reach the findings"
        (again, report, stats), ran = check(*args, **env)
        assert not ran and (again, report) == (code, out), (_, stats)
        assert " 0 reviewed" in stats  # as a re-run reports it: every unit from the cache

    # a file not checked, whose signature app.py's context pack carries
    sent = len(scripted.requests_for("issue_detector"))
    (project / "lib.py").write_text(LIB.replace("x, factor", "x, factor=2"))
    normal_then_cached("app.py")
    assert len(scripted.requests_for("issue_detector")) > sent  # its unit changed: asked again

    # the checked file itself
    (project / "app.py").write_text(APP.replace("/ 0", "/ 1"))
    normal_then_cached("app.py")

    # a setting in the project's file
    (project / "kaizen.toml").write_text("[review]\nmin_confidence = 0.0\n")
    normal_then_cached("app.py")

    # a team rule: in every prompt, so every unit is asked again
    sent = len(scripted.requests_for("issue_detector"))
    (project / "AGENTS.md").write_text("Division by zero is always a bug here.\n")
    normal_then_cached("app.py")
    assert len(scripted.requests_for("issue_detector")) > sent

    # the command line's model, a provider's environment
    normal_then_cached("--model", "scripted-2", "app.py")
    normal_then_cached("app.py", OPENAI_ORGANIZATION="acme")

    # the command line: another pipeline, other files
    assert check("--pipeline", "refactor", "app.py")[1]
    assert check("app.py", "lib.py")[1]
    assert not check("app.py", "lib.py")[1]


def test_diff_scope_from_the_cache(scripted, kaizen_home, project):
    setup(project, scripted)
    subprocess.run(["git", "-C", str(project), "add", "."], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(project),
            "-c",
            "user.email=t@t",
            "-c",
            "user.name=t",
            "commit",
            "-qm",
            "base",
        ],
        check=True,
    )
    check = Checker(scripted, kaizen_home, project)
    (project / "app.py").write_text(APP.replace("def area(w, h):", "def area(w, h):  # m2"))
    first, ran = check("--diff=HEAD", "--format", "json")
    assert ran
    cached = check.same_as_normal("--diff=HEAD", "--format", "json")
    assert cached[:2] == first[:2]  # (the stats differ: the first run asked the model)
    assert json.loads(first[1])["findings"] == []  # line 3's finding: not a changed line
    # --all-findings filters the same stored results differently (line 3 is in the unit)
    wide = check.same_as_normal("--diff=HEAD", "--all-findings", "--format", "json")
    assert [f["line"] for f in json.loads(wide[1])["findings"]] == [3]
    # the diff moves on (another line changed): the normal path
    (project / "app.py").write_text(APP.replace("/ 0", "/ 0  # m3"))
    assert check("--diff=HEAD", "--format", "json")[1]


def test_its_own_files_inside_the_project_are_no_input(scripted, project):
    """A database (and this cache) kept inside the project, a report written into it with
    ``--output``: the next run is still answered (they are not part of the key)."""
    setup(project, scripted)
    home = project / ".kaizen-home"
    check = Checker(scripted, home, project)
    args = ("--format", "sarif", "--output", "kaizen.sarif", ".")
    assert check(*args)[1]
    report = (project / "kaizen.sarif").read_text()
    assert not check(*args)[1]
    assert (project / "kaizen.sarif").read_text() == report


def test_the_workspace_is_known_by_content_and_a_pipe_is_never_opened(tmp_path):
    """An edit that keeps the size and the modification time still changes the key; a
    named pipe in the project (opening it would wait for a writer) is listed, not read."""
    from kaizen.app.check_key import workspace_digest

    module = tmp_path / "a.py"
    module.write_text("x = 1\n")
    times = module.stat()
    before = workspace_digest(tmp_path)
    module.write_text("x = 2\n")
    os.utime(module, ns=(times.st_atime_ns, times.st_mtime_ns))
    assert module.stat().st_mtime_ns == times.st_mtime_ns
    assert workspace_digest(tmp_path) != before
    if hasattr(os, "mkfifo"):  # (not on Windows)
        os.mkfifo(tmp_path / "pipe")
        assert workspace_digest(tmp_path) != before


def test_a_damaged_entry_costs_speed_only(scripted, kaizen_home, project):
    setup(project, scripted)
    check = Checker(scripted, kaizen_home, project)
    first, ran = check("app.py")
    assert ran
    (entry,) = (kaizen_home / "check-cache").glob("*.json")
    for damaged in ('{"format": 1, "key": {}, "database": [[]], "stampedAt": 0}', "{", "[]"):
        entry.write_text(damaged)
        again, ran = check("app.py")
        assert ran and again[:2] == first[:2]  # the normal path, which stores a good entry
    assert not check("app.py")[1]
