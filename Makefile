# smoke flows: every target sets up what it needs on a fresh machine (Python 3.11 + pip).
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: help install demo test test-fast lint typecheck all deploy bench soak clean

help:
	@echo "make install    uv, the locked environment and a Chromium"
	@echo "make demo       start the sandbox (and a local Prefect server), run the release gate against it"
	@echo "make test       the whole suite (unit, sandbox, integration, end-to-end)"
	@echo "make lint       ruff;  make typecheck: mypy;  make all: lint, typecheck, test"
	@echo "make bench      benchmarks (docs/PERFORMANCE.md);  make soak: reliability (docs/RELIABILITY.md)"

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

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

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

all: lint typecheck test

clean:
	rm -rf .venv smoke-report .pytest_cache .mypy_cache .ruff_cache
