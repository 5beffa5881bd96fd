"""The ``kaizen`` command: ``serve`` for editors, ``check`` for terminals and CI, and the
record-keeping subcommands. Subcommands import what they need when they run, so
``kaizen serve`` starts fast.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from collections.abc import Sequence


def _serve(args: argparse.Namespace) -> int:
    from ..lsp import create_server

    server = create_server()
    server.metrics_port = args.metrics_port
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
    else:
        server.start_io()
    return 0


def _check(args: argparse.Namespace) -> int:
    from .check import run_check

    return run_check(args)


def _version() -> str:
    from .. import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kaizen", description="Code review by LLMs that learns from every run."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    parser.add_argument("--version", action="version", version=f"kaizen {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    serve.add_argument("--stdio", action="store_true", help="stdio (the default)")
    serve.add_argument(
        "--metrics-port",
        type=int,
        metavar="N",
        help="also serve Prometheus metrics on 127.0.0.1:N (0: any free port)",
    )
    serve.set_defaults(func=_serve)

    check = sub.add_parser("check", help="review files like a linter; exit 1 on findings")
    check.add_argument("paths", nargs="*", help="files or directories (default: .)")
    check.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    check.add_argument("--pipeline", choices=("autofix", "refactor", "all"), default="autofix")
    check.add_argument("--provider", help="provider for this run (e.g. openai, ollama)")
    check.add_argument("--model", help="model for this run")
    check.add_argument("--api-base", help="base URL of an OpenAI-compatible server")
    check.add_argument(
        "--static-only",
        action="store_true",
        help="static pre-pass only (linters, .kaizen/rules), no model",
    )
    check.add_argument("--no-static", action="store_true", help="skip the static pre-pass")
    check.add_argument("--database", help="database path or URL (default: per-user file)")
    check.add_argument("--output", "-o", help="write the report here instead of stdout")
    check.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=8,
        help="files reviewed at once (default 8; models.maxConcurrency bounds each provider)",
    )
    check.add_argument(
        "--no-cache", action="store_true", help="review every unit afresh (ignore the cache)"
    )
    check.add_argument(
        "--no-check-cache",
        action="store_true",
        help="check every file again even when nothing changed since the last check (the "
        "unit review cache still answers); its results are kept for the next one",
    )
    check.add_argument(
        "--diff",
        nargs="?",
        const="",
        default=None,
        metavar="REF",
        help="review only what changed since REF (default: the merge base with the default "
        "branch) in the working tree; use --diff=REF before paths",
    )
    check.add_argument(
        "--all-findings",
        action="store_true",
        help="with --diff: report findings anywhere in the changed units, not only changed lines",
    )
    check.add_argument(
        "--shard", metavar="I/N", help="only the I-th of N stable shards of the files"
    )
    check.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    check.add_argument(
        "--stats",
        action="store_true",
        help="print files, units reviewed and cached, tokens and cost on stderr at the end "
        "(always shown under the progress bar on a terminal)",
    )
    check.add_argument(
        "--show-suppressed", action="store_true", help="also list findings dismissed before"
    )
    check.set_defaults(func=_check)
    from .agents import add_agent_commands
    from .db import add_db_command
    from .dismiss import add_dismiss_command
    from .dismissals import add_dismissals_commands
    from .learnings import add_learnings_command
    from .metrics import add_record_commands
    from .pr import add_pr_command
    from .routing import add_routing_command
    from .rules import add_rules_command

    add_pr_command(sub)
    add_learnings_command(sub)
    add_record_commands(sub)
    add_routing_command(sub)
    add_agent_commands(sub)
    add_db_command(sub)
    add_dismiss_command(sub)
    add_dismissals_commands(sub)
    add_rules_command(sub)
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
    return run(args)


def run(args: argparse.Namespace) -> int:
    """Run a subcommand under the one exit-code policy of every command: 0 clean, 1
    findings (or what was asked for is not there), 2 the job could not be done.

    The known failures (``KaizenError``, and an ``OSError`` naming its file) become one
    ``kaizen: ...`` line on stderr; a reader that stops early (``| head``) ends the
    command quietly. Anything else is a bug and keeps its traceback.
    """
    from ..core.errors import KaizenError

    try:
        code = int(args.func(args) or 0)
        if not sys.stdout.closed:  # (``serve`` closes it on exit)
            sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        # The interpreter's exit collects garbage over every object still alive (SQLAlchemy,
        # pydantic, a run's plans): 0.5-0.9 s of a 2-3 s cached ``kaizen check``. Frozen
        # objects are skipped; the process is ending, so nothing is kept that matters.
        gc.freeze()
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 141  # 128 + SIGPIPE, as a command killed by the closed pipe would
    except KaizenError as exc:
        print(f"kaizen: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.filename is None:
            raise
        print(f"kaizen: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return 2


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
