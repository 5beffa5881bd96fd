"""ast-grep rules of the repository (``.kaizen/rules/*.yml``): read, checked and kept.

A rule is ast-grep's own YAML document (``id``, ``language``, ``rule``, optional
``constraints``, ``utils``, ``transform``, ``fix``, ``message``, ``note``, ``severity``,
``url``, ``files``, ``ignores``); one file may hold several, separated by ``---``. A team
writes them by hand, and Kaizen's learned fixes are promoted into them: either way they run
in the static pre-pass (``astgrep_run``), instantly and without a model.

Files are re-read only when they change (size and mtime, then content hash), so the
pre-pass pays a ``stat`` per file per run. A broken rule is one problem naming its file and
line; the other rules, in that file and the others, still run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.findings import Severity

RULES_DIR = Path(".kaizen") / "rules"
SEVERITIES: dict[str, Severity] = {
    "error": "error",
    "warning": "warning",
    "info": "info",
    "hint": "hint",
}
# ast-grep's built-in languages by every name its rules may use (ast-grep's own aliases,
# any case). The key set is what ast-grep-py parses: an unknown name would make it panic.
LANGUAGE_ALIASES: dict[str, tuple[str, ...]] = {
    "bash": ("bash", "sh", "shell", "zsh"),
    "c": ("c",),
    "cpp": ("cpp", "c++", "cc", "cxx"),
    "csharp": ("csharp", "c#", "cs"),
    "css": ("css",),
    "elixir": ("elixir", "ex"),
    "go": ("go", "golang"),
    "haskell": ("haskell", "hs"),
    "hcl": ("hcl", "terraform"),
    "html": ("html",),
    "java": ("java",),
    "javascript": ("javascript", "js", "jsx"),
    "json": ("json",),
    "kotlin": ("kotlin", "kt"),
    "lua": ("lua",),
    "nix": ("nix",),
    "php": ("php",),
    "python": ("python", "py"),
    "ruby": ("ruby", "rb"),
    "rust": ("rust", "rs"),
    "scala": ("scala",),
    "solidity": ("solidity", "sol"),
    "swift": ("swift",),
    "tsx": ("tsx",),
    "typescript": ("typescript", "ts"),
    "yaml": ("yaml", "yml"),
}
CANONICAL = {alias: name for name, aliases in LANGUAGE_ALIASES.items() for alias in aliases}
CONFIG_KEYS = ("rule", "constraints", "utils", "transform")
CAUSE = re.compile(r"^\s+\d+: (.+)$", re.MULTILINE)


@dataclass(frozen=True)
class AstGrepRule:
    id: str
    language: str  # ast-grep's canonical name (LANGUAGE_ALIASES' keys)
    config: dict[str, Any]  # what ast-grep-py's find_all takes: rule, constraints, ...
    message: str
    severity: Severity
    source: Path
    line: int  # 1-based line of the document in its file
    note: str = ""
    fix: str | None = None
    url: str | None = None  # the rule's ``url``, else its file (the diagnostic's link)
    files: tuple[str, ...] = ()
    ignores: tuple[str, ...] = ()
    # ast-grep's free-form ``metadata``; a promoted rule says ``source: promoted`` there
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        """written (by hand), learned or promoted: how the rule came to be (for metrics)."""
        return str(self.metadata.get("source") or "written")


@dataclass(frozen=True)
class RuleProblem:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class _Loaded:
    stamp: tuple[int, int]  # (size, mtime_ns)
    digest: str
    rules: list[AstGrepRule]
    problems: list[RuleProblem]


def _globs(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return ()


def _key_line(node: Any, key: str, default: int) -> int:
    """The 1-based line of ``key`` in a YAML mapping node (the document's line if absent)."""
    for key_node, _value in getattr(node, "value", None) or []:
        if getattr(key_node, "value", None) == key:
            return int(key_node.start_mark.line) + 1
    return default


def check_config(language: str, config: dict[str, Any]) -> str | None:
    """ast-grep's own verdict on a rule: None when it compiles, else its first reason."""
    from ast_grep_py import SgRoot

    try:
        SgRoot("", language).root().find_all(config)  # type: ignore[call-overload]
    except BaseException as exc:  # ast-grep-py raises Exception, RuntimeError or a panic
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        text = str(exc).split("Stack backtrace", 1)[0]  # RUST_BACKTRACE adds a trace
        causes = [m.group(1).strip() for m in CAUSE.finditer(text)]  # "  1: Invalid Kind"
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        return "; ".join(causes[-2:]) if causes else first
    return None


def to_rule(data: Any, node: Any, path: Path, line: int) -> AstGrepRule | RuleProblem:
    """One YAML document as a rule, or the problem that keeps it from being one."""
    if not isinstance(data, dict):
        return RuleProblem(path, line, "a rule must be a mapping with id, language and rule")
    rule_id = data.get("id")
    if not isinstance(rule_id, str) or not rule_id.strip():
        return RuleProblem(path, line, "the rule has no id")
    language = CANONICAL.get(str(data.get("language", "")).strip().lower())
    if language is None:
        at = _key_line(node, "language", line)
        return RuleProblem(path, at, f"rule {rule_id}: unknown language {data.get('language')!r}")
    if not isinstance(data.get("rule"), dict):
        return RuleProblem(path, line, f"rule {rule_id}: no `rule` mapping")
    severity = str(data.get("severity", "warning")).lower()
    if severity == "off":
        return RuleProblem(path, line, "")  # switched off on purpose: not a problem
    if severity not in SEVERITIES:
        at = _key_line(node, "severity", line)
        return RuleProblem(path, at, f"rule {rule_id}: unknown severity {severity!r}")
    config = {key: data[key] for key in CONFIG_KEYS if key in data}
    problem = check_config(language, config)
    if problem is not None:
        return RuleProblem(path, _key_line(node, "rule", line), f"rule {rule_id}: {problem}")
    fix = data.get("fix")
    if isinstance(fix, dict):  # ast-grep's FixConfig: the template is the replacement
        fix = fix.get("template")
    return AstGrepRule(
        id=rule_id.strip(),
        language=language,
        config=config,
        message=str(data.get("message") or rule_id),
        severity=SEVERITIES[severity],
        source=path,
        line=line,
        note=str(data.get("note") or ""),
        fix=str(fix) if isinstance(fix, (str, int, float)) else None,
        url=str(data["url"]) if data.get("url") else path.resolve().as_uri(),
        files=_globs(data.get("files")),
        ignores=_globs(data.get("ignores")),
        metadata=dict(data["metadata"]) if isinstance(data.get("metadata"), dict) else {},
    )


def parse_file(path: Path, text: str) -> tuple[list[AstGrepRule], list[RuleProblem]]:
    """Every rule of one file; a YAML error ends the file there (the rules before it
    stay), an invalid rule is left out alone."""
    import yaml

    rules: list[AstGrepRule] = []
    problems: list[RuleProblem] = []
    loader = yaml.SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            line = int(node.start_mark.line) + 1
            got = to_rule(loader.construct_document(node), node, path, line)
            if isinstance(got, RuleProblem):
                if got.message:
                    problems.append(got)
            else:
                rules.append(got)
    except yaml.YAMLError as exc:
        problems.append(RuleProblem(path, _error_line(exc, text), f"invalid YAML: {_why(exc)}"))
    finally:
        loader.dispose()
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            problems.append(RuleProblem(path, rule.line, f"rule {rule.id}: the id is repeated"))
        seen.add(rule.id)
    return rules, problems


def _error_line(exc: Exception, text: str) -> int:
    """Where a YAML error is: the problem's line, or where the unclosed construct began
    when the problem is only the end of the file."""
    problem = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    at_end = problem is not None and problem.line >= text.count("\n")
    mark = context if (problem is None or at_end) and context is not None else problem
    return int(mark.line) + 1 if mark is not None else 1


def _why(exc: Exception) -> str:
    parts = [getattr(exc, "context", None), getattr(exc, "problem", None)]
    return ": ".join(p for p in parts if p) or str(exc).splitlines()[0]


@dataclass(frozen=True)
class RuleSet:
    rules: list[AstGrepRule]
    problems: list[RuleProblem]
    digest: str  # changes whenever any rule file's content does (a memo key)


NO_RULES = RuleSet([], [], "")


@dataclass
class RuleBook:
    """The rules of every project root seen, re-read per file only when it changed."""

    files: dict[Path, _Loaded] = field(default_factory=dict)

    def load(self, root: Path | None) -> RuleSet:
        if root is None:
            return NO_RULES
        folder = root / RULES_DIR
        try:
            paths = sorted(p for p in folder.iterdir() if p.suffix in (".yml", ".yaml"))
        except OSError:  # no rules folder: the common case
            return NO_RULES
        rules: list[AstGrepRule] = []
        problems: list[RuleProblem] = []
        digests: list[str] = []
        for path in paths:
            loaded = self._file(path)
            if loaded is not None:
                rules.extend(loaded.rules)
                problems.extend(loaded.problems)
                digests.append(f"{path.name}:{loaded.digest}")
        return RuleSet(rules, problems, hashlib.sha256("|".join(digests).encode()).hexdigest())

    def _file(self, path: Path) -> _Loaded | None:
        try:
            stat = path.stat()
        except OSError:
            self.files.pop(path, None)
            return None
        stamp = (stat.st_size, stat.st_mtime_ns)
        cached = self.files.get(path)
        if cached is not None and cached.stamp == stamp:
            return cached
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        digest = hashlib.sha256(raw).hexdigest()
        if cached is not None and cached.digest == digest:
            cached.stamp = stamp
            return cached
        text = raw.decode("utf-8", errors="replace")
        rules, problems = parse_file(path, text)
        loaded = _Loaded(stamp, digest, rules, problems)
        self.files[path] = loaded
        return loaded
