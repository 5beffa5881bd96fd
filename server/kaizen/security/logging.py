"""A logging filter that scrubs secrets from every record before any handler sees it."""

from __future__ import annotations

import logging

from .redact import scrub


class SecretFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def install() -> None:
    """Scrub on every handler of the root logger (and any added later through basicConfig)."""
    secret_filter = SecretFilter()
    root = logging.getLogger()
    for handler in root.handlers:
        handler.addFilter(secret_filter)
    root.addFilter(secret_filter)
