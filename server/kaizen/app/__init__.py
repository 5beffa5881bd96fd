"""The application core every face builds: ``Services`` (settings, store, router and how a
run is wired to them) and the use cases that span several packages (pull requests)."""
