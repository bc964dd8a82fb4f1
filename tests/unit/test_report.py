from __future__ import annotations

import json
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from smoke.report import (
    next_steps,
    progress_line,
    render_junit,
    render_markdown,
    render_summary,
    status_word,
    table_rows,
    write_outputs,
)
from smoke.results import CheckResult, Evidence, GateResult, JourneyResult, Status, Verdict
from smoke.scrub import scrubber

from .report_samples import (
    browser_fail_result,
    crashed_result,
    error_result,
    fail_result,
    pass_result,
)

Snapshot = Callable[[str, str], None]

# Rendering needs no files: a fixed, fake report folder keeps the snapshots stable.
REPORT_DIR = Path("/reports/run-1")
SAMPLES: dict[str, Callable[[], GateResult]] = {
    "pass": pass_result,
    "fail": lambda: fail_result(REPORT_DIR / "evidence"),
    "browser_fail": lambda: browser_fail_result(REPORT_DIR / "evidence"),
    "error": error_result,
    "crashed": crashed_result,
}


@pytest.mark.parametrize("name", SAMPLES)
def test_markdown_snapshot(name: str, snapshot: Snapshot) -> None:
    snapshot(f"report_{name}.md", render_markdown(SAMPLES[name](), evidence_base=REPORT_DIR))


@pytest.mark.parametrize("name", SAMPLES)
def test_junit_snapshot(name: str, snapshot: Snapshot) -> None:
    snapshot(f"junit_{name}.xml", render_junit(SAMPLES[name]()))


@pytest.mark.parametrize("name", SAMPLES)
def test_summary_snapshot(name: str, snapshot: Snapshot) -> None:
    snapshot(f"summary_{name}.txt", render_summary(SAMPLES[name]()))


def test_progress_lines_snapshot(snapshot: Snapshot) -> None:
    lines = [
        progress_line(c) for name in ("pass", "fail", "error") for c in SAMPLES[name]().all_checks()
    ]
    snapshot("progress.txt", "\n".join(lines) + "\n")


def test_rendering_is_deterministic() -> None:
    for make in SAMPLES.values():
        assert render_markdown(make()) == render_markdown(make())
        assert render_junit(make()) == render_junit(make())
        assert render_summary(make()) == render_summary(make())


def test_markdown_fail_report_names_the_failure_and_links_evidence() -> None:
    md = render_markdown(SAMPLES["fail"](), evidence_base=REPORT_DIR)
    assert md.startswith("# Smoke FAIL: staging, version 1.4.3\n")
    assert "| dashboard | 2 | 1 | 1 | FAILED |" in md
    assert "- actual: `$.items[0].severity: 3 is not of type 'string'`" in md
    # Inside the report folder: relative. Elsewhere: absolute, wrapped for the space.
    assert "[alerts response](evidence/dashboard.alerts.json)" in md
    assert "[dashboard page](</var/tmp/elsewhere/alerts page.png>)" in md
    assert "`smoke journey dashboard --env staging`" in md
    # The blocking failure comes first, the non-blocking one after it.
    assert md.index("### dashboard.alerts") < md.index("### billing.cancel_url")


def test_reports_give_a_trace_hint_for_python_users() -> None:
    result = SAMPLES["browser_fail"]()
    md = render_markdown(result, evidence_base=REPORT_DIR, html_report="report.html")
    assert "npx" not in md + render_junit(result) + render_summary(result)
    assert "[auth.browser_login trace](evidence/auth.browser_login.trace.zip)" in md
    assert (
        "- view the trace: from the report folder "
        "`python -m playwright show-trace evidence/auth.browser_login.trace.zip`, or from the "
        "smoke checkout `.venv/bin/playwright show-trace "
        "/reports/run-1/evidence/auth.browser_login.trace.zip`\n"
    ) in md
    assert "screenshots, in one file that opens offline: [report.html](report.html)\n" in md
    assert "[report.html]" not in render_markdown(result)  # no page beside a Prefect artifact
    trace = "/reports/run-1/evidence/auth.browser_login.trace.zip"
    assert (
        f"  view the trace: .venv/bin/playwright show-trace {trace}"
        f"  (or: python -m playwright show-trace {trace})\n"
    ) in render_summary(result)


def test_markdown_without_evidence_base_keeps_paths_as_recorded() -> None:
    md = render_markdown(SAMPLES["fail"]())
    assert "[alerts response](/reports/run-1/evidence/dashboard.alerts.json)" in md


