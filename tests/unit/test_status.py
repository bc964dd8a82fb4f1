"""Run tags, the status document, the SVG badge and the pass rates of `smoke history`."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smoke.results import Verdict
from smoke.status import BADGE_COLOURS, badge_svg, pass_rates, run_tags, status_document
from tests.unit.report_samples import RUN_ID, RUN_URL, error_result, fail_result, pass_result

AT = datetime(2026, 12, 3, 10, 15, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"


def test_run_tags_name_environment_mode_and_version_when_given() -> None:
    assert run_tags("staging", "gate", "1.4.2") == ["env:staging", "mode:gate", "version:1.4.2"]
    assert run_tags("staging", "monitor", None) == ["env:staging", "mode:monitor"]
    assert run_tags("staging", "monitor", "") == ["env:staging", "mode:monitor"]


def test_status_document_of_a_pass() -> None:
    document = status_document(pass_result(), AT)
    assert document == {
        "schema": "smoke-status/1",
        "environment": "staging",
        "verdict": "PASS",
        "version": "1.4.2",
        "mode": "gate",
        "time": "2026-12-03T10:15:00+00:00",
        "duration_s": 5.234,
        "flow_run_id": RUN_ID,
        "flow_run_url": RUN_URL,
        "journeys": {
            "preflight": "passed",
            "auth": "flaky",
            "dashboard": "degraded",
        },
        "problems": [],
    }
    json.dumps(document)  # a JSON document, nothing else


def test_status_document_of_a_fail_names_the_failed_checks(tmp_path: Path) -> None:
    result = fail_result(tmp_path)
    document = status_document(result, AT)
    assert document["verdict"] == "FAIL"
    assert document["problems"] == [c.key for c in result.problems()]
    assert document["problems"]
    assert document["journeys"] == {j.name: j.status.value for j in result.journeys}


@pytest.mark.parametrize("verdict", list(Verdict))
def test_badge_is_valid_svg_with_the_verdict_on_its_colour(verdict: Verdict) -> None:
    svg = badge_svg(verdict, "smoke staging")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("aria-label") == f"smoke staging: {verdict.value}"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts == ["smoke staging", verdict.value]
    fills = [r.get("fill") for r in root.iter(f"{SVG}rect")]
    assert fills[-1] == BADGE_COLOURS[verdict]
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no fetches


def test_badge_colours_tell_the_verdicts_apart() -> None:
    assert len(set(BADGE_COLOURS.values())) == len(Verdict) == len(BADGE_COLOURS)


def test_badge_escapes_the_label() -> None:
    root = ET.fromstring(badge_svg(Verdict.FAIL, 'smoke <a&"b>'))
    assert next(t.text for t in root.iter(f"{SVG}text")) == 'smoke <a&"b>'


def test_pass_rates_count_flaky_and_degraded_as_passed_and_skip_skipped(tmp_path: Path) -> None:
    runs = [
        status_document(pass_result(), AT)["journeys"],
        status_document(fail_result(tmp_path), AT)["journeys"],
        status_document(error_result(), AT)["journeys"],
        {"auth": "skipped"},
    ]
    rates = pass_rates(runs)
    expected: dict[str, list[bool]] = {}
    for journeys in runs:
        for name, status in journeys.items():
            if status != "skipped":
                expected.setdefault(name, []).append(status not in ("failed", "error"))
    assert rates == {
        name: {"passed": sum(v), "runs": len(v), "rate": round(sum(v) / len(v), 4)}
        for name, v in expected.items()
    }
    assert rates["auth"]["runs"] == sum(1 for r in runs[:3] if "auth" in r)
