"""Slack notifications for gate runs: settings, delivery, alert state, the notify task.

The alert policy (``smoke.incidents``) and the payloads (``smoke.slack_message``) are
plain Python; this module adds what touches the world: where to send (the SlackTarget
block or the environment's slack_* fields), slack_sdk's clients with their retry
handlers, and the alert state kept between runs in a Prefect Variable.

Notifying never raises and never changes a verdict: a failure to notify is logged in the
run and returned as ``NotifyOutcome.error``.

slack_sdk's synchronous clients run in a worker thread: they need nothing beyond the
standard library, where the async ones need aiohttp, which this project does not
depend on.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from typing import Any, Protocol

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError
from prefect.logging import get_logger, get_run_logger
from prefect.utilities.urls import url_for
from prefect.variables import Variable
from pydantic import BaseModel, Field, SecretStr, ValidationError
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.web import WebClient
from slack_sdk.webhook import WebhookClient

from blocks.resolve import notification_sources
from blocks.slack import SlackTarget
from smoke.config import SmokeConfig
from smoke.incidents import (
    DEFAULT_ESCALATE_AFTER,
    DEFAULT_REMINDER_S,
    AlertState,
    Notification,
    NotificationKind,
    decide_notification,
)
from smoke.results import CheckResult, GateResult, JourneyResult, Status, Verdict
from smoke.scrub import scrub
from smoke.slack_message import Payload, crash_message, message_for

SLACK_API_URL = "https://slack.com/api/"
# One request's timeout, and the budget of a whole delivery with its retries: a dead or
# slow Slack must not hold the gate (a 429 can ask for a long wait).
REQUEST_TIMEOUT_S = 5
DELIVERY_BUDGET_S = 20.0
MAX_RETRIES = 2

# slack_sdk formats its debug lines (webhook URL included) when its logger's level is
# unset; a logger of its own at WARNING keeps the URL out of any handler.
_sdk_logger = logging.getLogger("smoke.slack.sdk")
_sdk_logger.setLevel(logging.WARNING)


class SlackSettings(BaseModel):
    """Where and how to post: a bot token and channel, or an incoming-webhook URL."""

    bot_token: SecretStr | None = None
    webhook_url: SecretStr | None = None
    channel: str | None = None
    api_url: str | None = None
    mentions: list[str] = Field(default_factory=list)
    escalation_mentions: list[str] = Field(default_factory=list)

    @property
    def uses_bot(self) -> bool:
        """A bot token and a channel: chat.postMessage (preferred over a webhook)."""
        return bool(self.bot_token and self.channel)

    @property
    def configured(self) -> bool:
        """Something to post to."""
        return self.uses_bot or self.webhook_url is not None


class NotifyOutcome(BaseModel):
    """What notifying did: posted a message of ``kind``, stayed quiet, or failed."""

    posted: bool = False
    kind: NotificationKind | None = None
    error: str | None = None


class AlertStore(Protocol):
    """Keeps the alert state of an environment between runs."""

    async def load(self, environment: str) -> AlertState: ...

    async def save(self, environment: str, state: AlertState) -> None: ...


class SlackDeliveryError(Exception):
    """Slack did not take the message; the message says what it answered."""


def notification_configured(config: SmokeConfig) -> bool:
    """``config`` names a SlackTarget block, a bot token and channel, or a webhook URL."""
    return bool(
        config.slack_target
        or (config.slack_token and config.slack_channel)
        or config.slack_webhook_url
    )


def slack_settings(config: SmokeConfig, target: SlackTarget | None) -> SlackSettings:
    """The environment's slack_* fields (SMOKE_SLACK_* included), the block's where unset."""
    return SlackSettings(
        bot_token=config.slack_token or (target.bot_token if target else None),
        webhook_url=config.slack_webhook_url or (target.webhook_url if target else None),
        channel=config.slack_channel or (target.channel if target else None),
        api_url=config.slack_api_url or (target.api_url if target else None),
        mentions=config.slack_mentions or (target.mentions if target else []),
        escalation_mentions=target.escalation_mentions if target else [],
    )


async def resolve_slack_settings(environment: str) -> SlackSettings:
    """The Slack settings of ``environment`` (block, environment fields, SMOKE_SLACK_*)."""
    config, target = await notification_sources(environment)
    return slack_settings(config, target)


def alert_variable_name(environment: str) -> str:
    """``smoke-alert-<environment slug>``: a valid Prefect Variable name."""
    slug = re.sub(r"[^a-z0-9-]+", "-", environment.lower()).strip("-") or "env"
    return f"smoke-alert-{slug}"


class VariableAlertStore:
    """The alert state as a JSON Prefect Variable per environment."""

    async def load(self, environment: str) -> AlertState:
        value = await Variable.aget(alert_variable_name(environment))
        if not isinstance(value, dict):
            return AlertState()
        try:
            return AlertState.model_validate(value)
        except ValidationError:
            return AlertState()  # written by another version: start over rather than fail

    async def save(self, environment: str, state: AlertState) -> None:
        await Variable.aset(
            alert_variable_name(environment),
            state.model_dump(mode="json"),
            tags=["smoke", "alert-state"],
            overwrite=True,
        )


async def send(settings: SlackSettings, payload: Payload) -> None:
    """Post ``payload``; SlackDeliveryError (scrubbed) when Slack did not take it."""
    try:
        async with asyncio.timeout(DELIVERY_BUDGET_S):
            await asyncio.to_thread(_send_blocking, settings, payload)
    except TimeoutError as e:
        raise SlackDeliveryError(
            f"Slack did not take the message within {DELIVERY_BUDGET_S:g} s (retries included)"
        ) from e


def _send_blocking(settings: SlackSettings, payload: Payload) -> None:
    handlers: list[RetryHandler] = [
        RateLimitErrorRetryHandler(max_retry_count=MAX_RETRIES),
        ConnectionErrorRetryHandler(max_retry_count=MAX_RETRIES),
        # A 500/503 from Slack is usually momentary: try again before reporting it.
        ServerErrorRetryHandler(max_retry_count=MAX_RETRIES),
    ]
    if settings.uses_bot:
        assert settings.bot_token is not None
        assert settings.channel is not None
        client = WebClient(
            token=settings.bot_token.get_secret_value(),
            base_url=(settings.api_url or SLACK_API_URL).rstrip("/") + "/",
            timeout=REQUEST_TIMEOUT_S,
            logger=_sdk_logger,
            retry_handlers=handlers,
        )
        try:
            client.chat_postMessage(
                channel=settings.channel, text=payload["text"], blocks=payload["blocks"]
            )
        except SlackApiError as e:
            status = e.response.status_code
            error = e.response.get("error") if isinstance(e.response.data, dict) else None
            raise SlackDeliveryError(
                f"chat.postMessage to {settings.channel} failed: HTTP {status}"
                + (f", error {error!r}" if error else "")
                + _hint(error, status)
            ) from e
        except Exception as e:
            raise SlackDeliveryError(f"chat.postMessage failed: {_describe(e)}") from e
        return
    if settings.webhook_url is None:
        raise SlackDeliveryError("no Slack destination: set a bot token and channel, or a webhook")
    webhook = WebhookClient(
        settings.webhook_url.get_secret_value(),
        timeout=REQUEST_TIMEOUT_S,
        logger=_sdk_logger,
        retry_handlers=handlers,
    )
    try:
        response = webhook.send(text=payload["text"], blocks=payload["blocks"])
    except Exception as e:
        raise SlackDeliveryError(f"the incoming webhook failed: {_describe(e)}") from e
    if response.status_code != 200:
        raise SlackDeliveryError(
            f"the incoming webhook answered HTTP {response.status_code}: {response.body[:200]!r}"
            + _hint(None, response.status_code)
        )


def _hint(error: str | None, status: int) -> str:
    if error in ("not_authed", "invalid_auth", "token_revoked", "account_inactive"):
        return "; check the bot token (SMOKE_SLACK_TOKEN or the SlackTarget block)"
    if error in ("channel_not_found", "not_in_channel"):
        return "; check the channel and invite the bot to it"
    if status == 429:
        return "; Slack is rate limiting this app, still after retries"
    if status >= 500:
        return "; Slack is having trouble, see https://slack-status.com"
    return ""


def _describe(e: BaseException) -> str:
    reason = getattr(e, "reason", None)  # URLError wraps the socket error
    return f"{type(e).__name__}: {reason or e}"


async def deliver(
    result: GateResult,
    settings: SlackSettings,
    store: AlertStore,
    *,
    now: float | None = None,
    reminder_s: float = DEFAULT_REMINDER_S,
    escalate_after: int = DEFAULT_ESCALATE_AFTER,
    render: Callable[[Notification], Payload] | None = None,
) -> NotifyOutcome:
    """Decide by the alert policy, post, and keep the new state only if the post arrived.

    ``render`` builds the payload; by default the message for the notification's kind.
    """
    state = await store.load(result.environment)
    notification, next_state = decide_notification(
        state,
        result,
        now=time.time() if now is None else now,
        reminder_s=reminder_s,
        escalate_after=escalate_after,
    )
    if notification is None:
        await store.save(result.environment, next_state)
        return NotifyOutcome()
    if render is None:
        payload = message_for(result, notification, settings.mentions, settings.escalation_mentions)
    else:
        payload = render(notification)
    try:
        await send(settings, payload)
    except SlackDeliveryError as e:
        # The state stays as it was: the next run decides (and tries to post) again.
        return NotifyOutcome(kind=notification.kind, error=scrub(str(e)))
    await store.save(result.environment, next_state)
    return NotifyOutcome(posted=True, kind=notification.kind)


@task(name="notify-slack", cache_policy=NO_CACHE, persist_result=False)
async def notify(result: GateResult, environment: str) -> NotifyOutcome:
    """Post to Slack when the alert policy says so; never raises, never changes the verdict."""
    logger = _logger()
    try:
        settings = await resolve_slack_settings(environment)
        if not settings.configured:
            return NotifyOutcome()
        outcome = await deliver(result, settings, VariableAlertStore())
    except Exception as e:  # a failed notification is reported, the verdict stands  # noqa: BLE001
        outcome = NotifyOutcome(error=scrub(f"{type(e).__name__}: {e}"))
    if outcome.error:
        logger.error(
            "Could not notify Slack about %s %s (the verdict stands): %s",
            result.environment,
            result.verdict.value,
            outcome.error,
        )
    elif outcome.posted:
        logger.info("Posted a Slack %s message for %s", outcome.kind, result.environment)
    return outcome


async def notify_crash(flow: Any, flow_run: Any, state: Any) -> None:
    """``on_crashed`` hook: post that the run crashed (never a PASS); swallows every error.

    The crash goes through the alert policy as an ERROR of check ``gate.crashed``, so a
    monitor that keeps crashing is one incident, not a message every 15 minutes.
    """
    logger = _logger()
    try:
        params = getattr(flow_run, "parameters", None) or {}
        environment = str(params.get("environment") or "unknown")
        message = scrub(getattr(state, "message", None) or "the run crashed")
        crashed = crashed_result(
            environment,
            version=params.get("version") or None,
            mode=str(params.get("mode") or "gate"),
            flow_run_id=str(flow_run.id),
            message=message,
        )
        settings = await resolve_slack_settings(environment)
        if not settings.configured:
            return
        outcome = await deliver(
            crashed,
            settings,
            VariableAlertStore(),
            render=lambda n: crash_message(
                environment, crashed.flow_run_url, message, mentions=_mentions(settings, n)
            ),
        )
    except Exception as e:  # a failed notification is reported, the verdict stands  # noqa: BLE001
        outcome = NotifyOutcome(error=scrub(f"{type(e).__name__}: {e}"))
    if outcome.error:
        logger.error("Could not notify Slack about the crashed run: %s", outcome.error)


def crashed_result(
    environment: str, *, version: str | None, mode: str, flow_run_id: str, message: str
) -> GateResult:
    """The ERROR result a crashed run stands for (check ``gate.crashed``)."""
    return GateResult(
        verdict=Verdict.ERROR,
        environment=environment,
        version=version,
        mode=mode,
        flow_run_id=flow_run_id,
        flow_run_url=url_for("flow-run", obj_id=flow_run_id),
        error_kind="system",
        reasons=[f"the run crashed: {message}"],
        journeys=[
            JourneyResult(
                name="gate",
                checks=[
                    CheckResult(
                        journey="gate", check="crashed", status=Status.ERROR, message=message
                    )
                ],
            )
        ],
    )


def _mentions(settings: SlackSettings, notification: Notification) -> list[str]:
    people = list(settings.mentions)
    if notification.kind == "escalation":
        people += [m for m in settings.escalation_mentions if m not in people]
    return people


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except MissingContextError:
        return get_logger("smoke.slack")
