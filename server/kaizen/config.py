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

from .core.errors import validation_problems

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


class AlertThresholds(_Model):
    """When a model's recent window counts as degraded against its own baseline."""

    success_drop: float = Field(default=0.3, gt=0, le=1)  # baseline rate - window rate
    invalid_rise: float = Field(default=0.3, gt=0, le=1)  # window rate - baseline rate
    latency_ratio: float = Field(default=2.0, gt=1)  # window p95 / baseline p95
    spend_ratio: float = Field(default=3.0, gt=1)  # window USD per call / baseline's
    latency_floor_ms: float = Field(default=500.0, ge=0)  # and p95 grew by at least this


class Alerts(_Model):
    """Degradation alerts (improvement.alerts): rolling windows of calls per model and task."""

    enabled: bool = True
    webhook_url: str | None = Field(default=None, repr=False)
    window: int = Field(default=20, ge=2, le=10_000)  # the latest calls of a model on a task
    baseline: int = Field(default=200, ge=2, le=100_000)  # the calls before them
    min_baseline: int = Field(default=20, ge=1, le=100_000)
    steer_s: float = Field(default=300.0, ge=0)  # route elsewhere this long, then probe
    thresholds: AlertThresholds = AlertThresholds()


class StaticPrepass(_Model):
    enabled: bool = True
    only: bool = False
    # a linter's executable by its name in pipelines/linters (e.g. {"oxlint": "/opt/oxlint"});
    # unset: the one installed beside Kaizen's Python, else PATH
    paths: dict[str, str] = {}


class GitHub(_Model):
    base_url: str | None = None
    token: str | None = Field(default=None, repr=False)


class Gateway(_Model):
    """A shared LiteLLM proxy: every call goes to ``base_url`` with the team's virtual key."""

    base_url: str | None = None
    api_key: str | None = Field(default=None, repr=False)


Floor = Literal["error", "warning", "info", "hint"]


class PathPolicy(_Model):
    """``[[review.paths]]``: a stricter or quieter review under one glob (gitignore syntax,
    relative to the workspace root): more codes switched off, a higher severity floor."""

    glob: str = Field(min_length=1, max_length=500)
    disable: list[str] = Field(default_factory=list)
    severity_floor: Floor | None = None


class Review(_Model):
    """How much of a document goes to the model, with what around it, and what is shown.

    Confidence learned from outcomes (``memory.confidence``): a finding with no history has
    confidence 0.5. Below ``min_confidence`` it is hidden: the default 0.15 needs the key's
    record to be clearly against it (five dismissals and no acceptance when nothing was ever
    accepted; in a repository where most findings are accepted, about fifteen), so a few
    bad days do not silence a category. Below ``demote_below`` (0.35: two dismissals, not
    one) it is shown one severity step lower.

    ``dismiss_scope`` bounds how far a dismissal reaches beyond its own fingerprint: a
    finding with the same category, near-identical words AND alike code is suppressed too,
    but only in the dismissed finding's ``file``, its ``folder`` and below (the default),
    the whole ``repository``, or nowhere (``finding``: that fingerprint only). A dismissal
    in ``tests/`` ("any is fine in tests") thus never hides the same finding in ``src/``."""

    scope: Literal["changed", "file"] = "changed"  # only changed units, or the whole file
    context_tokens: int = Field(default=800, ge=0, le=20_000)  # the context pack's budget
    batch_tokens: int = Field(default=3000, ge=200, le=100_000)  # units batched per call
    max_unit_tokens: int = Field(default=6000, ge=200, le=200_000)  # larger units are split
    cache_max_units: int = Field(default=50_000, ge=0)  # review cache rows kept (LRU)
    cache: bool = True  # read the unit review cache (``kaizen check --no-cache``: False)
    min_confidence: float = Field(default=0.15, ge=0, le=1)
    demote_below: float = Field(default=0.35, ge=0, le=1)
    dismiss_scope: Literal["finding", "file", "folder", "repository"] = "folder"
    # review policy (rules.policy), applied to every finding before any face shows it:
    severity_floor: Floor = "hint"  # findings below it are not shown ("hint": all are)
    disable: list[str] = Field(default_factory=list)  # categories, rule ids, linter codes
    paths: list[PathPolicy] = Field(default_factory=list)  # per-glob overrides
    ignore: list[str] = Field(default_factory=list)  # globs never reviewed nor reported
    rules_tokens: int = Field(default=1000, ge=0, le=20_000)  # instruction files' budget


class Models(_Model):
    """Limits on model calls, whoever makes them."""

    # requests in flight per provider endpoint: rate limits are per provider, and litellm's
    # retries (429 + Retry-After) handle the rest
    max_concurrency: int = Field(default=8, ge=1, le=256)


class Routing(_Model):
    """The contextual router (models.contextual): ``cost_weight`` is the single knob along
    the quality/cost curve (expected success given up per unit of the dearest candidate's
    cost); None uses the strategy promoted by an A/B experiment, else 0.1."""

    cost_weight: float | None = Field(default=None, ge=0)
    contextual: bool = True  # False: only the per-task statistics and layers
    exploration: float = Field(default=0.6, ge=0, le=5)


