"""Fix verification: how many good fixes are kept, how many broken ones are offered (target 0).

Two corpora go through the real fix path (``autofix.attach_fixes``: ``pipelines.verify``
with the real parsers and ruff):

1. The hand-written fix corpus (``benchmarks/data/fix_corpus.json``): model fixes in
   Python, TypeScript and TSX, each labelled good or broken by the person who wrote it.
2. The precision corpus of ``bench_precision`` (66 model findings on real files): each
   finding grounding keeps gets the fixes a model gives, made from its own line — a guard
   (a trailing comment), an empty replacement, an unbalanced bracket, and a range that runs
   past its unit. Which ones are broken is decided by an oracle of its own (``compile``,
   the unit's lines, the empty text), not by the code under test.

Beside each, the baseline: what main offered before verification (the range inside the
unit's first and last line, inside the document, not a no-op).

    python benchmarks/bench_fixes.py [--seed 17]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
from benchmarks.bench_precision import build_corpus
from benchmarks.common import save, summary

from kaizen.core.answers import FixItem, FixReport
from kaizen.core.document import Document
from kaizen.core.findings import Finding, line_replacement, touches_redacted
from kaizen.languages.units import Unit, split_units, unit_of
from kaizen.pipelines.autofix import attach_fixes
from kaizen.pipelines.grounding import Dropped, ground

CORPUS = Path(__file__).resolve().parent / "data" / "fix_corpus.json"


def baseline_offers(fixes: list[FixItem], doc: Document, unit: Unit) -> bool:
    """What main did: the first fix in range, inside the unit's span, not a no-op."""
    fix = fixes[0]
    if not (1 <= fix.start_line <= fix.end_line <= len(doc.lines)):
        return False
    if fix.start_line < unit.start or fix.end_line > unit.end:
        return False
    old = "\n".join(doc.lines[fix.start_line - 1 : fix.end_line])
    edit = line_replacement(doc.lines, fix.start_line, fix.end_line, fix.replacement)
    return old.strip() != fix.replacement.strip() and not touches_redacted(edit, doc.redacted)


async def run_one(doc: Document, line: int, fixes: list[FixItem]) -> tuple[bool, str, float]:
    """(offered, why not, milliseconds) for one model answer on the finding at ``line``."""
    units = split_units(doc.lines, doc.language)
    f = Finding("autofix", "bug", "warning", line, line, "x may be wrong", origin="model")
    started = time.perf_counter()
    refused = await attach_fixes(
        FixReport(fixes=fixes), [f], doc, [unit_of(units, line)], lint=True
    )
    elapsed = (time.perf_counter() - started) * 1000
    return f.has_fix, refused[0][1].kind if refused else "", elapsed


def shares(rows: list[dict]) -> dict:
    good = [r for r in rows if r["label"] == "good"]
    broken = [r for r in rows if r["label"] == "broken"]
    reasons: dict[str, int] = {}
    for r in rows:
        if r["why"]:
            reasons[r["why"]] = reasons.get(r["why"], 0) + 1
    return {
        "fixes": len(rows),
        "good": len(good),
        "broken": len(broken),
        "good_kept_share": round(sum(r["offered"] for r in good) / len(good), 3) if good else None,
        "broken_offered_share": round(sum(r["offered"] for r in broken) / len(broken), 3)
        if broken
        else None,
        "broken_offered": [r["name"] for r in broken if r["offered"]],
        "good_refused": [f"{r['name']} ({r['why']})" for r in good if not r["offered"]],
        "refused_by_reason": dict(sorted(reasons.items())),
        "baseline_main": {
            "good_kept_share": round(sum(r["baseline"] for r in good) / len(good), 3)
            if good
            else None,
            "broken_offered_share": round(sum(r["baseline"] for r in broken) / len(broken), 3)
            if broken
            else None,
        },
        "verify_ms": summary([r["ms"] for r in rows]),
    }


