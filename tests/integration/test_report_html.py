"""report.html in a real Chromium: it opens offline and shows a failed check's screenshot.

The page is opened with its Content-Security-Policy bypassed, so a reference to
anything outside the file would be a request the route below sees (and aborts).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from smoke.report import write_outputs
from tests.unit.report_samples import browser_fail_result

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

SHOT_SIZE = (120, 80)


# Module scope: sync Playwright marks the main thread as running an event loop for as
# long as it lives, which would break the asyncio tests collected after this file.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    from smoke.browser import launch_options, remove_artifacts_dir

    with sync_playwright() as playwright:
        options = launch_options()
        chromium = playwright.chromium.launch(**options)
        yield chromium
        chromium.close()
    remove_artifacts_dir(options)


class Offline:
    """A page whose every request outside ``file:`` and ``data:`` is recorded and aborted."""

    def __init__(self, browser: Browser) -> None:
        self.context = browser.new_context(bypass_csp=True)
        self.page: Page = self.context.new_page()
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.route("**/*", self._route)

    def _route(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def open(self, path: Path) -> Page:
        self.page.goto(path.resolve().as_uri(), wait_until="load")
        self.page.wait_for_load_state("networkidle")
        return self.page


def real_screenshot(browser: Browser, path: Path) -> None:
    """A PNG Chromium takes of a small red box: what a failed browser check leaves behind."""
    page = browser.new_page()
    page.set_content('<div style="width:100%;height:100%;background:#cc0000"></div>')
    page.screenshot(path=str(path), clip={"x": 0, "y": 0, "width": SHOT_SIZE[0], "height": 80})
    page.close()


def test_a_page_that_refers_outside_is_caught(browser: Browser, tmp_path: Path) -> None:
    """The positive twin: the check below would see a request the report made."""
    leaky = tmp_path / "leaky.html"
    leaky.write_text(
        '<link rel="stylesheet" href="https://cdn.example.test/a.css">'
        '<img src="http://images.example.test/x.png">'
    )
    offline = Offline(browser)
    offline.open(leaky)
    assert sorted(offline.blocked) == [
        "http://images.example.test/x.png",
        "https://cdn.example.test/a.css",
    ]
    offline.context.close()


def test_report_html_opens_offline_and_shows_the_failed_checks_screenshot(
    browser: Browser, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    real_screenshot(browser, run / "auth.browser_login.png")
    with zipfile.ZipFile(run / "auth.browser_login.trace.zip", "w") as trace:
        trace.writestr("trace.trace", "{}\n")
    (run / "auth.browser_login.response-1.txt").write_text('{"error": "invalid state"}\n')
    report_dir = tmp_path / "smoke-report"
    write_outputs(browser_fail_result(run), json_path=None, junit_path=None, report_dir=report_dir)
    # The report travels alone: nothing beside it may be needed to show it.
    html = report_dir / "report.html"
    alone = tmp_path / "mailed" / "report.html"
    alone.parent.mkdir()
    alone.write_bytes(html.read_bytes())

    offline = Offline(browser)
    page = offline.open(alone)
    page.screenshot(path=str(tmp_path / "report-page.png"), full_page=True)

    assert offline.blocked == []
    assert alone.resolve().as_uri() in offline.requests
    assert all(url.startswith(("file:", "data:")) for url in offline.requests)
    shot = page.locator("#failed article.failed img")
    assert shot.count() == 1
    assert shot.is_visible()
    size = shot.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]")
    assert size == [True, *SHOT_SIZE]
    box = shot.bounding_box()
    assert box is not None
    assert box["width"] > 0
    assert box["height"] > 0
    # What the reader sees in that <img> is the screenshot: the red box, decoded.
    red = shot.evaluate(
        """img => {
            const canvas = document.createElement('canvas');
            canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
            const g = canvas.getContext('2d'); g.drawImage(img, 0, 0);
            return Array.from(g.getImageData(60, 40, 1, 1).data);
        }"""
    )
    assert red == [204, 0, 0, 255]
    # Failed checks come first, with expected vs actual and a trace hint for Python users.
    headings = page.locator("h2").all_inner_texts()
    assert headings[:3] == ["Why", "Failed checks (1)", "Warnings"]
    article = page.locator("#failed article").inner_text()
    assert "back on /app signed in as smoke@example.test" in article
    assert "python -m playwright show-trace evidence/auth.browser_login.trace.zip" in article
    offline.context.close()
