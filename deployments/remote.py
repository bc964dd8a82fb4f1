"""Trigger the `release-gate` deployment and follow its run to the recorded result.

The run happens on a worker; this streams its progress from the run's logs, waits up to
the deadline (plus a grace period for the worker to pick it up), then reads the result
the gate recorded as an artifact.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterParentFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.sorting import LogSort
from prefect.deployments import run_deployment
from prefect.states import StateType

from smoke.errors import ConfigError
from smoke.results import GateResult
from tasks.report import artifact_key, parse_result_markdown
from tasks.slack import flow_run_url

DEPLOYMENT = "release-gate/release-gate"
# Beyond the gate's deadline: the worker's poll interval, process start, recording.
PICKUP_GRACE_S = 60.0
POLL_S = 0.5
_PROGRESS = re.compile(r"^(passed|flaky|degraded|FAILED|ERROR|skipped)\s+\S+\.\S+")
_FINAL = {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}


async def trigger_and_follow(
    parameters: dict[str, Any], deadline_s: float, say: Callable[[str], None]
) -> GateResult | Exception:
    """Run the deployment, hand progress lines to ``say``, return the result or why there is none."""
    try:
        flow_run: FlowRun = await run_deployment(  # type: ignore[misc]
            DEPLOYMENT, parameters=parameters, timeout=0
        )
    except Exception as e:
        if "is not one of" in str(e):
            return ConfigError(
                f"The release-gate deployment does not offer environment {parameters['environment']!r}: "
                "run `smoke deploy` after creating its block, so the form's choices include it."
            )
        if "not found" in str(e).lower():
            return ConfigError(
                f"No deployment {DEPLOYMENT} on the Prefect API: run `smoke deploy` first."
            )
        return RuntimeError(f"could not trigger {DEPLOYMENT}: {type(e).__name__}: {e}")
    say(f"Triggered {flow_run.name}: {flow_run_url(str(flow_run.id)) or flow_run.id}")
    async with get_client() as client:
        final = await follow(client, flow_run.id, deadline_s + PICKUP_GRACE_S, say)
        if final is None:
            await client.set_flow_run_state(flow_run.id, _cancelling(), force=True)
            return TimeoutError(
                f"the gate run did not finish within {deadline_s:g} s (+{PICKUP_GRACE_S:g} s for the "
                "worker to pick it up); it was cancelled. Is a worker running for the `smoke` pool?"
            )
        result = await recorded_result(client, flow_run.id, str(parameters["environment"]))
    if final.type in (StateType.COMPLETED, StateType.FAILED) and result is not None:
        return result
    missing = ""
    if final.type in (StateType.COMPLETED, StateType.FAILED):
        key = artifact_key("result", str(parameters["environment"]))
        missing = f"; its result artifact {key} is missing or unreadable (see the run's logs)"
    return RuntimeError(
        f"the gate run ended {final.name}: {final.message or 'no result was recorded'}{missing}"
    )


def _cancelling() -> Any:
    from prefect.states import Cancelling

    return Cancelling(message="cancelled by `smoke gate --via-deployment`: deadline passed")


async def follow(
    client: PrefectClient, flow_run_id: UUID, timeout_s: float, say: Callable[[str], None]
) -> Any:
    """Print progress lines from the run and its subflows until it ends; its final state."""
    deadline = time.monotonic() + timeout_s
    seen: set[UUID] = set()
    announced_state: str | None = ""
    while time.monotonic() < deadline:
        run = await client.read_flow_run(flow_run_id)
        if run.state and run.state.name != announced_state:
            announced_state = run.state.name
            if announced_state in ("Pending", "Running", "Scheduled", "Late"):
                say(f"  run is {announced_state}")
        await _print_new_progress(client, flow_run_id, seen, say)
        if run.state and run.state.type in _FINAL:
            await _print_new_progress(client, flow_run_id, seen, say)
            return run.state
        await asyncio.sleep(POLL_S)
    return None


async def _print_new_progress(
    client: PrefectClient, root: UUID, seen: set[UUID], say: Callable[[str], None]
) -> None:
    children = await client.read_flow_runs(
        flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[root]))
    )
    ids = [root, *[c.id for c in children]]
    logs = await client.read_logs(
        log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)), sort=LogSort.TIMESTAMP_ASC
    )
    for log in logs:
        if log.id not in seen:
            seen.add(log.id)
            if _PROGRESS.match(log.message):
                say(f"  {log.message}")


async def recorded_result(
    client: PrefectClient, flow_run_id: UUID, environment: str
) -> GateResult | None:
    """The GateResult the gate run stored as its JSON artifact."""
    artifacts = await client.read_artifacts(
        artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
            key=ArtifactFilterKey(any_=[artifact_key("result", environment)]),
        )
    )
    for artifact in artifacts:
        result = parse_result_markdown(str(artifact.data or ""))
        if result is not None:
            return result
    return None


__all__ = ["DEPLOYMENT", "trigger_and_follow"]
