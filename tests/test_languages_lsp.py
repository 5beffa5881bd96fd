"""A TypeScript file through the real server and the scripted model: reviewed by function, a
save re-sends only the edited function, and a minified bundle beside it is not reviewed and
said so once. One server for all of it: end-to-end tests are the suite's slowest."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from lsprotocol import types

from tests.conftest import model_options, wait_for_diagnostics
from tests.fixtures.editing import edit_and_save

LINE = re.compile(r"^\s*(\d+) \| (.*)$", re.M)

CART = """import { roundPrice } from "./util";

const TAX = 0.2;

export function subtotal(prices: number[]): number {
  let sum = 0;
  for (const p of prices) sum += roundPrice(p);
  return sum;
}

export function total(prices: number[]): number {
  const base = subtotal(prices);
  return base + base * TAX;
}

export class Cart {
  private prices: number[] = [];

  add(price: number): void {
    this.prices.push(price);
  }

  average(): number {
    return total(this.prices) / this.prices.length;
  }
}
"""


def shown(prompt: str) -> set[int]:
    return {int(n) for n, _ in LINE.findall(prompt.split("Code:", 1)[1])}


def open_ts(client, path: Path, text: str, language_id: str = "typescript") -> str:
    path.write_text(text)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=path.as_uri(), language_id=language_id, version=1, text=text
            )
        )
    )
    return path.as_uri()


async def test_a_typescript_save_resends_only_the_edited_function(
    start_client, scripted, project: Path
):
    average = CART.splitlines().index("  average(): number {") + 1
    scripted.set_default("issue_detector", {"issues": []})
    scripted.enqueue(
        "issue_detector",
        {"issues": [{"line": average + 1, "severity": "warning", "category": "bug",
                     "message": "divides by zero on an empty cart",
                     "snippet": "return total(this.prices) / this.prices.length;"}]},
    )
    client = await start_client(model_options(scripted))
    uri = open_ts(client, project / "cart.ts", CART)
    [before] = await wait_for_diagnostics(client, uri, lambda d: len(d) == 1, timeout=60)
    first = scripted.prompts_for("issue_detector")
    assert len(first) == 1 and shown(first[0]) >= {1, 5, 11, average}

    # edit `subtotal` and add two lines above `total`: only `subtotal` goes to the model
    edited = CART.replace("let sum = 0;", "let sum = 0.0;\n\n")
    edit_and_save(client, uri, 2, edited)
    await asyncio.to_thread(scripted.wait_for_requests, 2, 60)
    await wait_for_diagnostics(client, uri, timeout=60)
    prompts = scripted.prompts_for("issue_detector")
    assert len(prompts) == 2
    assert shown(prompts[1]) == set(range(5, 12))  # subtotal, its two new lines included
    assert "this.prices.push" not in prompts[1] and "base * TAX" not in prompts[1]
    [after] = client.diagnostics[uri]
    assert after.data["fingerprint"] == before.data["fingerprint"]
    assert after.message == before.message
    assert after.range.start.line == before.range.start.line + 2

    # a minified bundle: not reviewed, one message however often it is saved (400 kB: a
    # larger one meets kaizen.maxFileBytes first, tests/test_faults.py)
    bundle = "var a=function(n){return n+1};" * 13_000
    bundle_uri = open_ts(client, project / "dist.js", bundle, "javascript")
    await wait_for_diagnostics(client, bundle_uri, timeout=60)
    edit_and_save(client, bundle_uri, 2, bundle + "\n")
    await wait_for_diagnostics(client, bundle_uri, timeout=60)
    said = [m.message for m in client.messages if "dist.js" in m.message]
    assert len(said) == 1 and "minified" in said[0]
    assert len(scripted.prompts_for("issue_detector")) == 2
