"""Sample gate results for the report tests: a PASS, a FAIL with evidence, an ERROR."""

from __future__ import annotations

from pathlib import Path

from smoke.results import CheckResult, Evidence, GateResult, JourneyResult, Status, Verdict

RUN_ID = "0b7c2e4a-5d1f-4c3e-9a8b-7f6e5d4c3b2a"
RUN_URL = f"http://127.0.0.1:4200/runs/flow-run/{RUN_ID}"


def _check(journey: str, check: str, status: Status, ms: int, **kw: object) -> CheckResult:
    data: dict[str, object] = {
        "journey": journey,
        "check": check,
        "status": status,
        "duration_ms": ms,
    }
    return CheckResult.model_validate(data | kw)


def _preflight() -> JourneyResult:
    return JourneyResult(
        name="preflight",
        duration_ms=41,
        checks=[
            _check("preflight", "health", Status.PASSED, 12),
            _check("preflight", "version", Status.PASSED, 3),
            _check("preflight", "stripe_test_mode", Status.PASSED, 26),
        ],
    )


def pass_result() -> GateResult:
    """PASS with warnings: one flaky check, one slow one, one skipped."""
    return GateResult(
        verdict=Verdict.PASS,
        environment="staging",
        version="1.4.2",
        mode="gate",
        flow_run_id=RUN_ID,
        flow_run_url=RUN_URL,
        duration_s=5.234,
        warnings=[
            "auth.password_login was flaky: passed after 2 attempts",
            "dashboard.alerts was slow: 1320 ms, budget 1000 ms",
        ],
        journeys=[
            _preflight(),
            JourneyResult(
                name="auth",
                duration_ms=812,
                checks=[
                    _check("auth", "anonymous_refused", Status.PASSED, 35),
                    _check(
                        "auth",
                        "password_login",
                        Status.FLAKY,
                        340,
                        attempts=2,
                        message="passed after 2 attempts (first: 503)",
                    ),
                    _check("auth", "me", Status.PASSED, 22),
                ],
            ),
            JourneyResult(
                name="dashboard",
                duration_ms=1500,
                checks=[
                    _check("dashboard", "feed", Status.PASSED, 123),
                    _check(
                        "dashboard",
                        "alerts",
                        Status.DEGRADED,
                        1320,
                        message="1320 ms, budget 1000 ms",
                    ),
                    _check(
                        "dashboard",
                        "ui",
                        Status.SKIPPED,
                        0,
                        blocking=False,
                        message="read-only environment",
                        skipped_because="configuration",
                    ),
                ],
            ),
        ],
    )


def fail_result(evidence_dir: Path) -> GateResult:
    """FAIL: a blocking contract failure with evidence, plus a non-blocking failure."""
    return GateResult(
        verdict=Verdict.FAIL,
        environment="staging",
        version="1.4.3",
        mode="gate",
        flow_run_id=RUN_ID,
        flow_run_url=RUN_URL,
        duration_s=7.05,
        reasons=[
            "dashboard.alerts failed: response does not match its contract",
        ],
        warnings=["billing.cancel_url failed (non-blocking): cancel page did not load"],
        journeys=[
            _preflight(),
            JourneyResult(
                name="billing",
                duration_ms=2100,
                checks=[
                    _check("billing", "checkout_success", Status.PASSED, 1900),
                    _check(
                        "billing",
                        "cancel_url",
                        Status.FAILED,
                        200,
                        blocking=False,
                        expected="back on /app/billing with no plan change",
                        actual="timeout waiting for /app/billing",
                        message="cancel page did not load",
                    ),
                ],
            ),
            JourneyResult(
                name="dashboard",
                duration_ms=300,
                checks=[
                    _check("dashboard", "feed", Status.PASSED, 88),
                    _check(
                        "dashboard",
                        "alerts",
                        Status.FAILED,
                        95,
                        expected="body matches the alerts contract",
                        actual="$.items[0].severity: 3 is not of type 'string'",
                        message="response does not match its contract",
                        evidence=[
                            Evidence(
                                kind="response",
                                label="alerts response",
                                path=str(evidence_dir / "dashboard.alerts.json"),
                                excerpt='{"items":[{"id":"al_1","severity":3}]}',
                            ),
                            Evidence(
                                kind="screenshot",
                                label="dashboard page",
                                path="/var/tmp/elsewhere/alerts page.png",
                            ),
                        ],
                    ),
                ],
            ),
        ],
    )


def error_result() -> GateResult:
    """ERROR: the browser would not start, nothing failed."""
    return GateResult(
        verdict=Verdict.ERROR,
        environment="staging",
        version=None,
        mode="monitor",
        flow_run_id=RUN_ID,
        flow_run_url=RUN_URL,
        duration_s=1.5,
        error_kind="system",
        reasons=["auth.browser_login could not run: Chromium would not start: no display"],
        journeys=[
            _preflight(),
            JourneyResult(
                name="auth",
                checks=[
                    _check("auth", "anonymous_refused", Status.PASSED, 30),
                    _check(
                        "auth",
                        "browser_login",
                        Status.ERROR,
                        5,
                        message="Chromium would not start: no display",
                    ),
                ],
            ),
        ],
    )


def crashed_result() -> GateResult:
    """ERROR before any check ran (a configuration error)."""
    return GateResult(
        verdict=Verdict.ERROR,
        environment="prod",
        error_kind="config",
        reasons=["Refusing to run: the configured Stripe key is a live key."],
    )


def browser_fail_result(evidence_dir: Path) -> GateResult:
    """FAIL in a browser check with a screenshot and a trace, plus a flaky and a slow check."""
    return GateResult(
        verdict=Verdict.FAIL,
        environment="staging",
        version="1.4.4",
        mode="gate",
        flow_run_id=RUN_ID,
        flow_run_url=RUN_URL,
        duration_s=12.5,
        reasons=["auth.browser_login failed: the callback did not return to the app"],
        warnings=[
            "auth.password_login was flaky: passed after 2 attempts",
            "dashboard.feed was slow: 1450 ms, budget 1000 ms",
        ],
        journeys=[
            JourneyResult(
                name="auth",
                duration_ms=9100,
                checks=[
                    _check(
                        "auth",
                        "password_login",
                        Status.FLAKY,
                        410,
                        attempts=2,
                        message="passed after 2 attempts (first: 503)",
                    ),
                    _check(
                        "auth",
                        "browser_login",
                        Status.FAILED,
                        8200,
                        attempts=1,
                        expected="back on /app signed in as smoke@example.test",
                        actual="stuck on /oauth/callback with 'invalid state'",
                        message="the callback did not return to the app",
                        evidence=[
                            Evidence(
                                kind="screenshot",
                                label="auth.browser_login screenshot",
                                path=str(evidence_dir / "auth.browser_login.png"),
                            ),
                            Evidence(
                                kind="trace",
                                label="auth.browser_login trace (npx playwright show-trace)",
                                path=str(evidence_dir / "auth.browser_login.trace.zip"),
                            ),
                            Evidence(
                                kind="response",
                                label="GET /oauth/callback -> 400",
                                path=str(evidence_dir / "auth.browser_login.response-1.txt"),
                                excerpt='{"error": "invalid state"}',
                            ),
                        ],
                    ),
                ],
            ),
            JourneyResult(
                name="dashboard",
                duration_ms=1450,
                checks=[
                    _check(
                        "dashboard",
                        "feed",
                        Status.DEGRADED,
                        1450,
                        message="1450 ms, budget 1000 ms",
                    ),
                ],
            ),
        ],
    )
