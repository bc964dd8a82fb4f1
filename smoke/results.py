"""The result model: every check yields a CheckResult; journeys and the gate collect them.

Plain pydantic models so they serialise to the JSON result, Prefect artifacts and
Slack messages the same way everywhere.
"""

from __future__ import annotations

import signal as signal_module
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from smoke.errors import Interrupted
from smoke.scrub import scrub


class Status(StrEnum):
    """What happened to one check (the brief's table)."""

    PASSED = "passed"  # passed on the first attempt
    FLAKY = "flaky"  # failed, then passed on a retry
    DEGRADED = "degraded"  # passed, but over its latency budget
    FAILED = "failed"  # the product is broken
    ERROR = "error"  # the smoke system could not run the check
    SKIPPED = "skipped"  # not applicable


# Why a check was skipped: switched off (or not set up) by the environment's
# configuration, not applicable to this product, an earlier check it needs failed, or
# left out of a run by ``--check``/``--skip``.
SkipKind = Literal["configuration", "not_applicable", "prerequisite", "not_selected"]
SKIP_KINDS: dict[str, str] = {
    "configuration": "off by configuration",
    "not_applicable": "not applicable",
    "prerequisite": "prerequisite failed",
    "not_selected": "not selected",
}


class Verdict(StrEnum):
    """The gate's answer."""

    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"


class Evidence(BaseModel):
    """A pointer to what a check saw: a file (screenshot, trace) or a response excerpt."""

    kind: str  # "screenshot" | "trace" | "response" | "email" | ...
    label: str
    path: str | None = None  # file path, relative to the report folder when copied there
    excerpt: str | None = None  # short, scrubbed text
    # Where the run's evidence storage keeps the file: its key in the storage block, and
    # the URL or path that key resolves to (a `file://` path for a local block).
    stored_key: str | None = None
    stored_url: str | None = None

    def link(self) -> str:
        """Where a reader finds it: the path, or the excerpt inline."""
        return self.path if self.path else (self.excerpt or "")


class CheckResult(BaseModel):
    """One check's outcome, as the brief's result model lists it."""

    journey: str
    check: str
    status: Status
    blocking: bool = True
    attempts: int = 1
    duration_ms: int = 0
    expected: str = ""
    actual: str = ""
    message: str = ""
    evidence: list[Evidence] = Field(default_factory=list)
    skipped_because: SkipKind | None = None

    @property
    def key(self) -> str:
        """``journey.check``: how messages and tables name a check."""
        return f"{self.journey}.{self.check}"

    @property
    def is_problem(self) -> bool:
        """Failed or errored: a reader has to look at it."""
        return self.status in (Status.FAILED, Status.ERROR)


class JourneyResult(BaseModel):
    """A journey's checks, in the order they ran."""

    name: str
    checks: list[CheckResult] = Field(default_factory=list)
    duration_ms: int = 0

    @property
    def status(self) -> Status:
        """The worst status among the checks (an empty journey is skipped)."""
        return worst_status(c.status for c in self.checks)

    @classmethod
    def grouped(cls, checks: list[CheckResult]) -> list[JourneyResult]:
        """Finished checks as journeys, in the order each journey first appears."""
        by_journey: dict[str, list[CheckResult]] = {}
        for check in checks:
            by_journey.setdefault(check.journey, []).append(check)
        return [cls(name=name, checks=found) for name, found in by_journey.items()]


# Worst first: what a journey's one-word status shows.
_SEVERITY = [
    Status.ERROR,
    Status.FAILED,
    Status.FLAKY,
    Status.DEGRADED,
    Status.PASSED,
    Status.SKIPPED,
]


def worst_status(statuses: object) -> Status:
    """The most severe status of an iterable of statuses; skipped when empty."""
    seen = set(statuses)  # type: ignore[call-overload]
    for status in _SEVERITY:
        if status in seen:
            return status
    return Status.SKIPPED


