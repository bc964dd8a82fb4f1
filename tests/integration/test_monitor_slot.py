"""A monitor run gives up its turn only when another live monitor run holds the slot."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.states import Completed, Running

from smoke.results import Verdict
from tasks.serialize import environment_slot


async def _gate_while_slot_held(environment: str, holder: dict[str, Any] | None, **params: Any):
    """Run a monitor gate while the test holds the slot (as ``holder``'s flow run, if any)."""
    from flows.gate import release_gate

    async with get_client() as client:
        run = None
        if holder is not None:
            run = await client.create_flow_run(
                release_gate, parameters=holder, state=Running(), name="monitor-holder"
            )
        try:
            async with environment_slot(environment, 30.0):
                return await release_gate(
                    environment=environment, mode="monitor", return_state=True, **params
                )
        finally:
            if run is not None:
                await client.set_flow_run_state(run.id, Completed(), force=True)


def test_monitor_skips_while_another_monitor_run_holds_the_slot(sandbox_env: str) -> None:
    holder = {"environment": sandbox_env, "mode": "monitor", "deadline_s": 120}
    state = asyncio.run(_gate_while_slot_held(sandbox_env, holder))
    assert state.is_cancelled(), state
    assert "skipped: monitor run 'monitor-holder'" in (state.message or "")


def test_monitor_is_not_skipped_when_no_live_run_holds_the_slot(sandbox_env: str) -> None:
    # A slot taken but held by no live run (a lost lease, a release still under way):
    # the monitor waits like a gate, then errors with a message of its own.
    state = asyncio.run(_gate_while_slot_held(sandbox_env, None, deadline_s=5))
    assert not state.is_cancelled(), state
    result = state.result(raise_on_failure=False)
    assert result.verdict is Verdict.ERROR
    assert "was not free within 5 s: no live gate run holds it" in result.reasons[0]
    assert "skipped" not in result.reasons[0]


def test_a_timeout_inside_the_run_is_an_error_not_a_skip(
    run_gate: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.gate

    async def times_out(*args: Any, **kwargs: Any) -> Any:
        raise TimeoutError("a client gave up")

    monkeypatch.setattr(flows.gate, "run_until_deadline", times_out)
    result = run_gate("sandbox", mode="monitor")
    assert result.verdict is Verdict.ERROR
    assert result.reasons == [
        "a step of the gate timed out outside its checks: TimeoutError('a client gave up')"
    ]
