"""Playwright for the browser checks: one browser per gate run, one context per journey.

The gate opens ``shared_browser()`` around its journeys; a journey run on its own gets
a browser of its own. The browser starts lazily, so a run without browser checks never
pays for it. Every browser check runs in ``traced_page``, which keeps a screenshot and a
Playwright trace as evidence when the check fails, and nothing when it passes.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from smoke import origins
from smoke.browser import launch_options, remove_artifacts_dir, video_available
from smoke.errors import ConfigError
from smoke.outcomes import CheckFailed
from smoke.results import Evidence
from smoke.retry import (
    REQUEST_BACKOFF_S,
    REQUEST_RETRIES,
    TRANSIENT_STATUS,
    TransientError,
    repeat_request,
)
from smoke.scrub import scrubber
from tasks.progress import note_recovered, running_attempt, running_check

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Playwright

    from smoke.config import SmokeConfig


class TracedJourney(Protocol):
    """What ``traced_page`` needs of a journey (its context, without importing it)."""

    journey: str
    config: SmokeConfig
    evidence_dir: Path
    evidence: dict[str, list[Evidence]]

    async def browser_context(self) -> BrowserContext: ...


# Playwright's default of 30 s per action would let one broken page eat the gate's budget;
# 15 s still leaves a page that a busy runner renders slowly room to answer.
ACTION_TIMEOUT_MS = 15_000
# One attempt of a browser check, from its new page to closing it; a retry follows. This
# only turns a hang (a call no action timeout covers) into a clear error: on a busy
# 2-core runner a healthy attempt that starts Chromium took more than 25 s.
BROWSER_CHECK_TIMEOUT_S = 60.0
CLOSE_TIMEOUT_S = 10.0


class LazyBrowser:
    """A Chromium launched on first use and closed with its owner."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._options: dict[str, Any] = {}

    async def get(self, start_timeout_s: float) -> Browser:
        """The browser, launching it the first time (a busy machine may take a while)."""
        async with self._lock:
            if self._browser is None:
                from playwright.async_api import async_playwright

                self._playwright = await async_playwright().start()
                self._options = launch_options()
                self._browser = await self._playwright.chromium.launch(
                    **self._options, timeout=start_timeout_s * 1000
                )
            return self._browser

    async def close(self) -> None:
        """Close the browser and stop Playwright, if they were started."""
        if self._browser is not None:
            await self._browser.close()
            self._browser = None
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None
        remove_artifacts_dir(self._options)


_current: ContextVar[LazyBrowser | None] = ContextVar("smoke_browser", default=None)


@asynccontextmanager
async def shared_browser() -> AsyncIterator[LazyBrowser]:
    """One browser for every journey started inside the block (the gate's run).

    Inside another ``shared_browser`` block (several gates in one process) the outer
    browser is reused: contexts keep the journeys apart, one Chromium serves them all.
    """
    outer = _current.get()
    if outer is not None:
        yield outer
        return
    lazy = LazyBrowser()
    token = _current.set(lazy)
    try:
        yield lazy
    finally:
        _current.reset(token)
        await lazy.close()


@asynccontextmanager
async def browser_for_journey() -> AsyncIterator[None]:
    """Use the gate's browser when there is one, else a browser of the journey's own."""
    if _current.get() is not None:
        yield
        return
    async with shared_browser():
        yield


async def new_context(
    base_url: str, start_timeout_s: float, *, video_dir: Path | None = None
) -> BrowserContext:
    """A fresh, traced browser context on the current browser (recording video to ``video_dir``)."""
    lazy = _current.get()
    if lazy is None:
        raise RuntimeError("no browser: open the journey with open_journey()")
    browser = await lazy.get(start_timeout_s)
    options: dict[str, Any] = {"base_url": base_url, "ignore_https_errors": False}
    if video_dir is not None:
        options["record_video_dir"] = str(video_dir)
    context = await browser.new_context(**options)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    # Screenshots in traces would capture typed card numbers; DOM snapshots are
    # scrubbed with the rest of the trace.
    await context.tracing.start(screenshots=False, snapshots=True, sources=False)
    return context


async def close_context(context: BrowserContext) -> None:
    """Stop tracing and close the context; a stuck close gives up (the browser closes later)."""
    with suppress(TimeoutError):
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            try:
                await context.tracing.stop()
            finally:
                await context.close()