def test_markdown_escapes_table_cells_and_code_spans() -> None:
    check = CheckResult(
        journey="dashboard",
        check="a|b",
        status=Status.FAILED,
        expected="`ready` flag",
        actual="line one\nline two",
    )
    result = GateResult(
        verdict=Verdict.FAIL,
        environment="staging",
        journeys=[JourneyResult(name="dashboard", checks=[check])],
    )
    md = render_markdown(result)
    assert "| dashboard.a\\|b | FAILED | yes | 1 | 0 ms |" in md
    assert "- expected: `` `ready` flag ``" in md
    assert "- actual: `line one line two`" in md


def test_junit_parses_back_with_the_right_counts() -> None:
    root = ET.fromstring(render_junit(SAMPLES["fail"]()))
    assert root.tag == "testsuites"
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped", "time")} == {
        "tests": "7",
        "failures": "2",
        "errors": "0",
        "skipped": "0",
        "time": "7.050",
    }
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["verdict"] == "FAIL"
    assert props["version"] == "1.4.3"
    suites = root.findall("testsuite")
    assert [(s.get("name"), s.get("tests"), s.get("failures")) for s in suites] == [
        ("preflight", "3", "0"),
        ("billing", "2", "1"),
        ("dashboard", "2", "1"),
    ]
    alerts = root.find("testsuite/testcase[@name='alerts']")
    assert alerts is not None
    assert alerts.get("classname") == "smoke.dashboard"
    assert alerts.get("time") == "0.095"
    failure = alerts.find("failure")
    assert failure is not None
    assert failure.get("type") == "failed"
    assert failure.get("message") == "response does not match its contract"
    assert failure.text is not None
    assert "expected: body matches the alerts contract" in failure.text
    assert "actual: $.items[0].severity: 3 is not of type 'string'" in failure.text
    assert "/reports/run-1/evidence/dashboard.alerts.json" in failure.text


def test_junit_pass_marks_flaky_and_degraded_as_passing_with_output() -> None:
    root = ET.fromstring(render_junit(SAMPLES["pass"]()))
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("9", "0", "0")
    assert root.get("skipped") == "1"
    flaky = root.find(".//testcase[@name='password_login']")
    assert flaky is not None
    assert flaky.find("failure") is None
    out = flaky.find("system-out")
    assert out is not None
    assert out.text is not None
    assert out.text.startswith("flaky: passed after 2 attempts\n")
    skipped = root.find(".//testcase[@name='ui']/skipped")
    assert skipped is not None
    assert skipped.get("message") == "read-only environment"


def test_junit_error_and_a_run_that_never_started() -> None:
    root = ET.fromstring(render_junit(SAMPLES["error"]()))
    assert (root.get("errors"), root.get("failures")) == ("1", "0")
    error = root.find(".//testcase[@name='browser_login']/error")
    assert error is not None
    assert error.get("message") == "Chromium would not start: no display"

    crashed = ET.fromstring(render_junit(SAMPLES["crashed"]()))
    assert (crashed.get("tests"), crashed.get("errors")) == ("1", "1")
    run = crashed.find("testsuite[@name='gate']/testcase[@name='run']/error")
    assert run is not None
    assert run.get("message") == "Refusing to run: the configured Stripe key is a live key."


def test_summary_shows_the_first_blocking_failure_with_its_evidence() -> None:
    text = render_summary(SAMPLES["fail"]())
    assert "FAIL in 7.0 s  (staging, version 1.4.3)\n" in text
    assert (
        "dashboard.alerts FAILED: expected body matches the alerts contract, "
        "got $.items[0].severity: 3 is not of type 'string'\n"
        "  evidence: /reports/run-1/evidence/dashboard.alerts.json\n"
    ) in text
    assert "flow run: http://127.0.0.1:4200/runs/flow-run/" in text


def test_summary_shortens_long_check_names_to_the_width() -> None:
    check = CheckResult(journey="auth", check="x" * 200, status=Status.PASSED, duration_ms=5)
    result = GateResult(
        verdict=Verdict.PASS,
        environment="staging",
        journeys=[JourneyResult(name="auth", checks=[check])],
    )
    row = render_summary(result, width=60).splitlines()[1]
    assert len(row) == 60
    assert row.endswith("…       5 ms")


