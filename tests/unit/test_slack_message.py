from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from smoke.incidents import Notification
from smoke.results import CheckResult, Evidence, GateResult, JourneyResult, Status, Verdict
from smoke.scrub import scrubber
from smoke.slack_message import (
    HEADER_LIMIT,
    MAX_CHECK_SECTIONS,
    crash_message,
    failure_message,
    flaky_message,
    message_for,
    recovery_message,
)

from .report_samples import RUN_URL, crashed_result, error_result, fail_result, pass_result

Snapshot = Callable[[str, str], None]

EVIDENCE = Path("/reports/run-1/evidence")
MENTIONS = ["<!subteam^S0RELEASE>", "<@U0ONCALL>"]
ESCALATION = ["<@U0LEAD>", "<!here>"]
STARTED = 1_700_000_000.0


def note(kind: str, result: GateResult, **kw: Any) -> Notification:
    data: dict[str, Any] = {
        "kind": kind,
        "environment": result.environment,
        "verdict": result.verdict,
        "failing_checks": ["dashboard.alerts"] if result.verdict is not Verdict.PASS else [],
        "consecutive_failures": 1,
        "incident_started_at": STARTED,
    }
    return Notification.model_validate(data | kw)


def as_json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def all_text(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)


def _samples() -> dict[str, Callable[[], dict[str, Any]]]:
    fail = lambda: fail_result(EVIDENCE)  # noqa: E731
    return {
        "failure": lambda: failure_message(fail(), note("failure", fail()), MENTIONS, ESCALATION),
        "reminder": lambda: failure_message(
            fail(), note("reminder", fail(), consecutive_failures=5), MENTIONS, ESCALATION
        ),
        "escalation": lambda: failure_message(
            fail(), note("escalation", fail(), consecutive_failures=3), MENTIONS, ESCALATION
        ),
        "update": lambda: failure_message(
            fail(),
            note(
                "failure",
                fail(),
                previous_checks=["auth.me", "dashboard.alerts", "dashboard.feed"],
                consecutive_failures=2,
            ),
            MENTIONS,
        ),
        "error": lambda: failure_message(
            error_result(),
            note("failure", error_result(), failing_checks=["auth.browser_login"]),
            MENTIONS,
        ),
        "config_error": lambda: failure_message(
            crashed_result(), note("failure", crashed_result(), failing_checks=["gate.error"])
        ),
        "recovery": lambda: recovery_message(
            pass_result(),
            note(
                "recovery",
                pass_result(),
                previous_checks=["dashboard.alerts"],
                consecutive_failures=4,
            ),
        ),
        "flaky": lambda: flaky_message(pass_result(), note("flaky", pass_result())),
        "crash": lambda: crash_message(
            "staging",
            RUN_URL,
            "Execution was interrupted by an unexpected exception: SIGTERM",
            mentions=MENTIONS,
        ),
    }


SAMPLES = _samples()


@pytest.mark.parametrize("name", SAMPLES)
def test_payload_snapshot(name: str, snapshot: Snapshot) -> None:
    snapshot(f"slack_{name}.json", as_json(SAMPLES[name]()))


@pytest.mark.parametrize("name", SAMPLES)
def test_payloads_are_deterministic_and_within_slack_limits(name: str) -> None:
    payload = SAMPLES[name]()
    assert payload == SAMPLES[name]()
    assert payload["text"]
    assert 0 < len(payload["blocks"]) <= 50
    for block in payload["blocks"]:
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert len(block["text"]["text"]) <= HEADER_LIMIT
        elif block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000


def test_failure_names_what_failed_and_where_to_look() -> None:
    payload = SAMPLES["failure"]()
    text = all_text(payload)
    header = payload["blocks"][0]["text"]["text"]
    assert header == ":red_circle: Smoke FAIL: staging 1.4.3"
    for needed in (
        "*Environment:*\\nstaging",
        "*Version:*\\n1.4.3",
        "*Verdict:*\\nFAIL",
        "*Mode:*\\ngate",
        "*dashboard.alerts* FAILED (blocking, 1 attempt, 95 ms)",
        "*Expected:* `body matches the alerts contract`",
        "*Actual:* `$.items[0].severity: 3 is not of type 'string'`",
        "`/reports/run-1/evidence/dashboard.alerts.json`",
        f"<{RUN_URL}|0b7c2e4a-5d1f-4c3e-9a8b-7f6e5d4c3b2a>",
        "`smoke journey dashboard --env staging`",
        "cc <!subteam^S0RELEASE> <@U0ONCALL>",
    ):
        assert needed in text, needed
    # The blocking failure first, the non-blocking one after it.
    assert text.index("*dashboard.alerts*") < text.index("*billing.cancel_url*")
    assert payload["text"].startswith(
        "Smoke FAIL: staging 1.4.3 (gate). dashboard.alerts FAILED: expected body matches"
    )
    assert "<@U0LEAD>" not in text, "escalation mentions wait for an escalation"


def test_escalation_mentions_the_escalation_people_too() -> None:
    text = all_text(SAMPLES["escalation"]())
    assert "cc <!subteam^S0RELEASE> <@U0ONCALL> <@U0LEAD> <!here>" in text
    assert "Escalating: failing for 3 consecutive failed runs" in text


