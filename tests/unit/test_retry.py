from __future__ import annotations

import httpx
import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import TimeoutError as SyncPlaywrightTimeout

from smoke.retry import (
    BACKOFF_FACTOR_S,
    RETRIES,
    TransientError,
    backoff_delays,
    is_transient,
    is_transient_status,
)

REQUEST = httpx.Request("GET", "https://staging.example.com/api/dashboard/feed")


def status_error(code: int) -> httpx.HTTPStatusError:
    response = httpx.Response(code, request=REQUEST)
    return httpx.HTTPStatusError(f"{code}", request=REQUEST, response=response)


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("connection refused", request=REQUEST),
        httpx.ConnectTimeout("connect timeout", request=REQUEST),
        httpx.ReadTimeout("read timeout", request=REQUEST),
        httpx.WriteTimeout("write timeout", request=REQUEST),
        httpx.PoolTimeout("pool timeout", request=REQUEST),
        httpx.ReadError("connection reset", request=REQUEST),
        httpx.RemoteProtocolError("server disconnected", request=REQUEST),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transport_faults_are_transient(exc: Exception) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        # The request itself is wrong: every attempt fails the same way.
        httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'."),
        httpx.LocalProtocolError("illegal header", request=REQUEST),
        httpx.TooManyRedirects("redirect loop", request=REQUEST),
        httpx.DecodingError("bad gzip", request=REQUEST),
        ValueError("contract violation"),
        KeyError("access_token"),
        AssertionError("expected 200"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_deterministic_failures_are_not_transient(exc: Exception) -> None:
    assert not is_transient(exc)


@pytest.mark.parametrize("code", [429, 502, 503, 504])
def test_transient_status_codes(code: int) -> None:
    assert is_transient_status(code)
    assert is_transient(status_error(code))


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 422, 500, 501])
def test_deterministic_status_codes(code: int) -> None:
    assert not is_transient_status(code)
    assert not is_transient(status_error(code))


def test_transient_error_carries_expected_and_actual() -> None:
    exc = TransientError("subscription not active yet", expected="active", actual="incomplete")
    assert is_transient(exc)
    assert str(exc) == "subscription not active yet"
    assert (exc.message, exc.expected, exc.actual) == (
        "subscription not active yet",
        "active",
        "incomplete",
    )


def test_playwright_timeout_is_transient_but_other_playwright_errors_are_not() -> None:
    assert is_transient(PlaywrightTimeout("Timeout 5000ms exceeded."))
    assert is_transient(SyncPlaywrightTimeout("Timeout 5000ms exceeded."))
    assert not is_transient(PlaywrightError("Element is not attached to the DOM"))


def test_backoff_delays_double() -> None:
    assert backoff_delays() == [BACKOFF_FACTOR_S * 2**i for i in range(RETRIES)]
    assert backoff_delays() == pytest.approx([0.2, 0.4, 0.8])
    assert backoff_delays(4, 1.5) == [1.5, 3.0, 6.0, 12.0]
    assert backoff_delays(0) == []


@pytest.mark.parametrize(
    ("message", "transient"),
    [
        ("APIRequestContext.get: socket hang up (ECONNRESET)", True),
        ("Page.goto: net::ERR_CONNECTION_RESET at http://localhost:1/app", True),
        ("Page.goto: net::ERR_EMPTY_RESPONSE at http://localhost:1/app", True),
        # A page or a selector that is wrong fails every attempt the same way.
        ("Page.click: Unknown engine 'css2' while parsing selector css2=x", False),
        ("Page.goto: net::ERR_NAME_NOT_RESOLVED at http://nowhere.invalid/", False),
    ],
)
def test_a_playwright_error_is_transient_only_when_the_connection_was_lost(
    message: str, transient: bool
) -> None:
    from playwright.async_api import Error as PlaywrightError

    assert is_transient(PlaywrightError(message)) is transient
