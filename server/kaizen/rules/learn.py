"""Rules learned from outcomes: where the record is clear, propose a rule the team can accept.

For every kind of finding (its code: a category, a linter code, ``refactor/<kind>``, a rule
id) and every path glob its findings fall under (``**``, ``tests/**``, ``tests/unit/**``),
the findings table gives the outcomes: accepted and fixed by hand for, dismissed against.
The chance ``p`` that such a finding is accepted there gets a Beta posterior,
``Beta(1 + accepted, 1 + dismissed)``, and

- **Do not report** ``code`` in ``glob`` is proposed when ``P(p < low) >= credence`` with at
  least ``min_outcomes`` outcomes: dismissed again and again, (almost) never accepted;
- **Always check** ``code`` in ``glob`` when ``P(p > high) >= check_credence`` (a higher
  bar: it is tested for every code and glob at once): accepted consistently.

Of the globs that qualify for one code the broadest is kept (``tests/**`` rather than
``tests/unit/**`` too). A proposal already written as a rule, or rejected before, is not
proposed again. Each proposal carries its evidence: counts, examples, the posterior.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from .model import Rule

FOR = ("accepted", "fixed_by_hand")
AGAINST = ("rejected",)
MAX_DEPTH = 2  # directory globs considered: tests/**, tests/unit/**
EXAMPLES = 3


@dataclass(frozen=True)
class Thresholds:
    low: float = 0.25  # "do not report": acceptance surely below this
    high: float = 0.75  # "always check": acceptance surely above this
    credence: float = 0.9  # how sure: the posterior mass past the threshold
    # "always check" only adds words to a prompt and is proposed for many codes at once:
    # it needs more evidence (17 straight acceptances, or about 50 at 90%)
    check_credence: float = 0.99
    min_outcomes: int = 6


@dataclass
class Outcome:
    """One finding's outcome as the proposer reads it."""

    code: str
    relpath: str
    status: str
    message: str = ""
    line: int = 0
    reason: str | None = None


@dataclass
class Tally:
    accepted: int = 0
    dismissed: int = 0
    examples: list[Outcome] = field(default_factory=list)


@dataclass
class Proposal:
    id: str
    kind: str  # "suppress" (do not report) | "check" (always check)
    code: str
    glob: str
    text: str
    evidence: dict[str, Any]

    def as_rule_meta(self) -> dict[str, Any]:
        """The front matter ``learned.md`` gets for it (``files._kaizen_rule`` reads it)."""
        meta: dict[str, Any] = {
            "id": self.id,
            "paths": [self.glob],
            "category": self.code,
            "action": "suppress" if self.kind == "suppress" else "instruct",
            "enabled": True,
        }
        meta["evidence"] = {k: v for k, v in self.evidence.items() if k != "examples"}
        return meta

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "code": self.code,
            "glob": self.glob,
            "text": self.text,
            "evidence": self.evidence,
        }


def beta_cdf(x: float, a: int, b: int) -> float:
    """P(X <= x) for X ~ Beta(a, b), a and b positive integers (a binomial tail, in logs so
    thousands of outcomes do not overflow)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    n = a + b - 1
    lx, l1x = math.log(x), math.log1p(-x)
    total = 0.0
    for j in range(a, n + 1):
        total += math.exp(
            math.lgamma(n + 1)
            - math.lgamma(j + 1)
            - math.lgamma(n - j + 1)
            + j * lx
            + (n - j) * l1x
        )
    return min(1.0, total)


def globs_of(relpath: str) -> list[str]:
    """``**`` and the directory globs above ``relpath`` (at most ``MAX_DEPTH`` deep)."""
    parts = PurePosixPath(relpath).parts[:-1]
    return ["**", *("/".join(parts[: i + 1]) + "/**" for i in range(min(MAX_DEPTH, len(parts))))]


def _parent_globs(glob: str) -> list[str]:
    if glob == "**":
        return []
    parts = glob.removesuffix("/**").split("/")
    return ["**", *("/".join(parts[:i]) + "/**" for i in range(1, len(parts)))]


_SLUG = re.compile(r"[^a-z0-9]+")


def proposal_id(kind: str, code: str, glob: str) -> str:
    where = "everywhere" if glob == "**" else glob.removesuffix("/**")
    slug = _SLUG.sub("-", f"{code} {where}".lower()).strip("-")[:80]
    return f"learned/{'no' if kind == 'suppress' else 'check'}-{slug}"


def tally(outcomes: Iterable[Outcome]) -> dict[tuple[str, str], Tally]:
    out: dict[tuple[str, str], Tally] = {}
    for o in outcomes:
        if o.status not in FOR and o.status not in AGAINST:
            continue
        for glob in globs_of(o.relpath):
            t = out.setdefault((o.code, glob), Tally())
            if o.status in FOR:
                t.accepted += 1
            else:
                t.dismissed += 1
            if len(t.examples) < EXAMPLES:
                t.examples.append(o)
    return out


def _evidence(t: Tally, kind: str, probability: float, th: Thresholds) -> dict[str, Any]:
    a, b = 1 + t.accepted, 1 + t.dismissed
    return {
        "accepted": t.accepted,
        "dismissed": t.dismissed,
        "posterior": {
            "distribution": f"Beta({a}, {b})",
            "mean": round(a / (a + b), 4),
            "event": f"acceptance {'<' if kind == 'suppress' else '>'} "
            f"{th.low if kind == 'suppress' else th.high}",
            "probability": round(probability, 4),
            "credence": th.credence if kind == "suppress" else th.check_credence,
        },
        "examples": [
            {"path": e.relpath, "line": e.line, "message": e.message[:200], "reason": e.reason}
            for e in t.examples
        ],
    }


def _text(kind: str, code: str, glob: str, t: Tally) -> str:
    where = "anywhere" if glob == "**" else f"in {glob}"
    n = t.accepted + t.dismissed
    if kind == "suppress":
        return (
            f"Do not report {code} findings {where}: the team dismissed {t.dismissed} of {n} "
            "and accepted none or almost none."
        )
    return (
        f"Always check for {code} problems {where}: the team accepted {t.accepted} of {n} "
        "such findings."
    )


def probe(glob: str) -> str:
    """A path inside a directory glob's folder (``tests/**`` -> ``tests/x``)."""
    return "x" if glob == "**" else glob.removesuffix("/**") + "/x"


