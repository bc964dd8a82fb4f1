"""One sandbox for the whole session, over real HTTP; faults toggled at runtime.

The credentials carry unique markers so tests can prove no secret value leaks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import httpx
import pytest
from sandbox_test_helpers import (
    CREDENTIALS,
    E2E_HEADER,
    PageWatch,
    WaitOnRateLimit,
    password_token,
)

from sandbox import RunningSandbox, SandboxCredentials, start_sandbox

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Error, Request, Response


@pytest.fixture(scope="package")
def sandbox() -> Iterator[RunningSandbox]:
    # A generous timeout: a busy CI box must not error every test; the 5 s promise is
    # asserted on its own in test_sandbox_lifecycle.
    with start_sandbox(credentials=CREDENTIALS, version="2.3.4") as running:
        yield running


@pytest.fixture(scope="package")
def creds() -> SandboxCredentials:
    return CREDENTIALS


@pytest.fixture
def client(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    """A fresh client (own cookie jar) on the browser-facing base URL."""
    with httpx.Client(base_url=sandbox.base_url, timeout=15.0) as http:
        yield http


@pytest.fixture
def e2e(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    """A client that sends the e2e token."""
    with httpx.Client(
        base_url=sandbox.base_url,
        timeout=30.0,
        headers={E2E_HEADER: CREDENTIALS.e2e_token},
        transport=WaitOnRateLimit(),
    ) as http:
        yield http


@pytest.fixture(scope="package")
def test_token(sandbox: RunningSandbox) -> str:
    """An access token of the reserved test identity (tenant acme-test)."""
    return password_token(sandbox.base_url, CREDENTIALS.test_email, CREDENTIALS.test_password)


@pytest.fixture(scope="package")
def other_token(sandbox: RunningSandbox) -> str:
    """An access token of the other tenant's user (globex)."""
    return password_token(sandbox.base_url, CREDENTIALS.other_email, CREDENTIALS.other_password)


@pytest.fixture
def fault(sandbox: RunningSandbox) -> Iterator[Callable[[str], None]]:
    """Turn faults on for one test; they are always turned off afterwards.

    Every toggle in these tests goes through this fixture (or turns its fault back off
    in a ``finally``), so no test sees a fault another one left on.
    """
    enabled: list[str] = []

    def enable(name: str) -> None:
        sandbox.set_fault(name, True)
        enabled.append(name)

    yield enable
    for name in enabled:
        sandbox.set_fault(name, False)


# Module scope: sync Playwright marks the main thread as running an event loop for as
# long as it lives, which would break every asyncio test collected after this folder.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the session (system Chromium or Playwright's own)."""
    from playwright.sync_api import sync_playwright

    from smoke.browser import launch_options, remove_artifacts_dir

    with sync_playwright() as playwright:
        options = launch_options()
        chromium = playwright.chromium.launch(**options)
        yield chromium
        chromium.close()
    remove_artifacts_dir(options)


@pytest.fixture
def watched_page(browser: Browser, sandbox: RunningSandbox) -> Iterator[PageWatch]:
    """A page in a fresh context that records console errors and failed requests."""
    context = browser.new_context(base_url=sandbox.base_url)
    page = context.new_page()
    watch = PageWatch(page)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watch.console_errors.append(message.text)

    def on_response(response: Response) -> None:
        if response.status >= 400:
            watch.failed_requests.append(f"{response.url} answered {response.status}")

    def on_request_failed(request: Request) -> None:
        watch.failed_requests.append(f"{request.url} failed")

    def on_page_error(error: Error) -> None:
        watch.page_errors.append(str(error))

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    page.on("requestfailed", on_request_failed)
    page.on("response", on_response)
    yield watch
    context.close()
