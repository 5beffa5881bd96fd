"""The one error type of the pull-request feature, and the scrubbing that keeps tokens out of it.

Every failure carries a stable ``code`` so the editor, the CLI and the MCP/HTTP faces can
react to it (e.g. offer "set GITHUB_TOKEN" for ``no_token``) without parsing prose. The
message is for people and must never contain a secret, so it is scrubbed where it is built.

Codes: ``no_token``, ``git_missing``, ``not_a_git_repo``, ``no_remote``, ``not_github``,
``invalid_change``, ``token_in_change``, ``no_base_branch``, ``branch_exists``,
``base_moved``, ``base_unknown``, ``rate_limited``, ``github_error``, ``network_error``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

REDACTED = "***"

# A token shorter than this is not a real credential; replacing it would mangle ordinary text.
_MIN_SECRET_LENGTH = 4

_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


def mask_secrets(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every secret in ``text`` with ``***`` and drop credentials embedded in URLs.

    Longer secrets go first so that a secret containing another one is removed whole.
    """
    usable = sorted(
        {s for s in secrets if s and len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True
    )
    for secret in usable:
        text = text.replace(secret, REDACTED)
    return _URL_USERINFO.sub(rf"\g<scheme>{REDACTED}@", text)


class PullRequestError(Exception):
    """Opening a pull request failed; ``code`` says why in a form programs can act on."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        resets_at: datetime | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.resets_at = resets_at

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"PullRequestError(code={self.code!r}, message={self.message!r})"
