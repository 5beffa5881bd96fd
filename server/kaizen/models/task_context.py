"""What the router is told about one task before it chooses a model.

Apart from ``features`` (which turns it into a vector with numpy) so the pipelines and the
router can name a task without importing numpy on a language server's start path.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskContext:
    """One task as the router sees it when choosing (nothing here leaves the process
    except as the reduced feature vector)."""

    task: str
    text: str = ""
    language: str = ""
    tokens: int | None = None  # default: len(text) / 4
    run_id: int | None = None  # the run the outcome will be credited through
    is_code: bool | None = None  # default: a language is set

    @property
    def token_count(self) -> int:
        return self.tokens if self.tokens is not None else max(1, len(self.text) // 4)
