"""tasks.http and tasks.exchange on an httpx.MockTransport: what goes out, how answers are judged.

The journey context takes the transport in place of the network, so these run in
milliseconds with no server and no Prefect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from pydantic import SecretStr

from smoke.config import SmokeConfig
from smoke.errors import ConfigError
from smoke.outcomes import CheckFailed, CheckSkipped
from smoke.retry import REQUEST_BACKOFF_S, TransientError
from smoke.spec import AuthSpec, Request, load_spec
from tasks import exchange, http, progress
from tasks.journey import JourneyContext
from tasks.wire import Reply

T = TypeVar("T")
Handler = Callable[[httpx.Request], httpx.Response]
Ctx = JourneyContext[AuthSpec]
TOKEN = "token-of-the-test-identity"
E2E = "e2e-secret"
CONFIG = SmokeConfig(
    name="staging",
    base_url="https://app.example",
    test_email="smoke@example.test",
    test_password=SecretStr("pw"),
    e2e_token=SecretStr(E2E),
)


class Wire:
    """A MockTransport handler that records every request; the login always succeeds."""

    def __init__(self, answer: Handler) -> None:
        self.seen: list[httpx.Request] = []
        self._answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.path == "/idp/token":
            return httpx.Response(200, json={"access_token": TOKEN, "token_type": "bearer"})
        return self._answer(request)

    def calls(self, path: str) -> list[httpx.Request]:
        return [r for r in self.seen if r.url.path == path]


def run(
    answer: Handler, body: Callable[[Ctx], Awaitable[T]], config: SmokeConfig = CONFIG
) -> tuple[T, Wire]:
    """Run ``body`` as the check ``probe`` with a journey context whose network is ``answer``."""
    wire = Wire(answer)
    suite = load_spec()

    async def main() -> T:
        transport = httpx.MockTransport(wire)
        ctx = JourneyContext(
            "auth", config, suite, Path("/nonexistent"), suite.auth, "run1", transport
        )
        try:
            with progress.running("probe"):
                return await body(ctx)
        finally:
            await ctx.aclose()

    return asyncio.run(main()), wire


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"items": [], "path": request.url.path})


def test_a_request_goes_out_with_placeholders_filled_and_the_identitys_token() -> None:
    req = Request(
        path="/api/tenants/{{saved.tenant}}",
        params={"run": "{{run_id}}"},
        headers={"X-Trace": "smoke-{{run_id}}"},
    )

    async def body(ctx: Ctx) -> Reply:
        ctx.variables["saved"]["tenant"] = "t-42"
        reply = await http.send(ctx, req, auth="test")
        assert ("test", "GET", "/api/tenants/t-42") in ctx.authenticated
        return reply

    reply, wire = run(ok, body)
    [sent] = wire.calls("/api/tenants/t-42")
    assert reply.status == 200
    assert reply.body == {"items": [], "path": "/api/tenants/t-42"}
    assert sent.url.params["run"] == "run1"
    assert sent.headers["X-Trace"] == "smoke-run1"
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["User-Agent"].startswith("smoke-flows/")
    assert "X-E2E-Test-Token" not in sent.headers
    [login] = wire.calls("/idp/token")
    assert b"username=smoke%40example.test" in login.content


def test_an_anonymous_request_carries_no_credential_even_after_a_cookie_was_set() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={}, headers={"Set-Cookie": "session=abc; Path=/"})

    async def body(ctx: Ctx) -> list[str]:
        await http.send(ctx, Request(path="/api/me"), auth="test")
        await http.send(ctx, Request(path="/api/me"), auth="none")
        return [who for who, _, _ in ctx.authenticated]

    kept, wire = run(answer, body)
    signed_in, anonymous = wire.calls("/api/me")
    assert kept == ["test"]
    assert "Authorization" in signed_in.headers
    assert "Authorization" not in anonymous.headers
    assert "Cookie" not in anonymous.headers


def test_the_e2e_token_rides_only_on_e2e_requests() -> None:
    async def body(ctx: Ctx) -> None:
        await http.send(ctx, Request(path="/e2e/status", e2e=True))
        await http.send(ctx, Request(path="/api/plain"))

    _, wire = run(ok, body)
    assert wire.calls("/e2e/status")[0].headers["X-E2E-Test-Token"] == E2E
    assert "X-E2E-Test-Token" not in wire.calls("/api/plain")[0].headers


def test_an_e2e_request_without_a_configured_token_is_skipped_as_configuration() -> None:
    config = CONFIG.model_copy(update={"e2e_token": None})

    async def body(ctx: Ctx) -> None:
        await http.send(ctx, Request(path="/e2e/status", e2e=True))

    with pytest.raises(CheckSkipped, match="SMOKE_E2E_TOKEN") as skipped:
        run(ok, body, config)
    assert skipped.value.kind == "configuration"


def test_a_placeholder_that_becomes_a_foreign_url_is_refused_before_sending() -> None:
    wire = Wire(ok)

    def record(request: httpx.Request) -> httpx.Response:
        return wire(request)

    async def body(ctx: Ctx) -> None:
        ctx.variables["saved"]["next"] = "https://evil.example/steal"
        await http.send(ctx, Request(path="{{saved.next}}"), auth="test")

    with pytest.raises(ConfigError, match=r"evil\.example.*not one of environment 'staging'"):
        run(record, body)
    assert wire.calls("/steal") == []


def in_turn(statuses: list[int]) -> Handler:
    """Answer with each status in turn, then 200."""
    left = list(statuses)

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(left.pop(0) if left else 200, json={"ok": True})

    return answer


def test_a_get_is_repeated_on_a_transient_answer_and_reads_flaky(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The pauses between repeats are recorded, not slept: nothing else in this test waits.
    pauses: list[float] = []
    real_sleep = asyncio.sleep

    async def pause(seconds: float) -> None:
        pauses.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(exchange.asyncio, "sleep", pause)

    async def body(ctx: Ctx) -> tuple[Reply, list[str]]:
        with progress.running("probe") as recovered:
            reply = await http.send(ctx, Request(path="/api/feed"))
        return reply, recovered

    (reply, recovered), wire = run(in_turn([503, 502]), body)
    assert reply.status == 200
    assert len(wire.calls("/api/feed")) == 3
    assert recovered == ["GET /api/feed -> 503", "GET /api/feed -> 502"]
    assert pauses == [REQUEST_BACKOFF_S, 2 * REQUEST_BACKOFF_S]


def test_a_post_is_not_repeated_after_a_502_and_its_answer_is_kept_as_evidence() -> None:
    labels: list[str] = []

    async def body(ctx: Ctx) -> None:
        try:
            await http.send(ctx, Request(method="POST", path="/api/signup", body={"a": 1}))
        finally:
            labels.extend(e.label or "" for e in ctx.evidence.get("probe", []))

    with pytest.raises(TransientError, match="POST /api/signup answered 502"):
        run(in_turn([502]), body)
    assert labels == ["POST /api/signup -> 502"]


def test_a_transient_status_the_contract_expects_is_an_answer_not_repeated() -> None:
    async def body(ctx: Ctx) -> Reply:
        return await http.send(ctx, Request(path="/health", expect_status=[200, 503]))

    reply, wire = run(in_turn([503]), body)
    assert reply.status == 503
    assert len(wire.calls("/health")) == 1


def test_expect_names_the_status_and_leads_a_contract_break_with_its_rule() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": {"a": 1}})

    async def body(ctx: Ctx) -> Reply:
        return await http.send(ctx, Request(path="/api/list"))

    reply, _ = run(answer, body)
    exchange.expect(reply, Request(path="/api/list"), "list")  # the status, no contract: fine
    with pytest.raises(CheckFailed) as wrong_status:
        exchange.expect(reply, Request(path="/api/list", expect_status=[201]), "list")
    assert wrong_status.value.expected == "status 201"
    assert wrong_status.value.actual.startswith("status 200: ")
    contract = Request.model_validate(
        {"path": "/api/list", "schema": {"properties": {"data": {"type": "array"}}}}
    )
    with pytest.raises(CheckFailed) as broken:
        exchange.expect(reply, contract, "list")
    assert str(broken.value).startswith("list: $.data is not of type 'array'")
