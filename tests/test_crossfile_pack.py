"""The context pack of non-Python units: callee signatures resolved the language's own way
(46 cases over 12 languages, tests/fixtures/crossfile_corpus.py), never a body; library
names listed, not expanded; a changed callee signature changes the caller's hash."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kaizen.app.symbols import WorkspaceSymbols
from kaizen.config import Settings
from kaizen.core.document import Document
from kaizen.pipelines.context import RunContext
from kaizen.pipelines.review import plan_review
from tests.fixtures.crossfile_corpus import BODY, Case, cases, prompt_context

CASES = cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_callee_signature_in_the_prompt_and_no_body(case: Case, tmp_path: Path) -> None:
    calling, every = asyncio.run(prompt_context(case, tmp_path))
    assert case.signature in calling
    assert BODY not in every


def test_the_corpus_covers_seven_languages_and_forty_cases() -> None:
    assert len(CASES) >= 40 and len({c.language for c in CASES}) >= 7


UTIL = """/** Rounds a price to cents. */
export function roundPrice(p: number): number {
  return Math.round(p * 100) / 100;
}
"""
APP = """import { roundPrice } from "./util";
import { debounce } from "lodash";

export function total(a: number): number {
  return roundPrice(a);
}

export const later = debounce(() => 1, 10);
"""


def plan_of(
    root: Path, symbols: WorkspaceSymbols, context_tokens: int = 1000
) -> dict[str, tuple[str, str]]:
    """unit name -> (hash, pack) of app.ts, as a review plans it."""
    path = root / "src/app.ts"
    settings = Settings()
    settings.review.context_tokens = context_tokens
    doc = Document(uri=path.as_uri(), path=path, text=path.read_text())
    ctx = RunContext(settings=settings, router=None, symbols=symbols.index)  # type: ignore[arg-type]
    plan = asyncio.run(plan_review(doc, ctx, "autofix", f"m{context_tokens}"))
    return {p.unit.name: (p.hash, p.pack.text) for p in plan.items}


@pytest.fixture
def shop(tmp_path: Path) -> tuple[Path, WorkspaceSymbols]:
    (tmp_path / ".git").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "src/util.ts").write_text(UTIL)
    (tmp_path / "src/app.ts").write_text(APP)
    symbols = WorkspaceSymbols(tmp_path)
    symbols.build_now()
    return tmp_path, symbols


def total_unit(plan: dict[str, tuple[str, str]]) -> tuple[str, str]:
    [found] = [v for k, v in plan.items() if k.endswith("total")]
    return found


def test_a_changed_callee_signature_changes_the_callers_hash(shop) -> None:  # type: ignore[no-untyped-def]
    root, symbols = shop
    before_hash, before_pack = total_unit(plan_of(root, symbols))
    assert "function roundPrice(p: number): number" in before_pack
    # the body changes: the caller's hash does not (its cached review stays valid)
    body_only = UTIL.replace("* 100) / 100", "* 1000) / 1000")
    (root / "src/util.ts").write_text(body_only)
    symbols.update_now(root / "src/util.ts")
    assert total_unit(plan_of(root, symbols))[0] == before_hash
    # the signature changes: the caller is reviewed again, with the new signature
    (root / "src/util.ts").write_text(body_only.replace("(p: number)", "(p: number, d = 2)"))
    symbols.update_now(root / "src/util.ts")
    after_hash, after_pack = total_unit(plan_of(root, symbols))
    assert after_hash != before_hash
    assert "function roundPrice(p: number, d = 2): number" in after_pack


def test_library_names_are_listed_not_expanded(shop) -> None:  # type: ignore[no-untyped-def]
    root, symbols = shop
    packs = "\n".join(pack for _, pack in plan_of(root, symbols).values())
    assert "From libraries (not shown):\nlodash.debounce" in packs


def test_the_pack_stays_within_the_context_budget(shop) -> None:  # type: ignore[no-untyped-def]
    root, symbols = shop
    _, pack = total_unit(plan_of(root, symbols, context_tokens=20))
    assert 0 < len(pack) <= 20 * 4 + 60  # titles aside, within 20 tokens of 4 characters
    assert "roundPrice(p: number)" not in pack  # the imports came first and filled it


def test_without_an_index_imports_still_resolve(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "src/util.ts").write_text(UTIL)
    (tmp_path / "src/app.ts").write_text(APP)
    path = tmp_path / "src/app.ts"
    doc = Document(uri=path.as_uri(), path=path, text=APP)
    ctx = RunContext(settings=Settings(), router=None)  # type: ignore[arg-type]
    plan = asyncio.run(plan_review(doc, ctx, "autofix", "no-index"))
    assert any("function roundPrice(p: number): number" in p.pack.text for p in plan.items)


def test_undecided_names_take_the_closest_definition_and_bare_words_none(tmp_path: Path) -> None:
    """Ruby autoloading (no require): the index ranks same-named definitions by path; a
    local variable that shares a function's name elsewhere brings nothing."""
    files = {
        "app/models/tax.rb": "# Near.\nclass Tax\n  def self.compute(x)\n    x\n  end\nend\n",
        "legacy/models/tax.rb": "# Far.\nclass Tax\nend\n",
        "lib/total.rb": "# A function named like a local.\ndef subtotal(a)\n  a\nend\n",
        "app/models/order.rb": "def price(x)\n  subtotal = x\n  Tax.compute(subtotal)\nend\n",
    }
    (tmp_path / ".git").mkdir()
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    symbols = WorkspaceSymbols(tmp_path)
    symbols.build_now()
    path = tmp_path / "app/models/order.rb"
    doc = Document(uri=path.as_uri(), path=path, text=path.read_text())
    ctx = RunContext(settings=Settings(), router=None, symbols=symbols.index)  # type: ignore[arg-type]
    [unit] = [p for p in asyncio.run(plan_review(doc, ctx, "autofix", "rb")).items]
    assert "class Tax  # Near.  # from app/models/tax.rb" in unit.pack.text
    assert "Far." not in unit.pack.text and "subtotal(a)" not in unit.pack.text


def test_an_import_the_unit_does_not_use_leaves_its_hash_alone(shop) -> None:  # type: ignore[no-untyped-def]
    root, symbols = shop
    before_hash, before_pack = total_unit(plan_of(root, symbols))
    assert 'import { roundPrice } from "./util";' in before_pack
    assert "lodash" not in before_pack  # the module's other import: not this unit's
    app = root / "src/app.ts"
    app.write_text('import { readFile } from "fs";\n' + app.read_text())
    assert total_unit(plan_of(root, symbols))[0] == before_hash
