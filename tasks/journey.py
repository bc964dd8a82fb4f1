"""One journey's run-time state: its configuration, its httpx client, its browser context.

Every journey opens exactly one ``JourneyContext`` (``tasks.context.open_journey``): one
HTTP client (connection reuse, one place for timeouts and headers) and, when it has
browser checks, one browser context from the gate's shared browser. Prefect-free, so the
request helpers can be unit-tested with an ``httpx.MockTransport``.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx

from smoke.config import SmokeConfig
from smoke.results import CheckResult, Evidence, SkipKind, Status
from smoke.scrub import scrub
from smoke.spec import CheckOptions, JourneyBase, SuiteSpec
from tasks import browser, progress

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext

    from tasks.wire import Credentials, ProbeTarget

USER_AGENT = "smoke-flows/0.1 (+release gate)"

SpecT = TypeVar("SpecT", bound=JourneyBase)


class JourneyContext(Generic[SpecT]):
    """Configuration, clients and collected results of one journey run.

    ``spec`` is the journey's own part of the contract, typed: ``JourneyContext[AuthSpec]``.
    ``transport`` replaces the network under test (``httpx.MockTransport``).
    """

    def __init__(
        self,
        journey: str,
        config: SmokeConfig,
        suite: SuiteSpec,
        evidence_dir: Path,
        spec: SpecT,
        run_id: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.journey = journey
        self.config = config
        self.suite = suite
        self.spec: SpecT = spec
        self.evidence_dir = evidence_dir
        self.http = httpx.AsyncClient(
            base_url=config.api_base,
            timeout=config.http_timeout_s,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            # The client keeps no cookies: a session set for one identity must never ride
            # along on an anonymous request (credentials are sent explicitly, per request).
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            # None: httpx's own network transport; tests pass an httpx.MockTransport.
            transport=transport,
        )
        self.results: list[CheckResult] = []
        # Each check's result as its task returned it, by name (see ``tasks.checks``).
        self.finished: dict[str, CheckResult] = {}
        self.evidence: dict[str, list[Evidence]] = {}
        # What a check learnt that a later check of the journey judges (the preview URL
        # the product handed out), kept apart from the placeholders.
        self.learnt: dict[str, Any] = {}
        self.variables: dict[str, Any] = {
            "test_email": config.test_email,
            "other_email": config.other_email,
            "run_id": run_id or secrets.token_hex(4),
            "unique": lambda: secrets.token_hex(6),
            # {{saved.<name>}}: what earlier requests of this journey saved.
            "saved": {},
        }
        self.credentials: dict[str, Credentials] = {}
        self.signin_failures: dict[str, str] = {}
        # Requests an identity got a 2xx for: the refusal checks replay them.
        self.authenticated: dict[tuple[str, str, str], ProbeTarget] = {}
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
        skipped_because: SkipKind | None = None,
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
            skipped_because=skipped_because if status is Status.SKIPPED else None,
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
        progress.announce(result)

    def keep_evidence(self, evidence: Evidence) -> None:
        """File evidence under the running check: kept even when it gives up on transient faults."""
        name = progress.running_check()
        if name is not None:
            self.evidence.setdefault(name, []).append(evidence)

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
