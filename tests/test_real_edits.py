"""Real edits cost what they change (issue 26): a small replay of commits written here.

Each edit is planned the way a save is (``plan_review``: units, context packs, hashes) and
what would be re-sent is every unit whose hash the text before it did not have (the review
cache is looked up by exactly that hash). Then one server, with the scripted model, shows
that a fix is asked only for findings that will be shown and only once per finding.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types

from kaizen.config import Settings
from kaizen.core.document import Document
from kaizen.core.findings import Edit, Finding, assign_fingerprints, split_lines
from kaizen.languages.parsed import scope_namer
from kaizen.languages.units import split_blocks, split_units
from kaizen.memory.loop import suppress_dismissed
from kaizen.pipelines.context import RunContext
from kaizen.pipelines.fix_trigger import Remembered, reuse
from kaizen.pipelines.review import plan_review
from tests.conftest import model_options, open_document, wait_for_diagnostics
from tests.fixtures.editing import edit_and_save

ORDERS = '''"""Orders."""
from __future__ import annotations

import json
from decimal import Decimal

from shop.money import to_cents

TAX = Decimal("0.2")
LIMIT = 10


def total(items):
    return sum(to_cents(i.price) for i in items)


def taxed(items):
    return total(items) * (1 + TAX)


def dump(order):
    return json.dumps(order)


class Cart:
    currency = "EUR"
    max_items = LIMIT

    def add(self, item):
        self.items.append(item)

    def price(self):
        return taxed(self.items)
'''

MONEY = "def to_cents(amount):\n    return round(amount * 100)\n"


def resent(root: Path, old: str, new: str, money: str | None = None) -> list[str]:
    """The units of ``new`` a save would send after ``old`` was reviewed (by name)."""
    (root / ".git").mkdir(exist_ok=True)
    (root / "shop").mkdir(exist_ok=True)
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "money.py").write_text(MONEY)
    path = root / "shop" / "orders.py"
    ctx = RunContext(settings=Settings(), router=None)  # type: ignore[arg-type]

    async def hashes(text: str, version: int) -> dict[str, str]:
        path.write_text(text)
        doc = Document(uri=path.as_uri(), path=path, text=text, version=version)
        plan = await plan_review(doc, ctx, "autofix", "scripted-model")
        return {p.hash: p.unit.name for p in plan.items}

    before = asyncio.run(hashes(old, 1))
    if money is not None:
        (root / "shop" / "money.py").write_text(money)
    after = asyncio.run(hashes(new, 2))
    return sorted(name for h, name in after.items() if h not in before)


def test_lines_inserted_in_a_huge_function_resend_the_blocks_around_them(tmp_path: Path) -> None:
    """A function past ``review.maxUnitTokens`` is reviewed in blocks; they are named by
    their text, not their rank, so lines inserted near its top re-send the blocks around
    them, not every block below."""
    steps = "".join(
        f"    step{i} = load({i})\n"
        + f"    check(step{i}, {i}, 'against the ledger')\n" * (5 + (i * 7) % 9)
        + "\n"
        for i in range(80)
    )
    huge = f"def pipeline(load, check):\n{steps}    return step79\n"
    assert len(huge) // 4 > Settings().review.max_unit_tokens
    inserted = huge.replace(
        "    step1 = load(1)\n", "    extra = load(-1)\n" * 12 + "\n    step1 = load(1)\n"
    )
    blocks = split_blocks(huge.splitlines())
    again = resent(tmp_path, huge, inserted)
    assert len(blocks) > 25 and "pipeline block def pipeline(load, check):" in again
    assert len(again) < len(blocks) // 4, again  # by rank: every block below the insertion


def test_unit_model_of_a_module() -> None:
    units = [(u.kind, u.name) for u in split_units(ORDERS.splitlines(), "python")]
    assert units == [
        ("module", "<module docstring>"),
        ("imports", "<imports>"),
        ("module", "<module TAX>"),  # TAX and LIMIT: no blank line, no definition between
        ("function", "total"),
        ("function", "taxed"),
        ("function", "dump"),
        ("class", "Cart"),
        ("method", "Cart.add"),
        ("method", "Cart.price"),
    ]


def test_an_unchanged_text_resends_nothing(tmp_path: Path) -> None:
    assert resent(tmp_path, ORDERS, ORDERS) == []


def test_adding_an_import_resends_only_the_import_block(tmp_path: Path) -> None:
    new = ORDERS.replace("import json\n", "import json\nimport os\n")
    assert resent(tmp_path, ORDERS, new) == ["<imports>"]


def test_using_the_new_import_resends_its_user(tmp_path: Path) -> None:
    old = ORDERS.replace("import json\n", "import json\nimport os\n")
    new = old.replace("return json.dumps(order)", "return json.dumps(order) + os.linesep")
    assert resent(tmp_path, old, new) == ["dump"]


def test_changing_a_constant_resends_only_its_group(tmp_path: Path) -> None:
    new = ORDERS.replace("LIMIT = 10", "LIMIT = 20")
    assert resent(tmp_path, ORDERS, new) == ["<module TAX>"]  # not Cart's max_items


def test_changing_a_class_attribute_resends_only_the_class_body(tmp_path: Path) -> None:
    new = ORDERS.replace('currency = "EUR"', 'currency = "USD"')
    assert resent(tmp_path, ORDERS, new) == ["Cart"]


def test_changing_a_signature_resends_the_function_and_its_callers_only(tmp_path: Path) -> None:
    new = ORDERS.replace("def total(items):", "def total(items, *, rounding=None):")
    assert resent(tmp_path, ORDERS, new) == ["taxed", "total"]  # not Cart.price, dump


def test_a_callee_signature_in_another_file_resends_its_callers_only(tmp_path: Path) -> None:
    money = "def to_cents(amount, rounding='half-up'):\n    return round(amount * 100)\n"
    assert resent(tmp_path, ORDERS, ORDERS, money=money) == ["total"]


def test_lines_inserted_above_a_function_resend_nothing(tmp_path: Path) -> None:
    new = ORDERS.replace("\n\ndef total(items):", "\n\n\n\n\ndef total(items):")
    assert resent(tmp_path, ORDERS, new) == []
    new = ORDERS.replace('"""Orders."""\n', '"""Orders."""\n\n\n\n')
    assert resent(tmp_path, ORDERS, new) == []


def test_a_function_added_above_others_is_the_only_unit_sent(tmp_path: Path) -> None:
    new = ORDERS.replace(
        "\n\ndef total(items):", "\n\ndef zero():\n    return 0\n\n\ndef total(items):"
    )
    assert resent(tmp_path, ORDERS, new) == ["zero"]


def test_a_method_edit_resends_only_that_method(tmp_path: Path) -> None:
    new = ORDERS.replace("self.items.append(item)", "self.items.insert(0, item)")
    assert resent(tmp_path, ORDERS, new) == ["Cart.add"]


def test_blocks_are_named_by_content_and_survive_lines_inserted_above() -> None:
    body = [f"    x_{i} = {i}" for i in range(30)]
    lines = [line for n in range(12) for line in [f"def f{n}(:", *body, ""]]
    before = {(u.name, u.text) for u in split_blocks(lines)}
    after = {(u.name, u.text) for u in split_blocks(["# new", "y = 1", "", *lines])}
    assert len(before) > 3 and len(before - after) <= 1  # only the first block changed


def test_a_remembered_fix_moves_with_its_finding_and_only_onto_the_same_lines() -> None:
    lines = ["def f(xs):", "    return sum(xs) / len(xs)"]
    fix = Remembered(
        2,
        (Edit(1, 0, 2, 0, "    return sum(xs) / max(len(xs), 1)\n"),),
        ((lines[1],),),
        "Guard the division",
    )
    moved = ["", "", *lines]
    finding = Finding(
        pipeline="autofix",
        category="bug",
        severity="warning",
        start_line=4,
        end_line=4,
        message="division by zero",
    )
    assert reuse(finding, fix, moved)
    assert finding.edits == [Edit(3, 0, 4, 0, "    return sum(xs) / max(len(xs), 1)\n")]
    changed = ["def f(xs):", "    return sum(xs) / len(list(xs))"]
    other = Finding(
        pipeline="autofix",
        category="bug",
        severity="warning",
        start_line=2,
        end_line=2,
        message="division by zero",
    )
    assert not reuse(other, fix, changed) and other.edits == []


# the server: fixes only for what is shown ------------------------------------------------

TWO = "def mean(xs):\n    n = len(xs)\n    return sum(xs) / n\n\n\ndef head(xs):\n    first = xs[0]\n    return first\n"


def issue(line: int, message: str) -> dict:
    return {
        "line": line,
        "severity": "warning",
        "category": "bug",
        "message": message,
        "rationale": "scripted",
    }


async def test_fixes_are_asked_once_and_never_for_dismissed_findings(
    start_client, scripted, project: Path
):
    scripted.set_default(
        "issue_detector",
        {"issues": [issue(3, "empty list divides by zero"), issue(7, "empty list has no head")]},
    )
    scripted.set_default(
        "fix_generator",
        {
            "fixes": [
                {
                    "issue": 1,
                    "start_line": 3,
                    "end_line": 3,
                    "replacement": "    return sum(xs) / n if n else 0.0",
                    "explanation": "guard",
                }
            ]
        },
    )
    client = await start_client(model_options(scripted, review={"minConfidence": 0}))
    uri = open_document(client, project / "stats.py", TWO)
    found = await wait_for_diagnostics(client, uri, lambda d: len(d) == 2)
    assert len(scripted.requests_for("fix_generator")) == 1
    head = next(d for d in found if d.range.start.line == 6)
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=head.range,
            context=types.CodeActionContext(diagnostics=[head]),
        )
    )
    dismiss = next(a for a in actions if a.command and a.command.command == "kaizen.dismiss")
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command=dismiss.command.command, arguments=dismiss.command.arguments
        )
    )
    await wait_for_diagnostics(client, uri, lambda d: len(d) == 1)

    # both functions change (other lines); the model finds the same two issues again: the
    # dismissed one is not shown and costs no fix, the other keeps the fix it had
    edited = TWO.replace("n = len(xs)", "n = len(list(xs))").replace(
        "first = xs[0]", "first = list(xs)[0]"
    )
    edit_and_save(client, uri, 2, edited)
    await asyncio.to_thread(scripted.wait_for_requests, 3, 60)
    [mean] = await wait_for_diagnostics(client, uri, lambda d: len(d) == 1, timeout=60)
    assert len(scripted.requests_for("issue_detector")) == 2
    assert len(scripted.requests_for("fix_generator")) == 1  # none for the save
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=mean.range,
            context=types.CodeActionContext(diagnostics=[mean]),
        )
    )
    assert any(a.edit is not None for a in actions)  # the remembered fix, on the new text


def _fingerprints(text: str) -> dict[int, str]:
    lines = split_lines(text)
    found = [
        Finding("autofix", "bug", "warning", n, n, "returns None")
        for n, line in enumerate(lines, 1)
        if line.strip() == "return None"
    ]
    assign_fingerprints(found, lines, scope_namer(text, "python"))
    return {f.start_line: f.fingerprint for f in found}


def test_a_finding_keeps_its_fingerprint_when_a_twin_elsewhere_goes() -> None:
    """The same flagged text in another function is no reason to rename a finding:
    deleting that function must not change this one's identity (a cached finding would
    look new, and a dismissal would stop matching it)."""
    twin = "def first(x):\n    if x:\n        return None\n    return x\n\n\n"
    kept = "def second(y):\n    if y:\n        return None\n    return y\n"
    both, alone = _fingerprints(twin + kept), _fingerprints(kept)
    assert len(set(both.values())) == 2
    assert both[9] == alone[3]


def test_a_dismissal_recorded_before_scoped_fingerprints_still_hides_the_finding() -> None:
    text = "def only(x):\n    return None\n"
    lines = split_lines(text)
    f = Finding("autofix", "bug", "warning", 2, 2, "returns None")
    assign_fingerprints([f], lines, scope_namer(text, "python"))
    assert f.unscoped and f.fingerprint != f.unscoped
    assert suppress_dismissed([f], {f.unscoped: "not a bug"}) == []
    assert (f.suppressed, f.suppressed_by) == ("not a bug", f.unscoped)


TYPING = """from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from decimal import Decimal

    from shop.money import to_cents

    Price = Decimal
    Quantity = int

    class Line:
        price: Price
        quantity: Quantity

    Basket = list[Line]