@asynccontextmanager
async def traced_page(ctx: TracedJourney, *, mask: Sequence[str] = ()) -> AsyncIterator[Page]:
    """A new page for one browser check; on failure, keep a screenshot and the trace.

    ``mask`` lists selectors blacked out in the screenshot (card fields). Cookies are
    cleared afterwards so the next check of the journey starts signed out. A retry
    (attempt 2 and up) runs in a context of its own that records video, kept when the
    retry fails too; ``mask``'s fields are drawn with transparent text in it.
    """
    check = running_check() or "browser"
    recording = running_attempt() > 1 and video_available()
    # Chromium's start is bounded on its own (SMOKE_START_TIMEOUT_S): on a busy machine it
    # can take longer than a whole check, and slow is not broken.
    async with asyncio.timeout(ctx.config.start_timeout_s):
        if recording:
            context = await recording_context(ctx, check, mask)
        else:
            context = await ctx.browser_context()
    try:
        # Playwright's own timeouts bound each action, not the calls between them
        # (tracing, a new page, an evaluate): a stuck one must not eat the deadline.
        async with asyncio.timeout(BROWSER_CHECK_TIMEOUT_S):
            await context.tracing.start_chunk(title=f"{ctx.journey}.{check}")
            page = await context.new_page()
            watch = PageWatch(page)
            failed = False
            try:
                yield page
            except BaseException as e:
                failed = True
                ctx.evidence[check] = await _keep_evidence(ctx, check, context, page, mask)
                if isinstance(e, CheckFailed) and watch.transient:
                    # The page got 429/5xx answers on the way: judge it on a retry, not
                    # now (a lasting fault still fails once the retries are used up).
                    raise TransientError(
                        f"{e.message} (the page saw {', '.join(watch.transient[:3])})",
                        expected=e.expected,
                        actual=e.actual,
                    ) from e
                raise
            else:
                await context.tracing.stop_chunk()
                for seen in watch.transient:
                    note_recovered(f"page request {seen}")
            finally:
                await page.close()
                if recording:
                    if failed:
                        ctx.evidence.setdefault(check, []).extend(
                            await _keep_video(ctx, check, page)
                        )
                    await _drop_context(page, context, _video_folder(ctx, check))
                else:
                    await context.clear_cookies()
    except TimeoutError:
        raise TransientError(
            f"the browser check did not finish within {BROWSER_CHECK_TIMEOUT_S:g} s",
            expected=f"done within {BROWSER_CHECK_TIMEOUT_S:g} s",
            actual="still waiting on the browser",
        ) from None


async def recording_context(ctx: TracedJourney, check: str, mask: Sequence[str]) -> BrowserContext:
    """A context of the retry's own that records video, with ``mask``'s text invisible.

    Video cannot be scrubbed or masked afterwards like a screenshot, so the masked fields
    (card number, expiry, CVC) draw their text transparent in every frame from the start.
    """
    folder = _video_folder(ctx, check)
    folder.mkdir(parents=True, exist_ok=True)
    context = await new_context(ctx.config.base_url, ctx.config.start_timeout_s, video_dir=folder)
    if mask:
        await context.add_init_script(hidden_text_script(mask))
    return context


def hidden_text_script(selectors: Sequence[str]) -> str:
    """A page script that draws the text of ``selectors`` transparent (still fillable)."""
    return f"""(() => {{
  const css = {json.dumps(", ".join(selectors))} +
    " {{ color: transparent !important; text-shadow: none !important;" +
    " caret-color: transparent !important; }}";
  const add = () => {{
    const style = document.createElement("style");
    style.textContent = css;
    (document.head || document.documentElement).appendChild(style);
  }};
  if (document.documentElement) add();
  else document.addEventListener("DOMContentLoaded", add);
}})();"""


async def _keep_video(ctx: TracedJourney, check: str, page: Page) -> list[Evidence]:
    path = ctx.evidence_dir / f"{ctx.journey}.{check}.retry.webm"
    try:
        if page.video is None:
            return []
        await page.video.save_as(str(path))
    except Exception:  # evidence is best effort: a dying page may raise anything  # noqa: BLE001
        return []
    label = f"{ctx.journey}.{check} video of the retry"
    return [Evidence(kind="video", label=label, path=str(path))]


def _video_folder(ctx: TracedJourney, check: str) -> Path:
    return ctx.evidence_dir / f".video-{check}"


async def _drop_context(page: Page, context: BrowserContext, folder: Path) -> None:
    """Close a retry's own context and remove its raw video (a kept one was copied)."""
    with suppress(Exception):  # best effort: the check's outcome is already decided
        if page.video is not None:
            await page.video.delete()
    await close_context(context)
    shutil.rmtree(folder, ignore_errors=True)


