"""One model call: litellm, a JSON schema for the answer, validation, tokens, cost, latency.

Transport concerns (retries with backoff, ``Retry-After``, timeouts, cooldowns) are litellm
Router features and stay there. What litellm cannot know is whether an answer is *usable*:
that is decided here, and an answer that does not parse or validate is a failed call
(``status="invalid"``), exactly like an exception, so the router falls back from it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError

from .lazy_litellm import litellm

MAX_ANSWER_CHARS = 200_000

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelTarget:
    """Where a call goes: a litellm model string plus optional endpoint and key."""

    model: str
    api_base: str | None = None
    api_key: str | None = field(default=None, repr=False, compare=False)

    @property
    def provider(self) -> str:
        return self.model.split("/", 1)[0] if "/" in self.model else "openai"

    @property
    def name(self) -> str:
        return self.model.split("/", 1)[1] if "/" in self.model else self.model


@dataclass
class CallOutcome:
    """What happened on one attempt; everything the runs table and the router need."""

    task: str
    target: ModelTarget
    status: str  # ok | invalid | error
    value: BaseModel | None = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    raw: str | None = field(default=None, repr=False)  # an invalid answer, for bug patterns
    predicted: Any = None  # models.predict.Prediction made before the call

    # False when the request never got to the model (no connection, refused key, unknown
    # model, rate limit): such a call says nothing about the model's answers, so success
    # rates leave it out (it still counts against the endpoint in the router's record)
    reached: bool = True

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# Exceptions (by class name, anywhere in the chain litellm wraps them in: no import) of
# requests no model saw: no connection, a refused key, an unknown model, a rate limit. A
# refused connection reaches us as litellm's InternalServerError caused by openai's
# APIConnectionError caused by httpx's ConnectError, so the whole chain is read. A timeout
# is not among them: the model may have been working on the answer.
UNREACHED = frozenset(
    {
        "APIConnectionError",
        "ConnectError",
        "ConnectionRefusedError",
        "ClientConnectorError",
        "gaierror",
        "AuthenticationError",
        "PermissionDeniedError",
        "NotFoundError",
        "RateLimitError",
        "BudgetExceededError",
    }
)
TIMEOUTS = frozenset({"Timeout", "APITimeoutError", "TimeoutError", "ReadTimeout"})


def never_reached(exc: BaseException) -> bool:
    """Whether a failed call never got to the model (see ``UNREACHED``)."""
    names: set[str] = set()
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 16:
        seen.add(id(current))
        names.update(cls.__name__ for cls in type(current).__mro__)
        current = current.__cause__ or current.__context__
    return not (names & TIMEOUTS) and bool(names & UNREACHED)


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def extract_json(text: str) -> Any:
    """Parse a model's answer: plain JSON, JSON in a code fence, or the first {...} in prose."""
    text = text.strip()
    candidates = [text]
    if m := _FENCE.search(text):
        candidates.append(m.group(1).strip())
    if (start := text.find("{")) >= 0 and (end := text.rfind("}")) > start:
        candidates.append(text[start : end + 1])
    error: Exception | None = None
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError as exc:
            error = exc
    raise ValueError(f"answer is not JSON ({error})")


@cache
def _schema(answer_type: type[BaseModel]) -> str:
    """The answer's JSON schema, generated once (pydantic's schema generation is slow)."""
    return json.dumps(answer_type.model_json_schema())


def response_format(task: str, answer_type: type[BaseModel]) -> dict[str, Any]:
    """A fresh JSON-schema response format per call (litellm may adjust it in place)."""
    return {
        "type": "json_schema",
        "json_schema": {"name": task, "schema": json.loads(_schema(answer_type)), "strict": False},
    }


# litellm's additions to a provider's message: the Router's bookkeeping and the exception
# name repeated (``InternalServerError: litellm.InternalServerError: InternalServerError:``)
_ROUTER_NOISE = re.compile(r"\.?\s*(?:Received Model Group=|LiteLLM Retried:).*$", re.S)
_REPEATED_NAME = re.compile(r"^(\w+): (?:litellm\.)?\1:\s*(?:\1:\s*)?")


def _short(exc: BaseException, target: ModelTarget) -> str:
    """A one-line error for the user and the database, with any key scrubbed out."""
    from ..security.redact import scrub

    if "LLM Provider NOT provided" in str(exc):
        return unknown_provider(target.provider)
    text = scrub(f"{type(exc).__name__}: {exc}", [target.api_key])
    text = " ".join(text.split())
    text = _REPEATED_NAME.sub(r"\1: ", _ROUTER_NOISE.sub("", text)).rstrip(". ")
    return text if len(text) < 500 else text[:497] + "..."


