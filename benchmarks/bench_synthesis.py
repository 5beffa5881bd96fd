"""Rule synthesis: accepted fixes generalised into ast-grep rules, measured on held-out code.

The corpus (benchmarks/data/fix_kinds.yml) has 15 kinds of systematic fix in Python,
TypeScript, JavaScript, Go, Rust and Java. Each kind gives three accepted fixes to learn from
and a held-out file written like real code (instances and near misses) with its expected
fixed text. Per kind, the rule ``rules.synthesis`` drafts from the three fixes is run over
the held-out file:

- recall: the held-out instances (lines the expected text changes) the rule matches;
- precision: of the lines the rule matches, those that are instances;
- exact fix: instances whose rewritten line equals the expected line.

Beside it, Getafix's published exact top-1 fix rate (Bader et al., OOPSLA 2019: 12-91%
depending on the bug category), the only baseline of its kind.

    python benchmarks/bench_synthesis.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "server"))
sys.path.insert(0, str(HERE.parent))

from benchmarks.common import save

from kaizen.rules.synthesis import Candidate, FixExample, matches, rewrite, synthesize, validate


def measure(kind: dict) -> dict:
    examples = [FixExample(kind["language"], b, a) for b, a in kind["train"]]
    drafted = synthesize(examples)
    before = kind["held_out"]["before"]
    expected = kind["held_out"]["after"]
    b_lines, e_lines = before.splitlines(), expected.splitlines()
    instances = {i for i, (b, e) in enumerate(zip(b_lines, e_lines, strict=True)) if b != e}
    row: dict = {"kind": kind["kind"], "language": kind["language"], "instances": len(instances)}
    if not isinstance(drafted, Candidate):
        return row | {
            "rule": None,
            "refused": drafted.reason,
            "recall": 0.0,
            "precision": None,
            "exact": 0.0,
        }
    checked = validate(drafted, repository=[before], max_share=0.5)
    matched = {m.range().start.line for m in matches(drafted, before)}
    out_lines = rewrite(drafted, before).splitlines()
    hit = matched & instances
    exact = {i for i in instances if i < len(out_lines) and out_lines[i] == e_lines[i]}
    return row | {
        "rule": drafted.pattern,
        "fix": drafted.fix,
        "valid": checked.ok,
        "recall": len(hit) / len(instances) if instances else 1.0,
        "precision": len(hit) / len(matched) if matched else None,
        "exact": len(exact) / len(instances) if instances else 1.0,
    }


def main() -> int:
    kinds = yaml.safe_load((HERE / "data" / "fix_kinds.yml").read_text())
    rows = [measure(k) for k in kinds]
    print(f"{'kind':24} {'lang':11} {'inst':>4} {'recall':>7} {'prec':>6} {'exact':>6}  rule")
    for r in rows:
        prec = "-" if r["precision"] is None else f"{r['precision']:.2f}"
        rule = r["rule"] or f"refused: {r.get('refused')}"
        print(
            f"{r['kind']:24} {r['language']:11} {r['instances']:>4} {r['recall']:>7.2f} "
            f"{prec:>6} {r['exact']:>6.2f}  {rule}"
        )
    drafted = [r for r in rows if r["rule"]]
    precisions = [r["precision"] for r in drafted if r["precision"] is not None]
    summary = {
        "kinds": len(rows),
        "languages": len({r["language"] for r in rows}),
        "drafted": len(drafted),
        "mean_recall": sum(r["recall"] for r in rows) / len(rows),
        "mean_precision": sum(precisions) / len(precisions) if precisions else None,
        "mean_exact": sum(r["exact"] for r in rows) / len(rows),
        "getafix_exact_top1": "12-91% by category (OOPSLA 2019)",
    }
    print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in summary.items()})
    save("bench_synthesis", {"rows": rows, "summary": summary})
    return 0


if __name__ == "__main__":
    sys.exit(main())
