"""What one gate run against a mutated sandbox means for that mutation (no Prefect, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from mutations.catalogue import Mutation
from smoke.results import GateResult, Verdict


class Result(StrEnum):
    """The verdict on a mutation."""

    CAUGHT = "caught"  # FAIL, with a failed check in the owning journey
    MISATTRIBUTED = "misattributed"  # FAIL, but only other journeys' checks failed
    SURVIVED = "survived"  # the gate passed
    BROKE_SANDBOX = "broke the sandbox"  # the mutated sandbox did not start: a bad mutation
    ERROR = "error"  # ERROR verdict or no result: the gate could not judge


@dataclass(frozen=True)
class Outcome:
    """A mutation's result and the checks it rests on."""

    mutation: Mutation
    result: Result
    owning_checks: list[str] = field(default_factory=list)
    other_checks: list[str] = field(default_factory=list)
    note: str = ""
    seconds: float = 0.0
    # The first failed check's message: what a reader checks the blame against.
    message: str = ""

    @property
    def meets_target(self) -> bool:
        """Caught by its own journey, or an invisible mutation that survived."""
        if self.result is Result.CAUGHT:
            return True
        return self.result is Result.SURVIVED and not self.mutation.visible

    def summary(self) -> str:
        """One line for the progress output."""
        if self.result is Result.CAUGHT:
            extra = f" (also {', '.join(self.other_checks)})" if self.other_checks else ""
            return f"CAUGHT by {', '.join(self.owning_checks)}{extra}"
        if self.result is Result.MISATTRIBUTED:
            return f"MISATTRIBUTED to {', '.join(self.other_checks)}"
        if self.result is Result.SURVIVED:
            return "SURVIVED" + ("" if self.mutation.visible else " (not visible: allowed)")
        return f"{self.result.value.upper()}: {self.note}"


def judge(
    mutation: Mutation,
    exit_code: int,
    result: GateResult | None,
    output: str,
    seconds: float = 0.0,
) -> Outcome:
    """Classify one run: ``result`` is the JSON result (None when none was written)."""
    if result is None or result.verdict is Verdict.ERROR:
        reasons = "; ".join(result.reasons) if result else f"exit {exit_code}, no JSON result"
        return Outcome(mutation, Result.ERROR, note=reasons or _last_lines(output), seconds=seconds)
    problems = result.problems()
    owning = [c.key for c in problems if c.journey == mutation.journey]
    other = [c.key for c in problems if c.journey != mutation.journey]
    if result.verdict is Verdict.PASS:
        return Outcome(mutation, Result.SURVIVED, seconds=seconds)
    kind = Result.CAUGHT if owning else Result.MISATTRIBUTED
    first = next((c for c in problems if c.journey == mutation.journey), None) or next(
        iter(problems), None
    )
    return Outcome(
        mutation,
        kind,
        owning_checks=owning,
        other_checks=other,
        seconds=seconds,
        message=f"{first.key}: {first.message}" if first else "",
    )


def _last_lines(text: str, lines: int = 3) -> str:
    return " / ".join(line.strip() for line in text.strip().splitlines()[-lines:])