def unknown_provider(provider: str) -> str:
    """litellm's "LLM Provider NOT provided" as the user's mistake: the setting, a guess."""
    import difflib

    names = [str(getattr(p, "value", p)) for p in litellm().provider_list] + ["local"]
    close = difflib.get_close_matches(provider.lower(), names, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (
        f"unknown provider {provider!r}{hint}: set kaizen.autofix.provider (or --provider, "
        "KAIZEN_PROVIDER) to a litellm provider such as 'openai', 'anthropic', 'ollama'"
    )


class Gateway:
    """Calls one target through a litellm Router built once per target."""

    def __init__(
        self, timeout_s: float = 60.0, num_retries: int = 2, max_concurrency: int = 8
    ) -> None:
        self.timeout_s = timeout_s
        self.num_retries = num_retries
        self.max_concurrency = max_concurrency  # requests in flight per provider endpoint
        self._routers: dict[tuple[str, str | None, str | None], Any] = {}
        self._slots: dict[tuple[int, str, str | None], asyncio.Semaphore] = {}
        self._building: dict[tuple[Any, ...], asyncio.Lock] = {}  # per event loop and target

    def _slot(self, target: ModelTarget) -> asyncio.Semaphore:
        """The semaphore bounding calls in flight to ``target``'s provider endpoint (one per
        event loop: ``kaizen check`` and the editor each run their own)."""
        key = (id(asyncio.get_running_loop()), target.provider, target.api_base)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = asyncio.Semaphore(self.max_concurrency)
        return slot

    def _build(self, target: ModelTarget) -> Any:
        """A litellm Router for one target (runs on a worker thread: it imports litellm)."""
        params: dict[str, Any] = {"model": target.model, "timeout": self.timeout_s}
        if target.api_base:
            params["api_base"] = target.api_base
        if target.api_key:
            params["api_key"] = target.api_key
        return litellm().Router(
            model_list=[{"model_name": target.model, "litellm_params": params}],
            num_retries=self.num_retries,
            timeout=self.timeout_s,
            retry_after=0,
            # One deployment per Router: a cooldown could only replace the real error
            # (an unknown model, a bad key) with "No deployments available" on the
            # next call. Kaizen's own router falls back across targets instead.
            disable_cooldowns=True,
        )

    async def _ready(self, target: ModelTarget) -> Any:
        """The target's Router, built on a worker thread the first time (the import of
        litellm takes seconds and must not block the event loop), then warmed with one
        ``mock_response`` call: litellm's first call sets up lazily (imports, the
        platform headers, ~0.4 s in a CLI process) and that is not the model's latency.
        Nothing is sent: a mock answer never leaves the process.

        Files reviewed side by side ask for the same target at once: one call builds and
        warms the Router while the others wait for it, so litellm's lazy set-up never runs
        twice at the same time."""
        key = (target.model, target.api_base, target.api_key)
        if (router := self._routers.get(key)) is not None:
            return router
        lock_key = (id(asyncio.get_running_loop()), *key)
        async with self._building.setdefault(lock_key, asyncio.Lock()):
            if (router := self._routers.get(key)) is not None:
                return router
            built = await asyncio.to_thread(self._build, target)
            try:
                await built.acompletion(
                    model=target.model,
                    messages=[{"role": "user", "content": "warm-up"}],
                    mock_response="{}",
                )
            except Exception as exc:  # a warm-up is an optimisation, never a failure
                log.debug("warm-up of %s failed: %s", target.model, exc)
            self._routers[key] = built
        return built

    async def complete(
        self,
        task: str,
        target: ModelTarget,
        messages: list[dict[str, str]],
        answer_type: type[BaseModel],
        *,
        max_tokens: int = 2048,
    ) -> CallOutcome:
        outcome = CallOutcome(task=task, target=target, status="error")
        try:
            # Start-up is not model latency: litellm's import and the Router (built once
            # per target) are paid before the clock starts, or the first call of every
            # process would be recorded seconds slow and the router would learn it.
            router = await self._ready(target)
            schema = response_format(task, answer_type)  # pydantic's first schema build: slow
        except Exception as exc:
            outcome.error = _short(exc, target)
            outcome.reached = False
            return outcome
        async with self._slot(target):  # a waiting call is not model latency either
            started = time.perf_counter()
            try:
                response = await router.acompletion(
                    model=target.model,
                    messages=messages,
                    response_format=schema,
                    temperature=0,
                    max_tokens=max_tokens,
                )
            except Exception as exc:  # every provider error is a failed attempt, never a crash
                outcome.error = _short(exc, target)
                outcome.reached = not never_reached(exc)
                outcome.latency_ms = (time.perf_counter() - started) * 1000
                return outcome
            outcome.latency_ms = (time.perf_counter() - started) * 1000
        usage = getattr(response, "usage", None)
        outcome.prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        outcome.completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        outcome.cost_usd = self._cost(response)
        content = response.choices[0].message.content or ""
        outcome.status, outcome.value, outcome.error = validate_answer(content, answer_type)
        if outcome.status == "invalid":
            outcome.raw = content[:20_000]
        return outcome

    @staticmethod
    def _cost(response: Any) -> float:
        try:
            return float(litellm().completion_cost(completion_response=response) or 0.0)
        except Exception:  # unknown models (local, self-hosted) have no price: free
            return 0.0


def validate_answer(
    content: str, answer_type: type[BaseModel]
) -> tuple[str, BaseModel | None, str | None]:
    """``("ok", value, None)`` or ``("invalid", None, why)`` for a raw answer."""
    if len(content) > MAX_ANSWER_CHARS:
        return "invalid", None, f"answer too large ({len(content)} characters)"
    try:
        return "ok", answer_type.model_validate(extract_json(content)), None
    except (ValueError, ValidationError) as exc:
        detail = str(exc).splitlines()
        return "invalid", None, "invalid answer: " + " ".join(detail[:3])[:400]
