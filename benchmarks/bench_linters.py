"""The static pre-pass beyond Python (issues #25 item 5, #27 item 4), measured the way a user
meets it.

1. First publish after didOpen on a fresh server, for a TypeScript file with ``debugger;``
   and ``x == null``, while the model takes 3 s to answer: oxlint's two findings must be on
   screen long before the model (target p95 < 150 ms). Baseline in the same run: the same
   measurement for a Python file and ruff's finding (bench_review's case).
2. A repository ast-grep rule (``.kaizen/rules/*.yml``): its finding in the first publish on
   a fresh server (target p95 < 150 ms), and the model tokens it cost (target 0: the run is
   static-only, and the scripted model counts every request it gets). The same for a
   promoted rule: synthesised by ``rules.promotion`` from three accepted Python fixes
   (``k in d.keys()`` -> ``k in d``) and written as accepting its proposal writes it.
3. In process, on a 2,000-line TypeScript file: the linter pre-pass (oxlint's report and
   fix runs at once) and the ast-grep rules, beside one bare ``oxlint`` run on the same file.

    python benchmarks/bench_linters.py [--spawns 10] [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
from benchmarks.bench_review import model_options, start, stop, until
from benchmarks.common import save, summary
from lsprotocol import types
from tests.fixtures.scripted_model import ScriptedModel

TS = (
    "export function price(x: number | null): number {\n"
    "  debugger;\n"
    "  if (x == null) return 0;\n"
    "  return x * 2;\n"
    "}\n"
)
PY = "import os\n\n\ndef f(x):\n    return x / 0\n"
RULE = """\
id: strict-null
language: TypeScript
message: compare $A with === null
rule:
  pattern: $A == null
