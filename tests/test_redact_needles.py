"""Redaction's needles only decide when a pattern runs, never what is redacted.

A pattern is skipped when none of its literal markers occurs in the case-folded text; the
result must be what running every pattern on every text gives.
"""

from __future__ import annotations

import functools
import random
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


# the words of the "assigned-secret" regex, written out here independently of redact.py
KEYWORDS = [
    "password",
    "passwd",
    "pwd",
    "secret",
    "apikey",
    "token",
    *(
        f"{a}{sep}{b}"
        for a, b in [
            ("api", "key"),
            ("access", "token"),
            ("auth", "token"),
            ("private", "key"),
            ("client", "secret"),
        ]
        for sep in ("", "_", "-")
    ),
]


def _casing(rng: random.Random, word: str) -> str:
    return "".join(c.upper() if rng.random() < 0.3 else c for c in word)


def _chunk(rng: random.Random) -> str:
    """A piece of text: most often something shaped like an assignment of a secret."""
    if rng.random() < 0.3:
        return rng.choice(
            [
                "x = 1\n",
                "  ",
                "\n",
                "key",
                "pass",
                "tok",
                "é",
                "\u017fecret",
                "\u212aey",
                "[REDACTED:x]",
                f"ghp_{TOKEN}",
                "://u:pw123@h/ ",
            ]
        )
    quote = rng.choice(['"', "'"])
    return "".join(
        [
            rng.choice(["", "my_", "x.", "DB_", "self."]),
            _casing(rng, rng.choice(KEYWORDS)),
            rng.choice(["", '"', "'"]),
            rng.choice(["", " ", "  ", "\n", "\t"]),
            rng.choice(["=", ":", " ", "=="]),
            rng.choice(["", " ", "\n"]),
            quote,
            rng.choice(["abcd", "s3cr3t!", "ab", "a b c d", "hunter2hunter2", ""]),
            rng.choice([quote, '"', "'", ""]),
            rng.choice(["", "\n", ", ", " "]),
        ]
    )


def test_assigned_secrets_found_at_their_words_are_those_subn_finds() -> None:
    """Random texts of keywords (any case), separators, quotes and values, ASCII and not:
    redaction equals every pattern run by ``subn`` over the whole text."""
    rng = random.Random(26)
    found = 0
    for _ in range(3000):
        text = "".join(_chunk(rng) for _ in range(rng.randint(1, 12)))
        result = r.redact(text)
        assert result == every_pattern(text), repr(text)
        found += result.kinds.count("assigned-secret")
    assert found > 1000  # the texts exercise the pattern, not only its absence


def test_real_sources_redact_as_before() -> None:
    root = Path(r.__file__).resolve().parents[1]
    for path in sorted(root.rglob("*.py"))[:120]:
        text = path.read_text(encoding="utf-8")
        assert r.redact(text) == every_pattern(text), path
