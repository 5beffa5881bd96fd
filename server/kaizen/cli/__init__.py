"""The terminal and CI face: ``kaizen`` and its subcommands (argument parsing and output
only; the work is done by ``app``, ``tools`` and the pipelines)."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
