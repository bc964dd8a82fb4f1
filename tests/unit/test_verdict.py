from __future__ import annotations

from typing import Any

import pytest

from smoke.results import CheckResult, Status, Verdict
from smoke.verdict import Decision, decide


def check(name: str, status: Status, **kw: Any) -> CheckResult:
    kw.setdefault("message", f"{name} message")
    return CheckResult(journey="auth", check=name, status=status, **kw)


@pytest.mark.parametrize("status", [Status.PASSED, Status.SKIPPED])
def test_quiet_statuses_add_no_warning(status: Status) -> None:
    decision = decide([check("login", Status.PASSED), check("me", status)])
    assert decision == Decision(Verdict.PASS, [], [])


def test_all_passed_is_pass() -> None:
    assert decide([check("login", Status.PASSED)]).verdict is Verdict.PASS


def test_flaky_is_pass_with_a_warning() -> None:
    decision = decide([check("login", Status.FLAKY, attempts=2)])
    assert decision == Decision(Verdict.PASS, [], ["auth.login was flaky: passed after 2 attempts"])


def test_flaky_blocking_fails_with_fail_on_flaky() -> None:
    decision = decide([check("login", Status.FLAKY, attempts=3)], fail_on_flaky=True)
    assert decision == Decision(
        Verdict.FAIL, ["auth.login was flaky (fail_on_flaky): login message"], []
    )


def test_flaky_non_blocking_stays_a_warning_with_fail_on_flaky() -> None:
    decision = decide(
        [check("login", Status.FLAKY, attempts=2, blocking=False)], fail_on_flaky=True
    )
    assert decision.verdict is Verdict.PASS
    assert decision.warnings == ["auth.login was flaky: passed after 2 attempts"]


def test_degraded_is_pass_with_a_warning() -> None:
    decision = decide([check("feed", Status.DEGRADED, message="1500 ms > budget 1000 ms")])
    assert decision == Decision(Verdict.PASS, [], ["auth.feed was slow: 1500 ms > budget 1000 ms"])


def test_blocking_failure_is_fail() -> None:
    decision = decide([check("login", Status.PASSED), check("me", Status.FAILED)])
    assert decision == Decision(Verdict.FAIL, ["auth.me failed: me message"], [])


def test_non_blocking_failure_is_pass_with_a_warning() -> None:
    decision = decide([check("login", Status.PASSED), check("me", Status.FAILED, blocking=False)])
    assert decision == Decision(Verdict.PASS, [], ["auth.me failed (non-blocking): me message"])


@pytest.mark.parametrize("blocking", [True, False])
def test_error_is_error_blocking_or_not(blocking: bool) -> None:
    decision = decide([check("login", Status.PASSED), check("ui", Status.ERROR, blocking=blocking)])
    assert decision == Decision(Verdict.ERROR, ["auth.ui could not run: ui message"], [])


def test_fail_beats_error_and_keeps_both_reasons() -> None:
    decision = decide([check("ui", Status.ERROR), check("me", Status.FAILED)])
    assert decision.verdict is Verdict.FAIL
    assert decision.reasons == ["auth.me failed: me message", "auth.ui could not run: ui message"]


@pytest.mark.parametrize(
    "checks",
    [[], [check("login", Status.SKIPPED), check("me", Status.SKIPPED)]],
    ids=["no checks", "all skipped"],
)
def test_nothing_ran_is_error_never_pass(checks: list[CheckResult]) -> None:
    assert decide(checks) == Decision(Verdict.ERROR, ["no check ran"], [])


def test_warnings_survive_a_failing_verdict() -> None:
    decision = decide([check("login", Status.FLAKY, attempts=2), check("me", Status.FAILED)])
    assert decision.verdict is Verdict.FAIL
    assert decision.warnings == ["auth.login was flaky: passed after 2 attempts"]


def test_accepts_a_generator() -> None:
    assert decide(c for c in [check("a", Status.PASSED)]).verdict is Verdict.PASS
