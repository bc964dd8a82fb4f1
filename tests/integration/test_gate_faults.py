"""Every sandbox fault through the release gate: the verdict, and exactly who caught it.

One table: for each fault, the journeys to run, the expected verdict and the exact set
of checks that must fail (any other failing check is a misattribution). The healthy
sandbox must pass with every check passed.
"""

from __future__ import annotations

from typing import Any

import pytest

from sandbox import FAULTS
from smoke.results import GateResult, Status, Verdict
from tests.support.fault_table import FAULT_TABLE, GROUPS, TRANSIENT

FAIL, PASS = Verdict.FAIL, Verdict.PASS
_results: dict[tuple[str, ...], GateResult] = {}


def group_of(name: str) -> list[str]:
    return next(g for g in GROUPS if name in g)


def group_result(group: list[str], run_gate: Any, fault: Any) -> GateResult:
    """The gate's result with every fault of ``group`` on (run once, then reused)."""
    key = tuple(group)
    if key not in _results:
        journeys = sorted({j for name in group for j in FAULT_TABLE[name][0]})
        fault(*group)
        _results[key] = run_gate("sandbox", version="1.0.0", journeys=journeys)
    return _results[key]


def failing(result: GateResult) -> set[str]:
    return {c.key for c in result.problems()}


def test_every_fault_is_in_the_table_and_in_one_group() -> None:
    assert set(FAULT_TABLE) | set(TRANSIENT) == set(FAULTS)
    grouped = [name for group in GROUPS for name in group]
    assert sorted(grouped) == sorted(FAULT_TABLE)


def test_healthy_sandbox_passes_with_every_check_passed(run_gate: Any) -> None:
    result = run_gate("sandbox", version="1.0.0")
    assert result.verdict is PASS, result.reasons
    # Onboarding signs nobody in: its refusal checks have nothing to replay.
    not_applicable = {"onboarding.anonymous_refused", "onboarding.bad_token_refused"}
    others = {
        c.key: f"{c.status.value}: {c.message}"
        for c in result.all_checks()
        if c.status is not Status.PASSED and c.key not in not_applicable
    }
    assert not others, others
    for check in result.all_checks():
        if check.key in not_applicable:
            assert check.skipped_because == "not_applicable", check
    journeys = [j.name for j in result.journeys]
    assert journeys == ["preflight", "auth", "onboarding", "billing", "dashboard"]
    for journey in result.journeys[1:]:
        assert len(journey.checks) >= 4, journey.name
    assert result.exit_code == 0


@pytest.mark.parametrize("name", sorted(FAULT_TABLE))
def test_fault_is_caught_by_the_right_check(name: str, run_gate: Any, fault: Any) -> None:
    _journeys, verdict, must_fail, warned = FAULT_TABLE[name]
    group = group_of(name)
    result = group_result(group, run_gate, fault)
    # This fault's journey (or the preflight it stops) fails exactly where expected.
    mine = {
        key for key in failing(result) if key.split(".")[0] in {k.split(".")[0] for k in must_fail}
    }
    assert mine == must_fail, {c.key: c.message for c in result.problems()}
    for check in result.problems():
        # A failure a person can act on: what was expected, what came back.
        assert check.status is Status.FAILED
        assert check.message, check
        assert check.expected, check
        assert check.actual, check
    for key, status in warned.items():
        assert {c.key: c.status for c in result.all_checks()}[key] is status
    if len(group) == 1:
        assert result.verdict is verdict, (result.verdict, result.reasons)
        assert result.exit_code == (1 if verdict is FAIL else 0)


@pytest.mark.parametrize("group", GROUPS[:5], ids=lambda g: "+".join(g))
def test_no_fault_leaks_into_another_journey(group: list[str], run_gate: Any, fault: Any) -> None:
    result = group_result(group, run_gate, fault)
    expected = set().union(*(FAULT_TABLE[name][2] for name in group))
    assert failing(result) == expected, {c.key: c.message for c in result.problems()}
    assert result.verdict is FAIL
    assert result.exit_code == 1


def test_transient_http_503_passes_with_flaky_checks(run_gate: Any, fault: Any) -> None:
    fault("transient.http_503")
    result = run_gate("sandbox", version="1.0.0")
    assert result.verdict is PASS, (result.reasons, {c.key: c.message for c in result.problems()})
    assert not result.problems()
    flaky = [c for c in result.all_checks() if c.status is Status.FLAKY]
    assert flaky, "a 503 on every third request must show up as flaky checks"
    assert all("recovered" in c.message or c.attempts > 1 for c in flaky), flaky
    assert any("flaky" in w for w in result.warnings)


def test_transient_slow_start_passes_and_reads_slow(run_gate: Any, fault: Any) -> None:
    # Every first request of a kind takes 2 s: a whole gate would spend half a minute on
    # it, so two journeys stand for the rest (the soak runs the whole gate).
    fault("transient.slow_start")
    result = run_gate("sandbox", version="1.0.0", journeys=["onboarding", "dashboard"])
    assert result.verdict is PASS, (result.reasons, {c.key: c.message for c in result.problems()})
    statuses = {c.key: c.status for c in result.all_checks()}
    # The feed has a 1 s budget: its first, 2 s answer is over it.
    assert statuses["dashboard.feed"] is Status.DEGRADED, statuses
    assert any("slow" in w for w in result.warnings)


def test_fail_on_flaky_turns_flaky_into_fail(run_gate: Any, fault: Any) -> None:
    fault("transient.http_503")
    result = run_gate("sandbox", journeys=["dashboard"], fail_on_flaky=True)
    flaky = [c for c in result.all_checks() if c.status is Status.FLAKY]
    assert flaky, "expected at least one flaky check under transient.http_503"
    assert result.verdict is FAIL
    assert any("fail_on_flaky" in r for r in result.reasons)
