"""The review engine, measured the way a user meets it (issue: review engine).

1. First publish after didOpen on a fresh server while the model takes 3 s to answer: the
   static (ruff) findings must be on screen long before the model (target p95 < 150 ms).
2. A one-function edit in a 2,000-line file of ~60 functions: prompt tokens of that save's
   run against a whole-file run (``review.scope = "file"``), counted from the requests the
   scripted server received (target <= 15%).
3. 20 successive single-function edits, with a model that rewords every answer: findings
   on untouched functions identical (fingerprint, message, range after shifting) in every
   publish (target 100%).
4. A corpus of 12 callers of functions from other workspace modules (every import style):
   the callee's signature is in the prompt's context (target 100%).

    python benchmarks/bench_review.py [--spawns 10] [--edits 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import client_capabilities, make_test_lsp_client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
import contextlib

from benchmarks.common import save, summary
from tests.fixtures.editing import edit_and_save
from tests.fixtures.scripted_model import ScriptedModel

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^\s*(\d+) \| (.*)$", re.M)


def env(home: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    out.update(KAIZEN_HOME=home, PYTHONPATH=str(ROOT / "server"))
    return out


def big_file(functions: int = 60, lines: int = 2000) -> str:
    """~``functions`` functions padded to ``lines`` lines, each with a division to flag."""
    per = lines // functions
    out: list[str] = ["import os", "", ""]
    for n in range(functions):
        body = [f"def handler_{n}(request, retries=3):", "    total = 0"]
        body += [f"    total += request.items[{i}].price" for i in range(per - 5)]
        body += ["    return total / len(request.items)", "", ""]
        out += body
    return "\n".join(out[:lines]) + "\n"


def reworded_issues(body: dict[str, Any]) -> dict[str, Any]:
    """A nondeterministic model: flags every division it is shown, worded anew each time."""
    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
    code = prompt.split("Code:", 1)[-1]
    issues = []
    for number, text in LINE.findall(code):
        if "/ len(" in text:
            issues.append(
                {
                    "line": int(number),
                    "severity": "warning",
                    "category": "bug",
                    "message": f"division by zero when empty (take {random.randint(0, 10**6)})",
                    "snippet": text.strip(),
                }
            )
    return {"issues": issues}


def prompt_tokens(scripted: ScriptedModel, task: str = "issue_detector") -> list[int]:
    return [
        sum(len(str(m.get("content", ""))) for m in r["body"].get("messages", [])) // 4
        for r in scripted.requests_for(task)
    ]


async def start(
    home: str, root: Path, options: dict[str, Any], server: Path | None = None
) -> Any:
    """A Kaizen server; ``server``: another checkout's ``server/`` directory (a baseline)."""
    variables = env(home)
    if server is not None:
        variables["PYTHONPATH"] = str(server)
    client = make_test_lsp_client()
    await client.start_io(sys.executable, "-m", "kaizen", "serve", env=variables)
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("neovim"),
            root_uri=root.as_uri(),
            initialization_options=options,
        )
    )
    return client


async def stop(client: Any) -> None:
    await client.shutdown_session()
    await client.stop()


def open_doc(client: Any, path: Path, text: str) -> str:
    path.write_text(text)
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )
    return uri


async def until(client: Any, uri: str, predicate: Any, timeout: float = 60) -> list[Any]:
    async def wait() -> list[Any]:
        while True:
            if uri in client.diagnostics and predicate(client.diagnostics[uri]):
                return list(client.diagnostics[uri])
            await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)

    return await asyncio.wait_for(wait(), timeout)


async def settled(client: Any, uri: str) -> None:
    while True:
        status = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="kaizen.getStatus", arguments=[{}])
        )
        if uri not in status.get("pending", []):
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(
                client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), 1
            )


def model_options(scripted: ScriptedModel, **extra: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "autofix": {
            "provider": "openai",
            "model": "bench",
            "apiBase": scripted.url,
            "apiKey": "sk-bench",
        },
        "localModel": False,
    }
    options.update(extra)
    return options


# 1 ------------------------------------------------------------------------------------------


