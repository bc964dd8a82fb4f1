"""``smoke deploy``: everything a Prefect server needs to run smoke flows, idempotently.

1. register the block types; 2. create the `smoke` process work pool if it is missing;
3. `prefect deploy --all` with prefect.yaml; 4. offer the known environments as a
choice in the deployments' forms; 5. create the Automation that notifies about gate
runs that crash before their own hooks can. Running it again changes nothing.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.actions import (
    DeploymentScheduleCreate,
    DeploymentUpdate,
    WorkPoolCreate,
)
from prefect.client.schemas.schedules import CronSchedule
from prefect.events.actions import RunDeployment
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.exceptions import ObjectNotFound

from blocks.prefect_api import register_block_types, require_api
from smoke.config import SANDBOX
from smoke.errors import ConfigError, SmokeSystemError

ROOT = Path(__file__).resolve().parents[1]
WORK_POOL = "smoke"
GATE_FLOW = "release-gate"
CRASH_AUTOMATION = "smoke-gate-crashed"
DEFAULT_MONITOR_CRON = "*/15 * * * *"
# Deployments whose form gets the environment choice.
ENVIRONMENT_FORMS = ("release-gate", "monitor", "auth", "onboarding", "billing", "dashboard")


def deploy(
    monitors: list[str] | None = None,
    cron: str = DEFAULT_MONITOR_CRON,
    workdir: Path | None = None,
) -> int:
    """Register, create, deploy, schedule monitors; print what was done.

    ``workdir``: where the project is on the worker machines (this checkout by default).
    """
    workdir = checked_workdir(workdir)
    require_api()
    print(f"block types: {', '.join(register_block_types())}")
    asyncio.run(ensure_work_pool())
    run_prefect_deploy(workdir)
    asyncio.run(finish_deployments(monitors or [], cron))
    return 0


async def ensure_work_pool() -> None:
    """The `smoke` process work pool, created when missing."""
    async with get_client() as client:
        try:
            await client.read_work_pool(WORK_POOL)
            print(f"work pool {WORK_POOL}: exists")
        except ObjectNotFound:
            await client.create_work_pool(WorkPoolCreate(name=WORK_POOL, type="process"))
            print(f"work pool {WORK_POOL}: created (process)")


def checked_workdir(workdir: Path | None) -> Path:
    """The workers' project folder: absolute, and a copy of this project when it is here."""
    if workdir is None:
        return ROOT
    if not workdir.is_absolute():
        raise ConfigError(
            f"--workdir {workdir}: give the absolute path of the project on the worker "
            "machines (the image's /app, or where the checkout is there)"
        )
    if workdir.exists() and not (workdir / "flows" / "gate.py").is_file():
        raise ConfigError(
            f"--workdir {workdir}: exists here but holds no smoke flows project "
            "(flows/gate.py is missing)"
        )
    return workdir


