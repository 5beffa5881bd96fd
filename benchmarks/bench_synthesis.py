"""Rule synthesis: accepted fixes generalised into ast-grep rules, measured on held-out code.

The corpus (benchmarks/data/fix_kinds.yml) has 15 kinds of systematic fix in Python,
TypeScript, JavaScript, Go, Rust and Java. Each kind gives three accepted fixes to learn from
and a held-out file written like real code (instances and near misses) with its expected
fixed text. Per kind, the rule ``rules.synthesis`` drafts from the three fixes is run over
the held-out file:

- recall: the held-out instances (lines the expected text changes) the rule matches;
- precision: of the lines the rule matches, those that are instances;
- exact fix: instances whose rewritten line equals the expected line.

Then the same rules on real code: Python libraries installed beside Kaizen (numpy,
SQLAlchemy, openai, pydantic, rich, mcp, hypothesis), with ruff as the independent oracle
(E711 comparisons to None, SIM118 ``in d.keys()``, E721 type comparisons): recall is the
share of ruff's findings the learned rule matches, precision the share of the rule's
matches ruff also flags, exact fix the share of shared lines where the rule's rewrite
equals ruff's own fix (E721 has none).

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


ORACLE = {  # kind -> ruff code, the words of ruff's message that pick the kind
    "py-none-compare": ("E711", "is None`"),
    "py-not-none": ("E711", "is not None`"),
    "py-dict-keys-in": ("SIM118", ""),
    "py-type-compare": ("E721", ""),
}
LIBRARIES = ("numpy", "sqlalchemy", "openai", "pydantic", "rich", "mcp", "hypothesis")


def ruff_oracle(files: list[Path], noqa: bool) -> dict[tuple[str, int], list[dict]]:
    """ruff's E711/SIM118/E721 findings (with fixes) by (file, line); ``noqa``: respect the
    code's ``# noqa`` comments (the authors' intent) or not (the syntax alone)."""
    import json
    import subprocess

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--isolated",
            *([] if noqa else ["--ignore-noqa"]),
            "--select",
            "E711,SIM118,E721",
            "--output-format",
            "json",
            "--unsafe-fixes",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    found: dict[tuple[str, int], list[dict]] = {}
    for d in json.loads(out.stdout or "[]"):
        found.setdefault((d["filename"], d["location"]["row"]), []).append(d)
    return found


def _ruff_fixed(line: str, row: int, edits: list[dict]) -> str | None:
    if any(e["location"]["row"] != row or e["end_location"]["row"] != row for e in edits):
        return None
    for e in sorted(edits, key=lambda e: -e["location"]["column"]):
        a, b = e["location"]["column"] - 1, e["end_location"]["column"] - 1
        line = line[:a] + e["content"] + line[b:]
    return line


def real_code(kinds: list[dict], noqa: bool) -> list[dict]:
    import importlib.util

    files: list[Path] = []
    for name in LIBRARIES:
        spec = importlib.util.find_spec(name)
        if spec and spec.submodule_search_locations:
            files += sorted(Path(next(iter(spec.submodule_search_locations))).rglob("*.py"))
    oracle = ruff_oracle(files, noqa)
    rows = []
    for kind in kinds:
        if kind["kind"] not in ORACLE:
            continue
        code, words = ORACLE[kind["kind"]]
        drafted = synthesize([FixExample(kind["language"], b, a) for b, a in kind["train"]])
        assert isinstance(drafted, Candidate), drafted
        truth = {
            key: [d for d in ds if d["code"] == code and words in d["message"]]
            for key, ds in oracle.items()
        }
        truth = {k: v for k, v in truth.items() if v}
        ours: set[tuple[str, int]] = set()
        exact = with_fix = 0
        for path in files:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            hits = {m.range().start.line + 1 for m in matches(drafted, text)}
            if not hits:
                continue
            ours |= {(str(path), h) for h in hits}
            rewritten = rewrite(drafted, text).splitlines()
            lines = text.splitlines()
            for h in hits:
                found = truth.get((str(path), h))
                if not found or not found[0].get("fix"):
                    continue
                expected = _ruff_fixed(lines[h - 1], h, found[0]["fix"]["edits"])
                if expected is None:
                    continue
                with_fix += 1
                exact += rewritten[h - 1] == expected
        shared = ours & set(truth)
        rows.append(
            {
                "kind": kind["kind"],
                "oracle": code,
                "files": len(files),
                "ruff": len(truth),
                "rule": len(ours),
                "recall": len(shared) / len(truth) if truth else None,
                "precision": len(shared) / len(ours) if ours else None,
                "exact": exact / with_fix if with_fix else None,
            }
        )
    return rows


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
    real = {}
    for noqa, label in ((False, "syntax: every instance"), (True, "intent: noqa respected")):
        real[label] = real_code(kinds, noqa)
        print(f"\nreal code ({', '.join(LIBRARIES)}), ruff as the oracle, {label}:")
        print(f"{'kind':24} {'ruff':>5} {'rule':>5} {'recall':>7} {'prec':>6} {'exact':>6}")
        for r in real[label]:
            cells = [
                ("-" if r[k] is None else f"{r[k]:.2f}") for k in ("recall", "precision", "exact")
            ]
            print(
                f"{r['kind']:24} {r['ruff']:>5} {r['rule']:>5} {cells[0]:>7} {cells[1]:>6} {cells[2]:>6}"
            )
    save("bench_synthesis", {"rows": rows, "summary": summary, "real_code": real})
    return 0


if __name__ == "__main__":
    sys.exit(main())
