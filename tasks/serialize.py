"""One gate at a time per environment: a Prefect global concurrency limit per environment.

Two runs against one environment would share its reserved test identity (one
subscription, one onboarding signup), so they are serialized by design: in gate mode a
later run waits for the slot; in monitor mode a run gives up its turn when another
monitor run of the environment holds the slot, instead of piling up behind it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from datetime import UTC, datetime

from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.concurrency.asyncio import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.runtime import flow_run

from smoke.errors import SmokeSystemError

GATE_FLOW = "release-gate"
# The slot's lease is renewed while the gate runs; a killed run frees it this soon
# (Prefect's server accepts 60 s at the least).
LEASE_S = 60.0
# How long a monitor run waits before it looks at who holds the slot: long enough for a
# slot released a moment ago to be taken, short enough not to queue behind a live run.
MONITOR_WAIT_S = 2.0
# A run whose deadline passed this long ago cannot still be running its checks.
GRACE_S = 60.0


class MonitorSkipped(Exception):
    """Another monitor run of the environment holds the slot: this one gives up its turn."""

    def __init__(self, environment: str, holder: FlowRun) -> None:
        self.holder = holder
        super().__init__(
            f"skipped: monitor run {holder.name!r} ({holder.id}) of {environment} still "
            "holds the environment's slot"
        )


class SlotBusy(SmokeSystemError):
    """The environment's slot was not free within the wait (a gate's own error, not a skip)."""


def limit_name(environment: str) -> str:
    """``smoke-env-<slug>``: the concurrency limit that serializes one environment."""
    return "smoke-env-" + (re.sub(r"[^a-z0-9-]+", "-", environment.lower()).strip("-") or "env")


async def ensure_limit(environment: str) -> str:
    """Create the environment's limit (one slot) unless it exists; its name."""
    name = limit_name(environment)
    async with get_client() as client:
        try:
            await client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            # Another run may have created it a moment ago.
            with suppress(ObjectAlreadyExists):
                await client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1, active=True)
                )
    return name


def live_holders(runs: list[FlowRun], environment: str, now: datetime) -> list[FlowRun]:
    """Gate runs of ``environment`` that are running and still within their deadline."""
    out = []
    for run in runs:
        if run.parameters.get("environment") != environment or run.start_time is None:
            continue
        deadline = float(run.parameters.get("deadline_s") or 120)
        if (now - run.start_time).total_seconds() < deadline + GRACE_S:
            out.append(run)
    return out


async def live_gate_runs(client: PrefectClient, environment: str) -> list[FlowRun]:
    """The gate runs that can hold ``environment``'s slot now, this run excluded."""
    running = await client.read_flow_runs(
        flow_filter=FlowFilter(name=FlowFilterName(any_=[GATE_FLOW])),
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(
                type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING])
            )
        ),
    )
    own = flow_run.get_id()
    live = live_holders(running, environment, datetime.now(UTC))
    return [run for run in live if str(run.id) != own]


async def slot_holders(environment: str) -> list[FlowRun]:
    """Live gate runs of ``environment`` while its slot is taken; none when it is free."""
    async with get_client() as client:
        limit = await client.read_global_concurrency_limit_by_name(limit_name(environment))
        if not limit.active_slots:
            return []
        return await live_gate_runs(client, environment)


@asynccontextmanager
async def environment_slot(
    environment: str, wait_s: float, *, monitor: bool = False
) -> AsyncIterator[None]:
    """Hold the environment's slot for the block.

    A gate waits up to ``wait_s``. A monitor waits ``MONITOR_WAIT_S``, then gives up its
    turn (MonitorSkipped) only when another live monitor run of the environment holds
    the slot; otherwise it waits the rest of ``wait_s`` like a gate. A slot still taken
    then is SlotBusy. Only taking the slot is timed here: a TimeoutError raised inside
    the block passes through as it is.
    """
    name = await ensure_limit(environment)
    async with AsyncExitStack() as stack:

        async def take(timeout_s: float) -> None:
            await stack.enter_async_context(
                concurrency(
                    name, occupy=1, timeout_seconds=timeout_s, lease_duration=LEASE_S, strict=True
                )
            )

        try:
            first_wait = min(MONITOR_WAIT_S, wait_s) if monitor else wait_s
            try:
                await take(first_wait)
            except TimeoutError:
                if not monitor or first_wait >= wait_s:
                    raise
                holders = await slot_holders(environment)
                monitors = [r for r in holders if r.parameters.get("mode") == "monitor"]
                if monitors:
                    raise MonitorSkipped(environment, monitors[0]) from None
                await take(wait_s - first_wait)
        except TimeoutError as e:
            raise SlotBusy(await _busy_message(environment, wait_s)) from e
        yield


async def _busy_message(environment: str, wait_s: float) -> str:
    """Why the slot was not free: who holds it, or that no live run does."""
    holders = await slot_holders(environment)
    if holders:
        run = holders[0]
        who = f"gate run {run.name!r} ({run.id}) holds it"
    else:
        who = (
            "no live gate run holds it (a killed run's lease lapses within "
            f"{LEASE_S:g} s; `smoke unlock --env {environment}` frees it now)"
        )
    return f"the slot of environment {environment!r} was not free within {wait_s:g} s: {who}"
