from __future__ import annotations

import json
from typing import Any

import pytest

from smoke.results import (
    CheckResult,
    Evidence,
    GateResult,
    JourneyResult,
    Status,
    Verdict,
    worst_status,
)


def check(status: Status, name: str = "c", journey: str = "auth", **kw: Any) -> CheckResult:
    return CheckResult(journey=journey, check=name, status=status, **kw)


@pytest.mark.parametrize(
    ("statuses", "worst"),
    [
        ([], Status.SKIPPED),
        ([Status.SKIPPED], Status.SKIPPED),
        ([Status.PASSED, Status.SKIPPED], Status.PASSED),
        ([Status.PASSED, Status.DEGRADED], Status.DEGRADED),
        ([Status.DEGRADED, Status.FLAKY, Status.PASSED], Status.FLAKY),
        ([Status.FLAKY, Status.FAILED], Status.FAILED),
        ([Status.FAILED, Status.ERROR, Status.PASSED], Status.ERROR),
    ],
)
def test_worst_status(statuses: list[Status], worst: Status) -> None:
    assert worst_status(statuses) is worst
    # Order does not matter, and any iterable (a generator) works.
    assert worst_status(s for s in reversed(statuses)) is worst


def test_journey_status_is_worst_check_status() -> None:
    journey = JourneyResult(
        name="auth", checks=[check(Status.PASSED, "a"), check(Status.FLAKY, "b")]
    )
    assert journey.status is Status.FLAKY
    assert JourneyResult(name="empty").status is Status.SKIPPED


@pytest.mark.parametrize(
    ("verdict", "error_kind", "code"),
    [
        (Verdict.PASS, None, 0),
        (Verdict.FAIL, None, 1),
        (Verdict.FAIL, "config", 1),
        (Verdict.ERROR, "config", 2),
        (Verdict.ERROR, "system", 3),
        (Verdict.ERROR, None, 3),
    ],
)
def test_exit_code(verdict: Verdict, error_kind: str | None, code: int) -> None:
    result = GateResult(verdict=verdict, environment="staging", error_kind=error_kind)
    assert result.exit_code == code


def test_check_key_and_is_problem() -> None:
    assert check(Status.PASSED, "me").key == "auth.me"
    assert [s for s in Status if check(s).is_problem] == [Status.FAILED, Status.ERROR]


def test_evidence_link_prefers_path() -> None:
    assert Evidence(kind="screenshot", label="page", path="evidence/a.png").link() == (
        "evidence/a.png"
    )
    assert Evidence(kind="response", label="body", excerpt='{"a":1}').link() == '{"a":1}'
    assert Evidence(kind="response", label="body").link() == ""


def _gate() -> GateResult:
    return GateResult(
        verdict=Verdict.FAIL,
        environment="staging",
        version="1.4.2",
        flow_run_id="run-1",
        flow_run_url="http://prefect.local/runs/flow-run/run-1",
        duration_s=5.23456,
        reasons=["dashboard.feed failed: 500"],
        journeys=[
            JourneyResult(name="preflight", checks=[check(Status.PASSED, "health", "preflight")]),
            JourneyResult(
                name="dashboard",
                checks=[
                    check(
                        Status.FAILED,
                        "feed",
                        "dashboard",
                        attempts=1,
                        duration_ms=87,
                        expected="status 200",
                        actual="status 500",
                        message="GET /api/dashboard/feed answered 500",
                        evidence=[
                            Evidence(kind="response", label="body", excerpt="oops"),
                            Evidence(kind="screenshot", label="page", path="evidence/feed.png"),
                        ],
                    ),
                    check(Status.SKIPPED, "ui", "dashboard", blocking=False),
                ],
            ),
        ],
    )


def test_to_json_dict_has_the_documented_shape() -> None:
    data = _gate().to_json_dict()
    assert list(data) == [
        "verdict",
        "environment",
        "version",
        "mode",
        "flow_run_id",
        "flow_run_url",
        "duration_s",
        "reasons",
        "warnings",
        "error_kind",
        "exit_code",
        "journeys",
    ]
    assert data["verdict"] == "FAIL"
    assert data["environment"] == "staging"
    assert data["version"] == "1.4.2"
    assert data["flow_run_id"] == "run-1"
    assert data["flow_run_url"] == "http://prefect.local/runs/flow-run/run-1"
    assert data["duration_s"] == 5.235
    journeys = data["journeys"]
    assert isinstance(journeys, list)
    assert [(j["name"], j["status"]) for j in journeys] == [
        ("preflight", "passed"),
        ("dashboard", "failed"),
    ]
    feed = journeys[1]["checks"][0]
    assert feed == {
        "name": "feed",
        "status": "failed",
        "blocking": True,
        "attempts": 1,
        "duration_ms": 87,
        "expected": "status 200",
        "actual": "status 500",
        "message": "GET /api/dashboard/feed answered 500",
        "evidence": [
            {"kind": "response", "label": "body", "excerpt": "oops"},
            {"kind": "screenshot", "label": "page", "path": "evidence/feed.png"},
        ],
    }
    assert journeys[1]["checks"][1]["blocking"] is False
    # The dict is JSON as it stands: no enums, no models.
    assert json.loads(json.dumps(data)) == data


def test_all_checks_and_problems_keep_run_order() -> None:
    gate = _gate()
    assert [c.key for c in gate.all_checks()] == [
        "preflight.health",
        "dashboard.feed",
        "dashboard.ui",
    ]
    assert [c.key for c in gate.problems()] == ["dashboard.feed"]


def test_the_json_result_reads_back() -> None:
    from tests.unit.report_samples import pass_result

    result = pass_result()
    again = GateResult.from_json_dict(json.loads(json.dumps(result.to_json_dict())))
    assert again.to_json_dict() == result.to_json_dict()
    assert [c.key for c in again.all_checks()] == [c.key for c in result.all_checks()]
