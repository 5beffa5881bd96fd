"""Reading instruction files into rules: which files a folder has, and what each one says.

Per folder (the workspace root and every folder down to a document's own): ``AGENTS.md``,
``CLAUDE.md``, ``.github/copilot-instructions.md``, ``.github/instructions/*.instructions.md``
(their ``applyTo`` front matter: comma-separated globs; a file without it is only used when
attached by hand in Copilot, so here it applies nowhere) and ``.kaizen/rules/*.md``. A file is
parsed again only when its modification time or size changes.

The section ``kaizen rules export --agents`` writes into AGENTS.md (between its markers) is
left out when AGENTS.md is read: those rules are already read from ``learned.md``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import frontmatter
from .model import LEARNED_FILE, Rule

EXPORT_START = "<!-- kaizen:learned-rules:start -->"
EXPORT_END = "<!-- kaizen:learned-rules:end -->"
_EXPORTED = re.compile(re.escape(EXPORT_START) + r".*?" + re.escape(EXPORT_END), re.S)
SEVERITIES = ("error", "warning", "info", "hint")
_ID = re.compile(r"^[\w][\w./:@+-]*$")  # an id is a diagnostic code and a prompt attribute
_NOT_ID = re.compile(r"[^\w./:@+-]+")
MAX_READ = 4_000_000  # characters of one instruction file read at all (the budget cuts more)


@dataclass
class FileRules:
    rules: list[Rule] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    size: int = 0


def candidates(folder: Path) -> list[tuple[Path, str]]:
    """The instruction files present in ``folder``, each with its kind."""
    out: list[tuple[Path, str]] = []
    for name, kind in (
        ("AGENTS.md", "whole"),
        ("CLAUDE.md", "whole"),
        (".github/copilot-instructions.md", "whole"),
    ):
        path = folder / name
        if path.is_file():
            out.append((path, kind))
    for sub, suffix, kind in (
        (".github/instructions", ".instructions.md", "copilot"),
        (".kaizen/rules", ".md", "kaizen"),
    ):
        directory = folder / sub
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        out.extend(
            (directory / n, kind) for n in names if n.endswith(suffix) and (directory / n).is_file()
        )
    return out


def _globs(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(g.strip() for g in value.split(",") if g.strip())
    if isinstance(value, list) and all(isinstance(g, str) for g in value):
        return tuple(g.strip() for g in value if g.strip())
    return None


def _kaizen_rule(
    block: frontmatter.Block, path: Path, base: str, default_id: str, origin: str
) -> tuple[Rule | None, str | None]:
    """A ``.kaizen/rules`` block as a rule, or the problem that keeps it out."""
    meta = block.meta
    where = f"{path}:{block.line}"
    rule_id = meta.get("id", default_id)
    if not isinstance(rule_id, str) or not _ID.match(rule_id.strip()) or len(rule_id) > 200:
        return None, (
            f"{where}: 'id' must be a short name of letters, digits and . / : @ + - _ "
            "(no spaces); this rule is skipped"
        )
    globs = _globs(meta.get("paths", meta.get("applyTo")))
    if globs is None:
        return None, f"{where}: 'paths' must be a glob or a list of globs; this rule is skipped"
    severity = meta.get("severity")
    if severity is not None and severity not in SEVERITIES:
        return (
            None,
            f"{where}: 'severity' must be one of {', '.join(SEVERITIES)}; this rule is skipped",
        )
    enabled = meta.get("enabled", True)
    if not isinstance(enabled, bool):
        return None, f"{where}: 'enabled' must be true or false; this rule is skipped"
    action = meta.get("action", "instruct")
    if action not in ("instruct", "suppress"):
        return None, f"{where}: 'action' must be instruct or suppress; this rule is skipped"
    category = meta.get("category")
    if category is not None and not isinstance(category, str):
        return None, f"{where}: 'category' must be a text; this rule is skipped"
    if action == "suppress" and not category:
        return None, f"{where}: a suppress rule needs a 'category' (what it stops); skipped"
    evidence = meta.get("evidence") if isinstance(meta.get("evidence"), dict) else {}
    rule = Rule(
        id=rule_id.strip(),
        text=block.text,
        file=path,
        line=block.line,
        base=base,
        paths=globs,
        severity=severity,
        category=category,
        enabled=enabled,
        action=action,
        origin=origin,  # type: ignore[arg-type]
        evidence=evidence or {},
    )
    return rule, None


def read_file(path: Path, kind: str, root: Path, base: str) -> FileRules:
    """Every rule in one file; ``base`` is the folder its globs are relative to."""
    out = FileRules()
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            text = handle.read(MAX_READ)
    except OSError as exc:
        out.problems.append(
            f"{path}: cannot be read ({exc.strerror or exc}); its rules are skipped"
        )
        return out
    out.size = len(text)
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    rel = _NOT_ID.sub("-", rel) or "instructions"  # the id of a whole file
    if kind == "whole":
        if path.name == "AGENTS.md":
            text = _EXPORTED.sub("", text)
        parsed = frontmatter.parse(text, path)
        out.problems.extend(parsed.problems)
        body = "\n\n".join(b.text for b in parsed.blocks if b.text).strip()
        if body:
            out.rules.append(Rule(id=rel, text=body, file=path, line=1, base=base))
        return out
    parsed = frontmatter.parse(text, path)
    out.problems.extend(parsed.problems)
    stem = path.name.removesuffix(".instructions.md").removesuffix(".md")
    origin = "learned" if kind == "kaizen" and path.name == LEARNED_FILE else "written"
    for n, block in enumerate(parsed.blocks):
        if not block.text and not block.has_meta:
            continue
        if kind == "copilot":
            globs = _globs(block.meta.get("applyTo"))
            if globs is None:
                out.problems.append(
                    f"{path}:{block.line}: 'applyTo' must be a glob or globs separated by "
                    "commas; this file is skipped"
                )
                continue
            if globs and block.text:  # no applyTo: attached by hand only, never here
                out.rules.append(
                    Rule(
                        id=rel, text=block.text, file=path, line=block.line, base=base, paths=globs
                    )
                )
            continue
        default_id = stem if n == 0 else f"{stem}-{n + 1}"
        rule, problem = _kaizen_rule(block, path, base, default_id, origin)
        if problem is not None:
            out.problems.append(problem)
        elif rule is not None:
            out.rules.append(rule)
    return out


def yaml_rules(root: Path) -> list[dict[str, Any]]:
    """The ast-grep rules of ``.kaizen/rules/*.yml`` as listings (id, origin, file); a file
    that does not parse is left to the static pre-pass, which reports it."""
    import yaml

    out: list[dict[str, Any]] = []
    folder = root / ".kaizen" / "rules"
    paths = sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]) if folder.is_dir() else []
    for path in paths:
        try:
            docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        for doc in docs:
            if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
                continue
            meta = doc.get("metadata")
            source = meta.get("source") if isinstance(meta, dict) else None
            source = source if source in ("written", "learned", "promoted") else "written"
            out.append(
                {
                    "id": doc["id"],
                    "origin": source,
                    "file": path.relative_to(root).as_posix(),
                    "kind": "ast-grep",
                    "language": doc.get("language"),
                    "text": str(doc.get("message") or ""),
                    "enabled": True,
                }
            )
    return out
