"""Lazy access to litellm: importing it takes seconds and must never delay ``initialize``.

``LITELLM_LOCAL_MODEL_COST_MAP`` is set before the import so litellm reads its bundled cost
map instead of fetching one over the network.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from functools import cache
from types import ModuleType

_lock = threading.Lock()
_start_lock = threading.Lock()  # not ``_lock``: that one is held for the whole import
_started = threading.Event()  # the background import was started (once per process)


@cache
def litellm() -> ModuleType:
    """Import and configure litellm once (thread-safe); registers Kaizen's local provider."""
    with _lock:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        os.environ.setdefault("LITELLM_LOG", "ERROR")
        import litellm as _litellm

        _litellm.telemetry = False
        _litellm.suppress_debug_info = True
        _litellm.drop_params = True
        from .local import register

        register(_litellm)
        # The OpenAI SDK imports its chat client on first use (~1.7 s): do it now, as
        # start-up, not as the first call's latency.
        with contextlib.suppress(ImportError):
            import openai.resources.chat  # noqa: F401
        return _litellm


def warm_up_in_background(freeze: bool = True) -> None:
    """Start importing litellm on a thread so the first run does not pay for it. Idempotent:
    only the first call starts it. ``freeze``: a long-lived server's start-up (below); a
    ``kaizen check`` freezes its own start-up before its files are planned, and must not
    freeze the plans alive when the import ends mid-run."""
    with _start_lock:
        if _started.is_set():
            return
        _started.set()
    target = _import_and_freeze if freeze else litellm
    threading.Thread(target=target, name="kaizen-litellm-import", daemon=True).start()


def _import_and_freeze() -> None:
    """Import litellm, then move everything loaded so far (litellm's model tables,
    lsprotocol, pydantic: most of a language server's objects, kept for its lifetime) out
    of the cyclic garbage collector's view with ``gc.freeze``. Full collections then walk
    only what the server made since, not a million start-up objects on every pause."""
    litellm()
    gc.freeze()
