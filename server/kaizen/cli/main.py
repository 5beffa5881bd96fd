"""The ``kaizen`` command: ``serve`` for editors, ``check`` for terminals and CI, and the
record-keeping subcommands. Subcommands import what they need when they run, so
``kaizen serve`` starts fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence


def _serve(args: argparse.Namespace) -> int:
    from ..lsp import create_server

    server = create_server()
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
    else:
        server.start_io()
    return 0


def _check(args: argparse.Namespace) -> int:
    from .check import run_check

    return run_check(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kaizen", description="Code review by LLMs that learns from every run."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    serve.add_argument("--stdio", action="store_true", help="stdio (the default)")
    serve.set_defaults(func=_serve)

    check = sub.add_parser("check", help="review files like a linter; exit 1 on findings")
    check.add_argument("paths", nargs="+", help="files or directories")
    check.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    check.add_argument("--pipeline", choices=("autofix", "refactor", "all"), default="autofix")
    check.add_argument("--provider", help="provider for this run (e.g. openai, ollama)")
    check.add_argument("--model", help="model for this run")
    check.add_argument("--api-base", help="base URL of an OpenAI-compatible server")
    check.add_argument("--static-only", action="store_true", help="ruff pre-pass only, no model")
    check.add_argument("--no-static", action="store_true", help="skip the ruff pre-pass")
    check.add_argument("--database", help="database path or URL (default: per-user file)")
    check.add_argument("--output", "-o", help="write the report here instead of stdout")
    check.add_argument(
        "--show-suppressed", action="store_true", help="also list findings dismissed before"
    )
    check.set_defaults(func=_check)
    from .agents import add_agent_commands
    from .db import add_db_command
    from .dismiss import add_dismiss_command
    from .learnings import add_learnings_command
    from .metrics import add_record_commands
    from .pr import add_pr_command

    add_pr_command(sub)
    add_learnings_command(sub)
    add_record_commands(sub)
    add_agent_commands(sub)
    add_db_command(sub)
    add_dismiss_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    from ..security.logging import install

    install()
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
