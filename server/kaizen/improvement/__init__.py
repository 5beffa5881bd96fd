"""The self-improvement loop: what every model call and run teaches Kaizen, kept as a record
that explains itself.

- ``performance``: ``model_performance`` sums per model and task type (the router's evidence),
  incremented in SQL after every attempt and every accepted / dismissed finding;
- ``bugs``: failed model calls and pipeline errors as ``bug_patterns`` (normalised, so a
  repeat counts an occurrence);
- ``regression``: a bug pattern turned into a real pytest test (``regression_tests``);
- ``heuristics``: ``routing_rules``, set by users or proposed from the record;
- ``metrics``: free-form ``performance_metrics``;
- ``report``: the analysis ``kaizen metrics`` prints.

Everything here is synchronous SQLAlchemy over a ``memory.store.Store``; async callers use
``asyncio.to_thread``. Nothing here is imported before the language server has answered
``initialize``.
"""
