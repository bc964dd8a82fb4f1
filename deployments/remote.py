"""``smoke gate --via-deployment``: trigger the `release-gate` deployment and follow it.

The run happens on a worker; this process streams its progress from the run's logs,
waits up to the deadline (plus a grace period for the worker to pick it up), then reads
the result the gate recorded as an artifact and writes the same JSON, JUnit and report
files as an in-process run, with the same exit codes. A run that crashes, is cancelled
or outlives the deadline gives 3, never 0.
"""

from __future__ import annotations

import asyncio
import re
import time
from contextlib import ExitStack
from pathlib import Path
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

from blocks import SmokeEnvironment
from deployments.blocks_admin import require_api
from deployments.local import SANDBOX
from deployments.run import crashed, prepare, report, say
from smoke.errors import ConfigError
from smoke.results import GateResult, Verdict
from tasks.report import artifact_key, parse_result_markdown
from tasks.slack import flow_run_url

DEPLOYMENT = "release-gate/release-gate"
# Beyond the gate's deadline: the worker's poll interval, process start, recording.
PICKUP_GRACE_S = 60.0
POLL_S = 0.5
_PROGRESS = re.compile(r"^(passed|flaky|degraded|FAILED|ERROR|skipped)\s+\S+\.\S+")
_FINAL = {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}


def run_gate_via_deployment(
    *,
    environment: str,
    version: str | None,
    journeys: list[str] | None,
    mode: str,
    fail_on_flaky: bool,
    deadline_s: int,
    outputs: dict[str, Path | None],
    sandbox_faults: list[str] | None = None,
) -> int:
    """Trigger, follow, report; the exit code follows the verdict."""
    require_api()
    report_dir = outputs.get("report_dir") or Path("smoke-report")
    started = time.perf_counter()
    with ExitStack() as stack:
        config = prepare(stack, environment, version, sandbox_faults, report_dir)
        if environment == SANDBOX:
            # The worker resolves `sandbox` like any environment: from its block.
            SmokeEnvironment.from_config(config).save(SANDBOX, overwrite=True)
            say(f"block smoke-environment/{SANDBOX} points at the sandbox")
        parameters: dict[str, Any] = {
            "environment": environment,
            "version": version,
            "mode": mode,
            "fail_on_flaky": fail_on_flaky,
            "deadline_s": deadline_s,
        }
        if journeys:
            parameters["journeys"] = journeys
        outcome = asyncio.run(trigger_and_follow(parameters, deadline_s))
    result = (
        outcome if isinstance(outcome, GateResult) else crashed(environment, version, mode, outcome)
    )
    if not result.duration_s:
        result.duration_s = time.perf_counter() - started
    return report(result, outputs, report_dir)


async def trigger_and_follow(
    parameters: dict[str, Any], deadline_s: float
) -> GateResult | Exception:
    """Run the deployment, stream progress, return the recorded result or why there is none."""
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
        final = await follow(client, flow_run.id, deadline_s + PICKUP_GRACE_S)
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


async def follow(client: PrefectClient, flow_run_id: UUID, timeout_s: float) -> Any:
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
        await _print_new_progress(client, flow_run_id, seen)
        if run.state and run.state.type in _FINAL:
            await _print_new_progress(client, flow_run_id, seen)
            return run.state
        await asyncio.sleep(POLL_S)
    return None


async def _print_new_progress(client: PrefectClient, root: UUID, seen: set[UUID]) -> None:
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


__all__ = ["Verdict", "run_gate_via_deployment"]
