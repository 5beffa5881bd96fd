"""Incremental review: only the units that changed go to the model; the rest keep their
cached findings, shifted to where their unit now is.

``plan_review`` splits the document into units (``units``), gives each its context pack
(``context_pack``) and a hash over everything that changes the answer, and looks the hashes
up in the unit review cache. ``batches`` groups the changed units into prompts up to
``review.batchTokens``. After the model answered, ``to_cache`` turns a unit's findings into
positions relative to the unit and ``from_cache`` turns them back, so a function that moved
down 40 lines keeps the same findings (same fingerprint, same message, range shifted).
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import json
import re
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from ..core.document import Document
from ..core.findings import Edit, Finding
from ..core.lru import LRU
from ..core.tasks import task as task_row
from ..languages.context_pack import CHARS_PER_TOKEN, Pack, build_pack
from ..languages.parsed import parsed
from ..languages.units import Unit, split_blocks, unit_hash
from . import prompts, windows
from .context import RunContext

T = TypeVar("T")


@dataclass
class Planned:
    unit: Unit
    hash: str
    pack: Pack
    cached: list[dict[str, Any]] | None = None  # None: not in the cache
    skipped: bool = False  # outside the lines a diff touched: not reviewed this time
    # changed-lines review (``windows``): only these document lines are shown, and the
    # previous version's findings on the unchanged rest are carried
    window: list[int] | None = None
    carried: list[Finding] = field(default_factory=list)
    shown_chars: int | None = None
    # a changed long unit's (name, answer key, its lines' digests), cached with its findings
    version: tuple[str, str, list[str]] | None = None

    @property
    def shown(self) -> list[int]:
        """The document lines this unit shows the model: its window, or all of it."""
        return self.unit.lines if self.window is None else self.window

    @property
    def tokens(self) -> int:
        chars = len(self.unit.text) if self.shown_chars is None else self.shown_chars
        return max(1, chars // CHARS_PER_TOKEN)

    def shows(self, line: int) -> bool:
        """Whether a finding on ``line`` is about what the model was shown: any line of a
        whole unit's span; in a window, its lines and the blank lines between two of them."""
        if self.window is None:
            return self.unit.start <= line <= self.unit.end
        at = bisect.bisect_left(self.window, line)
        if at < len(self.window) and self.window[at] == line:
            return True
        if self.unit.contains(line) or at == 0 or at == len(self.window):
            return False
        before, after = self.unit.index_of(self.window[at - 1]), self.unit.index_of(self.window[at])
        return before is not None and after is not None and after == before + 1


@dataclass
class Plan:
    pipeline: str
    items: list[Planned] = field(default_factory=list)
    salt: tuple[str, ...] = ()  # the answer key the hashes were made with
    narrowed: bool = False  # the run looked its changed units' earlier versions up

    @property
    def changed(self) -> list[Planned]:
        return [p for p in self.items if p.cached is None and not p.skipped]

    @property
    def skipped(self) -> list[Planned]:
        return [p for p in self.items if p.skipped]

    @property
    def hits(self) -> list[Planned]:
        return [p for p in self.items if p.cached is not None]

    def unit_for(self, line: int, among: list[Planned] | None = None) -> Planned | None:
        """The planned unit a finding on ``line`` belongs to: the unit holding the line,
        else the one whose span covers it (a blank line inside a function). Among the units
        of a batch (``among``), a unit reviewed in a window owns only what it showed."""
        pool = self.items if among is None else among
        for p in pool:
            if p.unit.contains(line):
                return p if among is None or p.shows(line) else None
        for p in pool:
            if p.unit.start <= line <= p.unit.end:
                return p if among is None or p.shows(line) else None
        return None


def _split_large(units: list[Unit], lines: list[str], max_tokens: int) -> list[Unit]:
    """A unit larger than the model should get is cut into blocks (each reviewed alone),
    named by the unit and their first line, never by their rank: lines inserted near the
    top must not rename (and so re-send) every block after them."""
    out: list[Unit] = []
    for unit in units:
        if len(unit.text) // CHARS_PER_TOKEN <= max_tokens:
            out.append(unit)
            continue
        sub_lines = ["" for _ in lines]
        for n in unit.lines:
            sub_lines[n - 1] = lines[n - 1]
        for block in split_blocks(sub_lines):
            block.kind, block.name, block.header = "block", f"{unit.name} {block.name}", unit.header
            block.names = unit.names
            out.append(block)
    return out


