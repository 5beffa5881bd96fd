"""Cross-file context beyond Python (issue 25): the callee's signature in the prompt, never
its body, over the corpus of tests/fixtures/crossfile_corpus.py (46 cases, 12 languages:
re-exports, aliases, tsconfig paths, same-package Go files, ``use crate::``, Java's same
package, C includes, C# ``using``, Ruby ``require_relative``...).

Each case's workspace is written, indexed (``app.symbols``) and the caller planned as a
review plans it (``plan_review``); the prompt's context is ``batch_context`` of the calling
unit. Baseline, in the same run: the same units with the pack every language had before
this work (Python's, which knows nothing of their imports). Targets: signature 100%,
body 0%. Also the planning time per case (resolution included), p50/p95.

    python benchmarks/bench_crossfile.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
from benchmarks.common import save, summary
from tests.fixtures.crossfile_corpus import BODY, Case, cases, prompt_context


def baseline_context(case: Case, root: Path) -> str:
    """The calling unit's pack as every non-Python language had it before: Python's pack."""
    from kaizen.languages.context_pack import ModuleFacts, build_pack
    from kaizen.languages.parsed import parsed

    path = case.write(root)
    text = path.read_text()
    units = parsed(text, case.language, str(path)).units
    packs = [
        build_pack(u, ModuleFacts(), path, root, 1000).text for u in units if case.call in u.text
    ]
    return "\n".join(packs)


async def run() -> dict[str, Any]:
    per_language: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # cases, sig, body
    failures: list[str] = []
    plan_ms: list[float] = []
    baseline_hits = 0
    corpus = cases()
    for case in corpus:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            calling, every = await prompt_context(case, Path(tmp))
            plan_ms.append((time.perf_counter() - started) * 1000)
        with tempfile.TemporaryDirectory() as tmp:
            baseline_hits += case.signature in baseline_context(case, Path(tmp))
        row = per_language[case.language]
        row[0] += 1
        row[1] += case.signature in calling
        row[2] += BODY in every
        if case.signature not in calling or BODY in every:
            failures.append(case.name)
    n = len(corpus)
    signature = sum(r[1] for r in per_language.values())
    body = sum(r[2] for r in per_language.values())
    return {
        "cases": n,
        "languages": len(per_language),
        "styles": sorted({c.style for c in corpus}),
        "signature_in_prompt_pct": round(100 * signature / n, 1),
        "body_in_prompt_pct": round(100 * body / n, 1),
        "baseline_signature_in_prompt_pct": round(100 * baseline_hits / n, 1),
        "per_language": {
            lang: {"cases": r[0], "signature": r[1], "body": r[2]}
            for lang, r in sorted(per_language.items())
        },
        "failures": failures,
        "index_and_plan_ms": summary(plan_ms),
        "targets": {"signature_in_prompt_pct": 100, "body_in_prompt_pct": 0},
    }


def main() -> int:
    results = asyncio.run(run())
    save("bench_crossfile", results)
    print(
        f"cross-file context: {results['cases']} cases, {results['languages']} languages, "
        f"{len(results['styles'])} import styles\n"
        f"  callee signature in the prompt: {results['signature_in_prompt_pct']}% (target 100; "
        f"before, Python's pack: {results['baseline_signature_in_prompt_pct']}%)\n"
        f"  callee body in the prompt: {results['body_in_prompt_pct']}% (target 0)\n"
        f"  index + plan per case: p50 {results['index_and_plan_ms']['p50']} ms, "
        f"p95 {results['index_and_plan_ms']['p95']} ms"
    )
    for lang, row in results["per_language"].items():
        print(f"  {lang}: {row['signature']}/{row['cases']} signatures, {row['body']} bodies")
    if results["failures"]:
        print("  failed:", ", ".join(results["failures"]))
    return 0 if not results["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
