"""Review units: the pieces of a document that are reviewed, cached and re-reviewed on their own.

A one-line edit in a 2,000-line file should cost one definition's worth of tokens, and
findings on code nobody touched should not appear, vanish or reword themselves because a
model is nondeterministic. So a document is split into units, each with a content hash
(``unit_hash``: its own normalised text, its header, and only the context it uses, never its
position). The unit model, shared by every language (Python here, with ``ast``; the others
through their tree-sitter entries):

- ``function``: a top-level function (decorators included).
- ``method``: a method; its class header goes along as ``header``, it is not part of the unit.
- ``class``: a class's header and its non-method body (class attributes, docstring, nested
  statements), ``header`` being the class header: a changed class attribute re-sends this,
  not every method.
- ``imports``: every top-level import statement of the module, one unit (reviewed for what
  imports can get wrong; it changes only when an import does).
- ``module``: the other top-level statements grouped by contiguity: a run of consecutive
  top-level statements not interrupted by a definition or a blank line is one unit, so a
  changed constant re-sends its own group, not every constant of the file. (Measured on
  real commits, bench_history.py: without the blank-line cut, a module of aliases and
  ``try``/``except`` imports was one group that every commit re-sent whole.)
- a large compound statement at module level (``if TYPE_CHECKING:`` over a hundred lines,
  ``try:``/``except ImportError:`` around definitions, ``with``) is not one unit: what it
  holds is split the same way (its definitions, its imports, its statement groups), each
  with the compound's first line as ``header``. (Measured on real commits: a changed alias
  in a 130-line ``if TYPE_CHECKING:`` block re-sent all of it.)
- ``block``: only where nothing parses (a syntax error mid-edit, a language without an
  entry): lines cut at blank lines.

Comment lines belong to the unit of the statement they precede (a comment above a function
is about it). Names never depend on position: definitions by their qualified name, module
groups by their first statement (``<module __all__>``), blocks by their first line, so
inserting lines above a unit changes neither its name nor its hash.

A unit is a list of 1-based line numbers (a group or class body is not contiguous) plus its
text. Findings are cached relative to the unit (the index of a line in ``lines``), so a unit
that moves keeps its findings at its new place.
"""

from __future__ import annotations

import ast
import hashlib
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from ..core.lru import LRU

BLOCK_LINES = 150
SMALL_FILE_LINES = 200
BLOCK_MIN_LINES = 20  # a block is cut at a blank line before a top-level line once this long
IMPORTS = "<imports>"

_WS = re.compile(r"\s+")