@pytest.mark.parametrize(
    ("check", "line"),
    [
        (
            CheckResult(
                journey="auth", check="password_login", status=Status.PASSED, duration_ms=123
            ),
            "  passed   auth.password_login  (123 ms)",
        ),
        (
            CheckResult(
                journey="dashboard",
                check="feed",
                status=Status.FAILED,
                expected="status 200",
                actual="500",
            ),
            "  FAILED   dashboard.feed  expected status 200, got 500",
        ),
        (
            CheckResult(journey="auth", check="me", status=Status.FLAKY, duration_ms=9, attempts=3),
            "  flaky    auth.me  (9 ms, 3 attempts)",
        ),
        (
            CheckResult(journey="auth", check="ui", status=Status.ERROR, message="no\nbrowser"),
            "  ERROR    auth.ui  no browser",
        ),
        (
            CheckResult(journey="billing", check="checkout", status=Status.SKIPPED),
            "  skipped  billing.checkout",
        ),
    ],
)
def test_progress_line(check: CheckResult, line: str) -> None:
    assert progress_line(check) == line


def test_status_words() -> None:
    assert [status_word(s) for s in Status] == [
        "passed",
        "flaky",
        "degraded",
        "FAILED",
        "ERROR",
        "skipped",
    ]


def test_next_steps() -> None:
    assert next_steps(SAMPLES["pass"]()) == [
        "PASS with warnings: look at the flaky checks: auth.password_login (2 attempts).",
        "Look at the slow checks, over their latency budget: dashboard.alerts (1320 ms).",
    ]
    ok = CheckResult(journey="auth", check="me_identity", status=Status.PASSED)
    clean = GateResult(
        verdict=Verdict.PASS,
        environment="staging",
        journeys=[JourneyResult(name="auth", checks=[ok, ok.model_copy(update={"check": "x"})])],
    )
    assert next_steps(clean) == ["Nothing to do: all 2 checks ran and passed."]


def test_a_pass_says_what_ran_and_why_the_rest_did_not() -> None:
    def skipped(name: str, kind: str, why: str) -> CheckResult:
        return CheckResult(
            journey="auth",
            check=name,
            status=Status.SKIPPED,
            message=why,
            skipped_because=kind,  # type: ignore[arg-type]
        )

    checks = [
        CheckResult(journey="auth", check="me_identity", status=Status.PASSED),
        skipped("browser_login", "not_applicable", "no browser login configured"),
        skipped("tenant_isolation", "configuration", "needs the other identity"),
        skipped("anonymous_refused", "prerequisite", "login failed"),
    ]
    result = GateResult(
        verdict=Verdict.PASS,
        environment="staging",
        journeys=[JourneyResult(name="auth", checks=checks)],
    )
    summary = render_summary(result)
    assert (
        "1 of 4 checks ran; skipped: 1 off by configuration, 1 not applicable, "
        "1 prerequisite failed"
    ) in summary
    assert "  off by configuration: auth.tenant_isolation" in summary
    assert "  prerequisite failed: auth.anonymous_refused" in summary
    markdown = render_markdown(result)
    assert "- auth.browser_login: no browser login configured" in markdown
    assert "every check passed" not in markdown
    assert next_steps(result)[0].startswith("Nothing to do for the 1 check(s) that ran; 3 did")
    assert next_steps(SAMPLES["error"]())[0] == (
        "The smoke system could not run: "
        "auth.browser_login could not run: Chromium would not start: no display"
    )
    assert next_steps(SAMPLES["crashed"]())[1] == (
        "Fix the configuration of environment `prod`, then run `smoke gate --env prod` again."
    )


def test_next_steps_for_a_preflight_failure_and_fail_on_flaky() -> None:
    preflight = GateResult(
        verdict=Verdict.FAIL,
        environment="staging",
        version="abc123",
        journeys=[
            JourneyResult(
                name="preflight",
                checks=[CheckResult(journey="preflight", check="version", status=Status.FAILED)],
            ),
            JourneyResult(
                name="auth",
                checks=[CheckResult(journey="auth", check="me", status=Status.FLAKY, attempts=2)],
            ),
        ],
    )
    assert next_steps(preflight) == [
        "The target is not ready (preflight.version): check the deployment's health, version "
        "and Stripe mode, then re-run the gate: `smoke gate --env staging --version abc123`."
    ]
    flaky_fail = preflight.model_copy(update={"journeys": preflight.journeys[1:]})
    assert next_steps(flaky_fail) == [
        "Fix the failing check (auth.me) or re-run one journey: `smoke journey auth --env staging`."
    ]