fix: $A === null
"""
KEYS_FIXES = (  # three accepted fixes of one kind, as memory.fix_examples keeps them
    ("if k in d.keys():\n    return 1\n", "if k in d:\n    return 1\n"),
    ("found = name in cache.keys()\n", "found = name in cache\n"),
    ("return [x for x in xs if x in seen.keys()]\n", "return [x for x in xs if x in seen]\n"),
)
PY_KEYS = "def lookup(table, key):\n    return key in table.keys()\n"
OXLINT_CODES = {"eslint(no-debugger)", "eslint(eqeqeq)"}
SLOW = {"_delay": 3.0, "_then": {"issues": [{"line": 4, "message": "slow model"}]}}


def open_as(client: Any, path: Path, text: str, language: str) -> str:
    path.write_text(text)
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id=language, version=1, text=text
            )
        )
    )
    return uri


async def first_publish(
    scripted: ScriptedModel,
    root: Path,
    name: str,
    text: str,
    language: str,
    ready: Any,
    options: dict[str, Any],
) -> float:
    """ms from didOpen to the first publish satisfying ``ready``, on a fresh server."""
    home = tempfile.mkdtemp(dir=root.parent)
    client = await start(home, root, options)
    started = time.perf_counter()
    uri = open_as(client, root / name, text, language)
    await until(client, uri, ready)
    elapsed = (time.perf_counter() - started) * 1000
    await stop(client)
    return elapsed


def promoted_rule(folder: Path) -> str:
    """Synthesise and validate the promoted rule, write its file; its id (the findings' code)."""
    from kaizen.memory.fix_examples import Example
    from kaizen.rules.promotion import promote

    examples = [Example("python", "performance", "m.py", b, a) for b, a in KEYS_FIXES]
    (promotion,) = promote(
        {("python", "performance"): examples}, repository_texts=lambda _l: ["a = 1\n" * 500]
    )
    assert promotion.ok, promotion.reasons
    (folder / f"{promotion.rule_id}.yml").write_text(promotion.yaml())
    return promotion.rule_id


async def bench_first_publish(spawns: int) -> dict[str, Any]:
    ts, py, rule, requests, promo = [], [], [], [], []
    with ScriptedModel() as scripted, tempfile.TemporaryDirectory() as tmp:
        scripted.set_default("issue_detector", SLOW)
        root = Path(tmp) / "proj"
        (root / ".git").mkdir(parents=True)
        rules = root / ".kaizen" / "rules"
        rules.mkdir(parents=True)
        (rules / "team.yml").write_text(RULE)
        promoted_id = promoted_rule(rules)
        static = model_options(scripted, staticPrepass={"enabled": True})
        only = model_options(scripted, staticPrepass={"enabled": True, "only": True})
        for i in range(spawns):  # interleaved, so a noisy minute hurts all three alike
            ts.append(
                await first_publish(
                    scripted, root, f"t{i}.ts", TS, "typescript",
                    lambda d: {x.code for x in d} >= OXLINT_CODES, static,
                )
            )  # fmt: skip
            py.append(
                await first_publish(
                    scripted, root, f"m{i}.py", PY, "python",
                    lambda d: any(x.code == "F401" for x in d), static,
                )
            )  # fmt: skip
            before = len(scripted.requests)
            rule.append(
                await first_publish(
                    scripted, root, f"r{i}.ts", TS, "typescript",
                    lambda d: any(x.code == "strict-null" for x in d), only,
                )
            )  # fmt: skip
            requests.append(len(scripted.requests) - before)
            before = len(scripted.requests)
            promo.append(
                await first_publish(
                    scripted, root, f"p{i}.py", PY_KEYS, "python",
                    lambda d: any(x.code == promoted_id for x in d), only,
                )
            )  # fmt: skip
            requests.append(len(scripted.requests) - before)
    return {
        "typescript_oxlint_first_publish_ms": summary(ts),
        "python_ruff_first_publish_ms": summary(py),
        "astgrep_rule_first_publish_ms": summary(rule),
        "promoted_rule_first_publish_ms": summary(promo),
        "astgrep_rule_model_requests": sum(requests),
        "astgrep_rule_model_tokens": 0 if sum(requests) == 0 else None,
        "target_p95_ms": 150,
    }


def big_ts(functions: int = 285) -> str:
    """~2,000 lines: every function has a loose null check for the linter and the rule,
    and a ``debugger;`` that oxlint fixes (so the fixes' edits are measured too)."""
    return "".join(
        f"export function f{i}(x: number | null): number {{\n  debugger;\n"
        f"  if (x == null) return {i};\n  const y = x * 2;\n  return y + {i};\n}}\n\n"
        for i in range(functions)
    )


async def bench_in_process(runs: int) -> dict[str, Any]:
    from kaizen.config import StaticPrepass
    from kaizen.core.document import Document
    from kaizen.pipelines.linters import Complaints, linter_findings
    from kaizen.pipelines.linters.process import find_binary
    from kaizen.rules.astgrep import RuleBook
    from kaizen.rules.astgrep_run import rule_findings

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / ".git").mkdir()
        (root / ".kaizen" / "rules").mkdir(parents=True)
        (root / ".kaizen" / "rules" / "team.yml").write_text(RULE)
        path = root / "big.ts"
        text = big_ts()
        path.write_text(text)
        doc = Document(uri=path.as_uri(), path=path, text=text)
        complaints, book = Complaints(), RuleBook()
        oxlint = find_binary("oxlint") or "oxlint"
        linted, matched, bare = [], [], []
        for _ in range(runs):
            t = time.perf_counter()
            lint = await linter_findings(doc, StaticPrepass(), complaints)
            linted.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            found = rule_findings(doc, book.load(root).rules)
            matched.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            subprocess.run([oxlint, "-f", "json", str(path)], capture_output=True, check=False)
            bare.append((time.perf_counter() - t) * 1000)
    return {
        "lines": text.count("\n"),
        "linter_findings": len(lint),
        "linter_fixes": sum(1 for f in lint if f.edits),
        "rule_findings": len(found),
        "linter_prepass_ms": summary(linted),
        "astgrep_rules_ms": summary(matched),
        "oxlint_bare_run_ms": summary(bare),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spawns", type=int, default=10)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    results: dict[str, Any] = {"first_publish": await bench_first_publish(args.spawns)}
    fp = results["first_publish"]
    for key, label in (
        ("typescript_oxlint_first_publish_ms", "TypeScript + oxlint"),
        ("python_ruff_first_publish_ms", "Python + ruff (baseline)"),
        ("astgrep_rule_first_publish_ms", "ast-grep rule"),
        ("promoted_rule_first_publish_ms", "promoted (synthesised) rule"),
    ):
        print(f"first publish, {label}: p50 {fp[key]['p50']} p95 {fp[key]['p95']} ms (< 150)")
    print(
        f"ast-grep rules (written and promoted): model requests "
        f"{fp['astgrep_rule_model_requests']} (target 0)"
    )
    results["in_process"] = await bench_in_process(args.runs)
    ip = results["in_process"]
    print(
        f"{ip['lines']} lines of TypeScript: linters p50 {ip['linter_prepass_ms']['p50']} p95 "
        f"{ip['linter_prepass_ms']['p95']} ms ({ip['linter_findings']} findings, "
        f"{ip['linter_fixes']} with a fix); ast-grep rules p50 {ip['astgrep_rules_ms']['p50']} "
        f"p95 {ip['astgrep_rules_ms']['p95']} ms ({ip['rule_findings']} findings); bare oxlint "
        f"p50 {ip['oxlint_bare_run_ms']['p50']} ms"
    )
    print("saved", save("linters", results))


if __name__ == "__main__":
    asyncio.run(main())
