"""Redaction's needles only decide when a pattern runs, never what is redacted.

A pattern is skipped when none of its literal markers occurs in the case-folded text; the
result must be what running every pattern on every text gives.
"""

from __future__ import annotations

import functools
from pathlib import Path

from kaizen.security import redact as r

TOKEN = "x1Y2z3" * 6
TEXTS = [
    *(f'auth = "{prefix}_{TOKEN}"\n' for prefix in ("ghp", "gho", "ghu", "ghs", "ghr")),
    f"pat github_pat_{'A1_' * 14} and ghx_{TOKEN} and GHP_{TOKEN} and gh_{TOKEN}",
    "high right ghost: no token here, Ghp_ nor gHo_",
    'password = "hunter22"\nAPI_KEY=abcd1234\nhttps://user:secretpw@host/x\nAKIA' + "A" * 16,
    "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----",
    "sk-ant-" + "a" * 24 + " sk-" + "b" * 24 + " AIza" + "c" * 35 + " xoxb-1234567890a",
    "sk_live_" + "d" * 20 + " eyJabcdefghij.eyJabcdefghij.abcdefghij",
    Path(r.__file__).read_text(encoding="utf-8"),
    Path(__file__).read_text(encoding="utf-8"),
]


def every_pattern(text: str) -> r.Redacted:
    kinds: list[str] = []
    for kind, pattern in r.PATTERNS:
        text, n = pattern.subn(functools.partial(r._replace, kind=kind), text)
        kinds.extend([kind] * n)
    return r.Redacted(text, kinds)


def test_needles_skip_only_patterns_that_cannot_match() -> None:
    for text in TEXTS:
        assert r.redact(text) == every_pattern(text), text[:60]


def test_every_github_token_prefix_is_redacted() -> None:
    for prefix in ("ghp", "gho", "ghu", "ghs", "ghr"):
        result = r.redact(f"token: {prefix}_{TOKEN}")
        assert result.kinds == ["github-token"], prefix
        assert TOKEN not in result.text