def run_prefect_deploy(workdir: Path = ROOT) -> None:
    """`prefect deploy --all` from the project root, without prompts.

    prefect.yaml's pull step runs the flows from ``{{ $PWD }}``: the folder the
    workers find the project in, which is this checkout unless ``--workdir`` says.
    """
    prefect = str(Path(sys.executable).with_name("prefect"))
    proc = subprocess.run(
        [prefect, "--no-prompt", "deploy", "--all", "--prefect-file", str(ROOT / "prefect.yaml")],
        cwd=ROOT,
        env=os.environ | {"PWD": str(workdir)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise SmokeSystemError(f"`prefect deploy --all` failed:\n{tail}")
    print("deployments: release-gate, monitor, auth, onboarding, billing, dashboard, notify-crash")
    print(f"workers run the flows from: {workdir}")


async def finish_deployments(monitors: list[str], cron: str) -> None:
    """Environment choices in the forms, monitor schedules, and the crash Automation."""
    async with get_client() as client:
        for environment in monitors:
            await ensure_monitor_schedule(client, environment, cron)
        environments = await known_environments(client)
        for name in ENVIRONMENT_FORMS:
            flow_name = GATE_FLOW if name in ("release-gate", "monitor") else name
            deployment = await client.read_deployment_by_name(f"{flow_name}/{name}")
            schema = offer_choices(deployment.parameter_openapi_schema or {}, environments)
            await client.update_deployment(
                deployment.id, DeploymentUpdate(parameter_openapi_schema=schema)
            )
        print(f"environment choices: {', '.join(environments)}")
        await ensure_crash_automation(client)


async def ensure_monitor_schedule(client: PrefectClient, environment: str, cron: str) -> None:
    """A schedule of the `monitor` deployment for ``environment`` (slug monitor-<env>)."""
    deployment = await client.read_deployment_by_name(f"{GATE_FLOW}/monitor")
    slug = f"monitor-{environment}"
    existing = {s.slug: s for s in await client.read_deployment_schedules(deployment.id)}
    current = existing.get(slug)
    if current is not None and getattr(current.schedule, "cron", None) == cron and current.active:
        print(f"monitor {environment}: exists ({cron})")
        return
    if current is not None:
        await client.delete_deployment_schedule(deployment.id, current.id)
    await client.create_deployment_schedules(
        deployment.id,
        [
            DeploymentScheduleCreate(
                schedule=CronSchedule(cron=cron),
                active=True,
                slug=slug,
                parameters={"environment": environment, "mode": "monitor"},
            )
        ],
    )
    print(f"monitor {environment}: {'rescheduled' if current else 'scheduled'} ({cron})")


async def known_environments(client: PrefectClient) -> list[str]:
    """What a worker can run: the sandbox (started for the run) and every block's name."""
    documents = await client.read_block_documents_by_type(
        "smoke-environment", include_secrets=False
    )
    names = sorted({d.name for d in documents if d.name and not d.is_anonymous})
    return [SANDBOX, *[n for n in names if n != SANDBOX]]


def offer_choices(schema: dict[str, Any], environments: list[str]) -> dict[str, Any]:
    """The parameter schema with ``environment`` as a choice of the known environments.

    The descriptions stay the flow's own (its docstring's ``Args:``); the default is the
    first choice, so a Quick run from the UI runs something a worker can run.
    """
    updated = {**schema, "properties": dict(schema.get("properties", {}))}
    if "environment" in updated["properties"]:
        field = dict(updated["properties"]["environment"])
        field["enum"] = environments
        field["default"] = environments[0]
        updated["properties"]["environment"] = field
    return updated


async def ensure_crash_automation(client: PrefectClient) -> None:
    """A gate run marked Crashed (e.g. its process was killed) runs `notify-crash`."""
    target = await client.read_deployment_by_name("notify-crash/notify-crash")
    automation = AutomationCore(
        name=CRASH_AUTOMATION,
        description="Notify Slack about gate runs that crashed before their own hooks could.",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Crashed"},
            match_related={"prefect.resource.role": "flow", "prefect.resource.name": GATE_FLOW},
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[
            RunDeployment(
                source="selected",
                deployment_id=target.id,
                # A plain Jinja kind: the id renders as text (Prefect's default for a bare
                # "{{ ... }}" is `| tojson`, which a UUID does not survive).
                parameters={
                    "flow_run_id": {"__prefect_kind": "jinja", "template": "{{ flow_run.id }}"}
                },
            )
        ],
    )
    existing = await client.read_automations_by_name(CRASH_AUTOMATION)
    if existing and _same(existing[0], automation):
        print(f"automation {CRASH_AUTOMATION}: exists")
        return
    for old in existing:
        await client.delete_automation(old.id)
    await client.create_automation(automation)
    print(f"automation {CRASH_AUTOMATION}: {'updated' if existing else 'created'}")


def _same(existing: Any, wanted: AutomationCore) -> bool:
    def shape(a: Any) -> tuple[Any, ...]:
        # Trigger ids are generated per object; what matters is what it listens for and does.
        trigger = a.trigger.model_dump(mode="json", exclude={"id"})
        return a.enabled, trigger, [action.model_dump(mode="json") for action in a.actions]

    return shape(existing) == shape(wanted)
