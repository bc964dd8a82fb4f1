"""On a FAIL in gate mode, call the environment's rollback: a webhook or a Prefect deployment.

The rollback never changes the verdict; a rollback that cannot be requested is logged
and returned, and the release stays blocked by the FAIL either way.
"""

from __future__ import annotations

from typing import Any

import httpx
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.deployments import run_deployment

from smoke.config import SmokeConfig
from smoke.results import GateResult, Verdict
from smoke.scrub import scrub, scrubber

WEBHOOK_TIMEOUT_S = 10.0


def rollback_payload(result: GateResult) -> dict[str, Any]:
    """What a rollback hook receives: environment, version and the failed checks."""
    payload = {
        "environment": result.environment,
        "version": result.version,
        "verdict": result.verdict.value,
        "flow_run_url": result.flow_run_url,
        "failed_checks": [
            {
                "journey": c.journey,
                "check": c.check,
                "expected": c.expected,
                "actual": c.actual,
                "message": c.message,
            }
            for c in result.problems()
            if c.blocking
        ],
    }
    cleaned = scrubber.value(payload)
    assert isinstance(cleaned, dict)
    return cleaned


def wants_rollback(result: GateResult, config: SmokeConfig) -> bool:
    """A FAIL of a release gate, with a rollback configured."""
    configured = config.rollback_webhook_url is not None or bool(config.rollback_deployment)
    return result.verdict is Verdict.FAIL and result.mode == "gate" and configured


@task(name="request-rollback", cache_policy=NO_CACHE, persist_result=False)
async def request_rollback(result: GateResult, config: SmokeConfig) -> str:
    """Call the configured rollback; a one-line account of what happened (never raises)."""
    logger = get_run_logger()
    payload = rollback_payload(result)
    done: list[str] = []
    try:
        if config.rollback_webhook_url is not None:
            async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_S) as client:
                response = await client.post(
                    config.rollback_webhook_url.get_secret_value(), json=payload
                )
            response.raise_for_status()
            done.append(f"rollback webhook answered {response.status_code}")
        if config.rollback_deployment:
            run = await run_deployment(  # type: ignore[misc]
                config.rollback_deployment, parameters=payload, timeout=0
            )
            done.append(f"rollback deployment {config.rollback_deployment} started: run {run.id}")
    except Exception as e:  # a failed rollback request is reported, the verdict stands  # noqa: BLE001
        message = scrub(f"rollback could not be requested: {type(e).__name__}: {e}")
        logger.error(message)
        return message
    summary = "; ".join(done)
    logger.warning(summary)
    return summary
