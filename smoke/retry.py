"""Which failures are worth retrying, and how long to wait between attempts.

Only transient faults are retried: connection errors, 429/502/503/504 and timeouts.
A deterministic failure (a wrong status, a contract violation) is returned as a failed
check at once: retrying it would hide nothing and cost time.
"""

from __future__ import annotations

import httpx

TRANSIENT_STATUS = frozenset({429, 502, 503, 504})

# Small, doubling delays: a transient fault of a healthy target clears in well under a
# second, and the gate has a wall-time budget of a few seconds.
RETRIES = 3
BACKOFF_FACTOR_S = 0.2
# One request answered 429/5xx is repeated at once (twice, 0.1 s then 0.2 s) before the
# whole check is retried: a check that makes several requests would otherwise almost
# never get through a target that fails one request in three.
REQUEST_RETRIES = 2
REQUEST_BACKOFF_S = 0.1


class TransientError(Exception):
    """A failure that may clear on its own; raising it asks Prefect to retry the task."""

    def __init__(
        self, message: str, *, expected: str = "", actual: str = "", unreachable: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.actual = actual
        # Nothing accepted the connection at all (most often a wrong URL, not a broken app).
        self.unreachable = unreachable


def is_transient_status(status_code: int) -> bool:
    """429, 502, 503 and 504 are worth another attempt."""
    return status_code in TRANSIENT_STATUS


def repeat_request(method: str, status: int, expected: list[int] | tuple[int, ...] = ()) -> bool:
    """Worth repeating this one request at once? A transient status, and safe to repeat.

    A POST is repeated only on 429/503, which say the request was not processed; after
    a 502/504 it may have been, and a second signup would be a different failure.
    """
    if status in expected or not is_transient_status(status):
        return False
    return method.upper() in ("GET", "HEAD", "PUT", "DELETE") or status in (429, 503)


def is_transient(exc: BaseException) -> bool:
    """True for exceptions a retry may cure."""
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        # Transport errors raised before anything is sent: the URL or the request we
        # built is wrong, and every attempt would fail the same way.
        return False
    if isinstance(exc, httpx.TransportError):
        # Connect/read/write/pool errors and timeouts, protocol errors mid-response.
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        return is_transient_status(exc.response.status_code)
    return _is_playwright_transient(exc)


# Playwright's words for a connection the server dropped: a keep-alive connection closed
# just as a request went out on it, or a reset on a busy machine. Like httpx's read and
# connect errors, a retry may cure it (a busy CI runner hit it in `APIRequestContext.get`).
LOST_CONNECTION = (
    "ECONNRESET",
    "socket hang up",
    "EPIPE",
    "net::ERR_CONNECTION_RESET",
    "net::ERR_CONNECTION_CLOSED",
    "net::ERR_EMPTY_RESPONSE",
)


def _is_playwright_transient(exc: BaseException) -> bool:
    """A Playwright timeout, or a Playwright error that says the connection was lost."""
    try:
        from playwright.async_api import Error as PlaywrightError
        from playwright.async_api import TimeoutError as PlaywrightTimeout
    except ImportError:  # pragma: no cover - playwright is a dependency
        return False
    if isinstance(exc, PlaywrightTimeout):
        return True
    return isinstance(exc, PlaywrightError) and any(w in str(exc) for w in LOST_CONNECTION)


def backoff_delays(retries: int = RETRIES, factor: float = BACKOFF_FACTOR_S) -> list[float]:
    """Exponential delays: factor, 2·factor, 4·factor, …"""
    return [factor * 2**i for i in range(retries)]
