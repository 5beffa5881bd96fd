"""Promoted rules in the proposal flow: candidates from accepted fixes, the rule files
accepting them writes, and the way back to a proposal when the team dismisses their findings.

``suggest`` asks ``candidates`` for one proposal of kind ``promote`` per kind of finding
with ``promotion.MIN_EXAMPLES`` accepted fixes (``memory.fix_examples``) whose synthesised
rule passed validation: it rewrites every example, matches none of the code the team
dismissed findings of that kind on (``findings.dismissed_code``), and matches at most a
small share of the repository's files of that language (read here, bounded). A refused
candidate is no proposal; its reasons are kept for ``kaizen rules suggest --all``.

Accepting writes ``.kaizen/rules/<rule id>.yml`` (ast-grep's YAML, ``metadata.source:
promoted``) and the examples as ast-grep's own rule test beside it
(``.kaizen/rules/rule-tests/<id>-test.yml``: ``invalid`` the code before, ``valid`` after),
each atomically under the lock ``learned.md`` uses, so two processes accepting at once
write one file. A promoted rule whose findings are dismissed ``DEMOTE_AFTER`` times after
it was accepted is taken out (``demote``, after each dismissal in the editor): its files
are removed, the demotion is kept in the store, and it is a proposal again, with the
dismissals in its evidence.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select

from ..core.language_table import ENTRIES
from ..memory.fix_examples import by_kind
from ..memory.meta import set_meta
from ..memory.schema import FindingRow
from .learn import Proposal
from .learned_file import RULES_DIR, _lock, atomic_write, learned_path
from .promotion import MIN_EXAMPLES, Promotion, promote

log = logging.getLogger(__name__)
KIND = "promote"
DEMOTE_AFTER = 3  # dismissals of a promoted rule's findings that take it out again
MAX_FILES = 400  # the repository sample the share check reads, per language
MAX_BYTES = 4_000_000
MAX_FILE_BYTES = 200_000
SKIP = {".git", "node_modules", "vendor", "venv", ".venv", "__pycache__", "dist", "build"}
# (root, language, kind, examples, dismissed) -> (when, Promotion): validation reads the
# repository, and the editor asks for proposals after every outcome; the repository's
# share is re-read after CACHE_TTL_S
_CACHE: dict[str, tuple[float, Promotion]] = {}
CACHE_TTL_S = 600.0


def rule_path(root: Path, rule_id: str) -> Path:
    return root / RULES_DIR / f"{rule_id}.yml"


def test_path(root: Path, rule_id: str) -> Path:
    return root / RULES_DIR / "rule-tests" / f"{rule_id}-test.yml"


def _demoted_prefix(repository: str) -> str:
    return f"rules.demoted:{hashlib.sha256(repository.encode()).hexdigest()[:16]}:"


def demoted(store: Any, repository: str) -> dict[str, dict[str, Any]]:
    """Rule id -> the demotion (dismissals, when) of rules taken out for ``repository``."""
    from ..memory.meta import meta_items

    with store.readers() as s:
        return meta_items(s.connection(), _demoted_prefix(repository))


def _dismissed_code(store: Any, repository: str) -> Any:
    def read(language: str, kind: str) -> list[str]:
        with store.readers() as s:
            rows = s.scalars(
                select(FindingRow.dismissed_code).where(
                    FindingRow.repository == repository,
                    FindingRow.status == "rejected",
                    FindingRow.dismissed_code.is_not(None),
                    (FindingRow.code == kind)
                    | (FindingRow.code.is_(None) & (FindingRow.category == kind)),
                    FindingRow.language.in_((language, "")),
                )
            )
            return [c for c in rows if c]

    return read


def repository_texts(root: Path, language: str) -> list[str]:
    """The repository's files of ``language`` (bounded: ``MAX_FILES``, ``MAX_BYTES``)."""
    entry = next((e for e in ENTRIES if e.name == language), None)
    if entry is None or not entry.extensions:
        return []
    out: list[str] = []
    total = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP and not d.startswith("."))
        for name in sorted(files):
            if not name.lower().endswith(entry.extensions):
                continue
            path = Path(folder) / name
            try:
                if path.stat().st_size > MAX_FILE_BYTES:
                    continue
                content = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            out.append(content)
            total += len(content)
            if len(out) >= MAX_FILES or total >= MAX_BYTES:
                return out
    return out


def _same(codes: list[str], _language: str, _kind: str) -> list[str]:
    return codes


def _key(root: Path, language: str, kind: str, examples: list[Any], dismissed: int) -> str:
    h = hashlib.sha256(f"{root}\x1f{language}\x1f{kind}\x1f{dismissed}".encode())
    for e in examples:
        h.update(f"\x1e{e.before}\x1f{e.after}".encode())
    return h.hexdigest()


def promotions(store: Any, repository: str, root: Path, known: set[str]) -> list[Promotion]:
    """Validated or refused promotions of every kind with enough accepted fixes that is not
    ``known`` (a rule file already, or rejected)."""
    groups = by_kind(store, repository, MIN_EXAMPLES)
    if not groups:
        return []
    dismissed = _dismissed_code(store, repository)
    out: list[Promotion] = []
    for (language, kind), examples in sorted(groups.items()):
        codes = dismissed(language, kind)
        key = _key(root, language, kind, examples, len(codes))
        cached = _CACHE.get(key)
        if cached is None or time.monotonic() - cached[0] > CACHE_TTL_S:
            found = promote(
                {(language, kind): examples},
                dismissed_code=partial(_same, codes),
                repository_texts=lambda lang: repository_texts(root, lang),
                known=known,
            )
            if not found:  # known
                continue
            _CACHE[key] = cached = (time.monotonic(), found[0])
        promotion = cached[1]
        if promotion.rule_id not in known:
            out.append(promotion)
    return out


