"""`smoke list` and --check/--skip on the command line: fast, no Prefect, exit 2 on a typo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smoke.selection import checks_of
from smoke.spec import load_spec
from tests.integration.test_cli_errors import _imported, smoke


def test_list_prints_every_check_with_its_flags_without_prefect() -> None:
    proc = smoke("list", PYTHONPROFILEIMPORTTIME="1")
    assert proc.returncode == 0, proc.stderr[-500:]
    assert not {"prefect", "playwright"} & _imported(proc.stderr)
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["CHECK", "BLOCKING", "WRITES", "ON"]
    every = [c.key for c in checks_of(load_spec(None, None))]
    assert [line.split()[0] for line in lines[1:]] == every
    rows = {line.split()[0]: line.split(None, 3)[1:] for line in lines[1:]}
    assert rows["dashboard.feed"] == ["yes", "no", "on"]
    assert rows["billing.checkout_success"] == ["yes", "yes", "on"]
    assert rows["auth.setup"][2] == "off: not applicable (no auth.setup in the contract)"


def test_list_json_for_a_read_only_environment() -> None:
    proc = smoke(
        "list",
        "--env",
        "prod",
        "--json",
        SMOKE_BASE_URL="https://prod.example.com",
        SMOKE_PRODUCTION="true",
    )
    assert proc.returncode == 0, proc.stderr[-500:]
    data = json.loads(proc.stdout)
    assert data["environment"] == "prod"
    by_key = {row["check"]: row for row in data["checks"]}
    checkout = by_key["billing.checkout_success"]
    assert checkout["journey"] == "billing"
    assert checkout["writes"] is True
    assert (checkout["on"], checkout["off_because"]) == (False, "configuration")
    assert by_key["auth.tenant_isolation"]["on"] is True
    assert by_key["auth.tenant_isolation"]["needs"] == [
        "auth.password_login",
        "auth.setup",
        "auth.teardown",
    ]


def test_list_with_check_marks_the_others_not_selected() -> None:
    proc = smoke("list", "--check", "dashboard.feed", "--json")
    assert proc.returncode == 0, proc.stderr[-500:]
    by_key = {row["check"]: row for row in json.loads(proc.stdout)["checks"]}
    assert by_key["dashboard.feed"]["on"] is True
    assert by_key["dashboard.ui"]["off_because"] == "not_selected"


@pytest.mark.parametrize("command", [["gate", "--env", "sandbox"], ["demo"], ["list"]])
def test_a_misspelt_check_exits_2_naming_the_closest_before_anything_starts(
    tmp_path: Path, command: list[str]
) -> None:
    proc = smoke(
        *command,
        "--check",
        "auth.tenant_isolaton",
        "--report-dir" if command[0] != "list" else "--json",
        *([str(tmp_path / "report")] if command[0] != "list" else []),
        PYTHONPROFILEIMPORTTIME="1",
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr[-500:]
    assert "did you mean auth.tenant_isolation?" in proc.stderr
    assert "Starting the local sandbox" not in proc.stdout
    assert not {"prefect", "playwright", "fastapi"} & _imported(proc.stderr)


def test_a_journey_run_refuses_a_check_of_another_journey() -> None:
    proc = smoke("journey", "auth", "--env", "sandbox", "--check", "dashboard.feed")
    assert proc.returncode == 2
    assert "--check 'dashboard.feed' matches no check of this run" in proc.stderr
