"""One way to turn a pydantic ``ValidationError`` into a message a user can act on.

Settings, LSP command arguments, tool inputs and import records all report bad input the
same way: ``field.path: what is wrong`` joined by ``; ``.
"""

from __future__ import annotations

from typing import Any


def validation_message(exc: Any, prefix: str = "") -> str:
    """``a.b: message; c: message`` for every error of a pydantic ``ValidationError``."""
    return "; ".join(validation_problems(exc, prefix))


def validation_problems(exc: Any, prefix: str = "") -> list[str]:
    """One ``where: message`` line per error (``where`` is ``argument`` for the top level)."""
    out = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "argument"
        out.append(f"{prefix}{where}: {error['msg']}")
    return out


class KaizenError(Exception):
    """A failure Kaizen knows how to explain: the job could not be done (a database that
    cannot be opened, a file that cannot be read, a configuration that does not parse).

    Its message is one line that names the setting, URL or file involved; every face shows
    it as it is (the CLI prints ``kaizen: <message>`` and exits 2) instead of a traceback.
    """
