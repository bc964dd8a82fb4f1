"""``smoke sandbox --push-block NAME``: a sandbox that outlives one command, as a block."""

from __future__ import annotations

import signal
import threading
from collections.abc import Sequence

from sandbox import start_sandbox
from smoke.local_sandbox import sandbox_config, sandbox_credentials


def serve_as_block(name: str, host: str, port: int, faults: Sequence[str], version: str) -> int:
    """Run the sandbox until Ctrl-C with a SmokeEnvironment block ``name`` pointing at it.

    A worker (a deployment run, a scheduled monitor) resolves ``name`` like any other
    environment, so the whole production path can be tried on one machine.
    """
    from blocks import SmokeEnvironment
    from blocks.prefect_api import require_api

    require_api()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with start_sandbox(
        host=host,
        port=port,
        faults=list(faults),
        version=version,
        credentials=sandbox_credentials(),
    ) as sb:
        config = sandbox_config(sb).model_copy(update={"name": name})
        SmokeEnvironment.from_config(config).save(name, overwrite=True)
        print(f"sandbox at {sb.base_url} (Stripe {sb.stripe_api_base}), version {version}")
        print(f"block smoke-environment/{name} points at it; Ctrl-C stops it", flush=True)
        stop.wait()
    print("sandbox stopped")
    return 0
