"""Code, not models: each language's parsing, review units and context resolution.

A layer below the pipelines (it knows nothing of models or the database): the pipelines ask
it how a text splits into units and what a unit uses; the language table says how.
"""
