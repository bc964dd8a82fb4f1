"""A failed retry of a browser check keeps a video, in real Chromium, with card fields unseen.

The first attempt keeps a screenshot and a trace only; a retry (attempt 2 and up) runs in
a context of its own that records video, kept when it fails and dropped when it passes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from smoke.browser import video_available
from smoke.config import SmokeConfig
from smoke.outcomes import CheckFailed
from smoke.results import Evidence
from tasks import browser, progress

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

CARD = 'input[placeholder="number"]'
FORM = f'<input placeholder="number" style="font-size:32px;width:600px"><p>{"Pay " * 3}</p>'
BASE = "http://127.0.0.1:9"  # nothing listens: the page is served by a route below


async def open_form(page: Page) -> None:
    """Navigate to the checkout form, as a check does (a new document, init scripts run)."""
    await page.route(
        f"{BASE}/checkout", lambda route: route.fulfill(body=FORM, content_type="text/html")
    )
    await page.goto(f"{BASE}/checkout")


@dataclass
class Journey:
    """What ``traced_page`` needs of a journey."""

    evidence_dir: Path
    journey: str = "billing"
    config: SmokeConfig = field(default_factory=lambda: SmokeConfig(base_url=BASE))
    evidence: dict[str, list[Evidence]] = field(default_factory=dict)
    _context: BrowserContext | None = None

    async def browser_context(self) -> BrowserContext:
        if self._context is None:
            self._context = await browser.new_context(self.config.base_url, 60)
        return self._context


@pytest.fixture(autouse=True)
def _ffmpeg() -> None:
    assert video_available(), "no ffmpeg for Playwright's video: run `make install`"


async def attempt(journey: Journey, number: int, *, fail: bool) -> None:
    """One attempt of the check ``card``: fill the card field, then fail or pass."""
    with progress.running("card", number):
        async with browser.traced_page(journey, mask=[CARD]) as page:
            await open_form(page)
            await page.fill(CARD, "4242424242424242")
            await page.wait_for_timeout(300)  # a few frames of the filled field
            if fail:
                raise CheckFailed("the page did not pay", expected="paid", actual="not paid")


def run_attempts(tmp_path: Path, *attempts: tuple[int, bool]) -> Journey:
    journey = Journey(evidence_dir=tmp_path / "evidence")

    async def main() -> None:
        async with browser.shared_browser():
            for number, fail in attempts:
                with pytest.raises(CheckFailed) if fail else _nothing():
                    await attempt(journey, number, fail=fail)
            if journey._context is not None:
                await browser.close_context(journey._context)

    asyncio.run(main())
    return journey


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False


def kinds(journey: Journey) -> list[str]:
    return sorted(e.kind for e in journey.evidence.get("card", []))


def test_a_failed_retry_keeps_a_video_and_the_first_attempt_does_not(tmp_path: Path) -> None:
    first = run_attempts(tmp_path / "first", (1, True))
    assert kinds(first) == ["screenshot", "trace"]
    retried = run_attempts(tmp_path / "retry", (2, True))
    assert kinds(retried) == ["screenshot", "trace", "video"]
    [video] = [e for e in retried.evidence["card"] if e.kind == "video"]
    assert video.path is not None
    data = Path(video.path).read_bytes()
    assert data[:4] == b"\x1a\x45\xdf\xa3", "not a WebM (Matroska) file"
    assert video.label == "billing.card video of the retry"
    # Only the kept copy is left: the raw recording and its folder are gone.
    assert sorted(p.name for p in (tmp_path / "retry" / "evidence").iterdir()) == [
        "billing.card.png",
        "billing.card.retry.webm",
        "billing.card.trace.zip",
    ]


def test_a_retry_that_passes_keeps_no_video(tmp_path: Path) -> None:
    journey = run_attempts(tmp_path, (2, False))
    assert kinds(journey) == []
    folder = tmp_path / "evidence"
    assert not folder.exists() or list(folder.iterdir()) == []


async def field_pixels(context: BrowserContext, text: str) -> bytes:
    page: Page = await context.new_page()
    await open_form(page)
    await page.fill(CARD, text)
    shot = await page.locator(CARD).screenshot()
    await page.close()
    return shot


def test_the_recording_context_draws_card_text_invisible(tmp_path: Path) -> None:
    journey = Journey(evidence_dir=tmp_path)

    async def main() -> tuple[bytes, bytes, bytes, bytes]:
        async with browser.shared_browser():
            plain = await journey.browser_context()
            recording = await browser.recording_context(journey, "card", [CARD])
            try:
                return (
                    await field_pixels(plain, "4242424242424242"),
                    await field_pixels(plain, "5555555555554444"),
                    await field_pixels(recording, "4242424242424242"),
                    await field_pixels(recording, "5555555555554444"),
                )
            finally:
                await browser.close_context(recording)
                await browser.close_context(plain)

    plain_one, plain_other, hidden_one, hidden_other = asyncio.run(main())
    # The comparison can see typed digits: a plain context draws two numbers differently ...
    assert plain_one != plain_other
    # ... and the recording context draws them alike: no digit is visible.
    assert hidden_one == hidden_other
