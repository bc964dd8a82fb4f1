# smoke flows: every target sets up what it needs on a fresh machine (Python 3.11 + pip).
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: help install demo test test-fast lint typecheck all deploy bench soak mutations clean

help:
	@echo "make install    uv, the locked environment and a Chromium"
	@echo "make demo       start the sandbox, run the release gate against it, stop everything"
	@echo "make test       the whole suite (unit, sandbox, integration, end-to-end)"
	@echo "make lint       ruff;  make typecheck: mypy;  make all: lint, typecheck, test"
	@echo "make bench      benchmarks (docs/PERFORMANCE.md);  make soak: reliability (docs/RELIABILITY.md)"
	@echo "make mutations  every sandbox mutation through the gate (docs/RELIABILITY.md)"

# uv comes from pip when missing; `python3 -m uv` works whatever PATH says.
.venv/.installed: pyproject.toml uv.lock
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	python3 -m uv sync --locked
	@touch $@

install: .venv/.installed
	@.venv/bin/python -m smoke.browser --install

demo: install
	.venv/bin/smoke demo

test: install
	.venv/bin/python -m pytest

test-fast: install
	.venv/bin/python -m pytest tests/unit -q

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

typecheck: install
	.venv/bin/mypy

bench: install
	.venv/bin/python -m benchmarks.bench

soak: install
	.venv/bin/python -m pytest tests/reliability -s

mutations: install
	.venv/bin/python -m mutations.run --write-doc

all: lint typecheck test

clean:
	rm -rf .venv smoke-report .pytest_cache .mypy_cache .ruff_cache
