# One Makefile for developers, CI (.ci/run) and the README. Every target installs
# what it needs first, from the project's own files.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
DEBIAN_PACKAGES := chromium fonts-dejavu-core fonts-noto-core fonts-noto-cjk poppler-utils wrk postgresql softhsm2

.PHONY: help install deps system-deps contracts contracts-check lint format test test-fast demo bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

$(PIP_STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	@# npm ci installs exactly the committed lock (which lists anvil's optional builds for every
	@# platform) and never rewrites it, so installing leaves the tree clean.
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: $(PIP_STAMP) $(NODE_STAMP)  ## Python and npm packages

system-deps:  ## Debian packages (Chromium for the browser tests, poppler-utils to rasterize PDFs, PostgreSQL, SoftHSM2 for the HSM tests)
	@scripts/ensure-debian-packages.sh $(DEBIAN_PACKAGES)

deps: install system-deps

contracts: install  ## compile contracts/src into the committed artifacts
	$(PY) -m contracts.compiler build

contracts-check: install  ## fail if the committed artifacts differ from the sources
	$(PY) -m contracts.compiler check

.PHONY: slither
slither: install  ## slither on contracts/src; fails on any finding not triaged in slither.db.json
	scripts/slither.sh

.PHONY: fuzz-api
FUZZ_CASES ?= 2000
fuzz-api: install  ## API fuzzing, the long run: schemathesis over every route (FUZZ_CASES=2000)
	$(PY) -m tests.registry_api.fuzz_api --cases $(FUZZ_CASES)

.PHONY: web
web: install  ## rebuild the border page's and the console's script bundles (committed; drift is a test)
	$(PY) -m verifier.web.bundle build
	$(PY) -m registry_api.console.bundle build

lint: install  ## ruff (lint + format check) and mypy strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The PostgreSQL-only tests (row and advisory locks) need a server: the suite deselects them
# (and says so) without AEO_TEST_DATABASE_URL, then they run on a throwaway local server.
# On two workers (pytest-xdist): the whole suite takes about 31 minutes on two busy cores this
# way, about twice that in one process.
test: deps  ## the whole suite on two workers, then the PostgreSQL-only tests on a throwaway server
	$(PY) -m pytest -q -n 2
	scripts/pg-test.sh -q -m postgresql_only

# Every anvil test again on a chain that mines like a QBFT network: a block every 2 s, never
# per transaction, gas price 0 (31 min on two shared cores). `make test` already runs the
# tests marked interval_mining this way (issue, suspend, import, indexer catch-up, verifier).
.PHONY: test-interval
BLOCK_TIME ?= 2
test-interval: deps  ## the anvil tests with anvil mining every BLOCK_TIME (2) seconds (PYTEST_ARGS=... for pytest)
	AEO_TEST_ANVIL_BLOCK_TIME=$(BLOCK_TIME) $(PY) -m pytest -q -m anvil $(PYTEST_ARGS)

.PHONY: test-postgres
test-postgres: install  ## the registry tests on SQLite and on a throwaway local PostgreSQL (PYTEST_ARGS=... for pytest)
	@scripts/ensure-debian-packages.sh postgresql
	scripts/pg-test.sh $(PYTEST_ARGS)

# Under a minute on two cores: each package's core behaviour, on the memory chain, in two
# processes (each deploys its own session chain). The tests marked slow run in `make test`.
test-fast: install  ## the quick subset (no anvil, browser or slow tests), on two workers
	$(PY) -m pytest -q -m 'not anvil and not browser and not slow' -x -n 2

# The demo needs no browser; its PDFs need the Noto fonts (Cyrillic, Hangul and Han names and
# labels) and DejaVu's monospaced face.
DEMO_DEBIAN_PACKAGES := fonts-dejavu-core fonts-noto-core fonts-noto-cjk
demo: install  ## start the whole system (anvil, three administrations, the verifier page); DEMO_ARGS=--reset starts afresh
	@scripts/ensure-debian-packages.sh $(DEMO_DEBIAN_PACKAGES)
	$(VENV)/bin/aeo demo $(DEMO_ARGS)

bench: deps  ## run every benchmark (wrk loads the API) and write docs/benchmarks.md
	$(VENV)/bin/aeo bench all --write docs/benchmarks.md

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
