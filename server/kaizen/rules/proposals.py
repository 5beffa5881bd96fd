"""Suggest, accept, reject and list rules for one repository: the one implementation behind
``kaizen rules``, the ``rules_*`` tools (MCP, HTTP) and the editor's ``kaizen.rules*``
commands and its Accept / Reject / Show evidence message.

The repository is the workspace folder ``root``: its outcomes are read from the store under
its repository id (the origin remote, so clones share them), its rules from its files.
Accepting writes ``.kaizen/rules/learned.md`` (``learned_file``), or for a ``promote``
proposal (a rule synthesised from accepted fixes, ``promoted``) ``.kaizen/rules/<id>.yml``;
rejecting is remembered in the store (``record``), so a rejected proposal is not proposed
again.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import KaizenError
from ..core.workspace import project_root, repository_id
from . import promoted, record
from .book import RuleBook
from .files import candidates, yaml_rules
from .learn import DEFAULT, Proposal, Thresholds, covered, probe, propose
from .learned_file import add_rules, learned_path
from .model import Rule


class RulesError(KaizenError):
    """A bad request about rules (an unknown proposal id); the message says which."""


@dataclass
class Workspace:
    root: Path
    repository: str

    @classmethod
    def of(cls, root: Path | str | None) -> Workspace:
        folder = Path(root or Path.cwd()).resolve()
        top = project_root(folder) or folder
        return cls(top, repository_id(top))


def all_rules(root: Path, book: RuleBook | None = None) -> tuple[list[Rule], list[str]]:
    """Every Markdown rule of the repository: each folder that holds instruction files,
    from the root down (hidden folders other than .github/.kaizen and vendored ones are
    not searched)."""
    book = book or RuleBook()
    seen: dict[tuple[str, str], Rule] = {}
    problems: list[str] = []
    skip = {"node_modules", "vendor", "venv", "__pycache__", "dist", "build", "target"}
    import os

    for folder, dirs, _files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in skip)
        here = Path(folder)
        if not candidates(here):
            continue
        rel = here.relative_to(root).as_posix()
        probe = "x" if rel == "." else f"{rel}/x"
        rules, found = book.rules_for(root, probe)
        problems.extend(found)
        for rule in rules:
            seen[(rule.base, rule.id)] = rule
    return list(seen.values()), list(dict.fromkeys(problems))


def suggest(
    store: Any, root: Path | str | None, thresholds: Thresholds = DEFAULT
) -> list[Proposal]:
    """The proposals the outcome record supports for the repository at ``root``."""
    return suggest_all(store, root, thresholds)[0]


def suggest_all(
    store: Any, root: Path | str | None, thresholds: Thresholds = DEFAULT
) -> tuple[list[Proposal], list[dict[str, Any]]]:
    """(proposals, refused promotions with their reasons)."""
    ws = Workspace.of(root)
    outcomes = record.outcomes(store, ws.repository, ws.root)
    rejected = record.rejected(store, ws.repository)
    found = propose(outcomes, thresholds, (), rejected)
    # an existing rule that already says it: only the folders down to each glob are read
    # (the editor asks after every dismissal; a monorepo is not walked for that)
    book = RuleBook()
    out = [
        p
        for p in found
        if not covered(book.rules_for(ws.root, probe(p.glob))[0], p.kind, p.code, p.glob)
    ]
    known = set(rejected) | {r["id"] for r in yaml_rules(ws.root)}
    more, refused = promoted.candidates(store, ws.repository, ws.root, known)
    return out + more, refused


def _pick(proposals: list[Proposal], ids: list[str]) -> list[Proposal]:
    by_id = {p.id: p for p in proposals}
    missing = [i for i in ids if i not in by_id]
    if missing:
        known = ", ".join(by_id) or "none now"
        raise RulesError(f"no current proposal {', '.join(missing)} (the proposals: {known})")
    return [by_id[i] for i in ids]


def accept(store: Any, root: Path | str | None, ids: list[str]) -> dict[str, Any]:
    """Write the proposals ``ids``: learned ones into learned.md (``learned_file.add_rules``),
    promoted ones as their own rule files (``promoted.write_rules``). ``paths``: each added
    id's file."""
    ws = Workspace.of(root)
    current = suggest(store, ws.root)
    # accepted a moment ago (another editor, another process): already there, not an error.
    # Read after the suggestions: a rule written between the two reads is then either still
    # proposed (and found present under the lock) or already in its file, never neither.
    there = _written_ids(ws.root)
    done = [i for i in ids if i in there and i not in {p.id for p in current}]
    chosen = _pick(current, [i for i in ids if i not in done])
    rules = [p for p in chosen if p.kind == promoted.KIND]
    learned = [p for p in chosen if p.kind != promoted.KIND]
    paths: dict[str, str] = {}
    path = learned_path(ws.root)
    added: list[str] = []
    if learned:
        path, added = add_rules(ws.root, [(p.as_rule_meta(), p.text) for p in learned])
        paths.update({i: str(path) for i in added})
    if rules:
        written, _present = promoted.write_rules(ws.root, rules)
        paths.update(written)
        added += list(written)
        if not learned and written:
            path = Path(next(iter(written.values())))
    return {
        "path": str(path),
        "paths": paths,
        "added": added,
        "alreadyPresent": done + [p.id for p in chosen if p.id not in added],
    }


def _written_ids(root: Path) -> set[str]:
    """Ids of the rules in the rule files accepting writes (learned.md, the .yml files)."""
    from .learned_file import _ids

    ids = {r["id"] for r in yaml_rules(root)}
    path = learned_path(root)
    with contextlib.suppress(OSError, UnicodeDecodeError):
        ids |= _ids(path.read_text(encoding="utf-8"), path)
    return ids


def reject(
    store: Any, root: Path | str | None, ids: list[str], reason: str | None = None
) -> dict[str, Any]:
    """Remember that the team does not want ``ids``: never proposed again."""
    ws = Workspace.of(root)
    current = {p.id for p in suggest(store, ws.root)}
    done = record.rejected(store, ws.repository)
    unknown = [i for i in ids if i not in current and i not in done]
    if unknown:
        raise RulesError(f"no current proposal {', '.join(unknown)}")
    for proposal_id in ids:
        record.reject(store, ws.repository, proposal_id, reason)
    return {"rejected": ids}


def rule_json(rule: Rule, root: Path) -> dict[str, Any]:
    try:
        file = rule.file.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        file = str(rule.file)
    return {
        "id": rule.id,
        "origin": rule.origin,
        "file": file,
        "line": rule.line,
        "uri": rule.uri,
        "paths": list(rule.paths),
        "folder": rule.base,
        "category": rule.category,
        "severity": rule.severity,
        "action": rule.action,
        "enabled": rule.enabled,
        "text": rule.text,
    }


def listing(store: Any, root: Path | str | None, with_proposals: bool = True) -> dict[str, Any]:
    """The repository's rules (written and learned Markdown rules, ast-grep rule files)
    and, when asked, the current proposals and the rejected ones."""
    ws = Workspace.of(root)
    rules, problems = all_rules(ws.root)
    out: dict[str, Any] = {
        "root": str(ws.root),
        "repository": ws.repository,
        "learnedFile": str(learned_path(ws.root)),
        "rules": [rule_json(r, ws.root) for r in rules] + yaml_rules(ws.root),
        "problems": problems,
    }
    if with_proposals and store is not None:
        proposals, refused = suggest_all(store, ws.root)
        out["proposals"] = [p.as_json() for p in proposals]
        out["refused"] = refused
        out["rejected"] = list(record.rejected(store, ws.repository).values())
    return out