def test_table_rows() -> None:
    rows = table_rows(SAMPLES["fail"]())
    assert len(rows) == 7
    assert rows[-1] == {
        "journey": "dashboard",
        "check": "alerts",
        "status": "failed",
        "blocking": True,
        "attempts": 1,
        "duration_ms": 95,
        "expected": "body matches the alerts contract",
        "actual": "$.items[0].severity: 3 is not of type 'string'",
        "message": "response does not match its contract",
    }
    assert rows[4]["blocking"] is False


SECRET = "s3cr3t&<marker>-0042"


def _leaky_result(evidence: list[Evidence]) -> GateResult:
    check = CheckResult(
        journey="auth",
        check="me",
        status=Status.FAILED,
        expected=f"identity for {SECRET}",
        actual=f'{{"token": "{SECRET}"}} and Bearer abc.def',
        message=f'cookie session="{SECRET}" rejected; password={SECRET}',
        evidence=evidence,
    )
    return GateResult(
        verdict=Verdict.FAIL,
        environment="staging",
        reasons=[f"auth.me failed: {SECRET}"],
        journeys=[JourneyResult(name="auth", checks=[check])],
    )


def test_no_renderer_lets_a_registered_secret_through() -> None:
    scrubber.register(SECRET)
    result = _leaky_result([Evidence(kind="response", label="body", excerpt=SECRET)])
    outputs = [
        render_markdown(result),
        render_junit(result),
        render_summary(result),
        progress_line(result.all_checks()[0]),
        json.dumps(table_rows(result)),
    ]
    for text in outputs:
        assert "s3cr3t" not in text
        assert "abc.def" not in text
    ET.fromstring(outputs[1])


def test_write_outputs_writes_every_file_and_no_secret(tmp_path: Path) -> None:
    scrubber.register(SECRET)
    outside = tmp_path / "run-artifacts"
    outside.mkdir()
    (outside / "me.json").write_text(json.dumps({"token": SECRET, "email": "a@b.test"}))
    with zipfile.ZipFile(outside / "trace.zip", "w") as z:
        z.writestr("trace.trace", f"Authorization: Bearer {SECRET}\n")
    report_dir = tmp_path / "report"
    (report_dir / "evidence").mkdir(parents=True)
    (report_dir / "evidence" / "page.png").write_bytes(b"\x89PNG\xff" + SECRET.encode())
    evidence = [
        Evidence(kind="response", label="me response", path=str(outside / "me.json")),
        Evidence(kind="trace", label="trace", path=str(outside / "trace.zip")),
        Evidence(kind="screenshot", label="page", path=str(report_dir / "evidence" / "page.png")),
        Evidence(kind="response", label="excerpt", excerpt=f"secret={SECRET}"),
    ]
    result = _leaky_result(evidence)

    written = write_outputs(
        result,
        json_path=tmp_path / "out" / "result.json",
        junit_path=tmp_path / "out" / "junit.xml",
        report_dir=report_dir,
    )

    assert written == [
        tmp_path / "out" / "result.json",
        tmp_path / "out" / "junit.xml",
        report_dir / "report.md",
        report_dir / "result.json",
        report_dir / "junit.xml",
        report_dir / "evidence" / "me.json",
        report_dir / "evidence" / "trace.zip",
        report_dir / "report.html",
    ]
    files = [p for p in tmp_path.rglob("*") if p.is_file() and outside not in p.parents]
    assert len(files) == 9  # the eight written and the screenshot already there
    for path in files:
        data = path.read_bytes()
        assert SECRET.encode() not in data, path
        assert b"s3cr3t" not in data, path
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                assert all(b"s3cr3t" not in z.read(n) for n in z.namelist())

    # Still well-formed after scrubbing.
    for json_file in (tmp_path / "out" / "result.json", report_dir / "result.json"):
        assert json.loads(json_file.read_text())["verdict"] == "FAIL"
    for xml_file in (tmp_path / "out" / "junit.xml", report_dir / "junit.xml"):
        assert ET.parse(xml_file).getroot().get("failures") == "1"

    # The folder's copies point into the folder; the standalone JSON keeps the run's paths.
    local = json.loads((report_dir / "result.json").read_text())
    assert [e.get("path") for e in local["journeys"][0]["checks"][0]["evidence"]] == [
        "evidence/me.json",
        "evidence/trace.zip",
        "evidence/page.png",
        None,
    ]
    standalone = json.loads((tmp_path / "out" / "result.json").read_text())
    assert standalone["journeys"][0]["checks"][0]["evidence"][0]["path"] == str(outside / "me.json")
    md = (report_dir / "report.md").read_text()
    assert "[me response](evidence/me.json), [trace](evidence/trace.zip)" in md
    # The originals outside the folder are not touched.
    assert SECRET in (outside / "me.json").read_text()


