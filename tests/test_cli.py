"""``kaizen check`` and ``kaizen pr`` as a user runs them: subprocesses, real files."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import jsonschema

from tests.conftest import server_env
from tests.fixtures.fake_github import TEST_TOKEN, running_fake_github
from tests.test_refactor import IMPROVED, SOURCE, commit_all, script_refactor

# The parts of the SARIF 2.1.0 schema that make a log readable by GitHub code scanning.
SARIF_REQUIRED = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "$schema": {"type": "string"},
        "runs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["tool"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "rules": {
                                        "type": "array",
                                        "items": {"type": "object", "required": ["id"]},
                                    },
                                },
                            },
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message"],
                            "properties": {
                                "ruleId": {"type": "string"},
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "message": {"type": "object", "required": ["text"]},
                                "locations": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "physicalLocation": {
                                                "type": "object",
                                                "required": ["artifactLocation"],
                                                "properties": {
                                                    "artifactLocation": {
                                                        "type": "object",
                                                        "required": ["uri"],
                                                    },
                                                    "region": {
                                                        "type": "object",
                                                        "required": ["startLine"],
                                                        "properties": {
                                                            "startLine": {"minimum": 1},
                                                            "startColumn": {"minimum": 1},
                                                        },
                                                    },
                                                },
                                            },
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}

BUGGY = "def mean(xs):\n    return sum(xs) / len(xs)\n"
ISSUE = {
    "issues": [
        {
            "line": 2,
            "severity": "error",
            "category": "bug",
            "message": "Division by zero on an empty list",
            "snippet": "len(xs)",
        }
    ]
}


def kaizen(args: list[str], scripted, home: Path, cwd: Path, **env: str):
    environment = server_env(
        home,
        KAIZEN_PROVIDER="openai",
        KAIZEN_MODEL="scripted",
        KAIZEN_API_BASE=scripted.url,
        OPENAI_API_KEY="sk-test",
        **env,
    )
    environment.update(
        {
            "KAIZEN_REFACTOR_PROVIDER": "openai",
            "KAIZEN_REFACTOR_MODEL": "scripted",
            "KAIZEN_REFACTOR_API_BASE": scripted.url,
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "kaizen", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=120,
    )


def test_check_text_format_and_exit_code(scripted, kaizen_home, project):
    (project / "m.py").write_text(BUGGY)
    scripted.enqueue("issue_detector", ISSUE)
    proc = kaizen(["check", "--no-static", "m.py"], scripted, kaizen_home, project)
    assert proc.returncode == 1, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert re.fullmatch(
        r"m\.py:2:\d+: error \[bug\] Division by zero on an empty list \(openai/scripted\)", first
    )


def test_check_clean_file_exits_zero(scripted, kaizen_home, project):
    (project / "ok.py").write_text("x = 1\n")
    proc = kaizen(["check", "--no-static", "ok.py"], scripted, kaizen_home, project)
    assert proc.returncode == 0 and "No findings." in proc.stdout


def test_check_sarif_validates(scripted, kaizen_home, project):
    (project / "m.py").write_text(BUGGY)
    scripted.enqueue("issue_detector", ISSUE)
    proc = kaizen(["check", "--format", "sarif", "m.py"], scripted, kaizen_home, project)
    assert proc.returncode == 1, proc.stderr
    log = json.loads(proc.stdout)
    jsonschema.validate(log, SARIF_REQUIRED)
    results = log["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"bug"}
    bug = next(r for r in results if r["ruleId"] == "bug")
    region = bug["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == 2 and bug["partialFingerprints"]["kaizen/v1"]


def test_check_skips_binary_and_bad_utf8(scripted, kaizen_home, project):
    (project / "bin.py").write_bytes(b"\x00\x01\x02")
    (project / "latin.py").write_bytes(b"x = '\xe9'\n")
    proc = kaizen(
        ["check", "--format", "json", "bin.py", "latin.py"], scripted, kaizen_home, project
    )
    assert "binary file, skipped" in proc.stderr and "not valid UTF-8" in proc.stderr
    assert proc.returncode == 2


def test_pr_dry_run_and_real(scripted, kaizen_home, project):
    (project / "prices.py").write_text(SOURCE)
    commit_all(project)
    script_refactor(scripted)
    proc = kaizen(["pr", "--dry-run", "prices.py"], scripted, kaizen_home, project)
    assert proc.returncode == 0, proc.stderr
    assert "+    return sum(item['price'] * item['qty'] for item in items)" in proc.stdout
    script_refactor(scripted)
    with running_fake_github() as github:
        repo = github.add_repo("acme/widgets", {"prices.py": SOURCE})
        # GitHub Enterprise-style base URL from the project's kaizen.toml (a file layer)
        (project / "kaizen.toml").write_text(f'[github]\nbase_url = "{github.base_url}"\n')
        proc = kaizen(["pr", "prices.py"], scripted, kaizen_home, project, GITHUB_TOKEN=TEST_TOKEN)
    assert proc.returncode == 0, proc.stderr
    pr = json.loads(proc.stdout)
    assert pr["number"] == 1
    assert repo.files_at(pr["branch"]) == {"prices.py": IMPROVED}
    assert TEST_TOKEN not in proc.stderr + proc.stdout


def test_pr_without_token_is_a_clear_error(scripted, kaizen_home, project):
    (project / "prices.py").write_text(SOURCE)
    script_refactor(scripted)
    proc = kaizen(["pr", "prices.py"], scripted, kaizen_home, project)
    assert proc.returncode == 1
    assert "GITHUB_TOKEN" in proc.stderr


def test_check_after_an_edit_reviews_a_window_of_a_long_function(scripted, kaizen_home, project):
    """The review cache remembers a long function's lines: the next ``kaizen check`` (a new
    process) after a one-line edit shows the issue detector that line's surroundings, and
    keeps the finding the first check made at the function's end."""
    body = "".join(f"    a{i} = ledger.get({i})\n" for i in range(1, 21))
    long = f"def settle(ledger):\n{body}    return a1 / len(ledger)\n"
    (project / "ledger.py").write_text(long)
    flagged = dict(ISSUE["issues"][0], line=22, snippet="return a1 / len(ledger)")
    scripted.enqueue("issue_detector", {"issues": [flagged]})
    scripted.set_default("issue_detector", {"issues": []})
    scripted.set_default("fix_generator", {"fixes": []})
    scripted.set_default("opportunity_detector", {"opportunities": []})
    args = ["check", "--no-static", "--pipeline", "all", "ledger.py"]
    first = kaizen(args, scripted, kaizen_home, project)
    assert first.returncode == 1 and "ledger.py:22:" in first.stdout, first.stderr

    (project / "ledger.py").write_text(long.replace("ledger.get(10)", "ledger.get(10) or 0"))
    second = kaizen(args, scripted, kaizen_home, project)
    assert second.returncode == 1 and "ledger.py:22:" in second.stdout, second.stderr
    prompts = scripted.prompts_for("issue_detector")
    assert len(prompts) == 2
    shown = [line.split("|")[0].strip() for line in prompts[1].split("Code:", 1)[1].splitlines()]
    assert [int(n) for n in shown if n.isdigit()] == [1, *range(8, 15)]
    # a refactor opportunity is about the whole definition: never a window
    [_, again] = scripted.prompts_for("opportunity_detector")
    shown = [line.split("|")[0].strip() for line in again.split("Code:", 1)[1].splitlines()]
    assert [int(n) for n in shown if n.isdigit()] == list(range(1, 23))
    # what the cache keeps to find the changed lines: digests, never the code
    [db] = kaizen_home.glob("*.db")
    with sqlite3.connect(db) as conn:
        kept = [
            r[0] for r in conn.execute("select lines from unit_reviews where lines is not null")
        ]
    assert kept and not any("ledger" in row for row in kept)
