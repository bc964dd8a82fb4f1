"""Sending through the real slack_sdk clients to the local Slack, and Slack failing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from smoke.config import SmokeConfig
from smoke.incidents import Notification
from smoke.results import Verdict
from smoke.scrub import scrubber
from smoke.slack_message import failure_message
from tasks.slack import SlackSettings, deliver, notification_configured, send
from tests.support.slack_alerts import BOT_TOKEN, CHANNEL, MemoryAlertStore
from tests.support.slack_server import FakeSlack
from tests.unit.report_samples import RUN_URL, fail_result

pytestmark = pytest.mark.anyio

EVIDENCE = Path("/reports/run-1/evidence")


async def test_chat_post_message_carries_the_failure(
    slack: FakeSlack, bot: SlackSettings, store: MemoryAlertStore
) -> None:
    outcome = await deliver(fail_result(EVIDENCE), bot, store, now=1000.0)
    assert (outcome.posted, outcome.kind, outcome.error) == (True, "failure", None)

    [request] = slack.requests
    assert request.path == "/api/chat.postMessage"
    assert request.headers["authorization"] == f"Bearer {BOT_TOKEN}"
    assert request.headers["content-type"].startswith("application/json")
    assert request.body["channel"] == CHANNEL
    text = request.raw.decode()
    for needed in (
        "staging",  # environment
        "1.4.3",  # version
        "*Verdict:*\\nFAIL",
        "*Mode:*\\ngate",
        "*dashboard.alerts* FAILED",  # journey and check
        "*Expected:* `body matches the alerts contract`",
        "*Actual:* `$.items[0].severity: 3 is not of type 'string'`",
        f"<{RUN_URL}|",  # the flow run link
        "/reports/run-1/evidence/dashboard.alerts.json",  # the evidence
        "<!subteam^S0RELEASE>",  # who is paged
    ):
        assert needed in text, needed
    assert request.text.startswith("Smoke FAIL: staging 1.4.3 (gate). dashboard.alerts FAILED")
    assert store.states["staging"].incident_open


async def test_incoming_webhook_posts_the_same_payload(slack: FakeSlack) -> None:
    settings = SlackSettings.model_validate({"webhook_url": slack.webhook_url("T1/B1/hooksecret")})
    result = fail_result(EVIDENCE)
    store = MemoryAlertStore()
    outcome = await deliver(result, settings, store, now=1000.0)
    assert outcome.posted
    assert outcome.error is None
    [request] = slack.requests
    assert request.path == "/services/T1/B1/hooksecret"
    assert "authorization" not in request.headers
    assert request.body["text"].startswith("Smoke FAIL: staging 1.4.3")
    assert [b["type"] for b in request.body["blocks"]][:2] == ["header", "section"]


async def test_a_429_with_retry_after_is_retried_then_succeeds(
    slack: FakeSlack, bot: SlackSettings, store: MemoryAlertStore
) -> None:
    slack.rate_limit(1, retry_after=1)
    started = time.monotonic()
    outcome = await deliver(fail_result(EVIDENCE), bot, store, now=1000.0)
    assert outcome.posted
    assert outcome.error is None
    assert [r.status for r in slack.requests] == [429, 200]
    assert time.monotonic() - started >= 1.0, "the client waited out Retry-After"


async def test_a_storm_of_429s_gives_up_after_two_retries(
    slack: FakeSlack, bot: SlackSettings, store: MemoryAlertStore
) -> None:
    slack.rate_limit(10, retry_after=0)
    outcome = await deliver(fail_result(EVIDENCE), bot, store, now=1000.0)
    assert (outcome.posted, outcome.kind) == (False, "failure")
    assert outcome.error is not None
    assert "HTTP 429" in outcome.error
    assert "rate limiting" in outcome.error
    assert [r.status for r in slack.requests] == [429, 429, 429]
    assert store.saves == 0, "an undelivered message leaves the state for the next run"


async def test_a_500_is_an_error_not_an_exception(
    slack: FakeSlack, bot: SlackSettings, store: MemoryAlertStore
) -> None:
    slack.fail(5)
    outcome = await deliver(fail_result(EVIDENCE), bot, store, now=1000.0)
    assert not outcome.posted
    assert outcome.error is not None
    assert "HTTP 500" in outcome.error
    assert "slack-status.com" in outcome.error
    assert [r.status for r in slack.requests] == [500, 500, 500]  # retried twice


async def test_a_momentary_500_is_retried_and_the_message_posted(
    slack: FakeSlack, bot: SlackSettings, store: MemoryAlertStore
) -> None:
    slack.fail(1)
    outcome = await deliver(fail_result(EVIDENCE), bot, store, now=1000.0)
    assert outcome.posted, outcome.error
    assert [r.status for r in slack.requests] == [500, 200]


async def test_a_webhook_500_is_an_error_too(slack: FakeSlack) -> None:
    slack.fail(5)
    settings = SlackSettings.model_validate({"webhook_url": slack.webhook_url()})
    outcome = await deliver(fail_result(EVIDENCE), settings, MemoryAlertStore(), now=1000.0)
    assert not outcome.posted
    assert outcome.error is not None
    assert "HTTP 500" in outcome.error


async def test_slack_not_listening_is_an_error_not_an_exception(
    slack: FakeSlack, bot: SlackSettings, store: MemoryAlertStore
) -> None:
    slack.stop_listening()
    outcome = await deliver(fail_result(EVIDENCE), bot, store, now=1000.0)
    assert not outcome.posted
    assert outcome.error is not None
    assert "Connection refused" in outcome.error
    assert store.states == {}

    slack.start()
    again = await deliver(fail_result(EVIDENCE), bot, store, now=1060.0)
    assert (again.posted, again.kind) == (True, "failure"), "the next run posts the incident"


async def test_a_bad_token_says_what_to_fix_without_showing_it(
    slack: FakeSlack, store: MemoryAlertStore
) -> None:
    scrubber.register("xoxp-not-a-bot-token")
    settings = SlackSettings.model_validate(
        {"bot_token": "xoxp-not-a-bot-token", "channel": CHANNEL, "api_url": slack.api_url}
    )
    outcome = await deliver(fail_result(EVIDENCE), settings, store, now=1000.0)
    assert outcome.error is not None
    assert "'invalid_auth'" in outcome.error
    assert "check the bot token" in outcome.error
    assert "xoxp-not-a-bot-token" not in outcome.error


async def test_send_respects_the_base_url_with_or_without_a_slash(slack: FakeSlack) -> None:
    payload = failure_message(fail_result(EVIDENCE), _failure_note())
    for api_url in (slack.api_url, slack.api_url.rstrip("/")):
        settings = SlackSettings.model_validate(
            {"bot_token": BOT_TOKEN, "channel": CHANNEL, "api_url": api_url}
        )
        await send(settings, payload)
    assert [r.path for r in slack.requests] == ["/api/chat.postMessage"] * 2


def test_notification_configured() -> None:
    def config(**kw: object) -> SmokeConfig:
        return SmokeConfig.model_validate({"name": "staging", **kw})

    assert not notification_configured(config())
    assert not notification_configured(config(slack_token="xoxb-1"))  # no channel
    assert notification_configured(config(slack_token="xoxb-1", slack_channel="#c"))
    assert notification_configured(config(slack_webhook_url="https://hooks.example/x"))
    assert notification_configured(config(slack_target="releases"))


def _failure_note() -> Notification:
    return Notification(kind="failure", environment="staging", verdict=Verdict.FAIL)
