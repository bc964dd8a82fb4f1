"""Trigger the `release-gate` deployment and follow its run to the recorded result.

The run happens on a worker; this streams its progress from the run's logs (paged with
an offset, so a run of any length shows every line), waits up to the deadline (plus a
grace period for the worker to pick it up), then reads the JSON result the gate stored
through the evidence storage block (``tasks/evidence.py``).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.sorting import LogSort
from prefect.deployments import run_deployment
from prefect.utilities.urls import url_for

from smoke.errors import ConfigError
from smoke.evidence_store import result_key
from smoke.results import GateResult
from smoke.status import run_tags
from tasks.evidence import evidence_storage, read_result

DEPLOYMENT = "release-gate/release-gate"
# Beyond the gate's deadline: the worker's poll interval, process start, recording.
PICKUP_GRACE_S = 60.0
POLL_S = 0.5
# After the final state, how long the run's last log batches may take to arrive.
DRAIN_S = 30.0
# Lines read again before the offset of each page (see LogPages.read_new).
_REREAD = 20
_PROGRESS = re.compile(r"^(passed|flaky|degraded|FAILED|ERROR|skipped)\s+\S+\.\S+")
_VERDICT = re.compile(r"^verdict (PASS|FAIL|ERROR)\b")
_FINAL = {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}
# The final states of a gate that reached its verdict (and logged it).
_VERDICT_STATES = {StateType.COMPLETED, StateType.FAILED}


async def trigger_and_follow(
    parameters: dict[str, Any],
    deadline_s: float,
    say: Callable[[str], None],
    on_triggered: Callable[[UUID, str | None], None] | None = None,
) -> GateResult | Exception:
    """Run the deployment, hand progress lines to ``say``, return the result or why there is none.

    ``on_triggered`` learns the run's id and UI address as soon as it exists, so a caller
    that is cancelled (Ctrl-C) can cancel the run too (``cancel_runs``) and a result
    without a verdict can still link to its run.
    """
    try:
        flow_run: FlowRun = await run_deployment(  # type: ignore[misc]
            DEPLOYMENT,
            parameters=parameters,
            timeout=0,
            # The run tags itself when it starts; tagged from creation, a run no worker
            # ever picks up still shows in `smoke history`.
            tags=run_tags(
                str(parameters["environment"]), str(parameters["mode"]), parameters.get("version")
            ),
        )
    except Exception as e:  # Prefect's client raises a plain error for a bad parameter  # noqa: BLE001
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
    url = url_for(flow_run)
    if on_triggered is not None:
        on_triggered(flow_run.id, url)
    say(f"Triggered {flow_run.name}: {url or flow_run.id}")
    async with get_client() as client:
        final = await follow(client, flow_run.id, deadline_s + PICKUP_GRACE_S, say)
        if final is None:
            await client.set_flow_run_state(
                flow_run.id,
                _cancelling("cancelled by `smoke gate --via-deployment`: deadline passed"),
                force=True,
            )
            return TimeoutError(
                f"the gate run did not finish within {deadline_s:g} s (+{PICKUP_GRACE_S:g} s for the "
                "worker to pick it up); it was cancelled. Is a worker running for the `smoke` pool?"
            )
    result = await read_result(await evidence_storage(), str(flow_run.id))
    if final.type in (StateType.COMPLETED, StateType.FAILED) and result is not None:
        return result
    missing = ""
    if final.type in (StateType.COMPLETED, StateType.FAILED):
        missing = (
            f"; its stored result {result_key(str(flow_run.id))} is missing or unreadable "
            "(see the run's logs)"
        )
    return RuntimeError(
        f"the gate run ended {final.name}: {final.message or 'no result was recorded'}{missing}"
    )


def _cancelling(message: str) -> Any:
    from prefect.states import Cancelling

    return Cancelling(message=message)


async def cancel_runs(flow_run_ids: list[UUID], message: str) -> None:
    """Stop these runs: a worker kills the process of a run set Cancelling.

    Every state is sent at once; a run that already ended is left as it is.
    """
    async with get_client() as client:
        runs = await asyncio.gather(*(client.read_flow_run(i) for i in flow_run_ids))
        await asyncio.gather(
            *(
                client.set_flow_run_state(run.id, _stop_state(run, message), force=True)
                for run in runs
                if not (run.state and run.state.type in _FINAL)
            )
        )


def _stop_state(run: FlowRun, message: str) -> Any:
    """Cancelled for a run no worker took yet (no process to stop), else Cancelling."""
    from prefect.states import Cancelled

    if run.state is None or run.state.type is StateType.SCHEDULED:
        return Cancelled(message=message)
    return _cancelling(message)


async def follow(
    client: PrefectClient, flow_run_id: UUID, timeout_s: float, say: Callable[[str], None]
) -> Any:
    """Print the run's progress lines until it ends and its last ones arrived; its final state.

    None when it did not end within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    logs = LogPages(flow_run_id)
    announced_state: str | None = ""
    while time.monotonic() < deadline:
        run = await client.read_flow_run(flow_run_id)
        if run.state and run.state.name != announced_state:
            announced_state = run.state.name
            if announced_state in ("Pending", "Running", "Scheduled", "Late"):
                say(f"  run is {announced_state}")
        await logs.show_progress(client, say)
        if run.state and run.state.type in _FINAL:
            await _drain(
                client, logs, run.state.type, min(deadline, time.monotonic() + DRAIN_S), say
            )
            return run.state
        await asyncio.sleep(POLL_S)
    return None


