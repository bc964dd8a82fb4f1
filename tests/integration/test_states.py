"""Prefect states tell the truth: a failed check is a Failed task run, its journey a Failed run."""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import flow
from prefect.states import State

from flows.dashboard import dashboard, endpoint_answers
from smoke.results import CheckResult, JourneyResult, Status
from tasks.checks import run_as_prefect_task
from tasks.context import open_journey


def _journey(environment: str) -> tuple[State[Any], Any]:
    async def go() -> tuple[State[Any], Any]:
        state = await dashboard(environment, return_state=True)
        return state, await state.result(raise_on_failure=False)

    return asyncio.run(go())


def test_a_journey_with_a_failed_check_ends_failed_and_keeps_its_results(
    sandbox_env: str, fault: Any
) -> None:
    fault("dashboard.feed_500")
    state, result = _journey(sandbox_env)
    assert state.is_failed()
    assert state.message
    assert state.message.startswith("dashboard FAIL: dashboard.feed failed")
    assert isinstance(result, JourneyResult)
    feed = next(c for c in result.checks if c.check == "feed")
    assert feed.status is Status.FAILED


def test_a_healthy_journey_ends_completed(sandbox_env: str) -> None:
    state, result = _journey(sandbox_env)
    assert state.is_completed(), state.message
    assert isinstance(result, JourneyResult)
    assert not [c for c in result.checks if c.is_problem]


def test_a_failed_check_task_ends_failed_with_its_result_as_data(
    sandbox_env: str, fault: Any
) -> None:
    from smoke.spec import DashboardSpec

    fault("dashboard.feed_500")

    @flow
    async def go() -> tuple[object, str | None, bool]:
        async with open_journey("dashboard", sandbox_env, DashboardSpec) as ctx:
            feed = next(e for e in ctx.spec.endpoints if e.name == "feed")
            state = await endpoint_answers(ctx, feed, check_name="feed", return_state=True)
            data, message = await run_as_prefect_task(
                endpoint_answers, ctx, feed, check_name="feed"
            )
            return data, message, state.is_failed()

    data, message, failed = asyncio.run(go())
    assert failed
    assert isinstance(data, CheckResult)
    assert data.status is Status.FAILED
    assert message
    assert message.startswith("dashboard.feed failed: ")
