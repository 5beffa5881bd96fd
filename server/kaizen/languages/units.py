"""Review units: the pieces of a document that are reviewed, cached and re-reviewed on their own.

A one-line edit in a 2,000-line file should cost one function's worth of tokens, and findings
on code nobody touched should not appear, vanish or reword themselves because a model is
nondeterministic. So a document is split into units, each with a content hash:

- Python (parsed with ``ast``): each top-level function, each method (its class header
  goes along as context, it is not part of the unit), and everything else in the module
  (imports, constants, top-level statements, class bodies outside methods) as one unit.
- Other languages, or Python that does not parse (a syntax error mid-edit): blocks cut at
  blank lines, at most ``BLOCK_LINES`` lines each; a small file is one block.

A unit is a list of 1-based line numbers (the module rest is not contiguous) plus its text.
Findings are cached relative to the unit (the index of a line in ``lines``), so a unit that
moves keeps its findings at its new place.
"""

from __future__ import annotations

import ast
import hashlib
import re
import threading
from dataclasses import dataclass, field

BLOCK_LINES = 150
SMALL_FILE_LINES = 200

_WS = re.compile(r"\s+")


@dataclass
class Unit:
    kind: str  # function | method | module | block
    name: str  # qualified name for definitions ("Cart.total"), "<module>", "block 3"
    lines: list[int]  # 1-based line numbers, ascending
    text: str  # the unit's lines joined (original text, not redacted)
    header: str = ""  # the enclosing class's header line, for methods
    names: set[str] = field(default_factory=set)  # identifiers the unit uses (Python)

    @property
    def start(self) -> int:
        return self.lines[0]

    @property
    def end(self) -> int:
        return self.lines[-1]

    def index_of(self, line: int) -> int | None:
        """Position of document line ``line`` in this unit, or None when it is not in it."""
        lo, hi = 0, len(self.lines)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.lines[mid] < line:
                lo = mid + 1
            else:
                hi = mid
        return lo if lo < len(self.lines) and self.lines[lo] == line else None

    def contains(self, line: int) -> bool:
        return self.index_of(line) is not None

    def normalised(self) -> str:
        """The text with whitespace runs collapsed: re-indenting or re-wrapping blank space
        does not make a unit "changed"."""
        return "\n".join(_WS.sub(" ", line).strip() for line in self.text.splitlines()).strip()


def unit_hash(unit: Unit, *salt: str) -> str:
    """Content hash of the unit, its class header and everything else that changes the
    answer (prompt version, model, settings, context pack) passed as ``salt``."""
    h = hashlib.sha256()
    for part in (unit.kind, unit.name, unit.header, unit.normalised(), *salt):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()[:32]


def split_units(lines: list[str], language: str, tree: ast.Module | None = None) -> list[Unit]:
    """The document's units, in order of their first line; every non-blank line is in
    exactly one unit. ``tree``: the module already parsed (parsing is most of the cost)."""
    if language == "python":
        if tree is None:
            tree = parse_python("\n".join(lines))
        if tree is None:  # mid-edit: review by blocks, say nothing alarming
            return split_blocks(lines)
        return python_units(tree, lines)
    return split_blocks(lines)


# CPython 3.11-3.12 keep the AST builder's recursion depth in per-interpreter state: two
# threads parsing at once (``kaizen check`` plans files on worker threads) can fail with
# "SystemError: AST constructor recursion depth mismatch" (python/cpython#106905). Parsing
# holds the GIL throughout anyway, so one at a time costs nothing.
_AST_LOCK = threading.Lock()


def parse_python(text: str) -> ast.Module | None:
    """``text``'s module tree, None when it does not parse. Every parse goes through here."""
    try:
        with _AST_LOCK:
            return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def span(node: ast.AST) -> tuple[int, int]:
    """First line (decorators included) and last line of a definition."""
    start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])  # type: ignore[attr-defined]
    return start, node.end_lineno or node.lineno  # type: ignore[attr-defined]


_NAME = re.compile(r"(?<![\w.])([A-Za-z_]\w*)(?:\s*\.\s*([A-Za-z_]\w*))?")


def _used_names(text: str) -> set[str]:
    """Identifiers (and ``a.b`` pairs) in the unit's text. A regular expression rather than
    an AST walk: ten times cheaper, and a name found in a string or comment only adds a
    harmless signature to the context."""
    names: set[str] = set()
    for head, attr in _NAME.findall(text):
        names.add(head)
        if attr:
            names.add(f"{head}.{attr}")
    return names


def _unit(kind: str, name: str, numbers: list[int], lines: list[str], **extra: object) -> Unit:
    text = "\n".join(lines[n - 1] for n in numbers)
    return Unit(kind, name, numbers, text, **extra)  # type: ignore[arg-type]


def python_units(tree: ast.Module, lines: list[str]) -> list[Unit]:
    return assemble_units([u for node in tree.body for u in node_units(node, lines)], lines)


def node_units(node: ast.stmt, lines: list[str]) -> list[Unit]:
    """The units one top-level statement makes: a function, or each method of a class.
    Any other statement makes none: its lines belong to the module rest."""
    defs = (ast.FunctionDef, ast.AsyncFunctionDef)
    if isinstance(node, defs):
        return [_definition("function", node.name, node, lines)]
    if isinstance(node, ast.ClassDef):
        header = lines[node.lineno - 1].strip()
        return [
            _definition("method", f"{node.name}.{item.name}", item, lines, header=header)
            for item in node.body
            if isinstance(item, defs)
        ]
    return []


def _definition(kind: str, name: str, node: ast.AST, lines: list[str], header: str = "") -> Unit:
    start, end = span(node)
    unit = _unit(kind, name, list(range(start, end + 1)), lines, header=header)
    unit.names = _used_names(unit.text)
    return unit


def assemble_units(definitions: list[Unit], lines: list[str]) -> list[Unit]:
    """The definitions' units plus the module rest (every other non-blank line), in order."""
    units = list(definitions)
    taken = {n for unit in units for n in unit.lines}
    rest = [n for n in range(1, len(lines) + 1) if n not in taken and lines[n - 1].strip()]
    if rest:
        unit = _unit("module", "<module>", rest, lines)
        unit.names = _used_names(unit.text)
        units.append(unit)
    units.sort(key=lambda u: u.start)
    return units


def split_blocks(lines: list[str]) -> list[Unit]:
    """Blocks ending at a blank line once they are long enough, never over BLOCK_LINES."""
    numbered = [n for n in range(1, len(lines) + 1) if lines[n - 1].strip()]
    if not numbered:
        return []
    if len(lines) <= SMALL_FILE_LINES:
        return [_unit("block", "block 1", numbered, lines)]
    units: list[Unit] = []
    current: list[int] = []
    target = BLOCK_LINES // 2
    for n in range(1, len(lines) + 1):
        blank = not lines[n - 1].strip()
        if not blank:
            current.append(n)
        span = (current[-1] - current[0] + 1) if current else 0
        if current and ((blank and span >= target) or span >= BLOCK_LINES):
            units.append(_unit("block", f"block {len(units) + 1}", current, lines))
            current = []
    if current:
        units.append(_unit("block", f"block {len(units) + 1}", current, lines))
    return units


def unit_of(units: list[Unit], line: int) -> Unit | None:
    """The unit holding document line ``line`` (a blank line belongs to none)."""
    for unit in units:
        if unit.start <= line <= unit.end and unit.contains(line):
            return unit
    return None