def answer_key(ctx: RunContext, pipeline: str, model: str | None) -> tuple[str, ...]:
    """What besides the code changes a unit's answer: pipeline, prompt version, the model
    and the settings the prompts depend on."""
    settings = ctx.settings
    return (
        pipeline,
        prompts.PROMPT_VERSION,
        model or "",
        json.dumps(
            {
                "static": settings.static_prepass.enabled,
                "context": settings.review.context_tokens,
            },
            sort_keys=True,
        ),
    )


PLANS_KEPT = 32
_recent_plans: LRU[tuple[str, str, tuple[str, ...]], tuple[Document, Plan]] = LRU(PLANS_KEPT)


async def plan_review(doc: Document, ctx: RunContext, pipeline: str, model: str | None) -> Plan:
    """Units, packs, hashes and cache hits of ``doc`` for ``pipeline`` answered by ``model``.

    The editor plans each snapshot twice, milliseconds apart: for the instant publish, then
    for the run. The run takes the instant view's plan when it is for the same snapshot
    (the same ``Document`` object) and the same answer key, instead of packing, hashing
    and reading the cache again."""
    # the team rules in the prompt change the answer too (rules/: edit a rule, re-review)
    salt = answer_key(ctx, pipeline, model)
    if digest := (await ctx.rules(doc)).digest:
        salt = (*salt, digest)
    key = (doc.uri, pipeline, salt)
    if (recent := _recent_plans.get(key)) is not None and recent[0] is doc:
        return recent[1]
    plan = await _plan(doc, ctx, pipeline, salt)
    _recent_plans.put(key, (doc, plan))
    return plan


async def _plan(
    doc: Document,
    ctx: RunContext,
    pipeline: str,
    salt: tuple[str, ...],
) -> Plan:
    review = ctx.settings.review
    plan = Plan(pipeline, salt=salt)
    # parsing, packs and hashes are CPU work: off the event loop
    plan.items = await asyncio.to_thread(_plan_items, doc, review, salt, ctx.symbols)
    if review.scope == "changed" and review.cache and plan.items:
        found = await ctx.db(
            "cached_units", doc.repository, doc.relpath, [p.hash for p in plan.items]
        )
        for p in plan.items:
            if found and p.hash in found:
                p.cached = found[p.hash]
    if doc.changed is not None:  # a diff: units it does not touch are not reviewed now
        for p in plan.items:
            if p.cached is None and not (set(p.unit.lines) & doc.changed):
                p.skipped = True
    return plan


def answer_digest(salt: tuple[str, ...]) -> str:
    """The answer key as a short digest: a unit's earlier versions count only under the
    same model, prompt version, settings and rules."""
    return hashlib.sha256("\x1f".join(salt).encode("utf-8", "surrogatepass")).hexdigest()[:32]


async def narrow(doc: Document, ctx: RunContext, plan: Plan) -> None:
    """A changed long unit is cached with its lines' digests (``Planned.version``), and
    reviewed in a window when its last used version is in the cache. Done by
    the run, once per plan: the instant publish (which shows cache hits) never waits for
    this read."""
    review = ctx.settings.review
    if plan.narrowed or review.scope != "changed" or not review.cache:
        return
    plan.narrowed = True
    key = answer_digest(plan.salt)
    named = Counter(p.unit.name for p in plan.items)
    changed: list[tuple[Planned, list[str]]] = []  # with its lines' digests
    for p in plan.changed:  # a name two units share (overloads, blocks) would mix versions
        if len(p.unit.lines) >= windows.MIN_LINES and named[p.unit.name] == 1:
            digests = windows.line_digests([doc.lines[n - 1] for n in p.unit.lines])
            p.version = (p.unit.name, key, digests)
            changed.append((p, digests))
    if not changed:
        return
    earlier = await ctx.db(
        "earlier_units", doc.repository, doc.relpath, key, [p.unit.name for p, _ in changed]
    )
    narrowing = [
        (p, digests, before[1], before[2])
        for p, digests in changed
        if earlier and (before := earlier.get(p.unit.name)) is not None and before[0] != p.hash
    ]
    if narrowing:
        await asyncio.to_thread(_narrow_all, doc, ctx.settings.review, narrowing, ctx.symbols)


