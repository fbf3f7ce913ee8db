# motcua — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

help: ## show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

NODE_STAMP := node_modules/.installed
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "Node.js (with npm) is needed for the e-ID interoperability tests: install Node.js 20.19+"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

# Browser tests drive Debian's chromium (never a downloaded browser build).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "the browser tests need Debian's chromium: sudo apt-get install chromium"; exit 1; fi

# The PKCS#11 signer is tested against Debian's SoftHSM2 (a software token behind the same interface).
SOFTHSM := /usr/lib/softhsm/libsofthsm2.so
$(SOFTHSM):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 >/dev/null; \
	else echo "the PKCS#11 signing tests need Debian's softhsm2: sudo apt-get install softhsm2"; exit 1; fi

install: $(STAMP) $(NODE_STAMP) ## create .venv and node_modules with the project's tools

run: $(STAMP) ## start the whole product on http://localhost:8000 (embedded PostgreSQL and Redis)
	$(VENV)/bin/motcua run

# The gates, cheapest first: lint, format, types, the import contracts, then the whole suite
# with its coverage floor. CI runs exactly this (.ci/run calls `make test`).
COVERAGE_FLOOR := $(shell cat .coverage-floor)

lint: $(STAMP) ## ruff, ruff format check, mypy strict (src and tests) and the import contracts
	$(VENV)/bin/ruff check src tests bench migrations
	$(VENV)/bin/ruff format --check src tests bench migrations
	$(VENV)/bin/mypy
	$(PY) -m pytest -q tests/meta/test_layers.py tests/meta/test_request_context.py

test: $(STAMP) $(NODE_STAMP) $(CHROMIUM) $(SOFTHSM) lint ## the gates above, then the test suite (real PostgreSQL, Redis, worker, OIDC providers) with the coverage floor in .coverage-floor
	$(PY) -m pytest -n auto --dist loadfile --no-loadscope-reorder --durations=15 --cov=motcua --cov-report=term:skip-covered --cov-fail-under=$(COVERAGE_FLOOR)

check: test ## the same as `make test` (kept for habit)

fonts: $(STAMP) ## cut the PDF fonts again (src/motcua/core/fonts) after a recipe or a source font changed
	$(PY) -m motcua.core.pdf_fonts

fmt: $(STAMP) ## format the code
	$(VENV)/bin/ruff format src tests bench migrations
	$(VENV)/bin/ruff check --fix src tests bench migrations

bench: $(STAMP) ## load benchmark: N tenants (N=100), home page and framework floor with wrk
	@command -v wrk >/dev/null || { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null; else echo "install wrk (apt-get install wrk)"; exit 1; fi; }
	$(PY) bench/run.py --tenants $${N:-100}
	$(PY) bench/units.py
	$(PY) bench/signing.py --seconds 5

bench-compare: $(STAMP) ## this tree against an earlier commit, side by side in one run (REV=<commit>)
	@test -n "$(REV)" || { echo "usage: make bench-compare REV=<commit>"; exit 2; }
	$(PY) bench/compare.py --against $(REV)

screenshots: $(STAMP) $(CHROMIUM) ## full-page PNGs of the main pages (every role; 1280/390 px; vi, en) into screenshots/
	$(PY) -m tests.e2e.screenshots screenshots

LOCALES := src/motcua/translations
messages: $(STAMP) ## extract UI texts into $(LOCALES)/messages.pot and merge them into each language's .po
	$(VENV)/bin/pybabel extract -F babel.cfg --add-location=file --sort-by-file --no-wrap \
		--project=motcua --copyright-holder=motcua -o $(LOCALES)/messages.pot .
	$(VENV)/bin/pybabel update -i $(LOCALES)/messages.pot -d $(LOCALES) --no-wrap --ignore-pot-creation-date --no-fuzzy-matching

clean: ## remove the virtualenv and local data (.motcua/)
	rm -rf $(VENV) .motcua

.PHONY: help install run lint test check fonts fmt bench bench-compare screenshots messages clean
