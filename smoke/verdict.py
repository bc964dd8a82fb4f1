"""The verdict rules of the brief, as one pure function.

FAIL wins over ERROR: a blocking check that proved the product broken is the more
useful answer, and both stop a release. ERROR is never turned into a PASS.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from smoke.results import CheckResult, GateResult, JourneyResult, Status, Verdict


@dataclass(frozen=True)
class Decision:
    """A verdict with the reasons that made it and the warnings beside it."""

    verdict: Verdict
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def decide(checks: Iterable[CheckResult], *, fail_on_flaky: bool = False) -> Decision:
    """Turn check results into PASS, FAIL or ERROR by the brief's table."""
    failing: list[str] = []
    errors: list[str] = []
    warnings: list[str] = []
    ran = 0
    for c in checks:
        if c.status is not Status.SKIPPED:
            ran += 1
        if c.status is Status.FAILED:
            if c.blocking:
                failing.append(f"{c.key} failed: {c.message}")
            else:
                warnings.append(f"{c.key} failed (non-blocking): {c.message}")
        elif c.status is Status.ERROR:
            errors.append(f"{c.key} could not run: {c.message}")
        elif c.status is Status.FLAKY:
            if fail_on_flaky and c.blocking:
                failing.append(f"{c.key} was flaky (fail_on_flaky): {c.message}")
            else:
                warnings.append(f"{c.key} was flaky: passed after {c.attempts} attempts")
        elif c.status is Status.DEGRADED:
            warnings.append(f"{c.key} was slow: {c.message}")
    if failing:
        return Decision(Verdict.FAIL, failing + errors, warnings)
    if errors:
        return Decision(Verdict.ERROR, errors, warnings)
    if ran == 0:
        # Nothing ran: a gate that checked nothing must not say PASS.
        return Decision(Verdict.ERROR, ["no check ran"], warnings)
    return Decision(Verdict.PASS, [], warnings)


def journey_verdict(
    journey: JourneyResult, environment: str, duration_s: float = 0.0
) -> GateResult:
    """A journey run on its own, judged and reported like a gate (mode ``journey``)."""
    decision = decide(journey.checks)
    return GateResult(
        verdict=decision.verdict,
        environment=environment,
        mode="journey",
        duration_s=duration_s or journey.duration_ms / 1000,
        reasons=decision.reasons,
        warnings=decision.warnings,
        error_kind="system" if decision.verdict is Verdict.ERROR else None,
        journeys=[journey],
    )
