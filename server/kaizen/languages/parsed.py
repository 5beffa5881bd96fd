"""A document's text parsed once: its review units and its module facts, not its tree.

The instant publish, the run and fingerprinting all ask about the same text, so the result
is cached per text. The ``ast`` tree itself is dropped as soon as units and facts are taken
from it: a 2,000-line module is ~40,000 tree nodes, and a cache of trees made every full
garbage collection of the language server walk hundreds of thousands of objects (measured
on benchmarks/bench_lsp.py: 0.3-0.6 s pauses every seventh save, growing with the cache).

An edit is parsed incrementally. The last parse of each document keeps, per top-level
statement, its span, units and facts; the next text of that document re-parses only the
statements between the unchanged lines at its start and at its end, and shifts the units
after them. Parsing was the largest cost of a save (23 ms of a 2,000-line file here). The
region is parsed on its own, so it must be whole statements; when it does not parse alone
(an edit that opens a bracket or a string, an indented line after a definition), the whole
text is parsed as before. tests/test_incremental_parse.py checks random edits of real
modules against a parse from scratch.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from ..core.findings import split_lines
from ..core.lru import LRU
from . import tree_units
from .context_pack import (
    ModuleFacts,
    Snapshot,
    current_snapshot,
    merge_facts,
    node_facts,
    snapshot_of,
)
from .units import TopLevel, Unit, assemble_units, parse_python, split_blocks, top_level, unit_of

TEXTS_KEPT = 16  # parses cached by text (the instant view, the run, fingerprinting)
DOCUMENTS_KEPT = 64  # last parse kept per document, the base of its next edit


@dataclass(frozen=True)
class Statement:
    """One top-level statement of a parsed module: what it adds to units and facts."""

    top: TopLevel  # its span, its role and the units it makes on its own
    facts: ModuleFacts

    @property
    def start(self) -> int:
        return self.top.start

    @property
    def end(self) -> int:
        return self.top.end


@dataclass(frozen=True)
class Parsed:
    units: tuple[Unit, ...]  # callers must not mutate them: the cache shares them
    facts: ModuleFacts  # empty for other languages and for Python that does not parse
    statements: tuple[Statement, ...] | None = None  # Python that parsed


_by_text: LRU[tuple[str, str], Parsed] = LRU(TEXTS_KEPT)
_latest: LRU[str, tuple[str, Parsed]] = LRU(DOCUMENTS_KEPT)


def parsed(text: str, language: str, document: str = "") -> Parsed:
    """Units and module facts of a document text, computed once per text; ``document``
    (its path or URI) lets an edit of it be parsed incrementally from its last text."""
    hit = _by_text.get((text, language))
    snapshot = current_snapshot() if language == "python" else None
    if hit is None and snapshot is not None:
        hit = snapshot.ahead.pop(text, None)  # parsed for a file importing it
    if hit is None:
        base = _latest.get(document) if document else None
        if base is not None and language == "python" and base[1].statements is not None:
            hit = reparse(base[0], base[1], text)
        if hit is None:
            hit = parse(text, language, document)
        _by_text.put((text, language), hit)
    if snapshot is not None:  # for a file importing this one, planned later
        snapshot.facts[text] = hit.facts
    if document:
        _latest.put(document, (text, hit))
    return hit


@contextmanager
def workspace_snapshot() -> Iterator[None]:
    """Inside (and in the tasks and threads started inside), the workspace is taken as
    unchanging: each import resolves once, and a module parsed for the context packs of the
    files importing it is not parsed again when it is planned itself.

    For ``kaizen check``: its 100 files resolve thousands of imported names, each probing
    the file system (a ``stat`` per candidate, a ``resolve`` of the file found and of the
    root), and parsed most modules twice. An editor's long-lived process does not use it:
    a module created since would go unseen."""
    with snapshot_of(Snapshot(parse=lambda text: parse(text, "python"))):
        yield


def parse(text: str, language: str, document: str = "") -> Parsed:
    """The whole text: Python from scratch; the table's other languages from the
    document's last tree-sitter tree (``tree_units``: by definition, or blocks)."""
    lines = split_lines(text)
    if language != "python":
        units, facts = tree_units.split_language(text, language, lines, document)
        return Parsed(tuple(units), facts)
    tree = parse_python(text)
    if tree is None:  # Python mid-edit: blocks, and no facts
        return Parsed(tuple(split_blocks(lines)), ModuleFacts())
    return _assemble([_statement(node, lines) for node in tree.body], lines)


def reparse(old_text: str, old: Parsed, text: str) -> Parsed | None:
    """``text`` from the parse of ``old_text`` (the same document before an edit), or None
    when the edit is not a region of whole statements."""
    assert old.statements is not None
    before_lines, lines = split_lines(old_text), split_lines(text)
    n_old, n_new = len(before_lines), len(lines)
    limit = min(n_old, n_new)
    head = 0
    while head < limit and before_lines[head] == lines[head]:
        head += 1
    tail = 0
    while tail < limit - head and before_lines[n_old - 1 - tail] == lines[n_new - 1 - tail]:
        tail += 1
    delta = n_new - n_old
    kept_before = [s for s in old.statements if s.end <= head]
    kept_after = [s for s in old.statements if s.start > n_old - tail]
    first = kept_before[-1].end + 1 if kept_before else 1
    last = kept_after[0].start + delta - 1 if kept_after else n_new
    region = "\n".join(lines[first - 1 : last])
    tree = parse_python(region)
    if tree is None:
        return None
    fresh = []
    for node in tree.body:
        ast.increment_lineno(node, first - 1)
        fresh.append(_statement(node, lines))
    moved = [_shifted(s, delta) for s in kept_after] if delta else kept_after
    return _assemble([*kept_before, *fresh, *moved], lines)


def _statement(node: ast.stmt, lines: list[str]) -> Statement:
    return Statement(top_level(node, lines), node_facts(node))


def _shifted(statement: Statement, delta: int) -> Statement:
    return replace(statement, top=statement.top.shifted(delta))


def _assemble(statements: Iterable[Statement], lines: list[str]) -> Parsed:
    kept = tuple(statements)
    units = assemble_units([s.top for s in kept], lines)
    return Parsed(tuple(units), merge_facts(s.facts for s in kept), kept)


def scope_namer(text: str, language: str) -> Callable[[object], str]:
    """``scope_of`` for ``assign_fingerprints``: a finding's enclosing unit name (units are
    looked up on first use only: most documents have no duplicate findings)."""
    units: list[Unit] | None = None

    def scope_of(finding: object) -> str:
        nonlocal units
        if units is None:
            units = list(parsed(text, language).units)
        line = int(getattr(finding, "start_line", 0))
        unit = unit_of(units, line)
        if unit is None:
            unit = next((u for u in units if u.start <= line <= u.end), None)
        return unit.name if unit is not None else ""

    return scope_of
