"""Redact known secret shapes before any text reaches a model, a log line or the database.

Redaction keeps every line (and its number) so the model's line references still point at
the real document; a redacted line is marked so no fix can ever write the placeholder back
into the user's code.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PLACEHOLDER = "[REDACTED:{kind}]"

# (kind, pattern); a pattern's group "secret", when present, is the only part replaced.
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "private-key",
        re.compile(
            r"-----BEGIN (?:[A-Z ]+ )?PRIVATE KEY-----.*?(?:-----END (?:[A-Z ]+ )?PRIVATE KEY-----|$)",  # noqa: E501
            re.DOTALL,
        ),
    ),
    ("aws-access-key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    (
        "github-token",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b"),
    ),
    ("anthropic-key", re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{20,}")),
    ("openai-key", re.compile(r"\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}")),
    ("google-api-key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
    ("slack-token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("stripe-key", re.compile(r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}")),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    ("url-password", re.compile(r"(?<=://)[^/\s:@]+:(?P<secret>[^@/\s]{3,})(?=@)")),
    (
        "assigned-secret",
        re.compile(
            r"""(?ix)
        (?:password|passwd|pwd|secret|api[_-]?key|apikey|access[_-]?token|auth[_-]?token
           |token|private[_-]?key|client[_-]?secret)
        ["']?\s*[:=]\s*
        (?P<q>["'])(?P<secret>[^"'\s]{4,})(?P=q)
        """
        ),
    ),
    (
        "env-secret",
        re.compile(
            r"""(?im)^\s*(?:export\s+)?[A-Z0-9_]*(?:PASSWORD|SECRET|TOKEN|API_KEY|APIKEY|PRIVATE_KEY)
        [A-Z0-9_]*\s*=\s*(?P<secret>[^\s#'"]{4,})""",
            re.VERBOSE,
        ),
    ),
)


@dataclass
class Redacted:
    text: str
    kinds: list[str]

    @property
    def changed(self) -> bool:
        return bool(self.kinds)


# A pattern only runs when one of its literal markers occurs (case-folded): a substring test
# costs microseconds where a regex scan of a large file costs about a millisecond.
NEEDLES: dict[str, tuple[str, ...]] = {
    "private-key": ("private key",),
    "aws-access-key": ("akia", "asia"),
    # the pattern is case-sensitive: it matches only where one of these literally occurs
    # (and str.lower keeps them), so the folded test runs it exactly when it can match;
    # "gh" alone ran it on half of a library's files ("high", "right", "ghost")
    "github-token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    "anthropic-key": ("sk-ant-",),
    "openai-key": ("sk-",),
    "google-api-key": ("aiza",),
    "slack-token": ("xox",),
    "stripe-key": ("_live_", "_test_"),
    "jwt": ("eyj",),
    "url-password": ("://",),
    "assigned-secret": ("pass", "pwd", "secret", "key", "token"),
    "env-secret": ("password", "secret", "token", "api_key", "apikey", "private_key"),
}


def redact(text: str, extra_secrets: Iterable[str | None] = ()) -> Redacted:
    """``text`` with known secret shapes (and the given literal secrets) replaced."""
    kinds: list[str] = []
    for secret in extra_secrets:
        if secret and len(secret) >= 6 and secret in text:
            text = text.replace(secret, PLACEHOLDER.format(kind="configured-secret"))
            kinds.append("configured-secret")
    folded = text.lower()
    for kind, pattern in PATTERNS:
        if not any(needle in folded for needle in NEEDLES[kind]):
            continue
        if kind == "assigned-secret" and text.isascii():
            # positions in the text as earlier patterns left it (``folded`` stays the
            # original's: the needles were always tested on it)
            text, n = _sub_at(pattern, text, _starts(text.lower(), ASSIGNED_WORDS), kind)
        else:
            text, n = pattern.subn(functools.partial(_replace, kind=kind), text)
        kinds.extend([kind] * n)
    return Redacted(text, kinds)


# Every word "assigned-secret" can begin with, spelled out. Its regex is case-insensitive,
# so Python's scanner tries the whole alternation at every position of the text (over half
# of a document's redaction); in ASCII text a match can only begin where the lower-cased
# text begins with one of these, and trying the regex at exactly those positions, left to
# right, finds the matches ``subn`` finds (tests/test_redact_needles.py).
_PAIRS = (("api", "key"), ("access", "token"), ("auth", "token"), ("private", "key"))
ASSIGNED_WORDS = (
    *(f"{head}{sep}{tail}" for head, tail in (*_PAIRS, ("client", "secret")) for sep in "_-"),
    *(head + tail for head, tail in _PAIRS),
    *("password", "passwd", "pwd", "secret", "clientsecret", "token"),
)


def _starts(folded: str, words: Sequence[str]) -> list[int]:
    """The sorted positions where one of ``words`` occurs in ``folded`` (overlaps too)."""
    found: set[int] = set()
    for word in words:
        at = folded.find(word)
        while at >= 0:
            found.add(at)
            at = folded.find(word, at + 1)
    return sorted(found)


def _sub_at(pattern: re.Pattern[str], text: str, starts: list[int], kind: str) -> tuple[str, int]:
    """``pattern.subn`` with ``_replace`` when a match can only begin at one of ``starts``."""
    pieces: list[str] = []
    done = 0  # the end of the last match: the scan resumes there, as ``subn``'s does
    for at in starts:
        if at < done:
            continue
        if (match := pattern.match(text, at)) is None:
            continue
        pieces += [text[done : match.start()], _replace(match, kind)]
        done = match.end()
    if not pieces:
        return text, 0
    pieces.append(text[done:])
    return "".join(pieces), len(pieces) // 2


def _replace(match: re.Match[str], kind: str) -> str:
    placeholder = PLACEHOLDER.format(kind=kind)
    whole = match.group(0)
    if "secret" in match.re.groupindex and match.group("secret") is not None:
        start, end = match.span("secret")
        offset = match.start()
        whole = whole[: start - offset] + placeholder + whole[end - offset :]
        return whole
    # keep line structure: a multi-line secret becomes one placeholder per line
    lines = whole.split("\n")
    return "\n".join(placeholder for _ in lines)


def redact_lines(lines: Sequence[str]) -> tuple[list[str], set[int]]:
    """Redacted copies of ``lines`` and the 0-based indexes of the lines that changed."""
    result = redact("\n".join(lines))
    out = result.text.split("\n")
    if len(out) != len(lines):  # never happens by construction; never trust it blindly
        out = [redact(line).text for line in lines]
    changed = {i for i, (a, b) in enumerate(zip(lines, out, strict=True)) if a != b}
    return out, changed


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """For error messages and logs: the same redaction, text only."""
    return redact(text, secrets).text