def _narrow_all(
    doc: Document,
    review: Any,
    narrowing: list[tuple[Planned, list[str], list[str], list[dict[str, Any]]]],
    symbols: Any,
) -> None:
    """Changed units (with their lines' digests) whose earlier version (its digests, its
    findings) was reviewed: shown in a window where the change is small (``windows``), with
    that version's findings on the rest carried."""
    facts = None
    for p, digests, before, entries in narrowing:
        lines = [doc.lines[n - 1] for n in p.unit.lines]
        window = windows.changed_window(before, digests, lines)
        if window is None:
            continue
        p.window = [p.unit.lines[i] for i in sorted(window.shown)]
        p.shown_chars = sum(len(doc.lines[n - 1]) + 1 for n in p.window)
        p.carried = from_cache(p.unit, windows.carry(entries, window), doc.lines)
        if facts is None:
            facts = parsed(doc.text, doc.language, str(doc.path)).facts
        text = "\n".join(doc.lines[n - 1] for n in p.window)
        shown = replace(
            p.unit,
            lines=p.window,
            text=text,
            names={n for n in p.unit.names if re.search(rf"\b{re.escape(n)}\b", text)},
        )
        p.pack = _pack(shown, facts, doc, review, symbols)


def _plan_items(
    doc: Document, review: Any, salt: tuple[str, ...], symbols: Any = None
) -> list[Planned]:
    done = parsed(doc.text, doc.language, str(doc.path))
    split = _split_large(list(done.units), doc.lines, review.max_unit_tokens)
    facts = done.facts
    items = []
    for unit in split:
        pack = _pack(unit, facts, doc, review, symbols)
        items.append(Planned(unit, unit_hash(unit, *salt, pack.text), pack))
    return items


def _pack(unit: Unit, facts: Any, doc: Document, review: Any, symbols: Any) -> Pack:
    return build_pack(
        unit,
        facts,
        doc.path,
        doc.root,
        review.context_tokens,
        language=doc.language,
        index=symbols,
        text=doc.text,  # lang-index: other languages
    )


def batches(plan: Plan, budget_tokens: int, whole_file: bool = False) -> list[list[Planned]]:
    """Changed units grouped in document order, each group within ``budget_tokens`` (a unit
    larger than the budget goes alone); ``whole_file``: every unit in one prompt."""
    if whole_file:
        items = [p for p in plan.items if not p.skipped]
        return [items] if items else []
    out: list[list[Planned]] = []
    current: list[Planned] = []
    used = 0
    for p in plan.changed:
        if current and used + p.tokens > budget_tokens:
            out.append(current)
            current, used = [], 0
        current.append(p)
        used += p.tokens
    if current:
        out.append(current)
    return out


def batch_lines(batch: list[Planned]) -> list[int]:
    """The document lines a batch shows: its units, or their windows."""
    return sorted({n for p in batch for n in p.shown})


def batch_context(batch: list[Planned]) -> str:
    """The context packs of a batch, merged (each line once), as the prompt's context."""
    seen: dict[str, list[str]] = {}
    for p in batch:
        title = ""
        for line in p.pack.text.splitlines():
            if line.endswith(":") and not line.startswith(" "):
                title = line
                seen.setdefault(title, [])
            elif title and line not in seen[title]:
                seen[title].append(line)
    body = "\n".join(f"{t}\n" + "\n".join(items) for t, items in seen.items() if items)
    if not body:
        return ""
    return (
        "Context, for reference only (review only the numbered code under Code; these are "
        f"the surroundings it relies on):\n{body}\n"
    )


# the cache's relative positions ------------------------------------------------------------


def _relative(unit: Unit, line: int) -> list[int]:
    """(index of the unit's last line at or before ``line``, offset from it)."""
    idx = 0
    for i, n in enumerate(unit.lines):
        if n <= line:
            idx = i
        else:
            break
    return [idx, line - unit.lines[idx]]


def _absolute(unit: Unit, rel: list[int]) -> int:
    idx, delta = rel
    idx = min(max(idx, 0), len(unit.lines) - 1)
    return unit.lines[idx] + delta


def to_cache(unit: Unit, findings: list[Finding]) -> list[dict[str, Any]]:
    """A unit's findings with positions relative to the unit (see the module doc)."""
    out = []
    for f in findings:
        out.append(
            {
                "pipeline": f.pipeline,
                "category": f.category,
                "code": f.code,
                "severity": f.severity,
                "message": f.message,
                "rationale": f.rationale,
                "origin": f.origin,
                "model": f.model,
                "title": f.title,
                "fixTitle": f.fix_title,
                "learnings": list(f.learnings),
                "start": _relative(unit, f.start_line),
                "end": _relative(unit, f.end_line),
                "startCol": f.start_col,
                "endCol": f.end_col,
                "edits": [
                    {
                        "start": _relative(unit, e.start_line + 1),
                        "startCol": e.start_col,
                        "end": _relative(unit, e.end_line + 1),
                        "endCol": e.end_col,
                        "text": e.new_text,
                    }
                    for e in f.edits
                ],
            }
        )
    return out


