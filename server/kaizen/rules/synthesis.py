"""Fixes accepted again and again, generalised into one ast-grep rule with a fix.

The hundredth ``x == None`` a model finds costs as much as the first. Once a team has
accepted the same kind of fix a few times, the examples themselves say what the rule is:
this module anti-unifies them (the approach of Getafix and Revisar). Each example's edit is
located in its syntax tree (the smallest named node holding the whole change); the
examples' nodes are walked side by side; where they agree the structure stays, where they
differ a metavariable (``$A``) takes the place, the same differing texts sharing one
variable. The shared context is what keeps the pattern from matching everywhere, so when a
pattern comes out all holes the nodes are widened to their parents and tried again.

The fix is the first example's "after" with each hole's text replaced by its variable. A
candidate is a draft until ``validate`` has shown that it rewrites every example exactly,
matches none of the code the team dismissed, and matches only a small share of the
repository: a rule that passes becomes a proposal, never a check on its own.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

# Kaizen's language names (core/language_table.py) -> ast-grep's built-in language names:
# the languages ast-grep parses, so the ones a learned rule can be written for.
AST_GREP_LANGUAGES = {
    "python": "python",
    "javascript": "javascript",
    "typescript": "typescript",
    "tsx": "tsx",
    "go": "go",
    "rust": "rust",
    "java": "java",
    "kotlin": "kotlin",
    "c": "c",
    "cpp": "cpp",
    "csharp": "csharp",
    "ruby": "ruby",
    "php": "php",
    "bash": "bash",
}
# Where a pattern does not parse on its own (Go reads ``errors.New(x)`` alone as something
# else), ast-grep takes it inside a context and a selector: one wrapper per language.
PATTERN_CONTEXTS = {
    "go": "func _() { PATTERN }",
    "java": "class _ { void _() { PATTERN; } }",
    "csharp": "class _ { void _() { PATTERN; } }",
    "kotlin": "fun _() { PATTERN }",
    "rust": "fn _() { PATTERN; }",
    "c": "void _() { PATTERN; }",
    "cpp": "void _() { PATTERN; }",
    "php": "<?php PATTERN;",
}
MAX_WIDENING = 3  # parents tried above the smallest node holding the change
DEFAULT_MAX_SHARE = 0.01  # a rule matching more than 1% of a repository's lines is refused


@dataclass(frozen=True)
class FixExample:
    """One accepted fix: the code before and after it (a snippet or a whole file)."""

    language: str
    before: str
    after: str


@dataclass
class Candidate:
    """A rule drafted from examples: an ast-grep pattern and its fix template."""

    language: str  # ast-grep's name
    pattern: str
    fix: str
    examples: list[FixExample] = field(default_factory=list)
    holes: int = 0
    selector: str | None = None  # the node kind, when the pattern needs a context

    def rule_body(self) -> dict[str, Any]:
        if self.selector is None:
            return {"pattern": self.pattern}
        context = PATTERN_CONTEXTS[self.language].replace("PATTERN", self.pattern)
        return {"pattern": {"context": context, "selector": self.selector}}

    def to_rule(self, rule_id: str, message: str, severity: str = "warning") -> dict[str, Any]:
        """ast-grep's own YAML rule, with the examples it was learned from as its tests."""
        return {
            "id": rule_id,
            "language": self.language,
            "severity": severity,
            "message": message,
            "rule": self.rule_body(),
            "fix": self.fix,
            "metadata": {"source": "promoted", "examples": len(self.examples)},
        }


@dataclass(frozen=True)
class Refusal:
    """Why no rule was drafted or why a draft was refused; said to the user as is."""

    reason: str


def sg_language(language: str) -> str | None:
    return AST_GREP_LANGUAGES.get(language)


def _root(language: str, text: str) -> Any:
    from ast_grep_py import SgRoot  # imported on use: only rule work needs it

    return SgRoot(text, language).root()


def _changed_span(before: str, after: str) -> tuple[int, int, int] | None:
    """(start, end in before, length difference) of the region an edit changed."""
    if before == after:
        return None
    prefix = 0
    limit = min(len(before), len(after))
    while prefix < limit and before[prefix] == after[prefix]:
        prefix += 1
    suffix = 0
    while (
        suffix < limit - prefix
        and before[len(before) - 1 - suffix] == after[len(after) - 1 - suffix]
    ):
        suffix += 1
    return prefix, len(before) - suffix, len(after) - len(before)


def _span(node: Any) -> tuple[int, int]:
    r = node.range()
    return r.start.index, r.end.index


def _holds(node: Any, start: int, end: int) -> bool:
    s, e = _span(node)
    if start == end:  # an insertion belongs to the node it is inside, not one it touches
        return s < start < e
    return s <= start and end <= e


def _covering(root: Any, start: int, end: int) -> Any:
    """The smallest named node whose span holds [start, end)."""
    node = root
    while True:
        inner = next(
            (c for c in node.children() if c.is_named() and c.text() and _holds(c, start, end)),
            None,
        )
        if inner is None:
            return node
        node = inner


