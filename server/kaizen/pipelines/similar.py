"""Fix all similar: after a static fix is accepted (ruff, oxlint, shellcheck or one of the
repository's ast-grep rules), the same rule's other places in the workspace, each with the
tool's own fix.

Only static rules: such a rule is the same defect wherever it fires and the tool's fix is
checked code, so offering it elsewhere is safe. (Model findings would need a fix-generator
call per place; they are not offered here.) Every place still passes fix verification
(``verify``): the places of one file are applied together, so each must leave that file
parsing with the others, not overlap them and add no linter finding; a place that fails is
skipped. Nothing is written: the editor face turns the places into one code action the user
may choose.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from ..core.document import Document
from ..core.findings import Edit, Finding, apply_edits, assign_fingerprints
from ..core.workspace import LANGUAGES
from ..languages.parsed import scope_namer
from .static import ruff_findings
from .verify import check_edits, new_lint_findings

log = logging.getLogger(__name__)

Analyzer = Callable[[Document], Awaitable[list[Finding]]]

MAX_FILES = 500
SKIP_DIRS = {".git", ".hg", ".venv", "venv", "node_modules", "__pycache__", "build", "dist", ".tox"}


def python_files(root: Path, limit: int = MAX_FILES) -> Iterator[Path]:
    """The workspace's Python files, vendored and generated folders left out."""
    return files_like(root, Path("x.py"), limit)


def files_like(root: Path, like: Path, limit: int = MAX_FILES) -> Iterator[Path]:
    """The workspace's files of ``like``'s language (by name ending), vendored and
    generated folders left out."""
    language = LANGUAGES.get(like.suffix.lower())
    suffixes = {s for s, lang in LANGUAGES.items() if lang == language} or {like.suffix}
    count = 0
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in suffixes:
            continue
        if SKIP_DIRS & set(path.relative_to(root).parts[:-1]) or not path.is_file():
            continue
        yield path
        count += 1
        if count >= limit:
            return


async def similar_places(
    code: str, docs: list[Document], analyze: Analyzer = ruff_findings
) -> list[tuple[Document, Finding]]:
    """Every finding of static rule ``code`` that has a fix, in ``docs`` (fingerprinted).
    ``analyze`` is the static pre-pass (the face passes the whole one: linters and
    rules). The caller passes the documents as they are after the accepted fix, so that
    place is gone."""
    places: list[tuple[Document, Finding]] = []
    limit = asyncio.Semaphore(4)

    async def one(doc: Document) -> list[tuple[Document, Finding]]:
        async with limit:
            found = await analyze(doc)
        # the run's own fingerprints (scoped by unit): the accepted place is known by one
        assign_fingerprints(found, doc.lines, scope_namer(doc.text, doc.language))
        candidates = [f for f in found if f.code == code and f.edits]
        kept = await verified_places(doc, candidates, found) if candidates else []
        return [(doc, f) for f in kept]

    for batch in await asyncio.gather(*(one(doc) for doc in docs)):
        places.extend(batch)
    return places


def _compatible(doc: Document, places: list[Finding]) -> list[Finding]:
    """The places that can be applied together, in order: each one's edits, added to those
    already chosen, must pass every check but the linters' (no overlap, still parses)."""
    chosen: list[Finding] = []
    edits: list[Edit] = []
    for f in places:
        why = check_edits(doc, [*edits, *f.edits], delete=True)  # ruff's own removals
        if why is None:
            chosen.append(f)
            edits = [*edits, *f.edits]
        else:
            log.info("%s:%s: similar place skipped (%s)", doc.relpath, f.start_line, why)
    return chosen


async def verified_places(
    doc: Document, places: list[Finding], before_found: list[Finding]
) -> list[Finding]:
    """The places of ``doc`` that may be offered together (``before_found``: ruff's findings
    on ``doc`` as it is). One lint of the combined result; only when it adds a finding are
    the places linted one by one, and those that add one alone are skipped."""
    chosen = await asyncio.to_thread(_compatible, doc, places)

    async def adds(group: list[Finding]) -> bool:
        after = apply_edits(doc.text, [e for f in group for e in f.edits])
        return bool(await new_lint_findings(doc, doc.text, after, before_found=before_found))

    if not chosen or not await adds(chosen):
        return chosen
    alone = await asyncio.to_thread(_compatible, doc, [f for f in chosen if not await adds([f])])
    if alone and not await adds(alone):
        return alone
    log.info("%s: similar places skipped (their fixes add linter findings)", doc.relpath)
    return []
