"""The alert policy: when a gate result becomes a Slack message, as one pure function.

An *incident* opens with the first failed run (FAIL or ERROR: an ERROR means the smoke
system could not verify the product, which is not good news either) and closes with the
first PASS after it. Its identity is the set of failing checks, so the same checks
failing run after run is one incident, and a different set is an update to it.

- a new incident, or a different set of failing checks: a failure message;
- monitor mode, same checks, within the reminder interval: nothing;
- monitor mode, same checks, the reminder interval has passed: a reminder;
- gate mode: every FAIL/ERROR posts (a release engineer is waiting for it);
- the Nth consecutive failed run: an escalation, once per incident;
- the first PASS after a failure: a recovery;
- a PASS with flaky checks: a note that mentions nobody, once per reminder interval.

The caller keeps the returned ``AlertState`` for the next run (tasks/slack.py keeps it in
a Prefect Variable), and only when the message was delivered: a message that never
arrived is decided again by the next run.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from smoke.results import GateResult, Status, Verdict

NotificationKind = Literal["failure", "reminder", "escalation", "recovery", "flaky"]

DEFAULT_REMINDER_S = 3600.0
DEFAULT_ESCALATE_AFTER = 3


class AlertState(BaseModel):
    """What the policy remembers between runs of one environment."""

    incident_open: bool = False
    failing_checks: list[str] = Field(
        default_factory=list, description="The open incident's failing checks, sorted."
    )
    consecutive_failures: int = Field(default=0, description="Failed runs in a row, so far.")
    incident_started_at: float | None = Field(
        default=None, description="When the open incident's first failed run finished (epoch s)."
    )
    last_posted_at: float | None = Field(
        default=None, description="When the open incident's last message was posted (epoch s)."
    )
    escalated: bool = False
    last_flaky_at: float | None = Field(
        default=None, description="When the last flaky note was posted (epoch s)."
    )
    last_verdict: Verdict | None = None


class Notification(BaseModel):
    """A message the policy wants posted, with what the message builders need to say."""

    kind: NotificationKind
    environment: str
    verdict: Verdict
    failing_checks: list[str] = Field(default_factory=list)
    previous_checks: list[str] = Field(
        default_factory=list,
        description="The open incident's failing checks before this run (updates, recoveries).",
    )
    consecutive_failures: int = 0
    incident_started_at: float | None = None

    @property
    def pages_people(self) -> bool:
        """Failure, reminder and escalation mention people; recovery and flaky notes do not."""
        return self.kind in ("failure", "reminder", "escalation")

    @property
    def is_update(self) -> bool:
        """A failure message for an open incident whose failing checks changed."""
        return bool(self.previous_checks) and self.previous_checks != self.failing_checks

    @property
    def newly_failing(self) -> list[str]:
        """Checks failing now that were not failing before this run."""
        return [k for k in self.failing_checks if k not in self.previous_checks]

    @property
    def no_longer_failing(self) -> list[str]:
        """Checks of the incident that pass (or did not run) now."""
        return [k for k in self.previous_checks if k not in self.failing_checks]


def incident_checks(result: GateResult) -> list[str]:
    """The checks that make ``result`` a failure: what identifies its incident.

    Blocking failed or errored checks; else the blocking flaky ones (``fail_on_flaky``);
    else ``gate.<verdict>`` for a run that failed before any check did (configuration).
    """
    checks = result.all_checks()
    keys = [c.key for c in checks if c.is_problem and c.blocking]
    if not keys:
        keys = [c.key for c in checks if c.status is Status.FLAKY and c.blocking]
    if not keys:
        keys = [c.key for c in checks if c.is_problem]
    if not keys:
        keys = [f"gate.{result.verdict.value.lower()}"]
    return sorted(set(keys))


def decide_notification(
    state: AlertState,
    result: GateResult,
    *,
    now: float,
    reminder_s: float = DEFAULT_REMINDER_S,
    escalate_after: int = DEFAULT_ESCALATE_AFTER,
) -> tuple[Notification | None, AlertState]:
    """The message this run calls for (None: stay quiet) and the state for the next run."""
    if result.verdict is Verdict.PASS:
        return _on_pass(state, result, now=now, reminder_s=reminder_s)
    return _on_failure(state, result, now=now, reminder_s=reminder_s, escalate_after=escalate_after)


def _on_failure(
    state: AlertState,
    result: GateResult,
    *,
    now: float,
    reminder_s: float,
    escalate_after: int,
) -> tuple[Notification | None, AlertState]:
    keys = incident_checks(result)
    consecutive = state.consecutive_failures + 1
    new_incident = not state.incident_open
    previous = [] if new_incident else state.failing_checks
    escalated = False if new_incident else state.escalated

    kind: NotificationKind | None
    if not escalated and consecutive >= escalate_after:
        kind = "escalation"
    elif new_incident or keys != previous or result.mode == "gate":
        kind = "failure"
    elif state.last_posted_at is None or now - state.last_posted_at >= reminder_s:
        kind = "reminder"
    else:
        kind = None

    started = (
        now if new_incident or state.incident_started_at is None else state.incident_started_at
    )
    next_state = state.model_copy(
        update={
            "incident_open": True,
            "failing_checks": keys,
            "consecutive_failures": consecutive,
            "incident_started_at": started,
            "last_posted_at": now if kind else state.last_posted_at,
            "escalated": escalated or kind == "escalation",
            "last_verdict": result.verdict,
        }
    )
    if kind is None:
        return None, next_state
    notification = Notification(
        kind=kind,
        environment=result.environment,
        verdict=result.verdict,
        failing_checks=keys,
        previous_checks=previous,
        consecutive_failures=consecutive,
        incident_started_at=started,
    )
    return notification, next_state


def _on_pass(
    state: AlertState, result: GateResult, *, now: float, reminder_s: float
) -> tuple[Notification | None, AlertState]:
    flaky = any(c.status is Status.FLAKY for c in result.all_checks())
    recovered = state.incident_open
    flaky_due = flaky and (state.last_flaky_at is None or now - state.last_flaky_at >= reminder_s)

    kind: NotificationKind | None = "recovery" if recovered else ("flaky" if flaky_due else None)
    next_state = AlertState(
        # A recovery message lists the flaky checks too: that counts as their note.
        last_flaky_at=now if flaky and kind else state.last_flaky_at,
        last_verdict=result.verdict,
    )
    if kind is None:
        return None, next_state
    notification = Notification(
        kind=kind,
        environment=result.environment,
        verdict=result.verdict,
        previous_checks=state.failing_checks if recovered else [],
        consecutive_failures=state.consecutive_failures,
        incident_started_at=state.incident_started_at,
    )
    return notification, next_state
