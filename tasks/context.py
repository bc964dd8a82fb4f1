"""Opening a journey inside its flow run: its environment, its evidence folder, its browser."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from blocks.local_sandbox import run_sandbox
from blocks.resolve import evidence_root, resolved
from smoke.results import CheckResult, SkipKind, Status
from tasks import browser, progress
from tasks.journey import JourneyContext, SpecT


@asynccontextmanager
async def open_journey(
    journey: str, environment: str, spec_type: type[SpecT]
) -> AsyncIterator[JourneyContext[SpecT]]:
    """Open the journey's clients for the block's duration.

    Under a gate the environment was resolved once and is carried here; a journey run on
    its own resolves it itself (and starts a sandbox for ``sandbox`` when none runs). A
    utility flow that is no journey of the contract (seed) gets an empty ``spec_type()``.
    """
    async with run_sandbox(environment):
        config, suite = await resolved(environment)
        spec = suite.journey(journey) if journey in type(suite).model_fields else spec_type()
        if not isinstance(spec, spec_type):
            raise TypeError(f"the {journey} journey's spec is a {type(spec).__name__}")
        folder = run_folder()
        evidence_dir = evidence_root() / folder / journey
        ctx = JourneyContext(journey, config, suite, evidence_dir, spec, run_id=folder)
        await progress.signal_started()
        async with browser.browser_for_journey():
            try:
                yield ctx
            finally:
                await ctx.aclose()


def run_folder() -> str:
    """This run's id: the gate's (root) flow run, so journeys share it (evidence, {{run_id}})."""
    from prefect.runtime import flow_run

    try:
        root = flow_run.get_root_flow_run_id()
    except Exception:  # outside a flow run the run id is unknown; a random id serves  # noqa: BLE001
        root = None
    return str(root).replace("-", "")[:8] if root else secrets.token_hex(4)


def skipped_journey(journey: str, why: str) -> list[CheckResult]:
    """The single result of a journey that did not run at all."""
    kind: SkipKind = "configuration" if why.startswith("disabled") else "prerequisite"
    return [
        CheckResult(
            journey=journey,
            check="journey",
            status=Status.SKIPPED,
            message=why,
            skipped_because=kind,
        )
    ]