def _examples(store: Any, repository: str, language: str, kind: str) -> list[Any]:
    return by_kind(store, repository, MIN_EXAMPLES).get((language, kind), [])


def as_proposal(p: Promotion, examples: list[Any], back: dict[str, Any] | None) -> Proposal:
    """A validated promotion as a proposal of kind ``promote`` (its id is the rule id)."""
    text = (
        f"Check `{p.kind}` instantly with an ast-grep rule ({p.language}) learned from "
        f"{p.examples} accepted fixes; it comes with a quick fix and costs no model tokens."
    )
    evidence: dict[str, Any] = {
        "accepted": p.examples,
        "language": p.language,
        "share": round(p.share, 5),
        "reasons": list(p.reasons),
        "rule": p.yaml(),
        "examples": [
            {"path": e.path, "before": e.before[:400], "after": e.after[:400]}
            for e in examples[:3]
        ],
    }
    if back:
        evidence["demoted"] = back
        text += f" It was taken out after its findings were dismissed {back['dismissed']} times."
    return Proposal(p.rule_id, KIND, p.kind, "**", text, evidence)


def candidates(
    store: Any, repository: str, root: Path, known: set[str]
) -> tuple[list[Proposal], list[dict[str, Any]]]:
    """(proposals, refused): validated promotions as proposals, the others with reasons."""
    back = demoted(store, repository)
    proposals: list[Proposal] = []
    refused: list[dict[str, Any]] = []
    for p in promotions(store, repository, root, known):
        if p.ok and p.rule is not None:
            examples = _examples(store, repository, p.language, p.kind)
            proposals.append(as_proposal(p, examples, back.get(p.rule_id)))
        else:
            refused.append(
                {
                    "id": p.rule_id,
                    "kind": KIND,
                    "code": p.kind,
                    "language": p.language,
                    "examples": p.examples,
                    "share": round(p.share, 5),
                    "reasons": list(p.reasons),
                }
            )
    return proposals, refused


def _tests_yaml(rule_id: str, examples: list[dict[str, Any]]) -> str:
    doc = {
        "id": rule_id,
        "valid": [e["after"] for e in examples],
        "invalid": [e["before"] for e in examples],
    }
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def write_rules(root: Path, proposals: list[Proposal]) -> tuple[dict[str, str], list[str]]:
    """Write each promote proposal's rule file (and its tests); (written id -> path, ids
    whose file was already there). Under ``learned.md``'s lock, re-checked inside it."""
    written: dict[str, str] = {}
    present: list[str] = []
    lock_for = learned_path(root)
    lock_for.parent.mkdir(parents=True, exist_ok=True)
    with _lock(lock_for):
        for p in proposals:
            path = rule_path(root, p.id)
            if path.exists():
                present.append(p.id)
                continue
            rule = yaml.safe_load(p.evidence["rule"])
            rule["metadata"]["acceptedAt"] = datetime.now(timezone.utc).isoformat(
                timespec="seconds"
            )
            header = (
                f"# Promoted by Kaizen from {p.evidence['accepted']} accepted fixes of "
                f"`{p.code}`; its findings' code is the id. Edit it, set severity: off, or "
                "delete the file.\n"
            )
            body = yaml.safe_dump(rule, sort_keys=False, allow_unicode=True)
            atomic_write(test_path(root, p.id), _tests_yaml(p.id, p.evidence["examples"]))
            atomic_write(path, header + body)
            written[p.id] = str(path)
    return written, present


def _promoted_files(root: Path) -> list[tuple[str, Path, dict[str, Any]]]:
    folder = root / RULES_DIR
    out = []
    for path in sorted(folder.glob("*.yml")) if folder.is_dir() else []:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        meta = doc.get("metadata") if isinstance(doc, dict) else None
        if isinstance(meta, dict) and meta.get("source") == "promoted" and doc.get("id"):
            out.append((str(doc["id"]), path, meta))
    return out


def demote(store: Any, repository: str, root: Path, code: str | None = None) -> list[str]:
    """Take out every promoted rule (or only the one whose id is ``code``: a finding of it
    was just dismissed) whose findings were dismissed ``DEMOTE_AFTER`` times since it was
    accepted: its files removed (under the lock), the demotion kept, so the next
    ``suggest`` proposes it again with that evidence. The ids taken out."""
    if code is not None and not rule_path(root, code).is_file():
        return []  # the common case, a stat: not a promoted rule's finding
    taken: list[str] = []
    for rule_id, path, meta in _promoted_files(root):
        if code is not None and rule_id != code:
            continue
        query = select(func.count()).where(
            FindingRow.repository == repository,
            FindingRow.code == rule_id,
            FindingRow.status == "rejected",
        )
        since = _parse_time(meta.get("acceptedAt"))
        if since is not None:
            query = query.where(FindingRow.updated_at >= since)
        with store.readers() as s:
            n = int(s.scalar(query) or 0)
        if n < DEMOTE_AFTER:
            continue
        with _lock(learned_path(root)):
            if not path.exists():
                continue
            path.unlink()
            test_path(root, rule_id).unlink(missing_ok=True)
        item = {
            "id": rule_id,
            "dismissed": n,
            "demotedAt": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        with store.sessions.begin() as s:
            key = _demoted_prefix(repository) + hashlib.sha256(rule_id.encode()).hexdigest()[:24]
            set_meta(s.connection(), key, json.dumps(item))
        log.info("promoted rule %s taken out: its findings were dismissed %d times", rule_id, n)
        taken.append(rule_id)
    return taken


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    try:
        parsed = datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
