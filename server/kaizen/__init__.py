"""Kaizen: a language server that reviews code with LLMs and learns from every run."""

__version__ = "0.1.0"
