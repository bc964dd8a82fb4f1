"""The alert policy end to end: results in, Slack messages out of the local Slack."""

from __future__ import annotations

from pathlib import Path

import pytest

from smoke.results import CheckResult, GateResult, JourneyResult, Status, Verdict
from tasks.slack import NotifyOutcome, SlackSettings, deliver
from tests.support.slack_alerts import MemoryAlertStore
from tests.support.slack_server import FakeSlack
from tests.unit.report_samples import fail_result, pass_result

pytestmark = pytest.mark.anyio

HOUR = 3600.0
T0 = 1_700_000_000.0
EVIDENCE = Path("/reports/run-1/evidence")


def monitor(result: GateResult) -> GateResult:
    return result.model_copy(update={"mode": "monitor"})


def failing(*keys: str) -> GateResult:
    """A monitor FAIL whose blocking failures are ``keys`` (journey.check)."""
    checks = [
        CheckResult(
            journey=k.split(".")[0],
            check=k.split(".")[1],
            status=Status.FAILED,
            expected="200",
            actual="500",
            message="the endpoint answered 500",
        )
        for k in keys
    ]
    return GateResult(
        verdict=Verdict.FAIL,
        environment="staging",
        version="1.4.3",
        mode="monitor",
        journeys=[JourneyResult(name="mixed", checks=checks)],
    )


async def test_dedup_escalation_and_recovery_sequence(
    slack: FakeSlack, bot: SlackSettings, store: MemoryAlertStore
) -> None:
    async def step(now: float, result: GateResult) -> tuple[NotifyOutcome, str]:
        before = len(slack.requests)
        outcome = await deliver(result, bot, store, now=now)
        assert outcome.error is None
        new = slack.requests[before:]
        assert len(new) == (1 if outcome.posted else 0)
        return outcome, new[0].raw.decode() if new else ""

    outcome, body = await step(T0, monitor(fail_result(EVIDENCE)))
    assert outcome.kind == "failure"
    assert "New incident. Failing: dashboard.alerts." in body
    assert "<!subteam^S0RELEASE>" in body
    assert "<@U0LEAD>" not in body

    outcome, _ = await step(T0 + 900, monitor(fail_result(EVIDENCE)))
    assert not outcome.posted, "same checks within the reminder interval: quiet"

    outcome, body = await step(T0 + 1800, monitor(fail_result(EVIDENCE)))
    assert outcome.kind == "escalation"
    assert "cc <!subteam^S0RELEASE> <@U0LEAD>" in body
    assert "Escalating: failing for 3 consecutive failed runs" in body

    outcome, _ = await step(T0 + 2700, monitor(fail_result(EVIDENCE)))
    assert not outcome.posted

    outcome, body = await step(T0 + 1800 + HOUR, monitor(fail_result(EVIDENCE)))
    assert outcome.kind == "reminder"
    assert "Reminder: still failing after 5 consecutive failed runs" in body

    outcome, body = await step(T0 + 1800 + HOUR + 60, failing("dashboard.feed"))
    assert outcome.kind == "failure"
    assert "Update: the failing checks changed" in body
    assert "now also failing: dashboard.feed; no longer failing: dashboard.alerts" in body

    outcome, body = await step(T0 + 3 * HOUR, pass_result())
    assert outcome.kind == "recovery"
    assert "passes again after 6 failed runs. Was failing: dashboard.feed." in body
    assert "<!subteam" not in body
    assert "<@" not in body

    outcome, _ = await step(T0 + 3 * HOUR + 900, pass_result())
    assert outcome.kind is None
    assert not outcome.posted
    # pass_result has a flaky check: the recovery counted as its note; an hour later,
    # a note of its own that pages nobody.
    outcome, body = await step(T0 + 4 * HOUR, pass_result())
    assert outcome.kind == "flaky"
    assert "auth.password_login" in body
    assert "<!subteam" not in body
    assert "<@" not in body

    assert [r.status for r in slack.requests] == [200] * 6


async def test_gate_mode_posts_every_failure(
    slack: FakeSlack, bot: SlackSettings, store: MemoryAlertStore
) -> None:
    for i in range(2):
        outcome = await deliver(fail_result(EVIDENCE), bot, store, now=T0 + i)
        assert (outcome.posted, outcome.kind) == (True, "failure")
    assert len(slack.messages()) == 2
    assert "Still failing (2 consecutive failed runs)" in slack.requests[1].raw.decode()


async def test_a_recovery_that_could_not_be_posted_is_posted_by_the_next_run(
    slack: FakeSlack, bot: SlackSettings, store: MemoryAlertStore
) -> None:
    await deliver(monitor(fail_result(EVIDENCE)), bot, store, now=T0)
    slack.fail(3)  # the first try and both retries
    first = await deliver(pass_result(), bot, store, now=T0 + 900)
    assert (first.posted, first.kind) == (False, "recovery")
    assert first.error
    second = await deliver(pass_result(), bot, store, now=T0 + 1800)
    assert (second.posted, second.kind) == (True, "recovery")
    assert "after 1 failed run." in slack.requests[-1].raw.decode()