async def _keep_evidence(
    ctx: TracedJourney, check: str, context: BrowserContext, page: Page, mask: Sequence[str]
) -> list[Evidence]:
    folder = ctx.evidence_dir
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{ctx.journey}.{check}"
    shot, trace = folder / f"{stem}.png", folder / f"{stem}.trace.zip"
    kept: list[Evidence] = []
    try:
        await page.screenshot(
            path=str(shot),
            full_page=True,
            mask=[page.locator(s) for s in mask],
            timeout=ACTION_TIMEOUT_MS,
        )
        kept.append(Evidence(kind="screenshot", label=f"{stem} screenshot", path=str(shot)))
    except Exception:  # evidence is best effort: a dying page may raise anything  # noqa: BLE001
        pass
    try:
        await context.tracing.stop_chunk(path=str(trace))
        scrubber.file(Path(trace))
        kept.append(
            Evidence(
                kind="trace", label=f"{stem} trace (npx playwright show-trace)", path=str(trace)
            )
        )
    except Exception:  # evidence is best effort: a dying page may raise anything  # noqa: BLE001
        pass
    return kept


async def appeared(page: Page, selector: str, timeout_ms: int) -> bool:
    """True when ``selector`` is attached within ``timeout_ms``; False instead of a timeout."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    try:
        await page.wait_for_selector(selector, state="attached", timeout=timeout_ms)
    except PlaywrightTimeout:
        return False
    return True


async def settle(page: Page, timeout_ms: int = 3000) -> None:
    """Wait for the network to go quiet, so late errors and requests are seen."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    with suppress(PlaywrightTimeout):
        await page.wait_for_load_state("networkidle", timeout=timeout_ms)


_TRANSIENT_CONSOLE = re.compile(
    r"Failed to load resource: the server responded with a status of (429|502|503|504)\b"
)


class PageWatch:
    """Console errors, page errors and failed requests seen by a page.

    Responses with a transient status (429/502/503/504) and the console lines Chromium
    logs for them are kept apart: a page that retried them and rendered has recovered.
    """

    def __init__(self, page: Page) -> None:
        self.console_errors: list[str] = []
        self.failed_requests: list[str] = []
        self.transient: list[str] = []
        self._aborted: set[str] = set()
        page.on("console", self._on_console)
        page.on("pageerror", lambda err: self.console_errors.append(f"uncaught: {err}"))
        page.on("requestfailed", self._on_request_failed)
        page.on("response", self._on_response)

    def _on_console(self, msg: Any) -> None:
        if msg.type != "error":
            return
        if _TRANSIENT_CONSOLE.search(str(msg.text)):
            return
        self.console_errors.append(str(msg.text))

    def _on_request_failed(self, request: Any) -> None:
        where = f"{request.method} {_path(request.url)}"
        if where in self._aborted:
            return  # already counted by its error status
        self.failed_requests.append(f"{where} ({request.failure})")

    def _on_response(self, response: Any) -> None:
        where = f"{response.request.method} {_path(response.url)}"
        if response.status in TRANSIENT_STATUS:
            self.transient.append(f"{where} -> {response.status}")
        elif response.status >= 400:
            self._aborted.add(where)
            self.failed_requests.append(f"{where} -> {response.status}")


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def require_own_page(ctx: TracedJourney, page: Page, what: str) -> None:
    """Refuse to type a credential into a page outside the environment's origins.

    A browser follows redirects wherever they lead; a login form that ends up on
    another origin (not listed in allowed_origins) never gets the test password.
    """
    allowed = origins.allowed_origins(ctx.config)
    if not origins.may_send_credentials(page.url, allowed):
        where = origins.redact(page.url).split("?")[0]
        raise ConfigError(
            f"Refusing {what}: the page is at {where}, which is not one of environment "
            f"{ctx.config.name!r}'s origins ({', '.join(sorted(allowed))}). If that origin "
            f"is the product's own sign-in, list it in {origins.ALLOWED_ORIGINS_SETTING}."
        )


async def api_get(page: Page, path: str) -> tuple[int, Any]:
    """GET ``path`` with the page's cookies; repeats a transient answer like ``tasks.exchange``.

    ``path`` is relative to the base URL, and a redirect is answered, not followed: the
    page's cookies go to the environment only.
    """
    if origins.is_absolute(path):
        raise ConfigError(
            f"api_get takes a path relative to base_url, not {origins.redact(path)!r}"
        )
    for attempt in range(REQUEST_RETRIES + 1):
        response = await page.request.get(path, max_redirects=0)
        if attempt == REQUEST_RETRIES or not repeat_request("GET", response.status):
            break
        note_recovered(f"GET {path} -> {response.status}")
        await asyncio.sleep(REQUEST_BACKOFF_S * 2**attempt)
    if repeat_request("GET", response.status):
        # Still a transient answer: the whole check is retried, never judged on it.
        raise TransientError(f"GET {path} answered {response.status} after repeats")
    try:
        body = await response.json()
    except Exception:  # a body that is not JSON is judged as no body  # noqa: BLE001
        body = None
    return response.status, body


async def add_virtual_authenticator(page: Page) -> str:
    """Attach a CDP virtual WebAuthn authenticator (a platform passkey) to ``page``."""
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("WebAuthn.enable", {"enableUI": False})
    reply = await cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return str(reply["authenticatorId"])
