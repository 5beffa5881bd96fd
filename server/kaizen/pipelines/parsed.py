"""A document's text parsed once: its review units and its module facts, not its tree.

The instant publish, the run and fingerprinting all ask about the same text, so the result
is cached per text. The ``ast`` tree itself is dropped as soon as units and facts are taken
from it: a 2,000-line module is ~40,000 tree nodes, and a cache of trees made every full
garbage collection of the language server walk hundreds of thousands of objects (measured
on benchmarks/bench_lsp.py: 0.3-0.6 s pauses every seventh save, growing with the cache).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from ..core.findings import split_lines
from .context_pack import ModuleFacts, module_facts
from .units import Unit, parse_python, split_units, unit_of


@dataclass(frozen=True)
class Parsed:
    units: tuple[Unit, ...]  # callers must not mutate them: the cache shares them
    facts: ModuleFacts  # empty for other languages and for Python that does not parse


@lru_cache(maxsize=16)
def parsed(text: str, language: str) -> Parsed:
    """Units and module facts of a document text, computed once per text."""
    tree = parse_python(text) if language == "python" else None
    units = tuple(split_units(split_lines(text), language, tree))
    facts = module_facts(text, tree) if tree is not None else ModuleFacts()
    return Parsed(units, facts)


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
