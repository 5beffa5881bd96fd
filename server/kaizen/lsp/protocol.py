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
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

log = logging.getLogger(__name__)


class _Answered:
    """What ``structure_message`` returns for a request it has already answered."""

    jsonrpc = "answered"


ANSWERED = _Answered()


class KaizenProtocol(LanguageServerProtocol):
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
