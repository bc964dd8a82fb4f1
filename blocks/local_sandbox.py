"""The name ``sandbox``: a local sandbox started for one run, wherever the run is.

`smoke gate --env sandbox` starts one in its own process; a flow run on a worker
(a run from the Prefect UI, a schedule) starts one for the run and stops it afterwards
(``run_sandbox``), so the name works everywhere it is offered.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager

from pydantic import SecretStr

from blocks.resolve import (
    forget_local_environment,
    known_here,
    load_block,
    register_local_environment,
)
from sandbox import RunningSandbox, SandboxCredentials, SandboxStartError, start_sandbox
from smoke.config import SANDBOX, SmokeConfig, check_test_key, env_overrides, start_timeout_s
from smoke.errors import SmokeSystemError

DEFAULT_VERSION = "1.0.0"

# SMOKE_* settings that the sandbox must accept too: set one and the sandbox is started
# with it, so a test can use unique marker values end to end.
_SHARED = (
    "e2e_token",
    "test_email",
    "test_password",
    "other_email",
    "other_password",
    "stripe_secret_key",
    "stripe_webhook_secret",
)


def sandbox_credentials() -> SandboxCredentials:
    """The sandbox's default credentials with any SMOKE_* overrides applied."""
    overrides = env_overrides()
    check_test_key(overrides.get("stripe_secret_key"))
    values = {}
    for name in _SHARED:
        if name in overrides and overrides[name] is not None:
            value = overrides[name]
            values[name] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    return SandboxCredentials(**values)


def sandbox_config(sb: RunningSandbox) -> SmokeConfig:
    """The SmokeConfig that points at a running sandbox."""
    creds = sb.credentials
    return SmokeConfig(
        name=SANDBOX,
        base_url=sb.base_url,
        api_url=sb.api_url,
        test_email=creds.test_email,
        test_password=SecretStr(creds.test_password),
        other_email=creds.other_email,
        other_password=SecretStr(creds.other_password),
        e2e_token=SecretStr(creds.e2e_token),
        stripe_secret_key=SecretStr(creds.stripe_secret_key),
        stripe_webhook_secret=SecretStr(creds.stripe_webhook_secret),
        stripe_api_base=sb.stripe_api_base,
    )


def start_local_sandbox(faults: Sequence[str] = (), version: str | None = None) -> RunningSandbox:
    """Start the sandbox for one run; waits as long as a start may take (SMOKE_START_TIMEOUT_S)."""
    credentials = sandbox_credentials()
    try:
        return start_sandbox(
            faults=list(faults),
            version=version or DEFAULT_VERSION,
            credentials=credentials,
            ready_timeout=start_timeout_s(),
        )
    except SandboxStartError as e:
        hint = (
            " If this machine is only slow, allow longer with SMOKE_START_TIMEOUT_S (seconds)."
            if e.timed_out
            else ""
        )
        raise SmokeSystemError(f"The local sandbox did not start: {e}{hint}") from e


@contextmanager
def register_sandbox(sb: RunningSandbox) -> Iterator[RunningSandbox]:
    """Make the environment name ``sandbox`` mean ``sb`` in this process for the block."""
    register_local_environment(sandbox_config(sb))
    try:
        yield sb
    finally:
        forget_local_environment(SANDBOX)


@asynccontextmanager
async def run_sandbox(environment: str, version: str | None = None) -> AsyncIterator[None]:
    """When ``environment`` is ``sandbox`` and names no running sandbox, start one for the block.

    ``sandbox`` already names one when this process started it (``smoke gate --env
    sandbox``), a gate carries it to its journeys, or a block ``sandbox`` exists (``smoke
    gate --env sandbox --via-deployment`` saves one for its own sandbox while it runs).
    """
    if environment != SANDBOX or known_here(SANDBOX) or await load_block(SANDBOX) is not None:
        yield
        return
    sb = await asyncio.to_thread(start_local_sandbox, (), version)
    try:
        with register_sandbox(sb):
            yield
    finally:
        await asyncio.to_thread(sb.stop)
