"""Several environments' gates at once: the combined verdict, exit code, table, JSON and JUnit."""

from __future__ import annotations

import json
import signal
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from smoke.errors import ConfigError, Interrupted, SmokeSystemError
from smoke.fan_out import (
    FanOutResult,
    check_environments,
    progress_prefix,
    render_junit_all,
    render_table,
    report_folder,
)
from smoke.results import GateResult, Verdict
from tests.unit.report_samples import fail_result, pass_result

URL = "http://127.0.0.1:4200/runs/flow-run/"


def result(environment: str, verdict: Verdict, seconds: float = 12.3, **kw: object) -> GateResult:
    return GateResult.model_validate(
        {
            "verdict": verdict,
            "environment": environment,
            "duration_s": seconds,
            "flow_run_id": f"id-{environment}",
            "flow_run_url": f"{URL}id-{environment}",
        }
        | kw
    )


def errored(environment: str, outcome: BaseException) -> GateResult:
    return GateResult.errored(environment, "1.0.0", "gate", outcome)


def codes(*results: GateResult) -> int:
    return FanOutResult(list(results)).exit_code


def test_all_pass_is_pass_and_exit_0() -> None:
    fan_out = FanOutResult([result("a", Verdict.PASS), result("b", Verdict.PASS)])
    assert (fan_out.verdict, fan_out.exit_code) == (Verdict.PASS, 0)


def test_one_fail_among_passes_is_fail_and_exit_1() -> None:
    fan_out = FanOutResult([result("a", Verdict.PASS), result("b", Verdict.FAIL)])
    assert (fan_out.verdict, fan_out.exit_code) == (Verdict.FAIL, 1)


def test_error_beats_fail_across_environments() -> None:
    """An unchecked environment is worse than a broken one elsewhere: 3, not 1."""
    fan_out = FanOutResult(
        [result("a", Verdict.FAIL), errored("b", SmokeSystemError("the run crashed"))]
    )
    assert (fan_out.verdict, fan_out.exit_code) == (Verdict.ERROR, 3)


def test_a_configuration_error_of_one_environment_exits_2_unless_another_errored() -> None:
    config = errored("b", ConfigError("no block b"))
    assert codes(result("a", Verdict.FAIL), config) == 2
    assert codes(config, errored("c", SmokeSystemError("crashed"))) == 3


def test_a_signal_wins_over_everything() -> None:
    cancelled = errored("b", Interrupted(signal.SIGINT))
    assert codes(errored("a", SmokeSystemError("crashed")), cancelled) == 130
    assert codes(result("a", Verdict.PASS), errored("b", Interrupted(signal.SIGTERM))) == 143


def test_no_result_is_an_error_never_a_pass() -> None:
    assert (FanOutResult([]).verdict, FanOutResult([]).exit_code) == (Verdict.ERROR, 3)


def test_an_environment_given_twice_is_a_usage_error() -> None:
    assert check_environments(["sandbox", "staging"]) == ["sandbox", "staging"]
    with pytest.raises(ConfigError, match="--env staging is given twice") as e:
        check_environments(["staging", "sandbox", "staging"])
    assert e.value.exit_code == 2


def test_each_environment_has_a_report_folder_of_its_own() -> None:
    assert report_folder(Path("out"), "staging-eu") == Path("out/staging-eu")
    assert report_folder(Path("out"), "../x y") == Path("out/_x_y")


def test_progress_lines_are_prefixed_and_aligned() -> None:
    envs = ["sandbox", "eu", "staging-us"]
    prefixes = [progress_prefix(e, envs) for e in envs]
    assert prefixes[0] == "[sandbox]    "
    assert prefixes[1] == "[eu]         "
    assert len({len(p) for p in prefixes}) == 1


def test_the_table_has_a_row_per_environment_and_the_combined_outcome() -> None:
    fan_out = FanOutResult(
        [
            result("sandbox", Verdict.PASS, 14.04),
            result(
                "staging-eu",
                Verdict.FAIL,
                9.5,
                reasons=["dashboard.feed failed: expected status 200, got status 500"],
            ),
            errored("staging-us", SmokeSystemError("the gate run ended Crashed")),
        ],
        duration_s=31.26,
    )
    assert render_table(fan_out) == (
        "environment  verdict  duration  flow run\n"
        f"sandbox      PASS     14.0 s    {URL}id-sandbox\n"
        f"staging-eu   FAIL     9.5 s     {URL}id-staging-eu\n"
        "staging-us   ERROR    0.0 s     (no run)\n"
        "\n"
        "staging-eu: dashboard.feed failed: expected status 200, got status 500\n"
        "staging-us: the gate run ended Crashed\n"
        "ERROR in 31.3 s: 3 environments (1 PASS, 1 FAIL, 1 ERROR); exit 3\n"
    )


def test_the_json_document_holds_each_environments_result(tmp_path: Path) -> None:
    fan_out = FanOutResult([pass_result(), fail_result(tmp_path)], duration_s=20.0)
    data = json.loads(fan_out.json_text())
    assert (data["verdict"], data["exit_code"], data["duration_s"]) == ("FAIL", 1, 20.0)
    assert [e["verdict"] for e in data["environments"]] == ["PASS", "FAIL"]
    # Each is the documented single-gate shape, read back as one.
    again = [GateResult.from_json_dict(e) for e in data["environments"]]
    assert [r.verdict for r in again] == [Verdict.PASS, Verdict.FAIL]


def test_the_json_document_is_scrubbed() -> None:
    token = "sk_live_" + "x" * 24
    fan_out = FanOutResult([result("a", Verdict.FAIL, reasons=[f"key {token} refused"])])
    assert token not in fan_out.json_text()
    assert token not in render_table(fan_out)


def test_one_junit_file_has_a_suite_per_environment_and_journey(tmp_path: Path) -> None:
    staging = pass_result()
    eu = fail_result(tmp_path).model_copy(update={"environment": "staging-eu"})
    root = ET.fromstring(render_junit_all(FanOutResult([staging, eu])))
    names = [s.get("name") for s in root.iter("testsuite")]
    assert "staging.auth" in names
    assert {f"staging-eu.{j.name}" for j in eu.journeys} <= set(names)
    cases = len(list(root.iter("testcase")))
    assert root.get("tests") == str(cases)
    failures = sum(int(s.get("failures", "0")) for s in root.iter("testsuite"))
    assert failures > 0
    assert root.get("failures") == str(failures)
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["verdict"] == "FAIL"
    assert props["staging-eu.verdict"] == "FAIL"
