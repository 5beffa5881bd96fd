"""An edit parsed incrementally gives exactly what parsing the whole text gives.

Real modules of this repository are edited at random (lines changed, inserted, deleted,
brackets left open, indented lines after a definition, ``__future__`` imports moved, whole
functions duplicated) and after every edit the incremental result is compared, unit by unit
and fact by fact, with a parse from scratch.
"""

from __future__ import annotations

import random
from pathlib import Path

from kaizen.languages.parsed import Parsed, parse, parsed, reparse

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "server" / "kaizen").rglob("*.py"), key=lambda p: -p.stat().st_size)[:6]


def view(p: Parsed) -> tuple:
    units = [(u.kind, u.name, u.lines, u.text, u.header, sorted(u.names)) for u in p.units]
    facts = (p.facts.imports, sorted(p.facts.defs.items()), sorted(p.facts.bound.items()))
    return units, facts


def edit(lines: list[str], rng: random.Random) -> list[str]:
    out = list(lines)
    at = rng.randrange(len(out) + 1)
    kind = rng.choice(["change", "change", "insert", "delete", "open", "indent", "future",
                       "define", "duplicate", "blank"])
    if kind == "change" and at < len(out):
        out[at] = out[at] + "  # edited" if rng.random() < 0.5 else out[at].replace("self", "me")
    elif kind == "insert":
        out.insert(at, rng.choice(lines))
    elif kind == "delete" and at < len(out):
        del out[at]
    elif kind == "open":
        out.insert(at, "x = (")
    elif kind == "indent":
        out.insert(at, "    y = 1")
    elif kind == "future":
        out.insert(at, "from __future__ import annotations")
    elif kind == "define":
        out[at:at] = ["def added(a, b=2):", '    """New."""', "    return a + b"]
    elif kind == "duplicate":
        starts = [i for i, line in enumerate(out) if line.startswith("def ")]
        if starts:
            i = rng.choice(starts)
            j = next((k for k in range(i + 1, len(out)) if out[k][:1] not in ("", " ")), len(out))
            out[j:j] = out[i:j]
    elif kind == "blank":
        out.insert(at, "")
    return out


def test_random_edits_parse_incrementally_to_the_same_units_and_facts() -> None:
    rng = random.Random(16)
    incremental = eligible = 0  # edits between two texts that parse, and how many reparsed
    for source in SOURCES:
        lines = source.read_text(encoding="utf-8").split("\n")
        text = "\n".join(lines)
        document = f"test://{source.name}"
        parsed(text, "python", document)
        for _ in range(40):
            edited = edit(lines, rng)
            new = "\n".join(edited)
            base = parse(text, "python")
            if base.statements is not None and parse(new, "python").statements is not None:
                eligible += 1
                incremental += reparse(text, base, new) is not None
            assert view(parsed(new, "python", document)) == view(parse(new, "python")), (
                source.name
            )
            text = new
            if parse(new, "python").statements is not None:
                lines = edited  # a text that does not parse is fixed by the next edit
    assert eligible > 60 and incremental / eligible > 0.8, (incremental, eligible)


def test_an_edit_inside_one_function_reparses_only_that_function() -> None:
    old = "import os\n\n\ndef a():\n    return 1\n\n\ndef b():\n    return os.sep\n"
    new = old.replace("return 1", "return 2")
    again = reparse(old, parse(old, "python"), new)
    assert again is not None and view(again) == view(parse(new, "python"))
    assert [u.name for u in again.units] == ["<imports>", "a", "b"]
    assert again.facts.defs["b"] == "def b(): ..."


def test_an_edit_that_opens_a_bracket_falls_back_to_a_whole_parse() -> None:
    old = "def a():\n    return 1\n\n\ndef b():\n    return 2\n"
    new = old.replace("    return 1", "    return (1")
    assert reparse(old, parse(old, "python"), new) is None
    assert view(parsed(new, "python", "test://b.py")) == view(parse(new, "python"))
