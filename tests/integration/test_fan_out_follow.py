"""The follower of several gate runs, with the trigger replaced: no server, no worker.

One environment's follower failing is that environment's ERROR, never the others'; a
signal cancels every run triggered so far and keeps the results already in.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

import deployments.remote
from cli import signals, via_deployment
from cli.via_deployment import GateRun
from smoke.errors import Interrupted, SmokeSystemError
from smoke.results import GateResult, Verdict


def runs(tmp_path: Path, *names: str) -> list[GateRun]:
    return [GateRun(n, {"environment": n, "mode": "gate"}, tmp_path / n) for n in names]


async def passed(environment: str) -> GateResult:
    return GateResult(verdict=Verdict.PASS, environment=environment, duration_s=1.0)


@pytest.fixture(autouse=True)
def _no_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    async def keep(result: GateResult, report_dir: Path, say: Any) -> GateResult:
        return result

    monkeypatch.setattr(via_deployment, "_fetch_evidence", keep)


def test_one_environment_failing_to_follow_is_its_own_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async def trigger(
        parameters: dict[str, Any], deadline_s: float, say: Any, on_triggered: Any
    ) -> GateResult:
        on_triggered(uuid4(), None)
        if parameters["environment"] == "b":
            raise ConnectionError("Prefect's API went away")
        return await passed(parameters["environment"])

    monkeypatch.setattr(deployments.remote, "trigger_and_follow", trigger)
    gate_runs = runs(tmp_path, "a", "b", "c")
    outcomes = via_deployment._follow_all(gate_runs, 60)
    assert isinstance(outcomes[0], GateResult)
    assert isinstance(outcomes[2], GateResult)
    assert isinstance(outcomes[1], SmokeSystemError)
    assert "ConnectionError: Prefect's API went away" in str(outcomes[1])
    errored = gate_runs[1].result(outcomes[1], "1.0.0")
    assert (errored.verdict, errored.exit_code) == (Verdict.ERROR, 3)
    assert errored.flow_run_id == str(gate_runs[1].flow_run_id)


def test_a_signal_cancels_every_triggered_run_and_keeps_finished_results(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    triggered: list[UUID] = []
    cancelled: list[tuple[list[UUID], str]] = []
    both_waiting = threading.Event()

    async def trigger(
        parameters: dict[str, Any], deadline_s: float, say: Any, on_triggered: Callable[..., None]
    ) -> GateResult:
        run_id = uuid4()
        triggered.append(run_id)
        on_triggered(run_id, f"http://prefect/runs/flow-run/{run_id}")
        if parameters["environment"] == "done":
            return await passed("done")
        if len(triggered) == 3:
            both_waiting.set()
        await asyncio.sleep(60)
        raise AssertionError("not cancelled")

    async def cancel_runs(flow_run_ids: list[UUID], message: str) -> None:
        cancelled.append((flow_run_ids, message))

    monkeypatch.setattr(deployments.remote, "trigger_and_follow", trigger)
    monkeypatch.setattr(deployments.remote, "cancel_runs", cancel_runs)
    gate_runs = runs(tmp_path, "done", "slow-1", "slow-2")

    def interrupt() -> None:
        both_waiting.wait(10)
        os.kill(os.getpid(), signal.SIGINT)

    with signals.guarded() as guard:
        threading.Thread(target=interrupt, daemon=True).start()
        outcomes = via_deployment._follow_all(gate_runs, 60)
    assert guard.signum == signal.SIGINT
    assert isinstance(outcomes[0], GateResult)
    assert all(isinstance(o, Interrupted) for o in outcomes[1:])
    assert len(cancelled) == 1
    ids, message = cancelled[0]
    assert set(ids) == set(triggered)
    assert message == "cancelled by signal SIGINT"
    result = gate_runs[1].result(outcomes[1], None)
    assert (result.error_kind, result.exit_code) == ("cancelled", 130)
    assert result.flow_run_url == f"http://prefect/runs/flow-run/{gate_runs[1].flow_run_id}"