async def _drain(
    client: PrefectClient,
    logs: LogPages,
    final: StateType,
    until: float,
    say: Callable[[str], None],
) -> None:
    """The run's last lines: its process sends logs in batches, some after its final state.

    A gate that reached a verdict logs it last, so that line says every line is in; a
    run that crashed or was cancelled may never log it, hence the bound.
    """
    await logs.show_progress(client, say)
    while not logs.verdict_seen and final in _VERDICT_STATES and time.monotonic() < until:
        await asyncio.sleep(POLL_S)
        await logs.show_progress(client, say)


class LogPages:
    """The logs of one flow run, read page by page with an offset, each line once.

    Only the gate's own run is read: the gate logs every finished check there too
    (``flows/gate.py``), and the logs of a run written by one process arrive in the order
    of their timestamps, so an offset into them sorted by timestamp never skips a line.
    Lines the worker writes for the run may arrive late and land before the offset; they
    are not progress lines.
    """

    def __init__(self, flow_run_id: UUID) -> None:
        self.flow_run_id = flow_run_id
        self.offset = 0
        self.verdict_seen = False
        self._seen: set[UUID] = set()

    async def read_new(self, client: PrefectClient) -> list[str]:
        """Every message logged since the last call, oldest first.

        Pages are as long as the API allows (its default limit). Each starts a few lines
        before the offset: logs with the same timestamp may swap places between two reads,
        and the ids keep each line once.
        """
        messages: list[str] = []
        while True:
            start = max(0, self.offset - _REREAD)
            page = await client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[self.flow_run_id])),
                offset=start,
                sort=LogSort.TIMESTAMP_ASC,
            )
            new = [log for log in page if log.id not in self._seen]
            if not new:
                return messages
            self._seen.update(log.id for log in new)
            messages += [log.message for log in new]
            self.offset = max(self.offset, start + len(page))

    async def show_progress(self, client: PrefectClient, say: Callable[[str], None]) -> None:
        """Hand every new progress line to ``say``; notice the verdict line."""
        for message in await self.read_new(client):
            if _PROGRESS.match(message):
                say(f"  {message}")
            elif _VERDICT.match(message):
                self.verdict_seen = True


__all__ = ["DEPLOYMENT", "cancel_runs", "trigger_and_follow"]
