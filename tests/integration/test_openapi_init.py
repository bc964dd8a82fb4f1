"""``smoke init --openapi`` on real apps' documents: the contracts validate, the sandbox's passes."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest
import yaml

from blocks.resolve import forget_local_environment, register_local_environment
from cli.main import main
from cli.validate import validate_locally
from sandbox import RunningSandbox
from smoke.local_sandbox import sandbox_config
from smoke.results import Status, Verdict
from tests.support.openapi import validates, written

ENVIRONMENT = "sandbox-from-openapi"


def test_the_sandbox_contract_from_its_openapi_url_passes_the_gate(
    sandbox: RunningSandbox, run_gate: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    contract = tmp_path / "contract.yaml"
    assert (
        main(["init", "--openapi", f"{sandbox.base_url}/openapi.json", "--out", str(contract)]) == 0
    )
    monkeypatch.setenv("SMOKE_BASE_URL", sandbox.base_url)
    assert validate_locally(ENVIRONMENT, str(contract)).suite is not None
    # "The secrets filled in": the sandbox's own identities, keys and e2e token.
    register_local_environment(
        sandbox_config(sandbox).model_copy(
            update={"name": ENVIRONMENT, "contract_file": str(contract)}
        )
    )
    try:
        result = run_gate(ENVIRONMENT, version="1.0.0")
    finally:
        forget_local_environment(ENVIRONMENT)
    assert result.verdict is Verdict.PASS, result.reasons
    ran = {c.key: c.status for c in result.all_checks() if c.status is not Status.SKIPPED}
    assert {"preflight.health", "auth.me_identity"} <= set(ran), ran
    not_passed = {k: s for k, s in ran.items() if s is not Status.PASSED}
    assert not not_passed, not_passed


def test_the_sandbox_openapi_gives_a_valid_contract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sandbox.app import create_app

    # The document describes routes only: no database, IdP or Stripe is needed for it.
    doc = create_app(types.SimpleNamespace(version="1.0.0")).openapi()  # type: ignore[arg-type]
    out = written(tmp_path, doc)
    contract = yaml.safe_load(out.read_text())
    assert contract["preflight"]["health"]["path"] == "/health"
    assert contract["preflight"]["e2e_status"]["path"] == "/e2e/status"
    assert contract["auth"]["me"]["path"] == "/api/me"
    assert "# TODO: a signup route is POST /api/onboarding/signup" in out.read_text()
    assert "# TODO: Stripe-like routes: /api/billing/checkout" in out.read_text()
    validates(out, monkeypatch)


def test_tasklogs_openapi_gives_a_valid_contract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.integration.tasklog_app import TasklogState, create_app

    doc = create_app(TasklogState(version="1", e2e_token="e2e")).openapi()
    out = written(tmp_path, doc)
    contract = yaml.safe_load(out.read_text())
    assert contract["preflight"]["health"]["path"] == "/healthz"
    assert contract["auth"]["me"]["path"] == "/v1/me"
    assert "# TODO: a signup route is POST /v1/signup" in out.read_text()
    validates(out, monkeypatch)