def from_cache(unit: Unit, entries: list[dict[str, Any]], lines: list[str]) -> list[Finding]:
    """Cached findings placed on the unit's current lines; entries that no longer fit the
    document (a corrupt or foreign row) are skipped."""
    out: list[Finding] = []
    n = len(lines)
    for item in entries:
        try:
            start, end = _absolute(unit, item["start"]), _absolute(unit, item["end"])
            if not 1 <= start <= end <= n:
                continue
            edits = [
                Edit(
                    _absolute(unit, e["start"]) - 1,
                    int(e["startCol"]),
                    _absolute(unit, e["end"]) - 1,
                    int(e["endCol"]),
                    str(e["text"]),
                )
                for e in item.get("edits") or []
            ]
            out.append(
                Finding(
                    pipeline=item["pipeline"],
                    category=item["category"],
                    severity=item["severity"],
                    start_line=start,
                    end_line=end,
                    message=item["message"],
                    rationale=item.get("rationale") or "",
                    code=item.get("code") or "",
                    origin=item.get("origin") or "model",
                    model=item.get("model"),
                    start_col=item.get("startCol"),
                    end_col=item.get("endCol"),
                    edits=edits,
                    fix_title=item.get("fixTitle"),
                    title=item.get("title"),
                    learnings=[int(i) for i in item.get("learnings") or []],
                    learnings_used=bool(item.get("learnings")),
                )
            )
        except (KeyError, TypeError, ValueError, IndexError):
            continue
    return out


@dataclass
class Review:
    """One run's review: the plan, the cached findings it starts from, the batches to ask."""

    plan: Plan
    findings: list[Finding]
    batches: list[list[Planned]]

    def query(self, safe_lines: list[str]) -> str:
        """What the run's learnings are searched by: the (redacted) lines of every unit
        under review, one search per file instead of one per batch. Whole units, windows
        or not: the instant view starts this search from the plan before the run narrows
        it (``Services._search_ahead``), and the run takes it only when the queries match."""
        numbers = sorted({n for batch in self.batches for p in batch for n in p.unit.lines})
        return "\n".join(safe_lines[n - 1] for n in numbers)[:4000]

    @property
    def total(self) -> int:
        return sum(len(b) for b in self.batches)


async def start_review(scope: Any, doc: Document, ctx: RunContext, task: str) -> Review:
    """Plan ``doc`` for the run ``scope`` (its pipeline, the model the router would ask for
    ``task``): cache hits noted for stamping, their findings placed, the rest batched."""
    plan = await plan_review(doc, ctx, scope.pipeline, scope.first_model(task))
    if task_row(task).windowed:
        await narrow(doc, ctx, plan)
    scope.cache_hits.extend(p.hash for p in plan.hits)
    whole = ctx.settings.review.scope == "file"
    count_units(scope.result, plan, whole)
    groups = batches(plan, ctx.settings.review.batch_tokens, whole_file=whole)
    return Review(plan, cached_findings(plan, doc.lines), groups)


BATCHES_IN_FLIGHT = 8
"""Batches of one document asked at once: a large file is not reviewed one call after the
other (each provider is still bounded by ``models.maxConcurrency`` in the gateway)."""


async def in_parallel(coros: list[Awaitable[T]], limit: int) -> list[T]:
    """Await ``coros`` at most ``limit`` at a time; results in the order given."""
    gate = asyncio.Semaphore(max(1, limit))

    async def one(coro: Awaitable[T]) -> T:
        async with gate:
            return await coro

    return list(await asyncio.gather(*(one(c) for c in coros)))


def count_units(result: Any, plan: Plan, whole_file: bool = False) -> None:
    """How many units this run reviewed, took from the cache and skipped (for summaries)."""
    reviewed = [p for p in plan.items if not p.skipped] if whole_file else plan.changed
    result.units_reviewed += len(reviewed)
    result.units_cached += 0 if whole_file else len(plan.hits)
    result.units_skipped += len(plan.skipped)


def cached_findings(plan: Plan, lines: list[str]) -> list[Finding]:
    """Every cache hit's findings, placed on the document, and those a unit reviewed in a
    window carries from its earlier version (once the run narrowed the plan)."""
    out: list[Finding] = []
    for p in plan.items:
        if p.cached is not None:
            out.extend(from_cache(p.unit, p.cached, lines))
        elif not p.skipped:  # copies: each caller fingerprints and filters its own
            out.extend(
                replace(f, edits=list(f.edits), learnings=list(f.learnings)) for f in p.carried
            )
    return out
