"""Every request gets a result or a JSON-RPC error: two gaps of pygls 2.1, closed here.

1. A request whose params do not structure (``textDocument/codeAction`` with a negative
   position or no ``range``) fails inside ``structure_message``, called by ``json.loads``
   in pygls' reader; the reader only logs and shows "Error in server: Invalid Params", and
   the client waits for an answer that never comes (Neovim: its own 10 s timeout). Here
   the request is answered with the JSON-RPC error (InvalidParams, -32602, naming the
   method and the field) and then dropped.
2. ``shutdown`` cancels the pending requests while iterating ``_request_futures``; a
   generator handler's future (``workspace/executeCommand``) is a ``concurrent.futures``
   future, whose ``cancel`` runs its done-callback at once, and that callback pops from the
   same dict: "dictionary changed size during iteration". Here the loop walks a copy.

And three things a long-running server must not accumulate (benchmarks/bench_soak.py):

3. pygls keeps the future of every handler it runs in ``_request_futures`` and removes it
   only when it answers a request: a notification's handler (didChange, didSave...) and
   every handler a generator handler yields to stayed there for good, with its result
   (two to four a save). Here a handler's future is dropped from the dict when it is done.
4. ``Progress.end`` keeps the token and its future (pygls issue #607): dropped here.
5. ``asyncio.to_thread`` runs on the loop's default executor, up to ``cpu_count + 4``
   unnamed threads; here a bounded one of ``WORKERS`` threads named ``kaizen-worker``,
   installed with the first message (the loop is pygls' ``asyncio.run``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.progress import Progress
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

log = logging.getLogger(__name__)
WORKERS = 4  # the event loop's worker threads (``asyncio.to_thread``): SQLite, parsing


class _Answered:
    """What ``structure_message`` returns for a request it has already answered."""

    jsonrpc = "answered"


ANSWERED = _Answered()


class _Progress(Progress):
    def end(self, token: types.ProgressToken, value: types.WorkDoneProgressEnd) -> None:
        self.tokens.pop(token, None)
        super().end(token, value)


class KaizenProtocol(LanguageServerProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.progress = _Progress(self)
        self._workers: ThreadPoolExecutor | None = None

    def _execute_handler(
        self,
        msg_id: Any,
        handler: Callable[..., Any],
        callback: Callable[..., Any],
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        super()._execute_handler(msg_id, handler, callback, args, kwargs)
        if (future := self._request_futures.get(msg_id)) is not None:
            future.add_done_callback(lambda done: self._forget(msg_id, done))

    def _forget(self, msg_id: Any, future: Future[Any] | asyncio.Future[Any]) -> None:
        """Drop a finished handler's future (a request's answer was sent by then)."""
        if self._request_futures.get(msg_id) is future:
            del self._request_futures[msg_id]

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if not (isinstance(data, dict) and "id" in data and "method" in data):
                raise  # a notification or a response: there is nobody to answer
            cause = exc.__cause__
            detail = _first_error(cause) if cause is not None else ""
            error = JsonRpcInvalidParams(
                f"invalid params for {data['method']}{': ' + detail if detail else ''}"
            ) if isinstance(exc, JsonRpcInvalidParams) else exc
            log.info("answered request %s with an error: %s", data["id"], error.message)
            self._send_response(data["id"], error=error.to_response_error())
            return ANSWERED

    def handle_message(self, message: Any) -> None:
        if message is ANSWERED:
            return
        if self._workers is None:
            self._workers = ThreadPoolExecutor(WORKERS, thread_name_prefix="kaizen-worker")
            asyncio.get_running_loop().set_default_executor(self._workers)
        super().handle_message(message)

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Generator[Any, Any, None]:
        """pygls' shutdown, cancelling the other pending requests over a copy."""
        if (user_handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield user_handler, args, None
        current_id = self.msg_id
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current_id and not future.done():
                future.cancel()
        self._shutdown = True
        return None


def _first_error(exc: BaseException) -> str:
    """The innermost cattrs message, e.g. ``params.range: required field missing``."""
    try:
        from cattrs import transform_error

        messages = transform_error(exc)
    except Exception:
        return ""
    return messages[0] if messages else ""