async def bench_first_publish(spawns: int) -> dict[str, Any]:
    times: list[float] = []
    model_first: list[float] = []
    with ScriptedModel() as scripted, tempfile.TemporaryDirectory() as tmp:
        scripted.set_default(
            "issue_detector",
            {"_delay": 3.0, "_then": {"issues": [{"line": 5, "message": "slow model"}]}},
        )
        root = Path(tmp)
        (root / ".git").mkdir()
        text = "import os\n\n\ndef f(x):\n    return x / 0\n"
        for i in range(spawns):
            home = tempfile.mkdtemp(dir=tmp)
            client = await start(home, root, model_options(scripted))
            started = time.perf_counter()
            uri = open_doc(client, root / f"m{i}.py", text)
            await until(client, uri, lambda d: any(x.code == "F401" for x in d))
            times.append((time.perf_counter() - started) * 1000)
            await until(client, uri, lambda d: len(d) == 2)
            model_first.append((time.perf_counter() - started) * 1000)
            await stop(client)
    return {
        "first_publish_ms": summary(times),
        "model_publish_ms": summary(model_first),
        "target_p95_ms": 150,
    }


# 2 and 3 ------------------------------------------------------------------------------------


def edit_function(text: str, n: int, version: int) -> str:
    """Change one line of ``handler_n`` (its first line of work)."""
    return text.replace(
        f"def handler_{n}(request, retries=3):\n    total = 0\n",
        f"def handler_{n}(request, retries=3):\n    total = {version}\n",
        1,
    )


CONFIDENCE_NOTE = re.compile(r" \(confidence \d+%: [^)]*\)$")


def by_function(diagnostics: list[Any], text: str) -> dict[str, tuple[str, str, int]]:
    """function name -> (fingerprint, message, line offset inside the function)."""
    lines = text.splitlines()
    starts = {i: ln for i, ln in enumerate(lines) if ln.startswith("def handler_")}
    out = {}
    for d in diagnostics:
        if d.code != "bug":
            continue
        line = d.range.start.line
        head = max((i for i in starts if i <= line), default=None)
        if head is None:
            continue
        name = starts[head].split("(")[0].removeprefix("def ")
        # the "(confidence 35%: accepted 0 of 6 times here)" suffix is the record's view
        # at display time (#17), not the finding: it is not part of the comparison
        message = CONFIDENCE_NOTE.sub("", d.message)
        out[name] = (d.data["fingerprint"], message, line - head)
    return out


async def bench_incremental(edits: int) -> dict[str, Any]:
    with ScriptedModel() as scripted, tempfile.TemporaryDirectory() as tmp:
        scripted.set_default("issue_detector", reworded_issues)
        scripted.set_default("fix_generator", {"fixes": []})
        root = Path(tmp)
        (root / ".git").mkdir()
        text = big_file()
        # a whole-file run, for the baseline
        client = await start(
            tempfile.mkdtemp(dir=tmp),
            root,
            model_options(
                scripted,
                review={"scope": "file", "batchTokens": 100_000},
                staticPrepass={"enabled": False},
            ),
        )
        uri = open_doc(client, root / "whole.py", text)
        await settled(client, uri)
        whole = sum(prompt_tokens(scripted))
        await stop(client)
        scripted.requests.clear()

        client = await start(
            tempfile.mkdtemp(dir=tmp),
            root,
            # every save shows the untouched functions' findings again with no reaction,
            # which the confidence record counts as ignored: they would be demoted and then
            # hidden after a few saves (#17's learning, not instability), leaving nothing
            # to measure stability on
            model_options(
                scripted,
                staticPrepass={"enabled": False},
                review={"minConfidence": 0, "demoteBelow": 0},
            ),
        )
        uri = open_doc(client, root / "big.py", text)
        await settled(client, uri)
        before = by_function(client.diagnostics.get(uri, []), text)
        ratios: list[float] = []
        stable = 0
        checks = 0
        rng = random.Random(7)
        for version in range(2, edits + 2):
            n = rng.randrange(60)
            text = edit_function(text, n, version)
            count = len(scripted.requests_for("issue_detector"))
            edit_and_save(client, uri, version, text)
            await asyncio.sleep(0)
            await settled(client, uri)
            ratios.append(sum(prompt_tokens(scripted)[count:]) / whole)
            after = by_function(client.diagnostics.get(uri, []), text)
            for name, value in before.items():
                if name == f"handler_{n}":
                    continue
                checks += 1
                stable += after.get(name) == value
            before = after
        await stop(client)
    return {
        "whole_file_prompt_tokens": whole,
        "edit_prompt_tokens_ratio": summary([r * 100 for r in ratios]),
        "target_ratio_pct": 15,
        "untouched_identical_pct": round(100 * stable / max(checks, 1), 2),
        "untouched_checks": checks,
    }


# 4 ------------------------------------------------------------------------------------------