def _empty_layers() -> dict[str, list[str | LayerModel]]:
    return {"fast": [], "balanced": [], "deep": []}


class Settings(_Model):
    autofix: ModelChoice = ModelChoice()
    refactor: ModelChoice = ModelChoice()
    layers: dict[str, list[str | LayerModel]] = Field(default_factory=_empty_layers)
    trigger: Trigger = Trigger()
    learnings: Learnings = Learnings()
    budget: Budget = Budget()
    alerts: Alerts = Alerts()
    static_prepass: StaticPrepass = StaticPrepass()
    review: Review = Review()
    models: Models = Models()
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
    local_model: bool = False  # True: the bundled model when no provider is configured

    def choice(self, pipeline: str) -> ModelChoice:
        """The pipeline's explicit choice. One configured provider serves both pipelines:
        refactor uses ``autofix``'s choice unless ``refactor`` names a provider or model."""
        if pipeline == "refactor" and (self.refactor.provider or self.refactor.model):
            return self.refactor
        return self.autofix


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


class Problem(str):
    """A settings problem as a user reads it; ``fatal`` when a whole layer was lost (a
    file that does not parse), so a command that must not run on the wrong settings can
    stop."""

    fatal: bool = False


def _fatal(message: str) -> Problem:
    problem = Problem(message)
    problem.fatal = True
    return problem


CLIENT_KEYS = frozenset({"interpreter", "serverArgs", "trace"})
"""Editor-side settings the VS Code client reads itself and may send along."""


def unknown_keys(
    data: Mapping[str, Any],
    where: str,
    *,
    camel: bool,
    label: str = "",
    model: type[BaseModel] | None = None,
) -> list[Problem]:
    """Keys no setting has, each with the nearest real name (``api_bse`` -> ``api_base``).

    ``where`` is the dotted path so far, ``label`` what the layer is (a file name);
    ``camel``: the layer spells keys as editors do (``apiBase``); files use either.
    """
    import difflib

    model = model or Settings
    fields = model.model_fields
    known = {(info.alias or to_camel(name)): name for name, info in fields.items()}
    out: list[Problem] = []
    for key, value in data.items():
        lookup = key if key == "autoCreatePR" else to_camel(str(key))
        if lookup not in known:
            if camel and key in CLIENT_KEYS and model is Settings:
                continue
            spell = list(known) if camel else list(known.values())
            close = difflib.get_close_matches(
                str(key).lower(), [k.lower() for k in spell], n=1, cutoff=0.6
            )
            hint = ""
            if close:
                match = next(k for k in spell if k.lower() == close[0])
                hint = f" (did you mean {where}{match}?)"
            out.append(Problem(f"{label}{where}{key}: unknown setting, ignored{hint}"))
            continue
        annotation = fields[known[lookup]].annotation
        if isinstance(value, Mapping) and isinstance(annotation, type) and issubclass(
            annotation, BaseModel
        ):
            out += unknown_keys(
                value, f"{where}{key}.", camel=camel, label=label, model=annotation
            )
    return out


def file_settings(root: Path | None, problems: list[str] | None = None) -> dict[str, Any]:
    """``kaizen.toml`` in the workspace root, else ``[tool.kaizen]`` in its pyproject.toml.

    A file that does not parse is reported with its line (and ignored); so are keys that
    name no setting, with the nearest real one.
    """
    if root is None:
        return {}
    problems = [] if problems is None else problems
    for name, table in (("kaizen.toml", ()), ("pyproject.toml", ("tool", "kaizen"))):
        path = root / name
        if not path.is_file():
            continue
        try:
            data: Any = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            problems.append(_fatal(f"{path}: not valid TOML ({exc}); the file is ignored"))
            continue
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(_fatal(f"{path}: cannot be read ({exc}); the file is ignored"))
            continue
        for key in table:
            data = data.get(key, {}) if isinstance(data, Mapping) else {}
        if data:
            prefix = "tool.kaizen." if table else ""
            problems.extend(unknown_keys(data, prefix, camel=False, label=f"{path}: "))
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
    "KAIZEN_ALERTS_WEBHOOK_URL": ("alerts", "webhookUrl"),
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
        problems.extend(f"{p} (using the default)" for p in validation_problems(exc, "kaizen."))
        for error in exc.errors():
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
    problems: list[str] = []
    merged: dict[str, Any] = {}
    for layer in (file_settings(root, problems), env_settings(os.environ if env is None else env)):
        merged = deep_merge(merged, layer)
    if editor:
        problems.extend(unknown_keys(editor, "kaizen.", camel=True))
        merged = deep_merge(merged, _camel_keys(dict(editor)))
    return _validated(merged, problems), problems


def settings_for_database(
    database: str | None, root: Path | None = None
) -> tuple[Settings, list[str]]:
    """Settings as every CLI command reads them (the project's files, the environment),
    with ``--database`` (a path or URL) winning over both."""
    editor = {"databasePath": database} if database else {}
    return load_settings(root or Path.cwd(), editor)