@dataclass
class _Located:
    example: FixExample
    root: Any
    node: Any
    delta: int

    def after_text(self) -> str:
        s, e = _span(self.node)
        return self.example.after[s : e + self.delta]


def _locate(example: FixExample, language: str) -> _Located | None:
    changed = _changed_span(example.before, example.after)
    if changed is None:
        return None
    start, end, delta = changed
    root = _root(language, example.before)
    node = _covering(root, start, max(end, start))
    # a node ending inside a token the edit appended to: widen until it holds the change
    return _Located(example, root, node, delta)


class _Unifier:
    """Anti-unification of N syntax trees: equal structure stays, differences are holes."""

    def __init__(self) -> None:
        self.names: dict[tuple[str, ...], str] = {}
        # spans in the first tree and their variable ("A", or "$$A" for a list of nodes)
        self.holes: list[tuple[tuple[int, int], str]] = []

    def _name(self, texts: tuple[str, ...]) -> str:
        if texts not in self.names:
            index = len(self.names)
            letters = string.ascii_uppercase
            self.names[texts] = letters[index] if index < 26 else f"V{index}"
        return self.names[texts]

    @staticmethod
    def _bracketed(nodes: Sequence[Any], kids: list[list[Any]]) -> bool:
        if not all(len(k) >= 2 for k in kids):
            return False
        opens = {k[0].text() for k in kids}
        closes = {k[-1].text() for k in kids}
        return (
            len(opens) == 1
            and len(closes) == 1
            and not kids[0][0].is_named()
            and not kids[0][-1].is_named()
        )

    def unify(self, nodes: Sequence[Any]) -> None:
        texts = tuple(n.text() for n in nodes)
        if len(set(texts)) == 1:
            return  # identical: literal
        kinds = {n.kind() for n in nodes}
        kids = [n.children() for n in nodes]
        same_shape = len(kinds) == 1 and len({len(k) for k in kids}) == 1 and kids[0]
        if len(kinds) == 1 and not same_shape and self._bracketed(nodes, kids):
            # argument lists of different lengths: the brackets stay, the inside is $$$A
            inner = tuple(_inner_text(n, k) for n, k in zip(nodes, kids, strict=True))
            span = (_span(kids[0][0])[1], _span(kids[0][-1])[0])
            self.holes.append((span, "$$" + self._name(inner)))
            return
        if not same_shape or not nodes[0].is_named():
            self.holes.append((_span(nodes[0]), self._name(texts)))
            return
        for column in zip(*kids, strict=True):
            self.unify(column)


def _inner_text(node: Any, kids: list[Any]) -> str:
    start = _span(node)[0]
    return node.text()[_span(kids[0])[1] - start : _span(kids[-1])[0] - start]


def _render(located: _Located, holes: list[tuple[tuple[int, int], str]]) -> str:
    node_start, _ = _span(located.node)
    text = located.node.text()
    for (s, e), name in sorted(holes, reverse=True):
        text = text[: s - node_start] + "$" + name + text[e - node_start :]
    return text


def _template(after: str, bindings: dict[str, str]) -> str:
    """``after`` with each bound text replaced by its variable, longest texts first, only at
    token boundaries (a hole bound to ``x`` must not rewrite ``max``)."""
    for name, bound in sorted(bindings.items(), key=lambda kv: -len(kv[1])):
        if not bound:
            continue
        left = r"(?<![\w$])" if bound[0].isalnum() or bound[0] == "_" else ""
        right = r"(?![\w])" if bound[-1].isalnum() or bound[-1] == "_" else ""
        after = re.sub(left + re.escape(bound) + right, "$" + name.replace("\\", ""), after)
    return after


def _too_general(pattern: str) -> bool:
    """A pattern that is only variables (and punctuation) would match almost anything."""
    return not re.sub(r"\$[A-Z][A-Z0-9]*|[\s\W]", "", pattern)


def synthesize(examples: Sequence[FixExample]) -> Candidate | Refusal:
    """One ast-grep rule covering every example, or why there is none."""
    if len(examples) < 2:
        return Refusal("at least two accepted fixes of one kind are needed")
    languages = {e.language for e in examples}
    if len(languages) != 1:
        return Refusal(f"examples in several languages: {', '.join(sorted(languages))}")
    language = sg_language(next(iter(languages)))
    if language is None:
        return Refusal(f"ast-grep does not parse {next(iter(languages))}")
    located = [loc for e in examples if (loc := _locate(e, language)) is not None]
    if len(located) != len(examples):
        return Refusal("an example's before and after are the same text")
    refusal = Refusal("the examples share no structure around their edits")
    for level in _ancestors(located[0].node)[: MAX_WIDENING + 1]:
        nodes = [level] + [_nearest(loc.node, level.kind()) for loc in located[1:]]
        if any(n is None for n in nodes):
            continue
        for loc, node in zip(located, nodes, strict=True):
            loc.node = node
        drafted = _draft(located, language, examples)
        if isinstance(drafted, Candidate):
            return _with_context(drafted, located, language, examples)
        refusal = drafted
    return refusal


