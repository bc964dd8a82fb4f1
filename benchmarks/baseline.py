"""The gate's checks without Prefect: the baseline that prices the orchestration.

Same journeys, same JourneyContext, same check bodies and the same retry rule, run as
plain asyncio: no flow runs, no task runs, no API. The gate's wall time divided by this
one's is the orchestration overhead.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from flows.gate import JOURNEY_FLOWS
from flows.preflight import preflight
from smoke.results import JourneyResult
from smoke.retry import RETRIES, backoff_delays, is_transient
from tasks import browser, checks


async def call_directly(check_task: Any, *args: Any, **kwargs: Any) -> tuple[object, str | None]:
    """A check's body with the product's retry rule, without a Prefect task run."""
    delays = backoff_delays()
    for attempt in range(RETRIES + 1):
        try:
            state = await check_task.fn(*args, **kwargs)
            return state.data, None
        except Exception as e:  # every failure is classified below, as the suite does  # noqa: BLE001
            if not is_transient(e) or attempt == RETRIES:
                return e, str(e)
            await asyncio.sleep(delays[attempt])
    raise AssertionError("unreachable")


async def baseline_gate(
    environment: str, version: str | None = None
) -> tuple[float, list[JourneyResult]]:
    """Preflight, then the four journeys concurrently in one browser; (seconds, results)."""
    checks.task_runner = call_directly
    try:
        started = time.perf_counter()
        first = (await preflight.fn(environment, version)).data
        async with browser.shared_browser():
            states = await asyncio.gather(
                *(flow.fn(environment) for flow in JOURNEY_FLOWS.values())
            )
        return time.perf_counter() - started, [first, *(state.data for state in states)]
    finally:
        checks.task_runner = checks.run_as_prefect_task
