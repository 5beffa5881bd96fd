"""The review policy: what is never shown, decided the same way in every face.

``filter_findings`` is the one function every review path calls before findings are shown or
reported (``app.Services.suppress``: the editor's instant and final publishes, ``kaizen
check``, its SARIF): the ``review`` settings (``severityFloor``, ``disable``, the
``[[review.paths]]`` overrides, ``ignore``) and the rules with ``action: suppress`` (a
learned "Do not report magic numbers in tests/**"). A finding it drops keeps the reason in
``suppressed`` (``kaizen check --show-suppressed`` lists them). A finding whose code is a
rule id gets the rule file's URI as its ``code_url``, whatever found it (a cached finding
too): the diagnostic links to the rule; and the rule's ``severity``, when it sets one.

``disable`` entries are matched against a finding's code (linter code, rule id,
``refactor/<kind>``) and its category, with shell wildcards (``E5*``, ``refactor/*``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.findings import SEVERITIES, Finding
from .model import Rule, glob_match


@dataclass
class Verdict:
    shown: list[Finding] = field(default_factory=list)
    dropped: list[Finding] = field(default_factory=list)
    by_rule: dict[str, int] = field(default_factory=dict)  # suppress rule id -> findings


def _disabled(entries: Iterable[str], f: Finding) -> str | None:
    for entry in entries:
        entry = entry.strip()
        if entry and any(fnmatch.fnmatchcase(v, entry) for v in (f.code, f.category) if v):
            return entry
    return None


def _below(severity: str, floor: str) -> bool:
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return rank.get(severity, 1) > rank.get(floor, len(SEVERITIES) - 1)


def why_hidden(f: Finding, relpath: str, review: Any, rules: list[Rule]) -> tuple[str, str | None]:
    """Why the policy hides ``f`` ("" when it does not), and the suppressing rule's id."""
    if review.ignore and glob_match(tuple(review.ignore), relpath):
        return "policy: the file matches review.ignore", None
    if entry := _disabled(review.disable, f):
        return f"policy: review.disable {entry}", None
    floor = review.severity_floor
    for override in review.paths:
        if not glob_match((override.glob,), relpath):
            continue
        if entry := _disabled(override.disable, f):
            return f"policy: review.paths {override.glob} disables {entry}", None
        if override.severity_floor is not None:
            floor = override.severity_floor
    if _below(f.severity, floor):
        return f"policy: {f.severity} is below the severity floor {floor}", None
    for rule in rules:
        if rule.covers(f.code, f.category):
            return (
                f"rule {rule.id}: {rule.text.splitlines()[0][:120] if rule.text else ''}",
                rule.id,
            )
    return "", None


def filter_findings(
    findings: list[Finding],
    relpath: str,
    review: Any,
    rules: list[Rule] = (),  # type: ignore[assignment]
    cite: Mapping[str, str] | None = None,
    severity_of: Mapping[str, str] | None = None,
) -> Verdict:
    """Split ``findings`` into shown and dropped (see the module doc); ``rules`` are the
    suppressing rules that apply to ``relpath``, ``cite`` rule id -> file URI,
    ``severity_of`` rule id -> the severity its front matter gives its findings."""
    out = Verdict()
    for f in findings:
        if cite and f.code in cite and not f.code_url:
            f.code_url = cite[f.code]
        if severity_of and f.code in severity_of:
            f.severity = severity_of[f.code]  # type: ignore[assignment]
        reason, rule_id = why_hidden(f, relpath, review, list(rules))
        if not reason:
            out.shown.append(f)
            continue
        f.suppressed = reason
        out.dropped.append(f)
        if rule_id is not None:
            out.by_rule[rule_id] = out.by_rule.get(rule_id, 0) + 1
    return out