def _with_context(
    drafted: Candidate, located: list[_Located], language: str, examples: Sequence[FixExample]
) -> Candidate:
    """The rule one level up when every example's edit sits in the same kind of parent.

    The context shared by all the examples is what Getafix keeps to stay precise: fixes of
    ``k in d.keys()`` learn ``$A in $B.keys()``, not ``$A.keys()`` (which would also rewrite
    ``x = d.keys()``). When the parents differ the edit is used in many places, and the
    smaller rule is the general one."""
    parents = [loc.node.parent() for loc in located]
    if any(p is None for p in parents) or len({p.kind() for p in parents}) != 1:
        return drafted
    narrower = [
        _Located(loc.example, loc.root, p, loc.delta)
        for loc, p in zip(located, parents, strict=True)
    ]
    wider = _draft(narrower, language, examples)
    return wider if isinstance(wider, Candidate) else drafted


def _ancestors(node: Any) -> list[Any]:
    chain = [node]
    while (parent := chain[-1].parent()) is not None:
        chain.append(parent)
    return chain


def _nearest(node: Any, kind: str) -> Any:
    """``node`` or its nearest ancestor of ``kind`` (None when there is none)."""
    return next((n for n in _ancestors(node) if n.kind() == kind), None)


def _draft(
    located: list[_Located], language: str, examples: Sequence[FixExample]
) -> Candidate | Refusal:
    if len({loc.node.kind() for loc in located}) != 1:
        return Refusal("the edits change different kinds of code")
    unifier = _Unifier()
    unifier.unify([loc.node for loc in located])
    pattern = _render(located[0], unifier.holes)
    if _too_general(pattern):
        return Refusal(f"pattern {pattern!r} would match any code of its kind")
    first = {
        (("$$" + name) if any(n == "$$" + name for _, n in unifier.holes) else name): texts[0]
        for texts, name in unifier.names.items()
    }
    fix = _template(located[0].after_text(), first)
    candidate = Candidate(language, pattern, fix, list(examples), len(unifier.names))
    problems = [p for e in examples if (p := rewrite_problem(candidate, e))]
    if problems and language in PATTERN_CONTEXTS:
        candidate.selector = located[0].node.kind()
        problems = [p for e in examples if (p := rewrite_problem(candidate, e))]
    return Refusal(problems[0]) if problems else candidate


def matches(candidate: Candidate, text: str) -> list[Any]:
    try:
        return list(_root(candidate.language, text).find_all({"rule": candidate.rule_body()}))
    except Exception:
        return []


def rewrite(candidate: Candidate, text: str) -> str:
    """``text`` with every match of the rule replaced by its fix."""
    root = _root(candidate.language, text)
    edits = [
        node.replace(_bound_fix(candidate.fix, node, text))
        for node in root.find_all({"rule": candidate.rule_body()})
    ]
    return root.commit_edits(edits) if edits else text


def _bound_fix(fix: str, node: Any, source: str) -> str:
    """The fix template with each variable replaced by what it matched in ``node``."""

    def value(m: re.Match[str]) -> str:
        multi, name = m.group(1), m.group(2)
        if multi:
            parts = node.get_multiple_matches(name)
            if not parts:
                return ""
            return source[_span(parts[0])[0] : _span(parts[-1])[1]]
        bound = node.get_match(name)
        return bound.text() if bound is not None else m.group(0)

    return re.sub(r"\$(\$\$)?([A-Z][A-Z0-9]*)", value, fix)


def rewrite_problem(candidate: Candidate, example: FixExample) -> str | None:
    """Why the rule does not turn this example's before into its after, or None."""
    if not matches(candidate, example.before):
        return f"pattern {candidate.pattern!r} does not match an example it was learned from"
    if rewrite(candidate, example.before) != example.after:
        return f"fix {candidate.fix!r} does not reproduce an example's accepted code"
    return None


@dataclass
class Validation:
    ok: bool
    reasons: list[str]
    share: float = 0.0


def validate(
    candidate: Candidate,
    *,
    dismissed: Iterable[str] = (),
    repository: Iterable[str] = (),
    max_share: float = DEFAULT_MAX_SHARE,
) -> Validation:
    """The three checks before a rule may be proposed: it reproduces every accepted example,
    matches none of the dismissed findings' code, and matches at most ``max_share`` of the
    repository's lines (a rule matching everything is refused with that reason)."""
    reasons = [p for e in candidate.examples if (p := rewrite_problem(candidate, e))]
    hits = [code for code in dismissed if matches(candidate, code)]
    if hits:
        reasons.append(f"matches code the team dismissed ({len(hits)} finding(s))")
    total = matched = 0
    for text in repository:
        total += max(1, text.count("\n") + 1)
        matched += len({m.range().start.line for m in matches(candidate, text)})
    share = matched / total if total else 0.0
    if share > max_share:
        reasons.append(
            f"matches {share:.1%} of the repository's lines (more than {max_share:.1%}): "
            "too general"
        )
    return Validation(not reasons, reasons, share)