CASES = [
    ("from lib.money import to_cents", "to_cents(x)", "def to_cents(amount: float) -> int"),
    ("from lib.money import to_cents as cents", "cents(x)", "def to_cents(amount: float) -> int"),
    ("from lib import money", "money.to_cents(x)", "def to_cents(amount: float) -> int"),
    ("import lib.money as money", "money.to_cents(x)", "def to_cents(amount: float) -> int"),
    ("from .money2 import split", "split(x)", "def split(total: int, parts: int=2) -> list[int]"),
    ("from lib.users import User", "User(x)", "class User"),
    ("from lib.users import load_user", "load_user(x)", "async def load_user(uid: str) -> 'User'"),
    (
        "from lib.users import Registry",
        "Registry.find(x)",
        "def find(cls, key: str) -> 'User | None'",
    ),
    (
        "from lib.io import read_config",
        "read_config(x)",
        "def read_config(path: str, *, strict: bool=True) -> dict",
    ),
    (
        "from lib.io import CONFIG_KEYS, write_config",
        "write_config(x)",
        "def write_config(path: str, data: dict) -> None",
    ),
    ("from src_pkg.core import run", "run(x)", "def run(job, *args, **kwargs)"),
    (
        "from lib.money import round_half",
        "round_half(x)",
        "def round_half(value: float, places: int=2) -> float",
    ),
]


async def bench_context() -> dict[str, Any]:
    from kaizen.config import Settings
    from kaizen.core.document import Document
    from kaizen.pipelines.context import RunContext
    from kaizen.pipelines.review import batch_context, plan_review

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / ".git").mkdir()
        (root / "lib").mkdir()
        (root / "lib" / "__init__.py").write_text("")
        (root / "lib" / "money.py").write_text(
            "def to_cents(amount: float) -> int:\n    return round(amount * 100)\n\n\n"
            "def round_half(value: float, places: int = 2) -> float:\n    return value\n"
        )
        (root / "lib" / "users.py").write_text(
            "class User:\n    def __init__(self, uid: str) -> None:\n        self.uid = uid\n\n\n"
            "async def load_user(uid: str) -> 'User':\n    return User(uid)\n\n\n"
            "class Registry:\n    @classmethod\n    def find(cls, key: str) -> 'User | None':\n"
            "        return None\n"
        )
        (root / "lib" / "io.py").write_text(
            "CONFIG_KEYS = ()\n\n\ndef read_config(path: str, *, strict: bool = True) -> dict:\n"
            "    return {}\n\n\ndef write_config(path: str, data: dict) -> None:\n    pass\n"
        )
        (root / "app").mkdir()
        (root / "app" / "money2.py").write_text(
            "def split(total: int, parts: int = 2) -> list[int]:\n    return [total]\n"
        )
        (root / "src" / "src_pkg").mkdir(parents=True)
        (root / "src" / "src_pkg" / "core.py").write_text(
            "def run(job, *args, **kwargs):\n    pass\n"
        )
        found = 0
        missing = []
        for i, (imp, call, signature) in enumerate(CASES):
            path = root / "app" / f"caller_{i}.py"
            text = f"{imp}\n\n\ndef caller(x):\n    return {call}\n"
            path.write_text(text)
            doc = Document(uri=path.as_uri(), path=path, text=text)
            ctx = RunContext(settings=Settings(), router=None)  # type: ignore[arg-type]
            plan = await plan_review(doc, ctx, "autofix", "bench")
            unit = next(p for p in plan.items if p.unit.name == "caller")
            context = batch_context([unit])
            if signature in context:
                found += 1
            else:
                missing.append({"case": imp, "context": context})
    return {
        "cases": len(CASES),
        "signature_in_prompt_pct": round(100 * found / len(CASES), 1),
        "missing": missing,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spawns", type=int, default=10)
    parser.add_argument("--edits", type=int, default=20)
    args = parser.parse_args()
    results = {"context": await bench_context()}
    print(
        f"context pack: callee signature in prompt {results['context']['signature_in_prompt_pct']}% of {len(CASES)}"
    )
    results["first_publish"] = await bench_first_publish(args.spawns)
    fp = results["first_publish"]
    print(
        f"first publish (static) p50 {fp['first_publish_ms']['p50']} p95 "
        f"{fp['first_publish_ms']['p95']} ms; model publish p50 {fp['model_publish_ms']['p50']} ms"
    )
    results["incremental"] = await bench_incremental(args.edits)
    inc = results["incremental"]
    print(
        f"one-function edit: prompt tokens {inc['edit_prompt_tokens_ratio']['p50']}% (p95 "
        f"{inc['edit_prompt_tokens_ratio']['p95']}%) of a whole-file run "
        f"({inc['whole_file_prompt_tokens']} tokens); untouched findings identical "
        f"{inc['untouched_identical_pct']}% of {inc['untouched_checks']} checks"
    )
    save("review", results)


if __name__ == "__main__":
    asyncio.run(main())
