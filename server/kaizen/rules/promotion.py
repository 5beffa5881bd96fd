"""Learned fixes promoted to instant checks: from accepted examples to a validated rule.

``memory.fix_examples`` keeps every applied fix as code before and after, by kind. Once a
kind has ``MIN_EXAMPLES`` of them, ``rules.synthesis`` drafts one ast-grep rule from them and
validates it: it must rewrite every example exactly, match none of the code the team
dismissed findings of that kind on, and match at most a small share of the repository. A
rule that passes is a proposal carrying its evidence; only the team's acceptance writes it
to ``.kaizen/rules/<id>.yml``, where the static pre-pass runs it at no token cost.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from .synthesis import DEFAULT_MAX_SHARE, Candidate, FixExample, synthesize, validate

MIN_EXAMPLES = 3


@dataclass
class Promotion:
    """A rule drafted from accepted fixes, validated or refused, with its evidence."""

    rule_id: str
    language: str
    kind: str
    examples: int
    ok: bool
    reasons: list[str] = field(default_factory=list)
    share: float = 0.0
    rule: dict[str, Any] | None = None

    def yaml(self) -> str:
        """The rule as ast-grep's YAML, its examples as ast-grep's own tests beside it."""
        return yaml.safe_dump(self.rule, sort_keys=False, allow_unicode=True) if self.rule else ""


def rule_id(language: str, kind: str) -> str:
    """Stable id of the rule promoted for one kind: the same kind is never proposed twice."""
    slug = re.sub(r"[^a-z0-9]+", "-", kind.lower()).strip("-")[:40] or "fix"
    digest = hashlib.sha256(f"{language}\x1f{kind}".encode()).hexdigest()[:6]
    return f"learned-{slug}-{digest}"


def promote(
    groups: dict[tuple[str, str], list[Any]],
    *,
    dismissed_code: Callable[[str, str], Iterable[str]] = lambda _l, _k: (),
    repository_texts: Callable[[str], Iterable[str]] = lambda _l: (),
    known: set[str] | None = None,
    max_share: float = DEFAULT_MAX_SHARE,
) -> list[Promotion]:
    """One promotion per (language, kind) group of examples not already a rule or refused
    proposal (``known`` ids). ``dismissed_code(language, kind)``: the code of findings of
    that kind the team dismissed; ``repository_texts(language)``: the repository's files of
    that language, for the share check."""
    out = []
    for (language, kind), examples in sorted(groups.items()):
        rid = rule_id(language, kind)
        if (known and rid in known) or len(examples) < MIN_EXAMPLES:
            continue
        pairs = [FixExample(language, e.before, e.after) for e in examples]
        drafted = synthesize(pairs)
        if not isinstance(drafted, Candidate):
            out.append(Promotion(rid, language, kind, len(pairs), False, [drafted.reason]))
            continue
        checked = validate(
            drafted,
            dismissed=dismissed_code(language, kind),
            repository=repository_texts(language),
            max_share=max_share,
        )
        message = f"Learned from {len(pairs)} accepted fixes of `{kind}`"
        rule = drafted.to_rule(rid, message)
        rule["metadata"]["kind"] = kind
        rule["metadata"]["share"] = round(checked.share, 5)
        out.append(
            Promotion(
                rid, language, kind, len(pairs), checked.ok, checked.reasons, checked.share, rule
            )
        )
    return out
