"""The name ``sandbox``: a local sandbox started for one run, wherever the run is.

`smoke gate --env sandbox` starts one in its own process; a flow run on a worker
(a run from the Prefect UI, a schedule) starts one for the run and stops it afterwards
(``run_sandbox``), so the name works everywhere it is offered.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from blocks.resolve import (
    forget_local_environment,
    known_here,
    load_block,
    register_local_environment,
)
from sandbox import RunningSandbox
from smoke.config import SANDBOX
from smoke.local_sandbox import sandbox_config, start_local_sandbox


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
