"""Kaizen's shared vocabulary: documents, findings and their edits, run statuses, the one
task table and workspace facts. Imports nothing of Kaizen but ``security``, so every layer
above can use it."""
