"""The product run like production: `smoke deploy`, a real process worker, the pipeline's
`smoke gate --via-deployment` (healthy: 0, a fault: 1, the run's process killed: 3),
the crash Automation, the event trigger, `smoke history`, and a cancel from the UI.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from tests.support.prefect_server import SMOKE, PrefectServer, process_worker, run_smoke
from tests.support.processes import alive, descendants, flow_run_processes

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def deployed(
    prefect_server: PrefectServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """`smoke deploy` (twice: the second changes nothing) and a worker on the `smoke` pool."""
    env = prefect_server.env()
    cwd = tmp_path_factory.mktemp("deploy")
    # A yearly monitor: its runs are scheduled (the scheduler works) but never come due.
    first = run_smoke(["deploy", "--monitor", "sandbox", "--cron", "0 0 1 1 *"], env=env, cwd=cwd)
    assert first.returncode == 0, first.stdout + first.stderr
    second = run_smoke(["deploy", "--monitor", "sandbox", "--cron", "0 0 1 1 *"], env=env, cwd=cwd)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "work pool smoke: exists" in second.stdout
    assert "automation smoke-gate-crashed: exists" in second.stdout
    assert "monitor sandbox: exists (0 0 1 1 *)" in second.stdout
    with process_worker(env, cwd):
        yield env


def test_gate_via_deployment_passes_on_the_healthy_sandbox(
    deployed: dict[str, str], smoke_cli: Any, tmp_path: Path
) -> None:
    proc = smoke_cli(
        [
            "gate",
            "--env",
            "sandbox",
            "--via-deployment",
            "--version",
            "1.0.0",
            "--json",
            str(tmp_path / "r.json"),
            "--junit",
            str(tmp_path / "r.xml"),
            "--report-dir",
            str(tmp_path / "report"),
        ],
        env=deployed,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Triggered " in proc.stdout
    assert "/runs/flow-run/" in proc.stdout
    assert "passed   auth.password_login" in proc.stdout  # streamed from the worker's run
    assert "PASS in " in proc.stdout
    assert (tmp_path / "r.json").read_text().count('"verdict": "PASS"') == 1
    assert (tmp_path / "report" / "report.md").is_file()
    assert (tmp_path / "r.xml").is_file()
    run_id = json.loads((tmp_path / "r.json").read_text())["flow_run_id"]
    assert {"env:sandbox", "mode:gate", "version:1.0.0"} <= set(_flow_run(deployed, run_id).tags)


def _flow_run(env: dict[str, str], run_id: str) -> Any:
    async def read() -> Any:
        from prefect.client.orchestration import PrefectClient

        async with PrefectClient(env["PREFECT_API_URL"]) as client:
            return await client.read_flow_run(UUID(run_id))

    return asyncio.run(read())


def test_a_monitor_run_of_the_deployment_tags_itself(deployed: dict[str, str]) -> None:
    """Started as its schedule starts it: from the deployment, with no tags of its own."""

    async def start() -> str:
        from prefect.client.orchestration import PrefectClient

        async with PrefectClient(deployed["PREFECT_API_URL"]) as client:
            deployment = await client.read_deployment_by_name("release-gate/monitor")
            run = await client.create_flow_run_from_deployment(
                deployment.id, parameters={"environment": "sandbox", "mode": "monitor"}
            )
        return str(run.id)

    run_id = asyncio.run(start())
    deadline = time.monotonic() + 240
    run = _flow_run(deployed, run_id)
    while not (run.state and run.state.is_final()) and time.monotonic() < deadline:
        time.sleep(1)
        run = _flow_run(deployed, run_id)
    assert run.state, f"the monitor run has no state: {run.state_name}"
    assert run.state.is_final(), f"the monitor run is still {run.state_name}"
    assert {"env:sandbox", "mode:monitor", "smoke", "monitor"} <= set(run.tags)

    async def delete() -> None:
        from prefect.client.orchestration import PrefectClient

        async with PrefectClient(deployed["PREFECT_API_URL"]) as client:
            await client.delete_flow_run(UUID(run_id))

    # The schedule's test below expects only the scheduler's runs of `monitor`.
    asyncio.run(delete())


def gate_fails_via_deployment(
    smoke_cli: Any, env: dict[str, str], cwd: Path, fault: str, report_dir: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    """`smoke gate --via-deployment` of the dashboard journey under ``fault``: exit 1."""
    proc: subprocess.CompletedProcess[str] = smoke_cli(
        [
            *("gate", "--env", "sandbox", "--via-deployment", "--fault", fault),
            *("--journeys", "dashboard", "--report-dir", str(report_dir), *extra),
        ],
        env=env,
        cwd=cwd,
    )
    assert proc.returncode == 1, proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc


def test_gate_via_deployment_fails_on_a_fault(
    deployed: dict[str, str], smoke_cli: Any, tmp_path: Path
) -> None:
    proc = gate_fails_via_deployment(smoke_cli, deployed, tmp_path, "dashboard.feed_500", tmp_path)
    assert "dashboard.feed FAILED: expected status 200, got status 500" in proc.stdout


def test_gate_via_deployment_fetches_the_evidence_of_a_failed_browser_check(
    deployed: dict[str, str], smoke_cli: Any, tmp_path: Path
) -> None:
    report = tmp_path / "report"
    proc = gate_fails_via_deployment(smoke_cli, deployed, tmp_path, "dashboard.ui_js_error", report)
    # Read through the storage block, not found on this machine's disk by chance.
    assert f"into {report / 'evidence'}" in proc.stdout, proc.stdout[-4000:]
    data = json.loads((report / "result.json").read_text())
    ui = next(
        c
        for j in data["journeys"]
        if j["name"] == "dashboard"
        for c in j["checks"]
        if c["name"] == "ui"
    )
    kept = {e["kind"]: e for e in ui["evidence"] if e.get("stored_url")}
    assert {"screenshot", "trace"} <= kept.keys(), ui["evidence"]
    for ev in kept.values():
        assert ev["stored_url"].startswith("file:///")
        assert (report / ev["path"]).is_file()
        assert (report / ev["path"]).stat().st_size > 0
        assert ev["path"].startswith("evidence/")
    assert kept["screenshot"]["stored_url"] in (report / "report.md").read_text()


def test_killed_flow_run_process_exits_3_and_the_automation_notices(
    deployed: dict[str, str], prefect_server: PrefectServer, tmp_path: Path
) -> None:
    before = set(flow_run_processes(api_url=prefect_server.api_url))
    gate = subprocess.Popen(
        [SMOKE, "gate", "--env", "sandbox", "--via-deployment", "--report-dir", str(tmp_path)],
        env=deployed,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    killed: list[int] = []
    deadline = time.monotonic() + 90
    while not killed and time.monotonic() < deadline and gate.poll() is None:
        fresh = [p for p in flow_run_processes(api_url=prefect_server.api_url) if p not in before]
        if fresh:
            time.sleep(4)  # mid-run: Prefect loaded, journeys under way
            for pid in fresh:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        time.sleep(0.2)
    out, _ = gate.communicate(timeout=180)
    assert killed, "no flow-run process appeared: " + out[-3000:]
    assert gate.returncode == 3, out[-4000:]
    assert "ERROR" in out
    assert "Crashed" in out
    assert "PASS" not in out.split("ERROR")[-1]

    async def crash_notifications() -> int:
        from prefect.client.orchestration import PrefectClient
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

        async with PrefectClient(prefect_server.api_url) as client:
            runs = await client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["notify-crash"]))
            )
        return len(runs)

    waited = time.monotonic() + 60
    while asyncio.run(crash_notifications()) == 0 and time.monotonic() < waited:
        time.sleep(1)
    assert asyncio.run(crash_notifications()) >= 1, "the crash Automation did not run notify-crash"


def test_announce_triggers_a_gate_run_with_environment_and_version(
    deployed: dict[str, str], prefect_server: PrefectServer, smoke_cli: Any, tmp_path: Path
) -> None:
    proc = smoke_cli(
        ["announce", "--env", "sandbox", "--version", "9.9.9"], env=deployed, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    async def announced() -> list[Any]:
        from prefect.client.orchestration import PrefectClient

        async with PrefectClient(prefect_server.api_url) as client:
            runs = await client.read_flow_runs()
        return [r for r in runs if r.parameters.get("version") == "9.9.9"]

    deadline = time.monotonic() + 60
    while not asyncio.run(announced()) and time.monotonic() < deadline:
        time.sleep(1)
    runs = asyncio.run(announced())
    assert runs
    assert runs[0].parameters["environment"] == "sandbox"
    history = smoke_cli(["history", "--env", "sandbox", "--last", "5"], env=deployed, cwd=tmp_path)
    assert history.returncode == 0
    assert "PASS" in history.stdout
    assert "Pass rate per journey" in history.stdout


def test_the_monitor_schedule_creates_runs_per_environment(
    deployed: dict[str, str], prefect_server: PrefectServer
) -> None:
    async def scheduled() -> list[Any]:
        from prefect.client.orchestration import PrefectClient
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

        async with PrefectClient(prefect_server.api_url) as client:
            return await client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["monitor"]))
            )

    deadline = time.monotonic() + 90
    while not asyncio.run(scheduled()) and time.monotonic() < deadline:
        time.sleep(2)
    runs = asyncio.run(scheduled())
    assert runs, "the scheduler created no monitor run"
    assert all(r.parameters == {"environment": "sandbox", "mode": "monitor"} for r in runs)
    assert all(r.state_name == "Scheduled" for r in runs)


def test_stored_run_forms_describe_every_parameter(
    deployed: dict[str, str], prefect_server: PrefectServer
) -> None:
    import yaml

    names = [
        d["name"]
        for d in yaml.safe_load((Path(__file__).parents[2] / "prefect.yaml").read_text())[
            "deployments"
        ]
    ]

    async def stored() -> dict[str, dict[str, Any]]:
        from prefect.client.orchestration import PrefectClient

        async with PrefectClient(prefect_server.api_url) as client:
            return {
                d.name: d.parameter_openapi_schema or {}
                for d in await client.read_deployments()
                if d.name in names
            }

    schemas = asyncio.run(stored())
    assert sorted(schemas) == sorted(names)
    for name, schema in schemas.items():
        props = schema.get("properties", {})
        assert props, f"{name}: no parameters in the stored form"
        undescribed = [p for p, field in props.items() if not field.get("description")]
        assert not undescribed, f"{name}: no description for {undescribed}"
    gate = schemas["release-gate"]["properties"]
    assert gate["version"]["type"] == "string"
    assert "anyOf" not in gate["version"]
    # Lists are plain lists (empty: all), not a list-or-None toggle in the form.
    for name in ("journeys", "checks", "skip"):
        assert gate[name]["type"] == "array", gate[name]
        assert "anyOf" not in gate[name], gate[name]
        assert gate[name]["default"] == []
    # Every choice is one a worker can run, and the default is one of them.
    assert gate["environment"]["enum"][0] == "sandbox"
    assert gate["environment"]["default"] in gate["environment"]["enum"]


def test_a_quick_run_of_the_gate_starts_a_sandbox_on_the_worker(
    deployed: dict[str, str], prefect_server: PrefectServer
) -> None:
    # The UI's Quick run: the deployment's own parameters, nothing filled in.
    async def quick_run() -> Any:
        from prefect.client.orchestration import PrefectClient

        async with PrefectClient(prefect_server.api_url) as client:
            deployment = await client.read_deployment_by_name("release-gate/release-gate")
            run = await client.create_flow_run_from_deployment(deployment.id)
            deadline = time.monotonic() + 600  # only turns a hang into a failure
            while time.monotonic() < deadline:
                run = await client.read_flow_run(run.id)
                if run.state is not None and run.state.is_final():
                    return run
                await asyncio.sleep(2)
            return run

    run = asyncio.run(quick_run())
    assert run.parameters.get("environment", "sandbox") == "sandbox"
    assert run.state is not None
    assert run.state.is_final(), run.state
    message = run.state.message or ""
    assert "Unknown environment" not in message
    assert run.state.is_completed(), message  # PASS: the worker's own sandbox is healthy


def _ui_text(description: str) -> str:
    """A run-form description as the UI renders it: markdown code marks gone, one line."""
    return " ".join(description.replace("`", "").split())


def test_the_prefect_ui_shows_every_field_and_a_failed_check_as_failed(
    deployed: dict[str, str], prefect_server: PrefectServer, smoke_cli: Any, tmp_path: Path
) -> None:
    """What a platform engineer sees in the Prefect UI, in Chromium: the run form and a FAIL."""
    from playwright.sync_api import sync_playwright
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterParentFlowRunId,
        TaskRunFilter,
        TaskRunFilterFlowRunId,
    )

    from smoke.browser import launch_options

    result_json = tmp_path / "result.json"
    gate_fails_via_deployment(
        smoke_cli, deployed, tmp_path, "dashboard.feed_500", tmp_path, "--json", str(result_json)
    )
    result = json.loads(result_json.read_text())
    gate_run = result["flow_run_id"]
    dashboard_result = next(j for j in result["journeys"] if j["name"] == "dashboard")
    feed = next(c for c in dashboard_result["checks"] if c["name"] == "feed")
    stored = [ev["stored_url"] for ev in feed["evidence"] if ev.get("stored_url")]
    assert stored, feed

    async def read() -> tuple[Any, dict[str, str], dict[str, str]]:
        from prefect.client.orchestration import PrefectClient

        async with PrefectClient(prefect_server.api_url) as client:
            deployment = await client.read_deployment_by_name("release-gate/release-gate")
            kids = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[UUID(gate_run)])
                )
            )
            dashboard = next(k for k in kids if k.name.startswith("dashboard"))
            tasks = await client.read_task_runs(
                task_run_filter=TaskRunFilter(
                    flow_run_id=TaskRunFilterFlowRunId(any_=[dashboard.id])
                )
            )
            return deployment, {"dashboard": str(dashboard.id)}, {t.name: str(t.id) for t in tasks}

    deployment, flows, tasks = asyncio.run(read())
    ui = prefect_server.api_url.removesuffix("/api")
    with sync_playwright() as p:
        browser = p.chromium.launch(**launch_options())
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.set_default_timeout(60_000)  # only turns a hang into a failure
        try:
            page.goto(f"{ui}/deployments/deployment/{deployment.id}/run")
            page.get_by_text("Parameters", exact=True).wait_for()
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(tmp_path / "run-form.png"), full_page=True)
            shown = " ".join(page.inner_text("body").split())
            properties = deployment.parameter_openapi_schema["properties"]
            for name, field in properties.items():
                assert f"{name} (Optional)" in shown, name
                assert _ui_text(field["description"]) in shown, name
            # The environment offers the deployment's choices, its default selected.
            choice = page.locator(".p-select-button__value").first
            assert choice.inner_text() == properties["environment"]["default"]
            # Opened (the form's select opens on Space, as a keyboard user opens it), it
            # lists every environment a worker can run, and nothing else.
            page.locator(".p-select-button__control").first.focus()
            page.keyboard.press(" ")
            options = page.locator(".p-select-option__text")
            options.first.wait_for()
            page.screenshot(path=str(tmp_path / "environment-choices.png"), full_page=True)
            listed = sorted(t.strip() for t in options.all_inner_texts())
            assert listed == sorted(properties["environment"]["enum"]), listed
            assert "sandbox" in listed
            page.keyboard.press("Escape")
            assert "Property is type" not in shown  # no list-or-None toggles

            def state_of(path: str, name: str) -> str:
                page.goto(f"{ui}{path}")
                badge = page.locator(".state-badge").first
                badge.wait_for()
                page.screenshot(path=str(tmp_path / f"{name}.png"))
                return badge.inner_text().strip()

            assert state_of(f"/runs/flow-run/{gate_run}", "gate") == "Failed"
            assert state_of(f"/runs/flow-run/{flows['dashboard']}", "dashboard") == "Failed"
            for check in ("dashboard.feed", "dashboard.ui"):
                assert state_of(f"/runs/task-run/{tasks[check]}", check) == "Failed", check
            assert state_of(f"/runs/task-run/{tasks['dashboard.alerts']}", "alerts") == "Completed"
            # The run's Artifacts tab links the failed check's evidence, and the link opens.
            page.goto(f"{ui}/runs/flow-run/{gate_run}")
            page.get_by_text("Artifacts", exact=True).first.click()
            page.get_by_text("Evidence of dashboard.feed (response)").first.click()
            page.locator(f'a[href="{stored[0]}"]').first.wait_for()
            page.screenshot(path=str(tmp_path / "evidence-artifact.png"))
            page.goto(stored[0])
            assert "internal error while loading the feed" in page.inner_text("body")
        finally:
            browser.close()


def test_a_cancel_from_the_ui_stops_the_worker_run_cleanly(
    deployed: dict[str, str], prefect_server: PrefectServer
) -> None:
    # The UI's Cancel: the run is forced to CANCELLING; the worker sees it and SIGTERMs
    # the run's process. The gate must end Cancelled, free the slot, leave no process
    # and record a result that says it was cancelled.
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterParentFlowRunId,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Cancelling

    async def start() -> UUID:
        async with PrefectClient(prefect_server.api_url) as client:
            deployment = await client.read_deployment_by_name("release-gate/release-gate")
            run = await client.create_flow_run_from_deployment(
                deployment.id, parameters={"environment": "sandbox"}
            )
            return run.id

    async def running_journeys(run_id: UUID) -> int:
        async with PrefectClient(prefect_server.api_url) as client:
            children = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run_id]),
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING])),
                )
            )
        return len([c for c in children if not c.name.startswith("preflight")])

    run_id = asyncio.run(start())
    deadline = time.monotonic() + 180  # the worker polls, then the run imports Prefect
    while asyncio.run(running_journeys(run_id)) == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert asyncio.run(running_journeys(run_id)) > 0, "no journey of the run started"
    roots = flow_run_processes(run_id)
    kids = set(roots) | descendants(roots)
    assert len(kids) > 1, "the run started no sandbox or browser"

    async def cancel() -> None:
        async with PrefectClient(prefect_server.api_url) as client:
            await client.set_flow_run_state(run_id, Cancelling(), force=True)

    asyncio.run(cancel())
    cancelled_at = time.monotonic()

    async def read(run_id: UUID) -> Any:
        async with PrefectClient(prefect_server.api_url) as client:
            return await client.read_flow_run(run_id)

    run = asyncio.run(read(run_id))
    while not (run.state and run.state.is_final()) and time.monotonic() < cancelled_at + 60:
        time.sleep(0.5)
        run = asyncio.run(read(run_id))
    assert run.state is not None
    assert run.state.is_cancelled(), run.state
    assert asyncio.run(running_journeys(run_id)) == 0, "a journey run was left Running"

    while any(alive(pid) for pid in kids) and time.monotonic() < cancelled_at + 60:
        time.sleep(0.2)
    assert not [pid for pid in kids if alive(pid)], "processes of the run left behind"

    slots = httpx.get(f"{prefect_server.api_url}/v2/concurrency_limits/smoke-env-sandbox")
    assert slots.status_code == 200, slots.text
    assert slots.json()["active_slots"] == 0, slots.text

    async def stored_result() -> Any:
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from tasks.evidence import evidence_storage, read_result

        with temporary_settings({PREFECT_API_URL: prefect_server.api_url}):
            return await read_result(await evidence_storage(), str(run_id))

    stored = asyncio.run(stored_result())
    assert stored is not None, "the cancelled run stored no result.json"
    result = stored.model_dump(mode="json")
    assert (result["verdict"], result["error_kind"]) == ("ERROR", "cancelled"), result
    assert result["reasons"] == ["cancelled by signal SIGTERM"]
