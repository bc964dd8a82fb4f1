from __future__ import annotations

from smoke.incidents import AlertState, Notification, decide_notification, incident_checks
from smoke.results import CheckResult, GateResult, JourneyResult, Status, Verdict

HOUR = 3600.0
T0 = 1_700_000_000.0


def run(
    *problems: str,
    mode: str = "monitor",
    verdict: Verdict | None = None,
    flaky: tuple[str, ...] = (),
) -> GateResult:
    """A gate result whose ``problems`` (journey.check) failed and ``flaky`` needed a retry."""
    checks = [CheckResult(journey="preflight", check="health", status=Status.PASSED)]
    for key in problems:
        journey, check = key.split(".")
        checks.append(CheckResult(journey=journey, check=check, status=Status.FAILED))
    for key in flaky:
        journey, check = key.split(".")
        checks.append(CheckResult(journey=journey, check=check, status=Status.FLAKY, attempts=2))
    if verdict is None:
        verdict = Verdict.FAIL if problems else Verdict.PASS
    return GateResult(
        verdict=verdict,
        environment="staging",
        mode=mode,
        journeys=[JourneyResult(name="all", checks=checks)],
    )


class Sequence:
    """Feeds results through the policy like consecutive runs of one environment."""

    def __init__(self) -> None:
        self.state = AlertState()

    def at(self, now: float, result: GateResult) -> Notification | None:
        notification, self.state = decide_notification(self.state, result, now=now)
        return notification


def kind(n: Notification | None) -> str | None:
    return n.kind if n else None


def test_the_whole_incident_sequence() -> None:
    s = Sequence()

    first = s.at(T0, run("dashboard.feed"))
    assert first is not None
    assert (first.kind, first.failing_checks, first.consecutive_failures) == (
        "failure",
        ["dashboard.feed"],
        1,
    )
    assert first.pages_people
    assert not first.is_update

    # The same check again within the reminder interval: quiet, but counted.
    assert s.at(T0 + 900, run("dashboard.feed")) is None
    assert s.state.consecutive_failures == 2

    # The third consecutive failed run escalates (once).
    third = s.at(T0 + 1800, run("dashboard.feed"))
    assert kind(third) == "escalation"
    assert third is not None
    assert third.consecutive_failures == 3
    assert s.state.escalated

    # Escalated already; within an hour of the last message: quiet.
    assert s.at(T0 + 2700, run("dashboard.feed")) is None
    # An hour after the last message (the escalation): a reminder.
    reminder = s.at(T0 + 1800 + HOUR, run("dashboard.feed"))
    assert kind(reminder) == "reminder"
    assert reminder is not None
    assert reminder.pages_people

    # A different set of failing checks: a new message, an update to the incident.
    update = s.at(T0 + 1800 + HOUR + 60, run("dashboard.feed", "billing.checkout_success"))
    assert update is not None
    assert update.kind == "failure"
    assert update.is_update
    assert update.newly_failing == ["billing.checkout_success"]
    assert update.no_longer_failing == []
    assert s.state.escalated, "still the same incident: it does not escalate twice"

    # The first PASS: a recovery naming what was failing and for how long.
    recovery = s.at(T0 + 3 * HOUR, run())
    assert recovery is not None
    assert recovery.kind == "recovery"
    assert recovery.previous_checks == ["billing.checkout_success", "dashboard.feed"]
    assert recovery.consecutive_failures == 6
    assert recovery.incident_started_at == T0
    assert not recovery.pages_people
    assert s.state == AlertState(last_verdict=Verdict.PASS)

    # PASS again: nothing.
    assert s.at(T0 + 4 * HOUR, run()) is None


def test_escalation_happens_once_per_incident() -> None:
    s = Sequence()
    kinds = [kind(s.at(T0 + i * 2 * HOUR, run("auth.me"))) for i in range(5)]
    # Runs two hours apart: every one is due a message; only the third escalates.
    assert kinds == ["failure", "reminder", "escalation", "reminder", "reminder"]
    s.at(T0 + 11 * HOUR, run())
    kinds = [kind(s.at(T0 + 12 * HOUR + i * 2 * HOUR, run("auth.me"))) for i in range(3)]
    assert kinds == ["failure", "reminder", "escalation"], "a new incident escalates again"


