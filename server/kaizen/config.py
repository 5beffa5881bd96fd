"""Typed settings, in layers: defaults < kaizen.toml / [tool.kaizen] < environment < editor.

Editors send camelCase (``initializationOptions`` and ``workspace/configuration``); files and
the environment use the same keys. A bad value never stops the server: ``load_settings``
returns the defaults for what was invalid and a list of human-readable problems to show.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasGenerator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PIPELINES = ("autofix", "refactor")


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=AliasGenerator(validation_alias=to_camel, serialization_alias=to_camel),
        populate_by_name=True,
        extra="ignore",
    )


class ModelChoice(_Model):
    """The user's explicit provider and model for one pipeline (None: let the router pick)."""

    provider: str | None = None
    model: str | None = None
    api_base: str | None = None
    api_key: str | None = Field(default=None, repr=False)

    @property
    def litellm_model(self) -> str | None:
        """``provider/model`` as litellm names it, or None when no model was chosen."""
        if not self.model:
            return None
        if not self.provider:
            # A bare model name with a base URL means an OpenAI-compatible server.
            if self.api_base and "/" not in self.model:
                return f"openai/{self.model}"
            return self.model
        if self.model.startswith(f"{self.provider}/"):
            return self.model
        return f"{self.provider}/{self.model}"


class LayerModel(_Model):
    """A layer entry with its own endpoint; a plain string entry is just the model."""

    model: str
    api_base: str | None = None
    api_key: str | None = Field(default=None, repr=False)


class Trigger(_Model):
    on_open: bool = True
    on_save: bool = True
    on_change: bool = False
    debounce_ms: int = Field(default=800, ge=0, le=60_000)


class Learnings(_Model):
    token_budget: int = Field(default=600, ge=0, le=20_000)
    limit: int = Field(default=8, ge=0, le=100)
    embedding_model: str | None = None


class Budget(_Model):
    daily_usd: float | None = Field(default=None, ge=0)
    when_exceeded: Literal["cheapest", "stop"] = "cheapest"


class StaticPrepass(_Model):
    enabled: bool = True
    only: bool = False


class GitHub(_Model):
    base_url: str | None = None
    token: str | None = Field(default=None, repr=False)


class Gateway(_Model):
    """A shared LiteLLM proxy: every call goes to ``base_url`` with the team's virtual key."""

    base_url: str | None = None
    api_key: str | None = Field(default=None, repr=False)


class Routing(_Model):
    """The contextual router (models.contextual): ``cost_weight`` is the single knob along
    the quality/cost curve (expected success given up per unit of the dearest candidate's
    cost); None uses the strategy promoted by an A/B experiment, else 0.1."""

    cost_weight: float | None = Field(default=None, ge=0)
    contextual: bool = True  # False: only the per-task statistics and layers
    exploration: float = Field(default=0.6, ge=0, le=5)


class Settings(_Model):
    autofix: ModelChoice = ModelChoice()
    refactor: ModelChoice = ModelChoice()
    layers: dict[str, list[str | LayerModel]] = Field(
        default_factory=lambda: {"fast": [], "balanced": [], "deep": []}
    )
    trigger: Trigger = Trigger()
    learnings: Learnings = Learnings()
    budget: Budget = Budget()
    static_prepass: StaticPrepass = StaticPrepass()
    auto_create_pr: bool = Field(default=False, alias="autoCreatePR")
    github: GitHub = GitHub()
    gateway: Gateway = Gateway()
    routing: Routing = Routing()
    max_file_bytes: int = Field(default=500_000, ge=1_000)
    database_path: str | None = None
    telemetry: bool = False
    status_notifications: bool = False
    send_only_open_document: bool = False
    request_timeout_s: float = Field(default=60.0, gt=0)
    local_model: bool = True

    def choice(self, pipeline: str) -> ModelChoice:
        return self.refactor if pipeline == "refactor" else self.autofix


def deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(dict(out[key]), value)
        elif value is not None:
            out[key] = value
    return out


def _camel_keys(data: Any) -> Any:
    """Accept snake_case in files too: ``debounce_ms`` and ``debounceMs`` mean the same."""
    if isinstance(data, Mapping):
        return {
            (k if k == "autoCreatePR" else to_camel(k)): _camel_keys(v) for k, v in data.items()
        }
    return data


def file_settings(root: Path | None) -> dict[str, Any]:
    """``kaizen.toml`` in the workspace root, else ``[tool.kaizen]`` in its pyproject.toml."""
    if root is None:
        return {}
    for name, table in (("kaizen.toml", ()), ("pyproject.toml", ("tool", "kaizen"))):
        path = root / name
        if not path.is_file():
            continue
        try:
            data: Any = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue
        for key in table:
            data = data.get(key, {}) if isinstance(data, Mapping) else {}
        if data:
            return _camel_keys(data)
    return {}


ENV_KEYS: dict[str, tuple[str, ...]] = {
    "KAIZEN_PROVIDER": ("autofix", "provider"),
    "KAIZEN_MODEL": ("autofix", "model"),
    "KAIZEN_API_BASE": ("autofix", "apiBase"),
    "KAIZEN_REFACTOR_PROVIDER": ("refactor", "provider"),
    "KAIZEN_REFACTOR_MODEL": ("refactor", "model"),
    "KAIZEN_REFACTOR_API_BASE": ("refactor", "apiBase"),
    "KAIZEN_DATABASE": ("databasePath",),
    "KAIZEN_STATIC_ONLY": ("staticPrepass", "only"),
    "KAIZEN_GATEWAY_URL": ("gateway", "baseUrl"),
    "KAIZEN_GATEWAY_KEY": ("gateway", "apiKey"),
    "KAIZEN_BUDGET_DAILY_USD": ("budget", "dailyUsd"),
    "KAIZEN_ROUTING_COST_WEIGHT": ("routing", "costWeight"),
}


def env_settings(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for var, path in ENV_KEYS.items():
        if (value := env.get(var)) in (None, ""):
            continue
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return out


def _validated(data: dict[str, Any], problems: list[str]) -> Settings:
    """Validate; on errors drop the offending keys (so defaults apply) and keep the rest."""
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            problems.append(f"kaizen.{where}: {error['msg']} (using the default)")
            node: Any = data
            for key in error["loc"][:-1]:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, dict):
                node.pop(error["loc"][-1], None)
        try:
            return Settings.model_validate(data)
        except ValidationError:
            return Settings()


def load_settings(
    root: Path | None = None,
    editor: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[Settings, list[str]]:
    """Merge the layers and validate; returns the settings and the problems found."""
    merged: dict[str, Any] = {}
    for layer in (file_settings(root), env_settings(os.environ if env is None else env)):
        merged = deep_merge(merged, layer)
    if editor:
        merged = deep_merge(merged, _camel_keys(dict(editor)))
    problems: list[str] = []
    return _validated(merged, problems), problems
