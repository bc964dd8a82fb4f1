"""The GitHub Actions job summary, annotations and step outputs (snapshots and rules)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from smoke.github import (
    HEADLINES,
    escape_data,
    escape_property,
    headline,
    last_message,
    main,
    publish,
    render_annotations,
    render_outputs,
    render_step_summary,
    result_without_run,
    run_url,
    workflow_command,
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

REPORT_DIR = Path("/reports/run-1")
RUN_PAGE = "https://github.com/acme/shop/actions/runs/42"
ACTIONS_ENV = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "acme/shop",
    "GITHUB_RUN_ID": "42",
}
SAMPLES: dict[str, Callable[[], GateResult]] = {
    "pass": pass_result,
    "fail": lambda: fail_result(REPORT_DIR / "evidence"),
    "browser_fail": lambda: browser_fail_result(REPORT_DIR / "evidence"),
    "error": error_result,
    "crashed": crashed_result,
}


@pytest.mark.parametrize("name", SAMPLES)
def test_step_summary_snapshot(name: str, snapshot: Snapshot) -> None:
    text = render_step_summary(SAMPLES[name](), report_dir=REPORT_DIR, artifacts_url=RUN_PAGE)
    snapshot(f"github_summary_{name}.md", text)


def test_annotations_snapshot(snapshot: Snapshot) -> None:
    lines = [f"# {name}\n" for name in SAMPLES]
    blocks = [
        head + "".join(f"{a}\n" for a in render_annotations(make(), report_dir=REPORT_DIR))
        for head, make in zip(lines, SAMPLES.values(), strict=True)
    ]
    snapshot("github_annotations.txt", "".join(blocks))


def test_each_exit_code_has_its_own_words_in_the_summary() -> None:
    fail = SAMPLES["fail"]()
    texts = {
        0: render_step_summary(pass_result(), report_dir=None),
        1: render_step_summary(fail, report_dir=None),
        2: render_step_summary(crashed_result(), report_dir=None),
        3: render_step_summary(error_result(), report_dir=None),
    }
    assert "FAIL: the product is broken" in texts[1]
    assert "configuration error" in texts[2]
    assert "the smoke system failed" in texts[3]
    icons = {0: ":white_check_mark:", 1: ":x:", 2: ":warning:", 3: ":warning:"}
    for code, text in texts.items():
        assert text.startswith(f"## {icons[code]} Smoke {HEADLINES[code]}\n")
        assert f"exit code {code}" in text
        others = [HEADLINES[c] for c in HEADLINES if c != code]
        assert HEADLINES[code] in text
        assert not any(h in text for h in others)
    assert headline(130) == "ERROR: smoke exited 130 (the product was not judged)"


def test_the_summary_puts_expected_actual_and_evidence_of_each_failed_check() -> None:
    text = render_step_summary(SAMPLES["fail"](), report_dir=REPORT_DIR, artifacts_url=RUN_PAGE)
    alerts = text.index("#### dashboard.alerts: FAILED")
    cancel = text.index("#### billing.cancel_url: FAILED")
    assert alerts < cancel < text.index("### Journeys")  # blocking first, tables after
    section = text[alerts:cancel]
    assert "| expected | `body matches the alerts contract` |" in section
    assert "| actual | `$.items[0].severity: 3 is not of type 'string'` |" in section
    assert (
        f"| `alerts response` | [`evidence/dashboard.alerts.json`]({RUN_PAGE}#artifacts) |"
        in section
    )
    assert "/reports/run-1/report.html" in text
    # One table per journey.
    assert text.count("| check | status | attempts | duration | detail |") == 3


def test_the_summary_gives_a_trace_hint_for_python_users() -> None:
    text = render_step_summary(SAMPLES["browser_fail"](), report_dir=Path("smoke-report"))
    assert "npx" not in text
    assert "`python -m playwright show-trace /reports/run-1/evidence/" in text


def test_product_text_cannot_break_the_summary_markup() -> None:
    check = CheckResult(
        journey="auth",
        check="me",
        status=Status.FAILED,
        expected="a | b",
        actual="<img src=x onerror=alert(1)> ``code``",
        message="line one\nline two",
        evidence=[Evidence(kind="response", label="<b>body</b>", excerpt="```\n</details>\n")],
    )
    result = GateResult(
        verdict=Verdict.FAIL,
        environment="staging",
        reasons=["<script>alert(1)</script>"],
        journeys=[JourneyResult(name="auth", checks=[check])],
    )
    text = render_step_summary(result, report_dir=None)
    assert "| expected | `a \\| b` |" in text
    assert "| actual | ``` <img src=x onerror=alert(1)> ``code`` ``` |" in text
    assert "| message | `line one line two` |" in text
    assert "- &lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<summary>&lt;b&gt;body&lt;/b&gt;</summary>" in text
    assert "\n````\n```\n</details>\n````\n" in text  # the fence outgrows the excerpt's


def test_workflow_commands_are_escaped_the_way_the_runner_parses_them() -> None:
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("a: b, c%\n") == "a%3A b%2C c%25%0A"
    assert workflow_command("warning", "x") == "::warning::x"
    assert (
        workflow_command("error", "got 500,\nretry: no", title="auth.me: FAILED, 100%")
        == "::error title=auth.me%3A FAILED%2C 100%25::got 500,%0Aretry: no"
    )


def test_annotations_are_one_line_each_with_the_check_in_the_title() -> None:
    lines = render_annotations(SAMPLES["fail"](), report_dir=REPORT_DIR)
    assert [line.split("::")[1] for line in lines] == [
        "error title=billing.cancel_url FAILED (non-blocking)",
        "error title=dashboard.alerts FAILED",
    ]
    assert all("\n" not in line for line in lines)
    assert "%0Aevidence: evidence/dashboard.alerts.json" in lines[1]
    warnings = render_annotations(pass_result())
    assert [line.split("::")[1] for line in warnings] == [
        "warning title=auth.password_login flaky",
        "warning title=dashboard.alerts degraded",
    ]
    assert render_annotations(GateResult(verdict=Verdict.PASS, environment="staging")) == []


def test_outputs() -> None:
    assert render_outputs(SAMPLES["fail"](), report_dir=REPORT_DIR) == (
        "verdict=FAIL\n"
        "exit-code=1\n"
        "report-dir=/reports/run-1\n"
        "flow-run-url=http://127.0.0.1:4200/runs/flow-run/0b7c2e4a-5d1f-4c3e-9a8b-7f6e5d4c3b2a\n"
    )
    assert render_outputs(crashed_result(), report_dir=None, exit_code=2) == (
        "verdict=ERROR\nexit-code=2\nreport-dir=\nflow-run-url=\n"
    )


SECRET = "hunter2-s3cr3t-0042"


def test_no_secret_reaches_the_summary_annotations_or_outputs(tmp_path: Path) -> None:
    scrubber.register(SECRET)
    check = CheckResult(
        journey="auth",
        check="me",
        status=Status.FAILED,
        expected=f"identity for {SECRET}",
        actual="Authorization: Bearer abc.def.ghi",
        message=f"token={SECRET}",
        evidence=[Evidence(kind="response", label=SECRET, path=f"/x/{SECRET}.txt", excerpt=SECRET)],
    )
    result = GateResult(
        verdict=Verdict.FAIL,
        environment="staging",
        flow_run_url=f"http://prefect.test/runs/{SECRET}",
        reasons=[f"auth.me failed: {SECRET}"],
        journeys=[JourneyResult(name="auth", checks=[check])],
    )
    environ = ACTIONS_ENV | {
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
    }
    out = io.StringIO()
    assert publish(result, environ, report_dir=tmp_path / "report", out=out)
    written = out.getvalue() + (tmp_path / "summary.md").read_text()
    written += (tmp_path / "output").read_text()
    assert "auth.me" in written  # the check is there, its secrets are not
    assert "s3cr3t" not in written
    assert "abc.def" not in written


def test_publish_appends_to_the_files_the_runner_names(tmp_path: Path) -> None:
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    summary.write_text("earlier step\n")
    output.write_text("other=1\n")
    environ = ACTIONS_ENV | {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output)}
    out = io.StringIO()
    result = SAMPLES["fail"]()

    assert publish(result, environ, report_dir=REPORT_DIR, out=out)

    assert out.getvalue().splitlines() == render_annotations(result, report_dir=REPORT_DIR)
    assert summary.read_text() == "earlier step\n" + render_step_summary(
        result, report_dir=REPORT_DIR, artifacts_url=RUN_PAGE
    )
    assert output.read_text() == "other=1\n" + render_outputs(result, report_dir=REPORT_DIR)


def test_publish_does_nothing_outside_github_actions(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    out = io.StringIO()
    environ = {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTIONS": "false"}
    assert not publish(SAMPLES["fail"](), environ, report_dir=None, out=out)
    assert out.getvalue() == ""
    assert not summary.exists()


def test_run_url() -> None:
    assert run_url(ACTIONS_ENV) == RUN_PAGE
    assert run_url({"GITHUB_RUN_ID": "42"}) is None


def test_a_command_that_ended_without_a_result_is_published_from_its_exit_code(
    tmp_path: Path,
) -> None:
    stderr = tmp_path / "stderr"
    stderr.write_text("a warning first\nsmoke: Unknown environment 'nowhere': set SMOKE_BASE_URL\n")
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    environ = ACTIONS_ENV | {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output)}
    argv = ["--exit-code", "2", "--environment", "nowhere", "--stderr-file", str(stderr)]
    argv += ["--report-dir", str(tmp_path / "never-written")]

    assert main(argv, environ) == 0

    text = summary.read_text()
    assert text.startswith("## :warning: Smoke ERROR: configuration error")
    assert "- Unknown environment 'nowhere': set SMOKE_BASE_URL" in text
    assert "### Report" not in text  # no report folder was written
    assert output.read_text() == "verdict=ERROR\nexit-code=2\nreport-dir=\nflow-run-url=\n"

    crashed = result_without_run("staging", "", 3, "")
    assert crashed.exit_code == 3
    assert crashed.version is None
    assert crashed.reasons == ["smoke exited 3 before it wrote a result"]
    assert last_message("") == ""
