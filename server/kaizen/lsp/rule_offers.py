"""Proposed rules in the editor: after an outcome, a message with Accept, Reject and Show
evidence (``window/showMessageRequest``).

It runs as a background task after ``kaizen.dismiss`` / ``kaizen.recordOutcome`` answered,
so the server never waits for the user; one offer is open at a time, and a proposal offered
in this session is not offered again (a closed message is no answer: the proposal stays in
``kaizen rules suggest`` and the rules view). Accept and Reject go through the same
operations as ``kaizen.rulesAccept`` / ``kaizen.rulesReject``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from lsprotocol import types

from ..tools import rules_ops
from ..tools.table import Context

log = logging.getLogger(__name__)
ACCEPT, REJECT, EVIDENCE = "Accept", "Reject", "Show evidence"


def evidence_text(p: dict[str, Any]) -> str:
    if p["kind"] == "promote":  # a rule synthesised from accepted fixes
        ev = p["evidence"]
        back = ev.get("demoted")
        again = f"; taken out after {back['dismissed']} dismissals" if back else ""
        return (
            f"{p['id']}: from {ev['accepted']} accepted fixes of {p['code']}; matches "
            f"{ev['share']:.2%} of the repository's lines{again}. The rule:\n{ev['rule']}"
        )
    ev, post = p["evidence"], p["evidence"]["posterior"]
    examples = "; ".join(f"{e['path']}:{e['line']} {e['message'][:60]}" for e in ev["examples"])
    return (
        f"{p['id']}: accepted {ev['accepted']}, dismissed {ev['dismissed']}; posterior "
        f"{post['distribution']}, P({post['event']}) = {post['probability']:.3f} "
        f"(needs {post['credence']}). Examples: {examples or 'none'}"
    )


class RuleOffers:
    def __init__(self, ls: Any) -> None:
        self.ls = ls
        self.offered: set[str] = set()
        self.busy = False

    def after_outcome(self) -> None:
        """Look for a new proposal in the background (never blocking the caller)."""
        if self.busy or self.ls.services.store is None:
            return
        self.busy = True
        self.ls.spawn(self._offer())

    def _context(self) -> Context:
        services = self.ls.services
        return Context(services.store, services.settings, self.ls.root)

    async def _offer(self) -> None:
        try:
            ctx = self._context()
            out = await asyncio.to_thread(rules_ops.rules_suggest, ctx, {"limit": 50})
            fresh = [p for p in out["proposals"] if p["id"] not in self.offered]
            if fresh:
                await self._ask(ctx, fresh[0])
        except Exception:
            log.exception("could not offer a proposed rule")
        finally:
            self.busy = False

    async def _ask(self, ctx: Context, proposal: dict[str, Any]) -> None:
        self.offered.add(proposal["id"])
        actions = [types.MessageActionItem(title=t) for t in (ACCEPT, REJECT, EVIDENCE)]
        message = f"Kaizen proposes a review rule: {proposal['text']}"
        for _ in range(2):  # "Show evidence" shows it, then asks once more
            choice = await self.ls.window_show_message_request_async(
                types.ShowMessageRequestParams(
                    type=types.MessageType.Info, message=message, actions=actions
                )
            )
            title = getattr(choice, "title", None)
            if title == ACCEPT:
                done = await asyncio.to_thread(
                    rules_ops.rules_accept, ctx, {"ids": [proposal["id"]]}
                )
                self._tell(f"Kaizen wrote the rule {proposal['id']} into {done['path']}")
                return
            if title == REJECT:
                await asyncio.to_thread(rules_ops.rules_reject, ctx, {"ids": [proposal["id"]]})
                self._tell(f"Kaizen will not propose {proposal['id']} again")
                return
            if title != EVIDENCE:
                return  # closed: no answer
            self._tell(evidence_text(proposal))
            actions = actions[:2]

    def _tell(self, message: str) -> None:
        self.ls.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Info, message=message)
        )
        self.ls.window_log_message(
            types.LogMessageParams(type=types.MessageType.Info, message=message)
        )
