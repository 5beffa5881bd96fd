"""What happens in one run, phase by phase; no LSP types in here."""
