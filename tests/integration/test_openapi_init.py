"""``smoke init --openapi`` against the running sandbox: its contract validates and passes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from blocks.resolve import forget_local_environment, register_local_environment
from cli.main import main
from cli.validate import validate_locally
from sandbox import RunningSandbox
from smoke.local_sandbox import sandbox_config
from smoke.results import Status, Verdict

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