def test_write_outputs_only_what_was_asked(tmp_path: Path) -> None:
    result = SAMPLES["pass"]()
    assert write_outputs(result, json_path=None, junit_path=None, report_dir=None) == []
    [path] = write_outputs(result, json_path=tmp_path / "r.json", junit_path=None, report_dir=None)
    data = json.loads(path.read_text())
    assert data == result.to_json_dict()
    assert path.read_text().startswith('{\n  "verdict": "PASS",\n')


def test_write_outputs_renames_clashing_evidence_and_keeps_missing_paths(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "shot.png").write_bytes(folder.encode())
    evidence = [
        Evidence(kind="screenshot", label="a", path=str(tmp_path / "a" / "shot.png")),
        Evidence(kind="screenshot", label="b", path=str(tmp_path / "b" / "shot.png")),
        Evidence(kind="screenshot", label="again", path=str(tmp_path / "a" / "shot.png")),
        Evidence(kind="trace", label="gone", path=str(tmp_path / "missing.zip")),
    ]
    report_dir = tmp_path / "report"
    write_outputs(_leaky_result(evidence), json_path=None, junit_path=None, report_dir=report_dir)
    assert (report_dir / "evidence" / "shot.png").read_bytes() == b"a"
    assert (report_dir / "evidence" / "shot-2.png").read_bytes() == b"b"
    local = json.loads((report_dir / "result.json").read_text())
    assert [e["path"] for e in local["journeys"][0]["checks"][0]["evidence"]] == [
        "evidence/shot.png",
        "evidence/shot-2.png",
        "evidence/shot.png",
        str(tmp_path / "missing.zip"),
    ]


def test_write_outputs_resolves_relative_paths_against_the_report_folder(tmp_path: Path) -> None:
    report_dir = tmp_path / "report"
    (report_dir / "evidence").mkdir(parents=True)
    (report_dir / "evidence" / "feed.json").write_text("{}")
    evidence = [Evidence(kind="response", label="feed", path="evidence/feed.json")]
    written = write_outputs(
        _leaky_result(evidence), json_path=None, junit_path=None, report_dir=report_dir
    )
    assert len(written) == 4  # the four report files, nothing copied
    assert "[feed](evidence/feed.json)" in (report_dir / "report.md").read_text()


def test_the_stored_result_round_trips_with_secrets_masked_and_numbers_kept() -> None:
    from smoke.evidence_store import parse_result_json, result_json

    result = pass_result()
    # A fraction that passes the Luhn check once looked like a card number to the scrubber.
    result.duration_s = 16.00210605335111
    result.journeys[0].checks[0].actual = "sent token hunter2-secret-value"
    scrubber.register("hunter2-secret-value")
    try:
        text = result_json(result)
    finally:
        scrubber.clear()
    parsed = parse_result_json(text)
    assert parsed is not None
    assert parsed.duration_s == result.duration_s
    assert parsed.journeys[0].checks[0].actual == "sent token ***"
    assert "hunter2" not in text
    assert parse_result_json("{not json}") is None


def test_evidence_keys_and_urls_resolve_under_the_storage_basepath() -> None:
    from smoke.evidence_store import evidence_key, result_key, storage_url

    key = evidence_key("run-1", "/worker/smoke-report/evidence/dashboard.ui.png")
    assert key == "run-1/dashboard.ui.png"
    assert result_key("run-1") == "run-1/result.json"
    assert (
        storage_url("/srv/prefect/evidence/", key)
        == "file:///srv/prefect/evidence/run-1/dashboard.ui.png"
    )
    assert storage_url("s3://bucket/smoke", key) == "s3://bucket/smoke/run-1/dashboard.ui.png"


def test_the_report_links_the_stored_copy_of_each_evidence_file() -> None:
    evidence = [
        Evidence(
            kind="screenshot",
            label="dashboard.ui screenshot",
            path="evidence/dashboard.ui.png",
            stored_key="run-1/dashboard.ui.png",
            stored_url="s3://bucket/smoke/run-1/dashboard.ui.png",
        )
    ]
    result = _leaky_result(evidence)
    assert "(s3://bucket/smoke/run-1/dashboard.ui.png)" in render_markdown(result)
    assert "stored (screenshot): s3://bucket/smoke/run-1/dashboard.ui.png" in render_junit(result)
    assert "stored: s3://bucket/smoke/run-1/dashboard.ui.png" in render_summary(result)
