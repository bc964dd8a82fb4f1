"""Recording a gate's result in Prefect: a markdown report and a table of every check."""

from __future__ import annotations

import re

from prefect import task
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.cache_policies import NO_CACHE

from smoke.report import render_markdown, table_rows
from smoke.results import GateResult
from tasks.evidence import evidence_storage, store_evidence, store_result


def artifact_key(kind: str, environment: str) -> str:
    """A valid artifact key (lower-case letters, digits, dashes) per kind and environment."""
    slug = re.sub(r"[^a-z0-9-]+", "-", environment.lower()).strip("-") or "env"
    return f"smoke-{kind}-{slug}"


@task(
    name="record-results",
    cache_policy=NO_CACHE,
    persist_result=False,
    retries=2,
    retry_delay_seconds=[1, 2],
)
async def record_results(result: GateResult) -> GateResult:
    """Evidence and the JSON result into storage, then the report and check table as artifacts.

    Returns the result with each stored file's key and URL, which the report then shows.
    """
    verdict = result.verdict.value
    # The machine-readable result, read back as JSON by `smoke gate --via-deployment`
    # through the same storage block, beside the evidence it links to.
    storage = await evidence_storage()
    await store_evidence(result, storage)
    await store_result(result, storage)
    await acreate_markdown_artifact(
        markdown=render_markdown(result),
        key=artifact_key("report", result.environment),
        description=f"Smoke report: {verdict} for {result.environment}",
    )
    await acreate_table_artifact(
        table=table_rows(result),
        key=artifact_key("checks", result.environment),
        description=f"Every check of the gate run: {verdict}",
    )
    return result