def test_a_changed_set_of_checks_names_what_changed() -> None:
    s = Sequence()
    s.at(T0, run("auth.me", "dashboard.feed"))
    update = s.at(T0 + 60, run("dashboard.feed", "dashboard.alerts"))
    assert update is not None
    assert update.is_update
    assert update.newly_failing == ["dashboard.alerts"]
    assert update.no_longer_failing == ["auth.me"]
    assert s.state.failing_checks == ["dashboard.alerts", "dashboard.feed"]
    assert s.state.last_posted_at == T0 + 60


def test_gate_mode_posts_every_failure_and_keeps_the_state() -> None:
    s = Sequence()
    assert kind(s.at(T0, run("dashboard.feed", mode="gate"))) == "failure"
    repeat = s.at(T0 + 60, run("dashboard.feed", mode="gate"))
    assert kind(repeat) == "failure"
    assert repeat is not None
    assert repeat.consecutive_failures == 2
    assert not repeat.is_update
    assert kind(s.at(T0 + 120, run("dashboard.feed", mode="gate"))) == "escalation"
    # A monitor run right after sees the incident as already announced.
    assert s.at(T0 + 180, run("dashboard.feed")) is None


def test_error_verdicts_count_as_failures() -> None:
    s = Sequence()
    errored = GateResult(
        verdict=Verdict.ERROR,
        environment="staging",
        mode="monitor",
        journeys=[
            JourneyResult(
                name="auth",
                checks=[CheckResult(journey="auth", check="browser_login", status=Status.ERROR)],
            )
        ],
    )
    first = s.at(T0, errored)
    assert first is not None
    assert (first.kind, first.verdict, first.failing_checks) == (
        "failure",
        Verdict.ERROR,
        ["auth.browser_login"],
    )
    assert s.at(T0 + 60, errored) is None
    assert kind(s.at(T0 + 120, run())) == "recovery"


def test_a_run_that_failed_before_any_check_is_its_own_incident() -> None:
    config_error = GateResult(
        verdict=Verdict.ERROR, environment="prod", mode="monitor", error_kind="config"
    )
    assert incident_checks(config_error) == ["gate.error"]
    s = Sequence()
    assert kind(s.at(T0, config_error)) == "failure"
    assert s.at(T0 + 60, config_error) is None


def test_incident_checks_are_the_blocking_problems_when_there_are_some() -> None:
    result = run("dashboard.feed")
    result.journeys[0].checks.append(
        CheckResult(journey="billing", check="cancel_url", status=Status.FAILED, blocking=False)
    )
    assert incident_checks(result) == ["dashboard.feed"]
    # fail_on_flaky: the blocking flaky checks made the FAIL.
    flaky_fail = run(verdict=Verdict.FAIL, flaky=("auth.password_login",))
    assert incident_checks(flaky_fail) == ["auth.password_login"]


def test_flaky_runs_are_noted_without_paging_at_most_hourly() -> None:
    s = Sequence()
    note = s.at(T0, run(flaky=("auth.password_login",)))
    assert note is not None
    assert note.kind == "flaky"
    assert not note.pages_people
    assert s.state.incident_open is False
    assert s.at(T0 + 900, run(flaky=("auth.password_login",))) is None
    assert s.at(T0 + 1800, run(flaky=("dashboard.feed",))) is None
    assert kind(s.at(T0 + HOUR, run(flaky=("auth.password_login",)))) == "flaky"
    # A clean PASS in between changes nothing about the flaky interval.
    assert s.at(T0 + HOUR + 60, run()) is None
    assert s.at(T0 + HOUR + 120, run(flaky=("auth.password_login",))) is None


def test_a_recovery_with_flaky_checks_is_one_message() -> None:
    s = Sequence()
    s.at(T0, run("auth.me"))
    assert kind(s.at(T0 + 60, run(flaky=("auth.me",)))) == "recovery"
    assert s.at(T0 + 120, run(flaky=("auth.me",))) is None


def test_policy_knobs() -> None:
    state = AlertState()
    n, state = decide_notification(state, run("a.b"), now=T0, escalate_after=1)
    assert kind(n) == "escalation"
    n, state = decide_notification(state, run("a.b"), now=T0 + 10, reminder_s=5)
    assert kind(n) == "reminder"


def test_state_round_trips_through_json() -> None:
    s = Sequence()
    s.at(T0, run("dashboard.feed"))
    again = AlertState.model_validate(s.state.model_dump(mode="json"))
    assert again == s.state
    assert s.state.model_dump(mode="json") == {
        "incident_open": True,
        "failing_checks": ["dashboard.feed"],
        "consecutive_failures": 1,
        "incident_started_at": T0,
        "last_posted_at": T0,
        "escalated": False,
        "last_flaky_at": None,
        "last_verdict": "FAIL",
    }
