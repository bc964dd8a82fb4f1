"""What a check body can end with, and how that becomes a status: plain Python.

A body returns ``Passed`` or raises ``CheckFailed`` (the product is broken),
``CheckSkipped`` (the check did not run, and why) or a transient error (retried).
``judge_pass`` and ``judge_give_up`` turn an outcome into a status and the words that
explain it; ``tasks.checks`` is only the Prefect layer that runs bodies as tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from smoke.results import Evidence, SkipKind, Status


@dataclass
class Passed:
    """What a passing check saw."""

    expected: str = ""
    actual: str = ""
    message: str = ""
    elapsed_ms: int | None = None  # the product's latency, judged against the budget
    evidence: list[Evidence] = field(default_factory=list)
    # Transient faults the product itself recovered from (a page retrying a 503): the
    # check passed, but only after a retry, which is what flaky means.
    recovered: list[str] = field(default_factory=list)


class CheckFailed(Exception):
    """The product is broken: a wrong status, a contract violation, a failed assertion."""

    def __init__(
        self,
        message: str,
        *,
        expected: str = "",
        actual: str = "",
        evidence: list[Evidence] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.actual = actual
        self.evidence = evidence or []


class CheckSkipped(Exception):
    """The check did not run: off by configuration, not applicable, or a prerequisite failed."""

    def __init__(self, message: str, *, kind: SkipKind = "not_applicable") -> None:
        super().__init__(message)
        self.kind: SkipKind = kind


@dataclass(frozen=True)
class Judged:
    """A status and the note that says why (empty for a plain pass)."""

    status: Status
    message: str


def judge_pass(passed: Passed, *, attempt: int, budget_ms: int | None) -> Judged:
    """Passed, flaky (needed a retry, or recovered from a transient fault) or degraded.

    Flaky outranks degraded: it is the one ``fail_on_flaky`` can turn into a FAIL.
    """
    notes = [passed.message] if passed.message else []
    status = Status.PASSED
    if budget_ms is not None and passed.elapsed_ms is not None and passed.elapsed_ms > budget_ms:
        status = Status.DEGRADED
        notes.insert(0, f"answered in {passed.elapsed_ms} ms, over its {budget_ms} ms budget")
    if passed.recovered:
        notes.insert(0, f"recovered from transient faults: {'; '.join(passed.recovered[:3])}")
    if attempt > 1 or passed.recovered:
        status = Status.FLAKY
    return Judged(status, "; ".join(notes))


def judge_give_up(*, unreachable: bool) -> Status:
    """The status of a check whose transient faults outlasted every retry.

    A target that cannot be connected to at all is most often a wrong URL: the smoke
    system could not run the check, which must not read as a product failure. One that
    kept answering 5xx or timing out is broken.
    """
    return Status.ERROR if unreachable else Status.FAILED
