"""One GitHub API call at a time: rate-limit waits within a budget, and errors people can read.

Every PyGithub call in the pull-request flow goes through ``ApiSession.call``, so there is one
place that turns ``GithubException`` and network failures into ``PullRequestError`` — and one
place that scrubs the token from whatever GitHub, a URL or a caller put in a message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests
from github import GithubException

from kaizen.github.errors import PullRequestError, mask_secrets
from kaizen.github.ratelimit import WaitBudget, describe_reset, is_rate_limited, seconds_to_wait

log = logging.getLogger(__name__)

T = TypeVar("T")


class ApiSession:
    """Calls for one pull request, sharing one rate-limit budget and one secret to hide."""

    def __init__(self, token: str, max_rate_limit_wait: float) -> None:
        self._secrets = (token,)
        self._budget = WaitBudget(max(0.0, max_rate_limit_wait))

    def mask_secrets(self, text: str) -> str:
        return mask_secrets(text, self._secrets)

    def fail(self, code: str, message: str, **extra: Any) -> PullRequestError:
        return PullRequestError(code, self.mask_secrets(message), **extra)

    def rescrub(self, err: PullRequestError) -> PullRequestError:
        """The same error with the token scrubbed from its message (for errors made elsewhere)."""
        return self.fail(err.code, err.message, status=err.status, resets_at=err.resets_at)

    def call(self, doing: str, action: Callable[[], T]) -> T:
        """Run ``action``; on a rate limit wait (if the budget allows) and retry once."""
        retried = False
        while True:
            try:
                return action()
            except GithubException as exc:
                if not is_rate_limited(exc):
                    raise self._github_error(doing, exc) from None
                wait = seconds_to_wait(exc)
                if retried or not self._budget.take(wait):
                    when, at = describe_reset(wait)
                    raise self.fail(
                        "rate_limited",
                        f"GitHub's rate limit stopped Kaizen while {doing}; it resets {when}. "
                        "Try again then.",
                        status=exc.status,
                        resets_at=at,
                    ) from None
                log.info("GitHub rate limit while %s; retrying in %.1f s", doing, wait)
                time.sleep(wait)
                retried = True
            except requests.RequestException as exc:
                raise self.fail(
                    "network_error", f"Could not reach GitHub while {doing}: {exc}"
                ) from None

    def _github_error(self, doing: str, exc: GithubException) -> PullRequestError:
        data = exc.data if isinstance(exc.data, Mapping) else {}
        message = str(data.get("message") or exc.message or "no message")
        details = [
            str(e.get("message") or e.get("code"))
            for e in data.get("errors") or []
            if isinstance(e, Mapping) and (e.get("message") or e.get("code"))
        ]
        if details:
            message += f" ({'; '.join(details)})"
        return self.fail(
            "github_error",
            f"GitHub answered {exc.status} while {doing}: {message}",
            status=exc.status,
        )
