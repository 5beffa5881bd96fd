"""The rules tools (``rules_suggest``, ``rules_list``, ``rules_accept``, ``rules_reject``):
the learned-rule proposals and the repository's rules, over ``rules.proposals``.

The repository is the one the face serves (the editor's workspace folder, the directory
``kaizen mcp`` / ``kaizen serve-http`` was started in): an agent cannot point a tool at
another folder and have Kaizen write there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from .operations import Input, ToolError, parse

ProposalId = Annotated[str, Field(min_length=1, max_length=200)]


class RulesSuggestInput(Input):
    limit: int = Field(default=20, ge=0, le=500)
    include_refused: bool = False


class RulesListInput(Input):
    include_proposals: bool = True


class RulesAcceptInput(Input):
    ids: list[ProposalId] = Field(min_length=1, max_length=100)


class RulesRejectInput(Input):
    ids: list[ProposalId] = Field(min_length=1, max_length=100)
    reason: str | None = Field(default=None, max_length=2000)


def _root(ctx: Any) -> Path:
    return Path(getattr(ctx, "root", None) or Path.cwd())


def _checked(run: Any) -> Any:
    from ..rules.proposals import RulesError

    try:
        return run()
    except RulesError as exc:
        raise ToolError(str(exc)) from None
    except OSError as exc:  # the rules file or its lock: say which
        raise ToolError(f"{exc.filename or 'rules file'}: {exc.strerror or exc}") from None


def rules_suggest(ctx: Any, args: Any = None) -> dict[str, Any]:
    """The current proposals, strongest evidence first, each with its evidence; with
    ``includeRefused`` also the promoted-rule candidates validation refused, and why."""
    from ..rules.proposals import suggest_all

    a: RulesSuggestInput = parse(RulesSuggestInput, args)
    proposals, refused = _checked(lambda: suggest_all(ctx.store, _root(ctx)))
    out: dict[str, Any] = {"proposals": [p.as_json() for p in proposals[: a.limit]]}
    if a.include_refused:
        out["refused"] = refused
    return out


def rules_list(ctx: Any, args: Any = None) -> dict[str, Any]:
    from ..rules.proposals import listing

    a: RulesListInput = parse(RulesListInput, args)
    return _checked(lambda: listing(ctx.store, _root(ctx), a.include_proposals))


def rules_accept(ctx: Any, args: Any = None) -> dict[str, Any]:
    from ..rules.proposals import accept

    a: RulesAcceptInput = parse(RulesAcceptInput, args)
    return _checked(lambda: accept(ctx.store, _root(ctx), a.ids))


def rules_reject(ctx: Any, args: Any = None) -> dict[str, Any]:
    from ..rules.proposals import reject

    a: RulesRejectInput = parse(RulesRejectInput, args)
    return _checked(lambda: reject(ctx.store, _root(ctx), a.ids, a.reason))