def test_recovery_and_flaky_notes_page_nobody() -> None:
    for name in ("recovery", "flaky"):
        text = all_text(SAMPLES[name]())
        assert "<@" not in text, name
        assert "<!" not in text, name
    flaky = all_text(SAMPLES["flaky"]())
    assert "*auth.password_login* (2 attempts): passed after 2 attempts (first: 503)" in flaky


def test_message_for_picks_the_builder_by_kind() -> None:
    fail = fail_result(EVIDENCE)
    ok = pass_result()
    assert message_for(fail, note("reminder", fail), MENTIONS) == failure_message(
        fail, note("reminder", fail), MENTIONS
    )
    assert message_for(ok, note("recovery", ok)) == recovery_message(ok, note("recovery", ok))
    assert message_for(ok, note("flaky", ok)) == flaky_message(ok, note("flaky", ok))


def _one_check_result(check: CheckResult) -> GateResult:
    return GateResult(
        verdict=Verdict.FAIL,
        environment="staging",
        version="9.9.9",
        journeys=[JourneyResult(name=check.journey, checks=[check])],
    )


def test_product_text_is_escaped_so_it_cannot_page_or_link() -> None:
    check = CheckResult(
        journey="dashboard",
        check="feed",
        status=Status.FAILED,
        expected="a <list> & `items`",
        actual="<!channel> <https://evil.example|click>",
        message="<@U0EVERYONE> look",
    )
    result = _one_check_result(check)
    payload = failure_message(result, note("failure", result))
    text = all_text(payload)
    assert "<!channel>" not in text
    assert "<@U0EVERYONE>" not in text
    assert "<https://" not in text
    assert "*Expected:* `a &lt;list&gt; &amp; 'items'`" in text
    assert "&lt;!channel&gt;" in payload["text"]


def test_long_values_are_truncated_and_many_checks_summarised() -> None:
    checks = [
        CheckResult(
            journey="dashboard",
            check=f"c{i:02d}",
            status=Status.FAILED,
            expected="x" * 1000,
            actual="y" * 1000,
        )
        for i in range(MAX_CHECK_SECTIONS + 3)
    ]
    result = GateResult(
        verdict=Verdict.FAIL,
        environment="staging",
        journeys=[JourneyResult(name="dashboard", checks=checks)],
    )
    payload = failure_message(result, note("failure", result))
    text = all_text(payload)
    assert "y" * 300 not in text
    assert "y" * 299 + "…" in text
    assert "…and 3 more failed check(s): see the flow run." in text
    assert "*dashboard.c09*" in text
    assert "*dashboard.c10*" not in text
    assert payload["text"].endswith("(+12 more)")


def test_evidence_urls_become_links() -> None:
    check = CheckResult(
        journey="auth",
        check="browser_login",
        status=Status.FAILED,
        message="login page did not load",
        evidence=[
            Evidence(kind="trace", label="trace", path="https://files.example.com/t 1.zip"),
            Evidence(kind="response", label="body", excerpt='{"error": "boom"}'),
        ],
    )
    result = _one_check_result(check)
    text = all_text(failure_message(result, note("failure", result)))
    assert "<https://files.example.com/t%201.zip|trace>" in text
    assert 'body: `{\\"error\\": \\"boom\\"}`' in text


def test_evidence_points_at_its_stored_copy_not_the_workers_disk() -> None:
    check = CheckResult(
        journey="dashboard",
        check="ui",
        status=Status.FAILED,
        message="the page threw",
        evidence=[
            Evidence(
                kind="screenshot",
                label="shot",
                path="/worker/smoke-report/evidence/dashboard.ui.png",
                stored_key="run-1/dashboard.ui.png",
                stored_url="https://files.example.com/run-1/dashboard.ui.png",
            )
        ],
    )
    result = _one_check_result(check)
    text = all_text(failure_message(result, note("failure", result)))
    assert "<https://files.example.com/run-1/dashboard.ui.png|shot>" in text
    assert "/worker/smoke-report" not in text


def test_every_string_is_scrubbed() -> None:
    marker = "SMOKE-CANARY-7f3a9c"
    token = "xoxb-1111-2222-canarytoken"
    scrubber.register(marker)
    check = CheckResult(
        journey="auth",
        check="me",
        status=Status.FAILED,
        expected=f"identity {marker}",
        actual=f"Authorization: Bearer {token}; password={marker}",
        message=f"saw {marker} in " + "z" * 400 + marker,
        evidence=[Evidence(kind="response", label=f"body {marker}", excerpt=marker)],
    )
    result = _one_check_result(check)
    result.reasons = [f"auth.me failed: {marker}"]
    payloads = [
        failure_message(result, note("failure", result), MENTIONS),
        crash_message(marker, RUN_URL, f"crashed with {token} and {marker}"),
    ]
    for payload in payloads:
        text = all_text(payload)
        assert marker not in text
        assert token not in text
        assert "canarytoken" not in text
        # Scrubbed before truncation: a cut-off marker cannot survive in part.
        assert "SMOKE-CANARY" not in text
