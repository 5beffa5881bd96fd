"""Accepted fixes generalised into ast-grep rules (rules.synthesis), with ast-grep itself
running the rules: what the examples share stays, what differs becomes a variable, and a
rule is refused when it would match everything or code the team dismissed."""

from __future__ import annotations

import yaml
from ast_grep_py import SgRoot

from kaizen.rules.synthesis import Candidate, FixExample, Refusal, rewrite, synthesize, validate


def _examples(language: str, *pairs: tuple[str, str]) -> list[FixExample]:
    return [FixExample(language, b, a) for b, a in pairs]


NONE_FIXES = _examples(
    "python",
    ("if x == None:\n    pass\n", "if x is None:\n    pass\n"),
    ("y = a.b == None\n", "y = a.b is None\n"),
    ("return self.items[0] == None\n", "return self.items[0] is None\n"),
)


def test_python_examples_become_a_rule_that_fixes_unseen_code() -> None:
    rule = synthesize(NONE_FIXES)
    assert isinstance(rule, Candidate)
    assert (rule.pattern, rule.fix) == ("$A == None", "$A is None")
    unseen = "def f(node):\n    return node.parent.left == None or node == other\n"
    assert rewrite(rule, unseen) == (
        "def f(node):\n    return node.parent.left is None or node == other\n"
    )


def test_shared_context_is_kept_and_argument_lists_become_lists() -> None:
    keys = synthesize(
        _examples(
            "python",
            ("if k in d.keys():\n    pass\n", "if k in d:\n    pass\n"),
            ("found = name in self.registry.keys()\n", "found = name in self.registry\n"),
            ("ok = [x for x in xs if x in seen.keys()]\n", "ok = [x for x in xs if x in seen]\n"),
        )
    )
    assert isinstance(keys, Candidate) and keys.pattern == "$A in $B.keys()"
    assert rewrite(keys, "view = d.keys()\n") == "view = d.keys()\n"  # not an `in` test
    go = synthesize(
        _examples(
            "go",
            (
                'package m\nfunc f() error { return errors.New(fmt.Sprintf("bad %d", n)) }\n',
                'package m\nfunc f() error { return fmt.Errorf("bad %d", n) }\n',
            ),
            (
                'package m\nfunc g() { err := errors.New(fmt.Sprintf("%s %s", a, b)) }\n',
                'package m\nfunc g() { err := fmt.Errorf("%s %s", a, b) }\n',
            ),
        )
    )
    assert isinstance(go, Candidate) and "$$$A" in go.pattern
    assert rewrite(go, 'package m\nfunc h() { x(errors.New(fmt.Sprintf("q"))) }\n') == (
        'package m\nfunc h() { x(fmt.Errorf("q")) }\n'
    )


def test_the_rule_is_ast_grep_yaml_that_ast_grep_runs() -> None:
    rule = synthesize(NONE_FIXES)
    assert isinstance(rule, Candidate)
    document = yaml.safe_load(yaml.safe_dump(rule.to_rule("none-compare", "Use `is None`")))
    assert document["id"] == "none-compare" and document["fix"] == "$A is None"
    root = SgRoot("if z == None:\n    pass\n", document["language"]).root()
    assert [n.text() for n in root.find_all({"rule": document["rule"]})] == ["z == None"]


def test_unrelated_edits_are_refused_with_the_reason() -> None:
    renames = synthesize(
        _examples("python", ("x = 1\n", "y = 1\n"), ("a = 2\n", "b = 2\n"), ("c = 3\n", "d = 3\n"))
    )
    assert isinstance(renames, Refusal) and "any code" in renames.reason
    assert isinstance(synthesize(NONE_FIXES[:1]), Refusal)
    mixed = [NONE_FIXES[0], FixExample("typescript", "a == null;", "a === null;")]
    assert "several languages" in synthesize(mixed).reason  # type: ignore[union-attr]


def test_validation_refuses_rules_that_match_too_much_or_dismissed_code() -> None:
    rule = synthesize(NONE_FIXES)
    assert isinstance(rule, Candidate)
    repository = ["a = 1\n" * 300 + "if k == None:\n    pass\n"]
    assert validate(rule, repository=repository).ok
    everywhere = validate(rule, repository=["if k == None: pass\n" * 10])
    assert not everywhere.ok and "too general" in everywhere.reasons[0]
    dismissed = validate(rule, dismissed=["sentinel == None  # on purpose"], repository=repository)
    assert not dismissed.ok and "dismissed" in dismissed.reasons[0]


def test_accepted_fixes_are_kept_as_code_and_promoted_to_a_rule(tmp_path) -> None:
    """An applied fix's lines before and after go into memory; three of one kind become a
    validated rule proposal, the same fix twice counts once."""
    from kaizen.core.findings import Edit
    from kaizen.memory.fix_examples import Example, by_kind, example_of, record
    from kaizen.memory.store import Store
    from kaizen.rules.promotion import promote

    store = Store.open(str(tmp_path / "k.db"))
    sources = ["if a == None:\n    pass", "x = self.b == None", "return items[0] == None"]
    for text in [*sources, sources[0]]:
        lines = text.splitlines()
        col = lines[0].index("==")
        pair = example_of(lines, [Edit(0, col, 0, col + 2, "is")])
        assert pair is not None and " is None" in pair[1]
        record(store, "repo", Example("python", "none-compare", "m.py", *pair))
    groups = by_kind(store, "repo")
    assert [len(v) for v in groups.values()] == [3]
    (promotion,) = promote(groups, repository_texts=lambda _l: ["a = 1\n" * 500])
    assert promotion.ok and promotion.rule is not None
    assert promotion.rule["rule"] == {"pattern": "$A == None"}
    assert "fix: $A is None" in promotion.yaml()
    refused = promote(groups, repository_texts=lambda _l: ["if q == None: pass\n"])
    assert not refused[0].ok and "too general" in refused[0].reasons[0]
