"""The Prefect layer against a temporary Prefect server: the Variable, the block, the hook."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect import flow
from prefect.variables import Variable

from blocks.resolve import forget_local_environment, register_local_environment
from blocks.slack import SlackTarget
from smoke.config import SmokeConfig
from smoke.results import GateResult
from tasks.slack import NotifyOutcome, alert_variable_name, notify, notify_crash
from tests.support.slack_alerts import BOT_TOKEN, CHANNEL
from tests.support.slack_server import FakeSlack
from tests.unit.report_samples import fail_result, pass_result

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("prefect_api")]

EVIDENCE = Path("/reports/run-1/evidence")


@pytest.fixture
def environment(slack: FakeSlack) -> Iterator[str]:
    """A fresh environment name whose Slack settings point at the local Slack."""
    name = f"slack-{uuid.uuid4().hex[:8]}"
    register_local_environment(
        SmokeConfig.model_validate(
            {
                "name": name,
                "slack_token": BOT_TOKEN,
                "slack_channel": CHANNEL,
                "slack_api_url": slack.api_url,
                "slack_mentions": ["<!subteam^S0ONCALL>"],
            }
        )
    )
    yield name
    forget_local_environment(name)


def result_for(environment: str, passed: bool = False) -> GateResult:
    base = pass_result() if passed else fail_result(EVIDENCE)
    return base.model_copy(update={"environment": environment, "mode": "monitor"})


async def test_notify_keeps_the_alert_state_in_a_prefect_variable(
    slack: FakeSlack, environment: str
) -> None:
    first = await notify.fn(result_for(environment), environment)
    assert (first.posted, first.kind, first.error) == (True, "failure", None)
    stored = await Variable.aget(alert_variable_name(environment))
    assert isinstance(stored, dict)
    assert stored["incident_open"] is True
    assert stored["failing_checks"] == ["dashboard.alerts"]
    assert stored["consecutive_failures"] == 1

    again = await notify.fn(result_for(environment), environment)
    assert (again.posted, again.kind, again.error) == (False, None, None)
    stored = await Variable.aget(alert_variable_name(environment))
    assert isinstance(stored, dict)
    assert stored["consecutive_failures"] == 2

    recovered = await notify.fn(result_for(environment, passed=True), environment)
    assert (recovered.posted, recovered.kind) == (True, "recovery")
    assert len(slack.messages()) == 2
    assert "<!subteam^S0ONCALL>" in slack.requests[0].raw.decode()


async def test_notify_never_raises_when_slack_is_down(slack: FakeSlack, environment: str) -> None:
    slack.fail(5)  # connection refused is tested in test_slack_delivery (it costs retries)
    outcome = await notify.fn(result_for(environment), environment)
    assert not outcome.posted
    assert outcome.error is not None
    assert "HTTP 500" in outcome.error
    assert await Variable.aget(alert_variable_name(environment)) is None


async def test_notify_without_slack_settings_does_nothing(slack: FakeSlack) -> None:
    name = f"quiet-{uuid.uuid4().hex[:8]}"
    outcome = await notify.fn(result_for(name), name)
    assert (outcome.posted, outcome.kind, outcome.error) == (False, None, None)
    assert slack.requests == []
    assert await Variable.aget(alert_variable_name(name)) is None


async def test_settings_come_from_the_slack_target_block(slack: FakeSlack) -> None:
    block = f"team-{uuid.uuid4().hex[:8]}"
    await SlackTarget.model_validate(
        {
            "bot_token": BOT_TOKEN,
            "channel": "#from-the-block",
            "api_url": slack.api_url,
            "mentions": ["<@U0BLOCK>"],
        }
    ).save(block)
    name = f"blocky-{uuid.uuid4().hex[:8]}"
    register_local_environment(SmokeConfig(name=name, slack_target=block))
    try:
        outcome = await notify.fn(result_for(name), name)
    finally:
        forget_local_environment(name)
    assert outcome.posted, outcome.error
    [request] = slack.requests
    assert request.body["channel"] == "#from-the-block"
    assert "<@U0BLOCK>" in request.raw.decode()


async def test_a_missing_slack_target_block_is_reported_not_raised(slack: FakeSlack) -> None:
    name = f"noblock-{uuid.uuid4().hex[:8]}"
    register_local_environment(SmokeConfig(name=name, slack_target="does-not-exist"))
    try:
        outcome = await notify.fn(result_for(name), name)
    finally:
        forget_local_environment(name)
    assert outcome.error is not None
    assert "has no such block" in outcome.error
    assert "'does-not-exist'" in outcome.error


class Boom(BaseException):
    """Not an Exception: Prefect reports the run Crashed and runs on_crashed hooks."""


async def test_on_crashed_hook_posts_the_crash(slack: FakeSlack, environment: str) -> None:
    @flow(name="crashing-gate", on_crashed=[notify_crash])
    async def crashing_gate(environment: str, mode: str = "gate") -> None:
        raise Boom("the worker was shut down")

    with pytest.raises(Boom):
        await crashing_gate(environment)

    [request] = slack.messages()
    body = request.raw.decode()
    assert request.text.startswith(f"Smoke run crashed: {environment}.")
    assert "treat the release as blocked" in body
    assert "<!subteam^S0ONCALL>" in body
    stored = await Variable.aget(alert_variable_name(environment))
    assert isinstance(stored, dict)
    assert stored["failing_checks"] == ["gate.crashed"]


async def test_notify_runs_as_a_task_of_a_flow(slack: FakeSlack, environment: str) -> None:
    @flow(name="gate-like")
    async def gate_like(environment: str) -> NotifyOutcome:
        return await notify(result_for(environment), environment)

    outcome = await gate_like(environment)
    assert (outcome.posted, outcome.kind) == (True, "failure")
    assert len(slack.messages()) == 1
