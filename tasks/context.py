"""One journey's run-time state: its configuration, its httpx client, its browser context.

Every journey opens exactly one ``JourneyContext``: one HTTP client (connection reuse,
one place for timeouts and headers) and, when it has browser checks, one browser
context from the gate's shared browser.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from blocks.resolve import evidence_root, resolve_environment, suite_spec
from smoke.config import SmokeConfig
from smoke.results import CheckResult, Evidence, Status
from smoke.scrub import scrub
from smoke.spec import CheckOptions, JourneyBase, SuiteSpec
from tasks import browser, progress
from tasks.checks import announce

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext

USER_AGENT = "smoke-flows/0.1 (+release gate)"


class JourneyContext:
    """Configuration, clients and collected results of one journey run."""

    def __init__(
        self, journey: str, config: SmokeConfig, suite: SuiteSpec, evidence_dir: Path
    ) -> None:
        self.journey = journey
        self.config = config
        self.suite = suite
        # Utility flows (seed) use the context without being a journey of the contract.
        self.spec: JourneyBase = (
            suite.journey(journey) if journey in type(suite).model_fields else JourneyBase()
        )
        self.evidence_dir = evidence_dir
        self.http = httpx.AsyncClient(
            base_url=config.api_base,
            timeout=config.http_timeout_s,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )
        self.results: list[CheckResult] = []
        self.evidence: dict[str, list[Evidence]] = {}
        self.variables: dict[str, Any] = {
            "test_email": config.test_email,
            "other_email": config.other_email,
        }
        self.tokens: dict[str, str] = {}
        self.token_lock = asyncio.Lock()
        self._browser_context: BrowserContext | None = None
        self._started = time.perf_counter()

    def __repr__(self) -> str:
        # Prefect shows task parameters in logs and the UI: never the config's values.
        return f"JourneyContext({self.journey!r}, environment={self.config.name!r})"

    def options(self, check: str) -> CheckOptions:
        """The configured switches of one check of this journey."""
        return self.spec.options(check)

    def result(
        self,
        check: str,
        status: Status,
        attempts: int,
        started: float,
        *,
        expected: str = "",
        actual: str = "",
        message: str = "",
        evidence: list[Evidence] | None = None,
    ) -> CheckResult:
        """A scrubbed CheckResult for ``check``, with the evidence gathered for it."""
        gathered = (evidence or []) + self.evidence.pop(check, [])
        if status in (Status.FAILED, Status.ERROR):
            gathered = [self._as_file(check, i, e) for i, e in enumerate(gathered)]
        return CheckResult(
            journey=self.journey,
            check=check,
            status=status,
            blocking=self.options(check).blocking,
            attempts=attempts,
            duration_ms=int((time.perf_counter() - started) * 1000),
            expected=scrub(expected),
            actual=scrub(actual),
            message=scrub(message),
            evidence=[
                e.model_copy(update={"excerpt": scrub(e.excerpt)}) if e.excerpt else e
                for e in gathered
            ],
        )

    def _as_file(self, check: str, index: int, evidence: Evidence) -> Evidence:
        """Keep a failed check's response excerpt as a file too, so it has a path to open."""
        if evidence.path or not evidence.excerpt:
            return evidence
        self.evidence_dir.mkdir(parents=True, exist_ok=True)
        path = self.evidence_dir / f"{self.journey}.{check}.{evidence.kind}-{index + 1}.txt"
        path.write_text(scrub(f"{evidence.label}\n\n{evidence.excerpt}\n"), encoding="utf-8")
        return evidence.model_copy(update={"path": str(path), "excerpt": scrub(evidence.excerpt)})

    def record(self, result: CheckResult) -> None:
        """Keep a finished check's result and announce it."""
        self.results.append(result)
        announce(result)

    def elapsed_ms(self) -> int:
        """Milliseconds since the journey started."""
        return int((time.perf_counter() - self._started) * 1000)

    async def browser_context(self) -> BrowserContext:
        """This journey's browser context (created on first use, traced)."""
        if self._browser_context is None:
            self._browser_context = await browser.new_context(
                self.config.base_url, self.config.start_timeout_s
            )
        return self._browser_context

    async def aclose(self) -> None:
        """Close the HTTP client and the browser context."""
        await self.http.aclose()
        if self._browser_context is not None:
            await browser.close_context(self._browser_context)
            self._browser_context = None


@asynccontextmanager
async def open_journey(journey: str, environment: str) -> AsyncIterator[JourneyContext]:
    """Resolve the environment and open the journey's clients for the block's duration."""
    config = await resolve_environment(environment)
    suite = suite_spec(config)
    evidence_dir = evidence_root() / run_folder() / journey
    ctx = JourneyContext(journey, config, suite, evidence_dir)
    progress.signal_started()
    async with browser.browser_for_journey():
        try:
            yield ctx
        finally:
            await ctx.aclose()


def run_folder() -> str:
    """The evidence subfolder of this run: the gate's (root) flow run, so journeys share it."""
    from prefect.runtime import flow_run

    try:
        return str(flow_run.get_root_flow_run_id())[:8]
    except Exception:
        return "local"


def skipped_journey(journey: str, why: str) -> list[CheckResult]:
    """The single result of a journey that did not run at all."""
    return [CheckResult(journey=journey, check="journey", status=Status.SKIPPED, message=why)]
