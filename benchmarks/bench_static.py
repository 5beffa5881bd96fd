"""The ruff pre-pass: what it saves and what it costs.

- Tokens sent to the model per file of the sample project, with and without the pre-pass
  (prompt tokens counted with litellm's tokenizer for gpt-4o-mini), and the findings the
  model no longer needs to produce (static findings it would otherwise have to report).
- The pre-pass's own latency (p50/p95) on a 2,000-line file, beside ``ruff`` run directly
  on the same text (the floor: Kaizen's overhead is the difference).

    python benchmarks/bench_static.py [--runs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.bench_lsp import big_file
from benchmarks.common import save, summary

from kaizen.core.document import Document
from kaizen.pipelines import prompts
from kaizen.pipelines.autofix import already_reported
from kaizen.pipelines.static import ruff_command, ruff_findings

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "sample_project"


def tokens(text: str) -> int:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    return int(
        litellm.token_counter(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])
    )


def prompt_for(doc: Document, static: list) -> str:
    return prompts.render(
        "issue_detector",
        language=doc.language,
        path=doc.relpath,
        code=prompts.numbered(doc.safe_lines),
        learnings="",
        already_reported=already_reported(static),
    )


async def per_file() -> list[dict]:
    rows = []
    for path in sorted(SAMPLE.glob("*.py")):
        doc = Document(uri=path.as_uri(), path=path, text=path.read_text())
        static = await ruff_findings(doc)
        # Without the pre-pass the model must report what ruff found: at least one finding
        # item per static finding in its answer (~45 tokens each, measured on the schema).
        item = (
            '{"line": 8, "end_line": 8, "severity": "warning", "category": "bug", "message": "%s"}'
        )
        answer_tokens = sum(tokens(item % f.message) for f in static)
        rows.append(
            {
                "file": path.name,
                "static_findings": len(static),
                "prompt_tokens_without": tokens(prompt_for(doc, [])),
                "prompt_tokens_with": tokens(prompt_for(doc, static)),
                "answer_tokens_saved": answer_tokens,
            }
        )
    return rows


async def latency(runs: int) -> dict:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.py"
        text = big_file(2000) + "def bad(x=[]):\n    return x == None\n"
        path.write_text(text)
        doc = Document(uri=path.as_uri(), path=path, text=text)
        kaizen, direct = [], []
        for _ in range(runs):
            t = time.perf_counter()
            found = await ruff_findings(doc)
            kaizen.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            subprocess.run(ruff_command(doc), input=text.encode(), capture_output=True, check=False)
            direct.append((time.perf_counter() - t) * 1000)
    return {
        "findings": len(found),
        "kaizen_prepass_ms": summary(kaizen),
        "ruff_direct_ms": summary(direct),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    rows = await per_file()
    lat = await latency(args.runs)
    print(f"{'file':<16}{'static':>8}{'prompt w/o':>12}{'prompt with':>13}{'answer saved':>14}")
    for r in rows:
        print(
            f"{r['file']:<16}{r['static_findings']:>8}{r['prompt_tokens_without']:>12}"
            f"{r['prompt_tokens_with']:>13}{r['answer_tokens_saved']:>14}"
        )
    print(
        f"pre-pass on 2,000 lines: p50 {lat['kaizen_prepass_ms']['p50']} ms, p95 "
        f"{lat['kaizen_prepass_ms']['p95']} ms (ruff alone p50 {lat['ruff_direct_ms']['p50']} ms)"
    )
    print("saved", save("static", {"per_file": rows, "latency_2000_lines": lat}))


if __name__ == "__main__":
    asyncio.run(main())