def total(lines: Basket) -> Price:
    return sum(to_cents(line.price) for line in lines)
"""


def test_a_large_compound_statement_is_split_like_a_module() -> None:
    units = [(u.kind, u.name, u.header) for u in split_units(TYPING.splitlines(), "python")]
    assert units == [
        ("imports", "<imports>", ""),
        ("imports", "<imports in if TYPE_CHECKING>", "if TYPE_CHECKING:"),
        ("module", "<module Price in if TYPE_CHECKING>", "if TYPE_CHECKING:"),
        ("class", "Line", "if TYPE_CHECKING:\nclass Line:"),
        ("module", "<module Basket in if TYPE_CHECKING>", "if TYPE_CHECKING:"),
        ("function", "total", ""),
    ]


def test_an_alias_changed_inside_if_type_checking_resends_its_group_only(
    tmp_path: Path,
) -> None:
    new = TYPING.replace("Quantity = int", "Quantity = float")
    assert resent(tmp_path, TYPING, new) == ["<module Price in if TYPE_CHECKING>"]
    new = TYPING.replace("return sum(", "return Decimal(0) + sum(")
    assert resent(tmp_path, TYPING, new) == ["total"]


def test_imports_under_if_type_checking_are_context_of_their_users(tmp_path: Path) -> None:
    from kaizen.languages.context_pack import build_pack
    from kaizen.languages.parsed import parse

    done = parse(TYPING, "python")
    total = next(u for u in done.units if u.name == "total")
    pack = build_pack(total, done.facts, tmp_path / "t.py", tmp_path, 800).text
    assert "from shop.money import to_cents" in pack
    assert "Basket = " not in pack  # a group's text is not a signature


def test_a_typescript_constant_change_resends_its_group_not_every_module_line() -> None:
    from kaizen.languages.parsed import parse
    from kaizen.languages.units import unit_hash

    text = (
        'import { a } from "./a";\n\nconst LIMIT = 10;\nconst TAX = 0.2;\n\n'
        "export const routes = {\n  home: '/',\n\n  about: '/about',\n};\n\n"
        "export function f(): number {\n  return LIMIT;\n}\n"
    )
    new = text.replace("TAX = 0.2", "TAX = 0.3")
    before = {unit_hash(u): u.name for u in parse(text, "typescript").units}
    after = {unit_hash(u): u.name for u in parse(new, "typescript").units}
    assert sorted(n for h, n in after.items() if h not in before) == ["<module const LIMIT = 10;>"]
    routes = next(u for u in parse(text, "typescript").units if "routes" in u.name)
    assert len(routes.lines) == 4  # the blank line inside the literal does not cut it


def test_a_learnings_block_is_cut_to_the_code_it_goes_with() -> None:
    from kaizen.core.document import Learnings

    lines = [f"- Found before: [bug] lesson number {i} about this code" for i in range(8)]
    block = Learnings("Historical learnings:\n" + "\n".join(lines) + "\n", list(range(10, 18)))
    assert block.within(10_000) is block
    cut = block.within(40)  # 160 characters: the header and the first two lines
    assert cut.block.splitlines() == ["Historical learnings:", *lines[:2]]
    assert cut.insight_ids == [10, 11]  # only what the prompt carries is credited
    assert block.within(5) == Learnings()  # not even one line: no header alone