def covered(rules: Iterable[Rule], kind: str, code: str, glob: str) -> bool:
    """An existing rule already says this (same id, or a suppress rule for the code whose
    globs include this glob's folder)."""
    pid = proposal_id(kind, code, glob)
    where = probe(glob)
    for rule in rules:
        if rule.id == pid:
            return True
        suppresses = kind == "suppress" and rule.action == "suppress"
        if suppresses and rule.category == code and rule.applies_to(where):
            return True
    return False


DEFAULT = Thresholds()


def propose(
    outcomes: Iterable[Outcome],
    thresholds: Thresholds = DEFAULT,
    existing: Iterable[Rule] = (),
    rejected: Iterable[str] = (),
) -> list[Proposal]:
    """The proposals the record supports (module doc), strongest evidence first."""
    th = thresholds
    tallies = tally(outcomes)
    existing, skip = list(existing), set(rejected)
    qualified: dict[tuple[str, str], tuple[str, float]] = {}
    for (code, glob), t in tallies.items():
        if t.accepted + t.dismissed < th.min_outcomes:
            continue
        a, b = 1 + t.accepted, 1 + t.dismissed
        below = beta_cdf(th.low, a, b)
        above = 1.0 - beta_cdf(th.high, a, b)
        if below >= th.credence:
            qualified[(code, glob)] = ("suppress", below)
        elif above >= th.check_credence:
            qualified[(code, glob)] = ("check", above)
    out: list[Proposal] = []
    for code, glob in _chosen(qualified, tallies):
        kind, probability = qualified[(code, glob)]
        pid = proposal_id(kind, code, glob)
        if pid in skip or covered(existing, kind, code, glob):
            continue
        t = tallies[(code, glob)]
        out.append(
            Proposal(
                pid,
                kind,
                code,
                glob,
                _text(kind, code, glob, t),
                _evidence(t, kind, probability, th),
            )
        )
    out.sort(
        key=lambda p: (
            -p.evidence["posterior"]["probability"],
            -(p.evidence["accepted"] + p.evidence["dismissed"]),
            p.id,
        )
    )
    return out


def _under(glob: str, parent: str) -> bool:
    return glob != parent and (parent == "**" or glob.startswith(parent.removesuffix("**")))


def _chosen(
    qualified: dict[tuple[str, str], tuple[str, float]], tallies: dict[tuple[str, str], Tally]
) -> list[tuple[str, str]]:
    """Of the globs that qualify for one code, the ones the evidence is about: a glob whose
    outcomes all lie under a narrower qualifying glob gives way to it (eight dismissals all
    in tests/ say "tests/**", not "everywhere"); a narrower glob gives way to a broader
    kept one that has more evidence (tests/** over tests/unit/**)."""

    def n(key: tuple[str, str]) -> int:
        return tallies[key].accepted + tallies[key].dismissed

    kept: set[tuple[str, str]] = set()
    for key in sorted(qualified, key=lambda k: 0 if k[1] == "**" else 1 + k[1].count("/")):
        code, glob = key
        kind = qualified[key][0]
        children = [
            k for k in qualified if k[0] == code and _under(k[1], glob) and qualified[k][0] == kind
        ]
        if any(n(k) == n(key) for k in children):
            continue
        if any((code, a) in kept and n((code, a)) > n(key) for a in _parent_globs(glob)):
            continue
        kept.add(key)
    return sorted(kept)


def relpath_of(uri: str, root: Path) -> str | None:
    """A finding's file relative to ``root``, or None when it is elsewhere."""
    try:
        path = Path(unquote(urlsplit(uri).path)) if uri.startswith("file:") else Path(uri)
        return path.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return None