class GateResult(BaseModel):
    """The gate's verdict and everything it is based on (the JSON result)."""

    verdict: Verdict
    environment: str
    version: str | None = None
    mode: str = "gate"
    flow_run_id: str | None = None
    flow_run_url: str | None = None
    duration_s: float = 0.0
    reasons: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    # Why an ERROR verdict happened: "config" (exit 2), "system" (exit 3) or "cancelled"
    # (a signal: exit 130 for SIGINT, 143 for SIGTERM; ``signal`` names it).
    error_kind: str | None = None
    signal: str | None = None
    journeys: list[JourneyResult] = Field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 PASS, 1 FAIL, 2 configuration error, 3 the smoke system failed."""
        if self.verdict is Verdict.PASS:
            return 0
        if self.verdict is Verdict.FAIL:
            return 1
        if self.error_kind == "cancelled":
            return 128 + int(getattr(signal_module.Signals, self.signal or "SIGINT"))
        return 2 if self.error_kind == "config" else 3

    def all_checks(self) -> list[CheckResult]:
        """Every check of every journey, preflight first."""
        return [c for j in self.journeys for c in j.checks]

    def problems(self) -> list[CheckResult]:
        """Checks that failed or errored."""
        return [c for c in self.all_checks() if c.is_problem]

    @classmethod
    def errored(
        cls, environment: str, version: str | None, mode: str, outcome: object
    ) -> GateResult:
        """An ERROR result for a run that ended without a verdict (``outcome``: why).

        A configuration error (exit code 2 in ``smoke.errors``) reads as ``config``, a
        signal as ``cancelled``, anything else as ``system``. The reason is scrubbed.
        """
        reason = (
            str(outcome)
            if isinstance(outcome, BaseException)
            else f"the run ended without a result: {outcome!r}"
        )
        kind = "system"
        if isinstance(outcome, Interrupted):
            kind = "cancelled"
        elif getattr(outcome, "exit_code", None) == 2:
            kind = "config"
        return cls(
            verdict=Verdict.ERROR,
            environment=environment,
            version=version,
            mode=mode,
            error_kind=kind,
            signal=outcome.name if isinstance(outcome, Interrupted) else None,
            reasons=[scrub(reason)],
        )

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> GateResult:
        """Read back the documented JSON shape (``smoke gate --json``)."""
        journeys = [
            JourneyResult(
                name=j["name"],
                checks=[
                    CheckResult(journey=j["name"], check=c["name"], **_without(c, "name"))
                    for c in j["checks"]
                ],
            )
            for j in data.get("journeys", [])
        ]
        return cls(**_without(data, "journeys", "exit_code"), journeys=journeys)

    def to_json_dict(self) -> dict[str, object]:
        """The documented JSON result shape."""
        return {
            "verdict": self.verdict.value,
            "environment": self.environment,
            "version": self.version,
            "mode": self.mode,
            "flow_run_id": self.flow_run_id,
            "flow_run_url": self.flow_run_url,
            "duration_s": round(self.duration_s, 3),
            "reasons": self.reasons,
            "warnings": self.warnings,
            # Why an ERROR: "config" (exit 2) or "system" (exit 3); null otherwise.
            "error_kind": self.error_kind,
            "signal": self.signal,
            "exit_code": self.exit_code,
            "journeys": [
                {
                    "name": j.name,
                    "status": j.status.value,
                    "checks": [
                        {
                            "name": c.check,
                            "status": c.status.value,
                            "blocking": c.blocking,
                            "attempts": c.attempts,
                            "duration_ms": c.duration_ms,
                            "expected": c.expected,
                            "actual": c.actual,
                            "message": c.message,
                            "evidence": [e.model_dump(exclude_none=True) for e in c.evidence],
                            **({"skipped_because": c.skipped_because} if c.skipped_because else {}),
                        }
                        for c in j.checks
                    ],
                }
                for j in self.journeys
            ],
        }


def _without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys}
