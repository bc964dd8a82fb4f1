"""report.html: one self-contained page, failures first, everything escaped and scrubbed."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest

from smoke.report import write_outputs
from smoke.report_html import MAX_EMBEDDED_BYTES, render_html
from smoke.results import CheckResult, Evidence, GateResult, JourneyResult, Status, Verdict
from smoke.scrub import scrubber

from .report_samples import (
    browser_fail_result,
    crashed_result,
    error_result,
    fail_result,
    pass_result,
)

Snapshot = Callable[[str, str], None]

REPORT_DIR = Path("/reports/run-1")
# The smallest valid PNG: one transparent pixel.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
SAMPLES: dict[str, Callable[[], GateResult]] = {
    "pass": pass_result,
    "fail": lambda: fail_result(REPORT_DIR / "evidence"),
    "browser_fail": lambda: browser_fail_result(REPORT_DIR / "evidence"),
    "error": error_result,
    "crashed": crashed_result,
}


class Page(HTMLParser):
    """Tags, attributes and text of a page, and whether it parsed with every tag closed."""

    VOID = frozenset({"meta", "img", "br", "link", "input", "hr"})

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.open: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open, f"</{tag}> closes nothing"
        assert self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def attrs(self, tag: str, name: str) -> list[str]:
        return [a[name] or "" for t, a in self.tags if t == tag and name in a]


@pytest.mark.parametrize("name", SAMPLES)
def test_html_snapshot(name: str, snapshot: Snapshot) -> None:
    # The sample's evidence files do not exist: screenshots are listed, not embedded.
    snapshot(f"report_{name}.html", render_html(SAMPLES[name](), report_dir=REPORT_DIR))


@pytest.mark.parametrize("name", SAMPLES)
def test_every_page_is_well_formed_and_asks_for_nothing_outside(name: str) -> None:
    page = Page(render_html(SAMPLES[name](), report_dir=REPORT_DIR))
    assert page.open == []
    assert not [t for t, _ in page.tags if t in ("script", "link", "iframe", "object")]
    csp = [a for t, a in page.tags if t == "meta" and a.get("http-equiv")]
    assert csp[0]["content"] == "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    assert all(src.startswith("data:") for src in page.attrs("img", "src"))
    # Links: the flow run, evidence inside the report folder, anchors on the page.
    for href in page.attrs("a", "href"):
        assert href.startswith(("http://127.0.0.1:4200/", "evidence/", "/var/tmp/", "#")), href


def test_failed_checks_come_first_with_expected_actual_excerpt_and_trace_hint() -> None:
    text = render_html(SAMPLES["browser_fail"](), report_dir=REPORT_DIR)
    failed, warnings, journeys = (
        text.index(f'<section id="{s}">') for s in ("failed", "warnings", "journeys")
    )
    assert failed < warnings < journeys
    article = text[failed:warnings]
    assert "<th>expected</th><td><pre>back on /app signed in as smoke@example.test</pre>" in article
    assert (
        "<th>actual</th><td><pre>stuck on /oauth/callback with &#x27;invalid state&#x27;</pre>"
        in article
    )
    assert "<pre>{&quot;error&quot;: &quot;invalid state&quot;}</pre>" in article
    assert "npx" not in text
    assert (
        "<code>python -m playwright show-trace evidence/auth.browser_login.trace.zip</code>"
        in article
    )
    assert (
        "<code>.venv/bin/playwright show-trace "
        "/reports/run-1/evidence/auth.browser_login.trace.zip</code>" in article
    )
    assert "not embedded: missing" in article  # the sample's screenshot file does not exist
    assert text.index("auth.password_login") > warnings  # flaky: a warning, not a failure


def test_a_screenshot_is_embedded_as_a_data_uri(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "auth.browser_login.png").write_bytes(PIXEL)
    page = Page(render_html(browser_fail_result(evidence), report_dir=tmp_path))
    [src] = page.attrs("img", "src")
    assert src == "data:image/png;base64," + base64.b64encode(PIXEL).decode()
    assert page.attrs("img", "alt") == ["auth.browser_login screenshot"]


def test_a_screenshot_too_large_to_embed_is_linked(tmp_path: Path) -> None:
    shot = tmp_path / "big.png"
    shot.write_bytes(PIXEL + b"\0" * MAX_EMBEDDED_BYTES)
    result = _one_check(Evidence(kind="screenshot", label="page", path=str(shot)))
    text = render_html(result, report_dir=tmp_path)
    assert "<img" not in text
    assert '<a href="big.png">big.png</a> (not embedded: missing, unreadable or too large)' in text


def test_everything_from_the_product_is_escaped() -> None:
    hostile = '<script>alert("x")</script><img src=http://evil.test/p.png>'
    check = CheckResult(
        journey="auth",
        check=f"me{hostile}",
        status=Status.FAILED,
        expected=hostile,
        actual=hostile,
        message=hostile,
        evidence=[
            Evidence(kind="response", label=hostile, excerpt=hostile),
            Evidence(kind="trace", label="t", path='evidence/a"b <c>.zip'),
        ],
    )
    result = GateResult(
        verdict=Verdict.FAIL,
        environment=hostile,
        version=hostile,
        flow_run_url="javascript:alert(1)",
        flow_run_id="run-1",
        reasons=[hostile],
        warnings=[hostile],
        journeys=[JourneyResult(name=hostile, checks=[check])],
    )
    text = render_html(result)
    page = Page(text)
    assert not [t for t, _ in page.tags if t == "script"]
    assert page.attrs("img", "src") == []
    assert "javascript:" not in text
    assert '<a href="evidence/a%22b%20%3Cc%3E.zip">evidence/a&quot;b &lt;c&gt;.zip</a>' in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text


SECRET = "hunter2-s3cr3t-0042"


def test_no_secret_reaches_the_page(tmp_path: Path) -> None:
    scrubber.register(SECRET)
    shot = tmp_path / "shot.png"
    shot.write_bytes(PIXEL)
    check = CheckResult(
        journey="auth",
        check="me",
        status=Status.FAILED,
        expected=f"identity for {SECRET}",
        actual="Authorization: Bearer abc.def.ghi",
        message=f'{{"token": "{SECRET}"}}',
        evidence=[
            Evidence(kind="response", label=SECRET, excerpt=f"password={SECRET}"),
            Evidence(kind="screenshot", label="page", path=str(shot)),
        ],
    )
    result = GateResult(
        verdict=Verdict.FAIL,
        environment="staging",
        reasons=[SECRET],
        journeys=[JourneyResult(name="auth", checks=[check])],
    )
    text = render_html(result, report_dir=tmp_path)
    assert "s3cr3t" not in text
    assert "abc.def" not in text
    assert "identity for ***" in text
    assert base64.b64encode(PIXEL).decode() in text  # the image itself is left whole


def test_write_outputs_writes_report_html_with_the_scrubbed_screenshot(tmp_path: Path) -> None:
    scrubber.register(SECRET)
    outside = tmp_path / "run"
    outside.mkdir()
    (outside / "shot.png").write_bytes(PIXEL + SECRET.encode())
    result = _one_check(Evidence(kind="screenshot", label="page", path=str(outside / "shot.png")))
    report_dir = tmp_path / "report"

    written = write_outputs(result, json_path=None, junit_path=None, report_dir=report_dir)

    html_path = report_dir / "report.html"
    assert html_path in written
    [src] = Page(html_path.read_text()).attrs("img", "src")
    embedded = base64.b64decode(src.removeprefix("data:image/png;base64,"))
    assert embedded == (report_dir / "evidence" / "shot.png").read_bytes() == PIXEL + b"***"
    md = (report_dir / "report.md").read_text()
    assert "[report.html](report.html)" in md


def test_rendering_is_deterministic() -> None:
    for make in SAMPLES.values():
        assert render_html(make(), report_dir=REPORT_DIR) == render_html(
            make(), report_dir=REPORT_DIR
        )


def test_the_headline_follows_the_exit_code() -> None:
    heads = {
        name: re.search(r"<h1>(.*?)</h1>", render_html(make())).group(1)  # type: ignore[union-attr]
        for name, make in SAMPLES.items()
    }
    assert heads == {
        "pass": "Smoke PASS",
        "fail": "Smoke FAIL: the product is broken",
        "browser_fail": "Smoke FAIL: the product is broken",
        "error": "Smoke ERROR: the smoke system failed",
        "crashed": "Smoke ERROR: configuration error",
    }


def _one_check(evidence: Evidence) -> GateResult:
    check = CheckResult(journey="auth", check="ui", status=Status.FAILED, evidence=[evidence])
    return GateResult(
        verdict=Verdict.FAIL,
        environment="staging",
        journeys=[JourneyResult(name="auth", checks=[check])],
    )


def test_each_evidence_file_links_its_stored_copy() -> None:
    stored = "s3://bucket/smoke/run-1/dashboard.ui.png"
    result = _one_check(
        Evidence(kind="screenshot", label="page", path="evidence/x.png", stored_url=stored)
    )
    page = Page(render_html(result, report_dir=REPORT_DIR))
    assert stored in page.attrs("a", "href")
    assert f"stored copy: {stored}" in "".join(page.text)
