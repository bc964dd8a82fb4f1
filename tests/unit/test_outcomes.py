"""How a check's outcome becomes a status: the Prefect-free core of every check."""

from __future__ import annotations

import pytest

from smoke.outcomes import Passed, judge_give_up, judge_pass
from smoke.results import Status


def test_a_first_attempt_pass_within_budget_is_passed_with_its_own_note() -> None:
    judged = judge_pass(Passed(message="3 items", elapsed_ms=40), attempt=1, budget_ms=100)
    assert (judged.status, judged.message) == (Status.PASSED, "3 items")


def test_a_pass_over_its_budget_is_degraded_and_says_by_how_much() -> None:
    judged = judge_pass(Passed(elapsed_ms=250), attempt=1, budget_ms=100)
    assert judged.status is Status.DEGRADED
    assert judged.message == "answered in 250 ms, over its 100 ms budget"


@pytest.mark.parametrize(
    ("passed", "attempt"),
    [(Passed(), 2), (Passed(recovered=["GET /api/feed -> 503"]), 1)],
)
def test_a_pass_after_a_retry_or_a_recovered_fault_is_flaky(passed: Passed, attempt: int) -> None:
    assert judge_pass(passed, attempt=attempt, budget_ms=None).status is Status.FLAKY


def test_flaky_outranks_degraded_and_both_notes_are_kept() -> None:
    judged = judge_pass(
        Passed(elapsed_ms=500, recovered=["GET /x -> 503"]), attempt=1, budget_ms=100
    )
    assert judged.status is Status.FLAKY
    assert judged.message == (
        "recovered from transient faults: GET /x -> 503; answered in 500 ms, over its 100 ms budget"
    )


def test_no_budget_means_never_degraded() -> None:
    assert judge_pass(Passed(elapsed_ms=99_000), attempt=1, budget_ms=None).status is Status.PASSED


def test_giving_up_on_an_unreachable_target_is_an_error_and_on_5xx_a_failure() -> None:
    assert judge_give_up(unreachable=True) is Status.ERROR
    assert judge_give_up(unreachable=False) is Status.FAILED
