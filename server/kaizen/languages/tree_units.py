"""Review units of a language read by tree-sitter: the same unit model as Python's.

- ``function``: a top-level function (or a function value: ``const f = () => {}``);
- ``method``: a function inside a class, impl, interface, trait or struct, its
  enclosing headers in ``Unit.header`` (context, not part of the unit); Go's methods by
  their receiver type;
- ``class``: a class's lines outside its methods (header, fields, closing brace); a
  namespace's (``namespace``, ``mod m {}``) are a ``module`` unit, and its functions stay
  ``function`` units named ``ns.f`` with the namespace header as context;
- ``imports``: every import/use/include/require and package line, one unit;
- ``module``: the other top-level lines, one unit per run of statements not interrupted by
  a definition or a blank line between two statements (as Python's groups: a changed
  constant re-sends its own group, not every constant of the file);
- ``block``: where tree-sitter found a syntax error, what no surviving definition covers.

Each definition's unit starts at the doc comments and decorators right above it. Names
never depend on a position: ``Cart.total``, ``impl Display for Cart.fmt``, and module
groups named from their first line, so inserting lines above a unit changes nothing.
"""

from __future__ import annotations

from functools import lru_cache

from ..core.language_table import LanguageEntry
from .context_pack import ModuleFacts
from .syntax import Outline, outline_of
from .table import entry_for
from .units import Unit, split_blocks, used_names

NAMES_KEPT = 4096  # unit texts whose names are remembered: an edit changes one or two


@lru_cache(maxsize=NAMES_KEPT)
def _names_of(text: str) -> frozenset[str]:
    return frozenset(used_names(text))  # the unit model's extraction, every language


def _used_names(text: str) -> set[str]:
    """The names a unit's text uses; after an edit, every unit but the edited one has a
    text seen before (the regular expression was half the cost of an incremental split)."""
    return set(_names_of(text))

NAME_CHARS = 60


def split_language(
    text: str, language: str, lines: list[str], document: str = ""
) -> tuple[list[Unit], ModuleFacts]:
    """Units and module facts of a text in a language of the table other than Python:
    by definition where its grammar and query load, else blocks and no facts."""
    return split_entry(entry_for(language), text, lines, document)


def split_entry(
    entry: LanguageEntry | None, text: str, lines: list[str], document: str = ""
) -> tuple[list[Unit], ModuleFacts]:
    """``split_language`` for a given entry (a grammar that does not load: blocks, and
    ``grammars`` logs it once)."""
    found = outline_of(entry, text, document) if entry is not None else None
    if entry is None or found is None:
        return split_blocks(lines), ModuleFacts()
    return tree_units(found, lines), tree_facts(found, lines, entry.line_comment)


def _unit(kind: str, name: str, numbers: list[int], lines: list[str], header: str = "") -> Unit:
    first, last = numbers[0], numbers[-1]
    if last - first + 1 == len(numbers):  # contiguous, as most units are: one slice
        text = "\n".join(lines[first - 1 : last])
    else:
        text = "\n".join([lines[n - 1] for n in numbers])
    return Unit(kind, name, numbers, text, header=header, names=_used_names(text))


def _content_name(kind: str, numbers: list[int], lines: list[str]) -> str:
    first = " ".join(lines[numbers[0] - 1].split())
    return f"<{kind} {first[:NAME_CHARS]}>"


def tree_units(outline: Outline, lines: list[str]) -> list[Unit]:
    """The units of a document (see the module doc), in order of their first line; each
    line belongs to at most one unit, every non-blank line to one."""
    n = len(lines)
    taken = [False] * (n + 2)
    units: list[Unit] = []

    def claim(first: int, last: int) -> list[int]:
        got = [i for i in range(max(first, 1), min(last, n) + 1) if not taken[i]]
        for i in got:
            taken[i] = True
        return got

    defs = [d for d in outline.definitions if d.ok]
    # members before their class (a class keeps what its members leave), inner classes
    # before outer ones
    containers = ("class", "namespace")
    for d in sorted(defs, key=lambda d: -(d.qualified.count("."))):
        if d.kind in containers:
            continue
        if got := claim(d.first, d.end):
            units.append(_unit(d.kind, d.qualified, got, lines, d.header))
    for d in sorted((d for d in defs if d.kind in containers), key=lambda d: -d.first):
        got = [i for i in claim(d.first, d.end) if lines[i - 1].strip()]
        if got:  # a namespace's own lines are module code: its header and loose statements
            header = "\n".join(h for h in (d.header, d.signature) if h)
            kind = "class" if d.kind == "class" else "module"
            units.append(_unit(kind, d.qualified, got, lines, header))
    spans = [(i.line, i.end or i.line) for i in outline.imports] + outline.packages
    imported = [i for a, b in sorted(spans) for i in claim(a, b) if lines[i - 1].strip()]
    if imported:
        units.append(_unit("imports", "<imports>", sorted(imported), lines))
    broken = [False] * (n + 2)
    for a, b in outline.errors:
        for i in range(a, min(b, n) + 1):
            broken[i] = True
    for d in outline.definitions:
        if not d.ok:
            for i in range(d.first, min(d.end, n) + 1):
                broken[i] = True
    units.extend(_module_groups(lines, taken, broken, outline.statements))
    units.extend(_error_blocks(lines, taken, broken))
    units.sort(key=lambda u: u.start)
    return units


def _module_groups(
    lines: list[str],
    taken: list[bool],
    broken: list[bool],
    statements: list[tuple[int, int]],
) -> list[Unit]:
    """Free lines outside syntax errors, one group per run between definitions and blank
    lines that lie between statements (not inside one: a long object literal with blank
    lines in it stays whole)."""
    inside = [False] * (len(lines) + 2)
    for first, last in statements:
        for i in range(first + 1, min(last, len(lines)) + 1):
            inside[i] = True
    groups: list[list[int]] = []
    current: list[int] = []
    for i in range(1, len(lines) + 1):
        if taken[i] or broken[i] or (current and not lines[i - 1].strip() and not inside[i]):
            if current:
                groups.append(current)
                current = []
        elif lines[i - 1].strip():
            current.append(i)
    if current:
        groups.append(current)
    return [_unit("module", _content_name("module", g, lines), g, lines) for g in groups]


def _error_blocks(lines: list[str], taken: list[bool], broken: list[bool]) -> list[Unit]:
    """Free lines inside a syntax error's span, in blocks as for an unparsed language."""
    masked = [
        line if broken[i] and not taken[i] else "" for i, line in enumerate(lines, 1)
    ]
    if not any(line.strip() for line in masked):
        return []
    blocks = split_blocks(masked)
    for block in blocks:
        block.names = _used_names(block.text)
    return blocks


def tree_facts(outline: Outline, lines: list[str], comment: str = "//") -> ModuleFacts:
    """The module facts the context pack reads: the import statements as written and each
    definition's signature (with its first doc line), by name and qualified name."""
    facts = ModuleFacts()
    for ref in outline.imports:
        facts.imports.append(" ".join(" ".join(lines[ref.line - 1 : ref.end or ref.line]).split()))
    for d in outline.definitions:
        sig = f"{d.signature}  {comment or '//'} {d.doc}" if d.doc else d.signature
        facts.defs.setdefault(d.qualified, sig)
        if d.kind != "method":
            facts.defs.setdefault(d.name, sig)
    return facts
