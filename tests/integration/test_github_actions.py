"""The action's gate step as GitHub Actions runs it: the real `smoke` command in a step's
environment, with the step-summary and output files GitHub would hand it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN_GATE = ROOT / "deployments" / "ci" / "run-gate.sh"
BIN = Path(sys.executable).parent


@dataclass
class Step:
    """What one run of the gate step left behind."""

    returncode: int
    stdout: str
    summary: str
    outputs: dict[str, str]
    workspace: Path


def run_gate_step(tmp_path: Path, smoke_bin: str = str(BIN / "smoke"), **inputs: str) -> Step:
    """``run-gate.sh`` with the action's inputs, in a fresh workspace and Prefect home."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    summary, output = tmp_path / "step_summary.md", tmp_path / "output"
    summary.touch()
    output.touch()
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SMOKE_", "PREFECT_API", "GITHUB_"))
    }
    env = base | {
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_RUN_ID": "4242",
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "SMOKE_BIN": smoke_bin,
        "SMOKE_PYTHON": str(BIN / "python"),
    }
    env |= {f"SMOKE_INPUT_{name.upper()}": value for name, value in inputs.items()}
    proc = subprocess.run(
        [str(RUN_GATE)],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,  # a new Prefect home migrates its database first: slow on a busy machine
    )
    lines = output.read_text().splitlines()
    return Step(
        returncode=proc.returncode,
        stdout=proc.stdout + proc.stderr,
        summary=summary.read_text(),
        outputs=dict(line.split("=", 1) for line in lines),
        workspace=workspace,
    )


def test_a_configuration_error_before_the_run_still_reports_exit_2(tmp_path: Path) -> None:
    step = run_gate_step(tmp_path, environment="nowhere", version="abc123")

    assert step.returncode == 0, step.stdout  # the action fails the job after the upload
    assert "smoke gate exited 2" in step.stdout
    assert step.outputs == {
        "verdict": "ERROR",
        "exit-code": "2",
        "report-dir": str(step.workspace / "smoke-report"),
        "flow-run-url": "",
    }
    assert step.summary.startswith(
        "## :warning: Smoke ERROR: configuration error (fix the smoke configuration, "
        "not the product)\n"
    )
    assert "- Unknown environment 'nowhere'" in step.summary
    assert "FAIL" not in step.summary
    assert "smoke system failed" not in step.summary
    assert "`smoke-report/report.html`: the whole report" in step.summary
    assert "::error title=Smoke ERROR%3A configuration error" in step.stdout
    assert (step.workspace / "smoke-report" / "report.html").is_file()


def test_a_command_that_wrote_nothing_is_reported_from_its_exit_code(tmp_path: Path) -> None:
    """Killed, or crashed before it could write: the step still says what happened."""
    crashing = tmp_path / "smoke"
    crashing.write_text("#!/bin/sh\necho 'smoke: the smoke system failed: killed' >&2\nexit 3\n")
    crashing.chmod(0o755)
    step = run_gate_step(tmp_path, environment="staging", smoke_bin=str(crashing))

    assert step.returncode == 0, step.stdout
    assert step.outputs == {
        "verdict": "ERROR",
        "exit-code": "3",
        "report-dir": "",
        "flow-run-url": "",
    }
    assert step.summary.startswith(
        "## :warning: Smoke ERROR: the smoke system failed (the product was not judged)\n"
    )
    assert "- the smoke system failed: killed" in step.summary


@pytest.mark.slow
def test_a_failed_gate_writes_its_summary_annotations_and_outputs(tmp_path: Path) -> None:
    step = run_gate_step(
        tmp_path,
        environment="sandbox",
        version="1.0.0",
        journeys="dashboard",
        extra_args="--fault dashboard.feed_500 --fault dashboard.ui_js_error",
    )

    assert step.returncode == 0, step.stdout
    assert "smoke gate exited 1" in step.stdout
    report_dir = step.workspace / "smoke-report"
    flow_run_url = json.loads((report_dir / "result.json").read_text())["flow_run_url"] or ""
    assert step.outputs == {
        "verdict": "FAIL",
        "exit-code": "1",
        "report-dir": str(report_dir),
        "flow-run-url": flow_run_url,
    }
    # Written by `smoke gate` itself: the fallback could not know the journeys.
    summary = step.summary
    assert summary.startswith("## :x: Smoke FAIL: the product is broken\n")
    assert "exit code 1" in summary
    if flow_run_url:
        assert f"({flow_run_url})" in summary
    assert "#### dashboard.feed: FAILED" in summary
    assert "| expected | `status 200` |" in summary
    assert "| actual | `status 500:" in summary
    artifacts = "https://github.com/acme/shop/actions/runs/4242#artifacts"
    assert "dashboard.feed.response-1.txt`](" + artifacts + ")" in summary
    assert "#### dashboard.ui: FAILED" in summary
    assert "dashboard.ui.png`](" + artifacts + ")" in summary
    assert "| view the trace | from the report folder `python -m playwright show-trace" in summary
    assert "**dashboard**: FAILED" in summary
    assert "**preflight**: passed" in summary
    assert "`smoke-report/report.html`: the whole report" in summary

    annotations = [line for line in step.stdout.splitlines() if line.startswith("::")]
    assert [a.split("::")[1] for a in annotations] == [
        "error title=dashboard.feed FAILED",
        "error title=dashboard.ui FAILED",
    ]
    assert "expected status 200, got status 500" in annotations[0]
    for name in ("report.html", "report.md", "result.json", "junit.xml"):
        assert (report_dir / name).is_file()
    html = (report_dir / "report.html").read_text()
    assert '<img src="data:image/png;base64,' in html
