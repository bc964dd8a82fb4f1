"""Fixtures for gate tests: one Prefect test harness and one sandbox per test package.

Faults are toggled at runtime on the shared sandbox (always turned back off). The
sandbox environment's contract is tightened so fault runs end quickly: a dropped
webhook is given 6 s instead of 30, a missing email 3 s instead of 10.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.testing.utilities import prefect_test_harness

from blocks.resolve import EVIDENCE_ENV, forget_local_environment, register_local_environment
from sandbox import RunningSandbox, start_sandbox
from smoke.config import SANDBOX
from smoke.local_sandbox import sandbox_config
from smoke.results import GateResult

FAST_CONTRACT: dict[str, Any] = {
    "billing": {"poll_timeout_s": 6},
    "onboarding": {"welcome_email": {"timeout_s": 3}},
}


@pytest.fixture(scope="package")
def prefect() -> Iterator[None]:
    """Prefect's temporary server for the session (about 15 s to start)."""
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="package")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with start_sandbox(version="1.0.0") as running:
        yield running


@pytest.fixture(scope="package")
def sandbox_env(
    prefect: None, sandbox: RunningSandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The environment name ``sandbox`` resolving to the shared sandbox."""
    import os

    os.environ[EVIDENCE_ENV] = str(tmp_path_factory.mktemp("evidence"))
    config = sandbox_config(sandbox).model_copy(update={"journeys": FAST_CONTRACT})
    register_local_environment(config)
    yield SANDBOX
    forget_local_environment(SANDBOX)


@pytest.fixture
def fault(sandbox: RunningSandbox) -> Iterator[Any]:
    """Turn faults on for one test; they are always turned off afterwards."""
    enabled: list[str] = []

    def turn_on(*names: str) -> None:
        for name in names:
            sandbox.set_fault(name, True)
            enabled.append(name)

    yield turn_on
    for name in enabled:
        sandbox.set_fault(name, False)


def _run_gate(environment: str, **params: Any) -> GateResult:
    from flows.gate import release_gate

    async def go() -> Any:
        state = await release_gate(environment=environment, return_state=True, **params)
        return await state.result(raise_on_failure=False)

    result = asyncio.run(go())
    assert isinstance(result, GateResult), f"the gate ended without a result: {result!r}"
    return result


@pytest.fixture
def run_gate(sandbox_env: str) -> Any:
    """Run the release gate in this process; its GateResult, whatever the verdict."""
    return _run_gate


def evidence_files(result: GateResult) -> list[Path]:
    """Every evidence file of a result."""
    return [Path(e.path) for c in result.all_checks() for e in c.evidence if e.path]
