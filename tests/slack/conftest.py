"""Slack tests: the real slack_sdk clients against a local Slack, once per session.

No developer setting or secret reaches a test (SMOKE_* cleared, empty working folder,
a clean scrubber); the Prefect test harness starts once, for the tests that need the
real Prefect Variable.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from prefect.testing.utilities import prefect_test_harness

from smoke.scrub import scrubber
from tasks.slack import SlackSettings
from tests.support.slack_alerts import BOT_TOKEN, CHANNEL, MemoryAlertStore
from tests.support.slack_server import FakeSlack


@pytest.fixture(scope="package")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _isolated_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("SMOKE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    scrubber.clear()
    yield
    scrubber.clear()


@pytest.fixture(scope="package")
def _slack_server() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture
def slack(_slack_server: FakeSlack) -> Iterator[FakeSlack]:
    """The local Slack, listening, with no recorded requests and no failure mode."""
    _slack_server.start()
    _slack_server.reset()
    yield _slack_server
    _slack_server.start()  # a test that stopped it must not take it down for the next
    _slack_server.reset()


@pytest.fixture
def bot(slack: FakeSlack) -> SlackSettings:
    """Settings for chat.postMessage with a bot token on the local Slack."""
    scrubber.register(BOT_TOKEN)
    return SlackSettings.model_validate(
        {
            "bot_token": BOT_TOKEN,
            "channel": CHANNEL,
            "api_url": slack.api_url,
            "mentions": ["<!subteam^S0RELEASE>"],
            "escalation_mentions": ["<@U0LEAD>"],
        }
    )


@pytest.fixture
def store() -> MemoryAlertStore:
    return MemoryAlertStore()


@pytest.fixture(scope="package")
def prefect_api() -> Iterator[None]:
    """A temporary Prefect server, shared by the package (bounded only against a hang)."""
    with prefect_test_harness(server_startup_timeout=120):
        yield
