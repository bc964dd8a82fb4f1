"""Recording a gate's result in Prefect: a markdown report and a table of every check."""

from __future__ import annotations

import re

from prefect import task
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.cache_policies import NO_CACHE

from smoke.report import render_markdown, result_markdown, table_rows
from smoke.results import GateResult


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
async def record_results(result: GateResult) -> None:
    """Markdown report, check table and the JSON result as artifacts of the gate's run."""
    verdict = result.verdict.value
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
    # The machine-readable result, so `smoke gate --via-deployment` can write the same
    # JSON, JUnit and report files as an in-process run.
    await acreate_markdown_artifact(
        markdown=result_markdown(result),
        key=artifact_key("result", result.environment),
        description=f"Gate result JSON: {verdict}",
    )