async def hand_corpus(tmp: Path) -> dict:
    data = json.loads(CORPUS.read_text(encoding="utf-8"))
    docs = {}
    for name, text in data["sources"].items():
        path = tmp / name
        path.write_text(text, encoding="utf-8")
        docs[name] = Document(uri=path.as_uri(), path=path, text=text)
    rows = []
    for item in data["fixes"]:
        doc = docs[item["source"]]
        fixes = [FixItem(issue=1, explanation="fix", **x) for x in item["fixes"]]
        unit = unit_of(split_units(doc.lines, doc.language), item["issue_line"])
        offered, why, ms = await run_one(doc, item["issue_line"], fixes)
        rows.append(
            {
                "name": f"{item['source']}:{item['issue_line']} {item['why']}",
                "label": item["label"],
                "offered": offered,
                "why": why,
                "ms": ms,
                "baseline": baseline_offers(fixes, doc, unit),
            }
        )
    by_language: dict[str, list[dict]] = {}
    for row, item in zip(rows, data["fixes"], strict=True):
        language = "python" if item["source"].endswith(".py") else "typescript"
        by_language.setdefault(language, []).append(row)
    return {"all": shares(rows), **{k: shares(v) for k, v in sorted(by_language.items())}}


def compiles(text: str) -> bool:
    try:
        compile(text, "<oracle>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def variants(doc: Document, line: int, unit: Unit) -> list[tuple[str, list[FixItem], str]]:
    """(name, the model's fixes, label by the oracle) for a finding on ``line``."""
    text = doc.lines[line - 1]

    def item(start: int, end: int, replacement: str) -> FixItem:
        return FixItem(issue=1, start_line=start, end_line=end, replacement=replacement)

    def label(start: int, end: int, replacement: str) -> str:
        after = doc.lines[: start - 1] + replacement.split("\n") + doc.lines[end:]
        ok = compiles("\n".join(after)) and replacement.strip() != ""
        return "good" if ok else "broken"

    guard = text + "  # checked"
    out = [
        ("guard", [item(line, line, guard)], label(line, line, guard)),
        ("empty", [item(line, line, "")], "broken"),  # not marked as a deletion
        ("unbalanced", [item(line, line, text + " (")], label(line, line, text + " (")),
    ]
    beyond = unit.end + 2
    if beyond <= len(doc.lines) and any(
        doc.lines[n - 1].strip() and not unit.contains(n) for n in range(line, beyond + 1)
    ):
        out.append(("past-its-unit", [item(line, beyond, text)], "broken"))
    return out


async def precision_corpus(seed: int) -> dict:
    corpus = build_corpus(random.Random(seed))
    rows = []
    grounded = 0
    for _label, lines, finding, snippet, _true_line in corpus:
        kept = ground(lines, finding, snippet)
        if isinstance(kept, Dropped):
            continue  # grounding drops it first: no fix is asked for
        grounded += 1
        path = next(p for p in _files() if p.read_text(encoding="utf-8").split("\n") == lines)
        doc = Document(uri=path.as_uri(), path=path, text="\n".join(lines))
        unit = unit_of(split_units(doc.lines, doc.language), kept.start_line)
        if unit is None:
            continue
        for name, fixes, label in variants(doc, kept.start_line, unit):
            offered, why, ms = await run_one(doc, kept.start_line, fixes)
            rows.append(
                {
                    "name": f"{path.name}:{kept.start_line} {name}",
                    "label": label,
                    "offered": offered,
                    "why": why,
                    "ms": ms,
                    "baseline": baseline_offers(fixes, doc, unit),
                }
            )
    return {"findings": len(corpus), "grounded": grounded, **shares(rows)}


def _files() -> list[Path]:
    from benchmarks.bench_precision import FILES

    return FILES


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = {
            "target": {"broken_offered_share": 0.0},
            "fix_corpus": asyncio.run(hand_corpus(Path(tmp))),
            "precision_corpus": asyncio.run(precision_corpus(args.seed)),
        }
    path = save("bench_fixes", result)
    print(json.dumps(result, indent=2))
    print(f"wrote {path}")
    broken = [result["fix_corpus"]["all"], result["precision_corpus"]]
    return 1 if any(r["broken_offered_share"] for r in broken) else 0


if __name__ == "__main__":
    sys.exit(main())
