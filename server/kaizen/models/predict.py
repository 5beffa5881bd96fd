"""Predicted cost of a call, before it is made: so the budget is kept, not just reported.

- prompt tokens: litellm's ``token_counter`` on the messages about to be sent (the model's
  own tokenizer where litellm knows it, else tiktoken's default);
- completion tokens: what this model answered on this task before, on average
  (``model_performance`` sums; ``TYPICAL_COMPLETION_TOKENS`` with no history), at most the
  call's ``max_tokens``;
- cost: litellm's prices (``cost_per_token``); ``None`` for a model litellm has no price
  for (local, self-hosted), which the budget then treats as free, as it does after the call.

litellm is only used here once the call is about to happen (the gateway imports it for the
call anyway); ``predict`` is blocking (the first count may load a tokenizer) and runs on a
worker thread. Predictions are stored beside the actual numbers in ``model_calls``, so
``kaizen metrics`` can report how wrong they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .budget import TYPICAL_COMPLETION_TOKENS
from .lazy_litellm import litellm
from .policy import Stats


@dataclass(frozen=True)
class Prediction:
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None  # None: litellm has no price for the model

    def as_json(self) -> dict[str, Any]:
        return {
            "promptTokens": self.prompt_tokens,
            "completionTokens": self.completion_tokens,
            "costUsd": self.cost_usd,
        }


MESSAGE_OVERHEAD_TOKENS = 3  # role and separators per chat message (OpenAI's accounting)


@lru_cache(maxsize=512)
def _text_tokens(model: str, text: str) -> int:
    """Tokens of one message's text. Cached: the instructions and learnings of a task repeat
    from call to call, only the code changes, so most of a prompt is counted once."""
    try:
        return int(litellm().token_counter(model=model, text=text))
    except Exception:  # a tokenizer litellm cannot load: about four characters a token
        return len(text) // 4


def count_prompt_tokens(model: str, messages: list[dict[str, str]]) -> int:
    return MESSAGE_OVERHEAD_TOKENS * (len(messages) + 1) + sum(
        _text_tokens(model, m.get("content") or "") for m in messages
    )


def expected_completion_tokens(history: Stats | None, max_tokens: int) -> int:
    """The model's mean completion on this task, else a typical review answer."""
    if history is not None and history.calls and history.total_completion_tokens > 0:
        mean = history.total_completion_tokens / history.calls
    else:
        mean = TYPICAL_COMPLETION_TOKENS
    return max(1, min(round(mean), max_tokens))


def price(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    try:
        prompt_usd, completion_usd = litellm().cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # not in litellm's cost map
        return None
    return float(prompt_usd) + float(completion_usd)


def predict(
    model: str, messages: list[dict[str, str]], history: Stats | None, max_tokens: int
) -> Prediction:
    prompt = count_prompt_tokens(model, messages)
    completion = expected_completion_tokens(history, max_tokens)
    return Prediction(prompt, completion, price(model, prompt, completion))


def crosses(prediction: Prediction, spent_usd: float, limit_usd: float | None) -> bool:
    """Would this call take today's spend past the daily budget?"""
    if limit_usd is None or prediction.cost_usd is None:
        return False
    return spent_usd + prediction.cost_usd > limit_usd
