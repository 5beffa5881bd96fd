"""Recognising GitHub's rate limits and deciding how long to wait for them.

PyGithub's own retry (``GithubRetry``) may sleep until the hourly limit resets — up to an hour
inside an editor command. Kaizen turns that off and waits only within a small budget; past
it, the user gets an error that says when the limit resets.

GitHub signals a primary limit with 403/429 and ``X-RateLimit-Remaining: 0`` plus
``X-RateLimit-Reset`` (epoch seconds), and a secondary limit with 403/429 and
``Retry-After`` (seconds) or a "secondary rate limit" message.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from github import GithubException, RateLimitExceededException

# Clocks differ and X-RateLimit-Reset is rounded to whole seconds: wait a little past it.
_RESET_MARGIN_SECONDS = 1.0
# Secondary limits without a Retry-After: GitHub asks to wait "at least one minute".
_SECONDARY_DEFAULT_SECONDS = 60.0


def _headers(exc: GithubException) -> Mapping[str, Any]:
    return {k.lower(): v for k, v in (exc.headers or {}).items()}


def _message(exc: GithubException) -> str:
    data = exc.data
    if isinstance(data, Mapping):
        return str(data.get("message") or "")
    return ""


def is_rate_limited(exc: GithubException) -> bool:
    """Whether this error is GitHub refusing because of a (primary or secondary) rate limit."""
    if isinstance(exc, RateLimitExceededException):
        return True
    if exc.status not in (403, 429):
        return False
    headers = _headers(exc)
    return (
        "retry-after" in headers
        or str(headers.get("x-ratelimit-remaining", "")) == "0"
        or "rate limit" in _message(exc).lower()
    )


def seconds_to_wait(exc: GithubException, now: float | None = None) -> float:
    """How long GitHub asks us to wait before retrying, from Retry-After or X-RateLimit-Reset."""
    now = time.time() if now is None else now
    headers = _headers(exc)
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
    reset = headers.get("x-ratelimit-reset")
    if reset is not None and str(headers.get("x-ratelimit-remaining", "0")) == "0":
        try:
            return max(0.0, float(reset) - now) + _RESET_MARGIN_SECONDS
        except ValueError:
            pass
    return _SECONDARY_DEFAULT_SECONDS


def describe_reset(seconds: float, now: float | None = None) -> tuple[str, datetime]:
    """A human phrase for when the limit resets ("at 14:05:09 UTC, in 12 min") and the time."""
    now = time.time() if now is None else now
    at = datetime.fromtimestamp(now + seconds, tz=timezone.utc)
    span = f"{math.ceil(seconds)} s" if seconds < 90 else f"{math.ceil(seconds / 60)} min"
    return f"at {at:%H:%M:%S} UTC, in {span}", at


@dataclass
class WaitBudget:
    """The total time one operation may spend waiting for rate limits."""

    seconds: float

    def take(self, wanted: float) -> bool:
        """Spend ``wanted`` seconds if the budget allows it; False (nothing spent) otherwise."""
        if wanted > self.seconds:
            return False
        self.seconds -= wanted
        return True
