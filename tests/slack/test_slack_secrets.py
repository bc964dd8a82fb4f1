"""A canary: secrets in the configuration and in what checks saw never reach a Slack payload."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from blocks.resolve import forget_local_environment, register_local_environment
from smoke.config import SmokeConfig
from smoke.results import CheckResult, Evidence, GateResult, JourneyResult, Status, Verdict
from tasks.slack import notify, notify_crash
from tests.support.slack_alerts import CHANNEL
from tests.support.slack_server import FakeSlack, RecordedRequest

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("prefect_api")]

CANARY = f"SMOKE-CANARY-{uuid.uuid4().hex[:12]}"
E2E_TOKEN = f"e2e-{CANARY}-token"
PASSWORD = f"pw-{CANARY}-password"
STRIPE_KEY = f"sk_test_{uuid.uuid4().hex}"
BOT_TOKEN = f"xoxb-{uuid.uuid4().hex[:10]}-canarybot"


@pytest.fixture
def secret_environment(slack: FakeSlack) -> Iterator[str]:
    name = f"canary-{uuid.uuid4().hex[:8]}"
    register_local_environment(  # registers every secret value with the scrubber
        SmokeConfig.model_validate(
            {
                "name": name,
                "e2e_token": E2E_TOKEN,
                "test_password": PASSWORD,
                "stripe_secret_key": STRIPE_KEY,
                "slack_token": BOT_TOKEN,
                "slack_channel": CHANNEL,
                "slack_api_url": slack.api_url,
            }
        )
    )
    yield name
    forget_local_environment(name)


def leaky_result(environment: str, verdict: Verdict) -> GateResult:
    """A result whose every text field carries a secret, as a careless check might record."""
    status = Status.FAILED if verdict is Verdict.FAIL else Status.FLAKY
    check = CheckResult(
        journey="auth",
        check="me",
        status=status,
        attempts=2,
        expected=f"X-E2E-Test-Token: {E2E_TOKEN}",
        actual=f'{{"password": "{PASSWORD}", "stripe": "{STRIPE_KEY}"}}',
        message=f"sent Authorization: Bearer {BOT_TOKEN} and got 500 " + "x" * 290 + E2E_TOKEN,
        evidence=[
            Evidence(kind="response", label=f"login {PASSWORD}", excerpt=f"token={E2E_TOKEN}"),
            Evidence(kind="trace", label="trace", path=f"/tmp/{E2E_TOKEN}/trace.zip"),
        ],
    )
    return GateResult(
        verdict=verdict,
        environment=environment,
        version="1.0.0",
        mode="monitor",
        reasons=[f"auth.me failed: {PASSWORD}"],
        warnings=[f"auth.me was flaky with {STRIPE_KEY}"],
        journeys=[JourneyResult(name="auth", checks=[check])],
    )


def assert_clean(requests: list[RecordedRequest]) -> None:
    assert requests
    for request in requests:
        body = request.raw.decode()
        for secret in (CANARY, E2E_TOKEN, PASSWORD, STRIPE_KEY, BOT_TOKEN, "canarybot"):
            assert secret not in body, (secret, request.path)
            assert secret not in request.path
        for name, value in request.headers.items():
            if name == "authorization":
                assert value == f"Bearer {BOT_TOKEN}", "the token goes in the header, only there"
            else:
                assert BOT_TOKEN not in value, name


async def test_no_secret_reaches_any_payload(slack: FakeSlack, secret_environment: str) -> None:
    env = secret_environment
    failed = await notify.fn(leaky_result(env, Verdict.FAIL), env)
    recovered = await notify.fn(leaky_result(env, Verdict.PASS), env)
    assert (failed.kind, recovered.kind) == ("failure", "recovery")
    assert failed.posted
    assert recovered.posted

    crashed_run = SimpleNamespace(id=uuid.uuid4(), parameters={"environment": env})
    crash_state = SimpleNamespace(message=f"crashed while holding {E2E_TOKEN} / {BOT_TOKEN}")
    await notify_crash(None, crashed_run, crash_state)

    assert [r.status for r in slack.requests] == [200, 200, 200]
    assert_clean(slack.requests)
    # The masks show where the secrets were.
    assert "***" in slack.requests[0].raw.decode()


async def test_no_secret_reaches_the_error_either(
    slack: FakeSlack, secret_environment: str
) -> None:
    slack.fail(3)  # the first try and both retries
    outcome = await notify.fn(leaky_result(secret_environment, Verdict.FAIL), secret_environment)
    assert outcome.error is not None
    for secret in (CANARY, BOT_TOKEN, E2E_TOKEN):
        assert secret not in outcome.error
    assert_clean(slack.requests)