@dataclass
class Unit:
    kind: str  # function | method | class | imports | module | block
    name: str  # "Cart.total", "Cart", "<imports>", "<module __all__>", "block def f(x):"
    lines: list[int]  # 1-based line numbers, ascending
    text: str  # the unit's lines joined (original text, not redacted)
    header: str = ""  # the enclosing class's header line, for methods and class bodies
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
    answer (prompt version, model, settings, the context entries it uses) passed as
    ``salt``. Never its position: a unit that moves keeps its hash.

    Remembered by the unit's raw text (which decides its normalised text) and the rest:
    every save plans every unit of the document, and all but the edited one are hashed
    from the same strings as last time (a 2,000-line file: ~330 normalisations a save)."""
    key = (unit.kind, unit.name, unit.header, unit.text, *salt)
    if (known := _HASHES.get(key)) is not None:
        return known
    h = hashlib.sha256()
    for part in (unit.kind, unit.name, unit.header, unit.normalised(), *salt):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    digest = h.hexdigest()[:32]
    _HASHES.put(key, digest)
    return digest


HASHES_KEPT = 2048  # units' hashes remembered: a few large open documents' worth
_HASHES: LRU[tuple[str, ...], str] = LRU(HASHES_KEPT)


@dataclass(frozen=True)
class TopLevel:
    """One top-level statement: its span, its role in the unit model and the units it makes
    on its own (a function; a class's body and methods). Imports and other statements make
    their units only together (``assemble_units``): the import block, contiguous groups."""

    start: int  # first line, decorators included
    end: int
    role: str  # "definition" | "import" | "statement"
    key: str  # what a module group starting with this statement is called
    units: tuple[Unit, ...] = ()

    def shifted(self, delta: int) -> TopLevel:
        units = tuple(replace(u, lines=[n + delta for n in u.lines]) for u in self.units)
        return replace(self, start=self.start + delta, end=self.end + delta, units=units)


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


def used_names(text: str) -> set[str]:
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


def _with_names(unit: Unit) -> Unit:
    unit.names = used_names(unit.text)
    return unit


def python_units(tree: ast.Module, lines: list[str]) -> list[Unit]:
    return assemble_units([top_level(node, lines) for node in tree.body], lines)


_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)


def top_level(node: ast.stmt, lines: list[str]) -> TopLevel:
    """What one top-level statement is in the unit model (see the module doc)."""
    start, end = span(node)
    if isinstance(node, _DEFS):
        unit = _with_names(_unit("function", node.name, list(range(start, end + 1)), lines))
        return TopLevel(start, end, "definition", node.name, (unit,))
    if isinstance(node, ast.ClassDef):
        return TopLevel(start, end, "definition", node.name, tuple(_class_units(node, lines)))
    if (split := _compound(node, start, end, lines)) is not None:
        return split
    role = "import" if isinstance(node, (ast.Import, ast.ImportFrom)) else "statement"
    return TopLevel(start, end, role, statement_key(node))


COMPOUND_LINES = 40  # a compound statement this long is split even without definitions
_TRIES: tuple[type[ast.stmt], ...] = (ast.Try, getattr(ast, "TryStar", ast.Try))  # 3.11+


def inner_statements(node: ast.stmt) -> list[ast.stmt]:
    """The statements a module-level ``if``/``try``/``with`` holds, in order (``elif`` is
    an ``if`` in ``orelse``; a handler's ``except`` line is not a statement)."""
    if isinstance(node, ast.If):
        return [*node.body, *node.orelse]
    if isinstance(node, _TRIES):
        tried: ast.Try = node  # type: ignore[assignment]  # or a TryStar: the same fields
        handlers = [s for h in tried.handlers for s in h.body]
        return [*tried.body, *handlers, *tried.orelse, *tried.finalbody]
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return list(node.body)
    return []


def _compound(node: ast.stmt, start: int, end: int, lines: list[str]) -> TopLevel | None:
    """A compound statement as the units of what it holds (see the module doc), or None
    when it stays one statement: short and defining nothing."""
    inner = inner_statements(node)
    defines = any(isinstance(s, (*_DEFS, ast.ClassDef)) for s in inner)
    if not inner or (not defines and end - start + 1 <= COMPOUND_LINES):
        return None
    key = statement_key(node)
    head = _WS.sub(" ", lines[node.lineno - 1]).strip()
    units = assemble_units([top_level(s, lines) for s in inner], lines, (start, end))
    out = []
    for unit in units:
        name = unit.name
        if unit.kind in ("imports", "module"):  # not the module's own <imports> or groups
            name = f"<{name[1:-1]} in {key}>"
        header = f"{head}\n{unit.header}" if unit.header else head
        out.append(replace(unit, name=name, header=header))
    return TopLevel(start, end, "definition", key, tuple(out))


def _class_units(node: ast.ClassDef, lines: list[str]) -> list[Unit]:
    """The class body outside its methods, then each method; a comment line goes with the
    body item it precedes."""
    header = lines[node.lineno - 1].strip()
    pos = span(node)[0]
    body: list[int] = []
    methods: list[tuple[list[int], str]] = []
    pending: list[int] = []  # comment lines waiting for the item they precede
    for (s, e), item in sorted(((span(i), i) for i in node.body), key=lambda it: it[0]):
        for n in range(pos, s):  # the header's lines, then comments between items
            text = lines[n - 1].strip()
            if text.startswith("#"):
                pending.append(n)
            elif text:
                body.extend(pending)
                body.append(n)
                pending = []
        if isinstance(item, _DEFS):
            methods.append(([*pending, *range(s, e + 1)], item.name))
        else:
            body.extend(pending)
            body.extend(n for n in range(s, e + 1) if lines[n - 1].strip())
        pending = []
        pos = max(pos, e + 1)
    out = [_with_names(_unit("class", node.name, sorted(set(body)), lines, header=header))]
    for numbers, name in methods:
        out.append(
            _with_names(_unit("method", f"{node.name}.{name}", numbers, lines, header=header))
        )
    return out


def statement_key(node: ast.stmt) -> str:
    """A short label of a statement from its content: what a module group is named after."""
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return ast.unparse(targets[0])[:40]
    if isinstance(node, ast.Expr):
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return "docstring"
        if isinstance(node.value, ast.Call):
            return ast.unparse(node.value.func)[:40]
    if isinstance(node, ast.If):
        return "if " + ast.unparse(node.test)[:40]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return "import"
    return type(node).__name__.lower()


def assemble_units(
    tops: Sequence[TopLevel], lines: list[str], within: tuple[int, int] | None = None
) -> list[Unit]:
    """The units of a module from its top-level statements, in order: definitions as they
    are, the import block, contiguous groups of the other statements. The lines between
    two statements (comments) go with the statement after them; those after the last
    statement, with the last one. ``within``: the lines of the compound statement these
    statements are the body of (its ``if``/``else:`` lines go with what follows them)."""
    first, final = within or (1, len(lines))
    leading = _between(tops, lines, first, final)
    units: list[Unit] = []
    taken: set[int] = set()
    imports: list[int] = []
    groups: list[tuple[str, list[int]]] = []  # (the first statement's key, lines)
    in_run = False
    last = first - 1  # the last line of the previous statement
    for top, before in zip(tops, leading, strict=True):
        if any(not lines[n - 1].strip() for n in range(last + 1, top.start)):
            in_run = False  # a blank line ends a group
        last = max(last, top.end)
        if top.role == "definition":
            in_run = False
            for i, unit in enumerate(top.units):
                numbers = [n for n in unit.lines if n not in taken]
                if i == 0 and before:
                    numbers = sorted({*before, *numbers})
                if numbers != unit.lines:
                    unit = _relined(unit, numbers, lines)
                if unit.lines:
                    taken.update(unit.lines)
                    units.append(unit)
            continue
        numbers = [*before, *(n for n in range(top.start, top.end + 1) if n not in taken)]
        taken.update(numbers)
        if top.role == "import":
            imports.extend(numbers)
            continue
        if not in_run:
            groups.append((top.key, []))
            in_run = True
        groups[-1][1].extend(numbers)
    if imports:
        units.append(_unit("imports", IMPORTS, sorted(set(imports)), lines))
    for key, numbers in groups:
        if numbers:
            unit = _unit("module", f"<module {key}>", sorted(set(numbers)), lines)
            units.append(_with_names(unit))
    if not tops:  # a module of comments only
        numbers = [n for n in range(first, final + 1) if lines[n - 1].strip()]
        if numbers:
            units.append(_unit("module", "<module>", numbers, lines))
    units.sort(key=lambda u: u.start)
    return units


def _between(
    tops: Sequence[TopLevel], lines: list[str], first: int, final: int
) -> list[list[int]]:
    """Per statement, the non-blank lines from ``first`` before it that no statement
    covers (comments), the last statement also taking those after it up to ``final``."""
    out: list[list[int]] = []
    pos = first
    for top in tops:
        out.append([n for n in range(pos, top.start) if lines[n - 1].strip()])
        pos = max(pos, top.end + 1)
    if out:
        out[-1].extend(n for n in range(pos, final + 1) if lines[n - 1].strip())
    return out


def _relined(unit: Unit, numbers: list[int], lines: list[str]) -> Unit:
    """``unit`` on other lines (comments before it added, a line another unit took
    removed), its text taken again; its names stay: comments add nothing to resolve."""
    return replace(unit, lines=numbers, text="\n".join(lines[n - 1] for n in numbers))


def split_blocks(lines: list[str]) -> list[Unit]:
    """Blocks cut at a blank line before a line indented no deeper than the block's first
    line once they are BLOCK_MIN_LINES long, never over BLOCK_LINES; named by their first
    line. The cuts depend on the text around them, not on line numbers, so lines inserted
    in one block rarely change the next ones' names and texts."""
    numbered = [n for n in range(1, len(lines) + 1) if lines[n - 1].strip()]
    if not numbered:
        return []
    if len(lines) <= SMALL_FILE_LINES:
        return [_block(numbered, lines)]
    units: list[Unit] = []
    current: list[int] = []
    indent = 0
    for n in numbered:
        text = lines[n - 1]
        depth = len(text) - len(text.lstrip())
        if current:
            boundary = n - 1 > current[-1] and depth <= indent
            if (boundary and len(current) >= BLOCK_MIN_LINES) or len(current) >= BLOCK_LINES:
                units.append(_block(current, lines))
                current = []
        if not current:
            indent = depth
        current.append(n)
    if current:
        units.append(_block(current, lines))
    return units


def _block(numbers: list[int], lines: list[str]) -> Unit:
    first = _WS.sub(" ", lines[numbers[0] - 1]).strip()[:48]
    return _unit("block", f"block {first}", numbers, lines)


def unit_of(units: list[Unit], line: int) -> Unit | None:
    """The unit holding document line ``line`` (a blank line belongs to none)."""
    for unit in units:
        if unit.start <= line <= unit.end and unit.contains(line):
            return unit
    return None
