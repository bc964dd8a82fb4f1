"""Which Prefect API a run records to, decided before Prefect is imported.

In order: ``PREFECT_API_URL`` (the environment or the active Prefect profile); else
the local server (``smoke server start``) when it runs; else, for ``smoke demo``, a
local server started now and left running; else a temporary server for this command
alone (``--ephemeral`` asks for one whatever runs), stopped when the command ends.

The temporary server is ``prefect server start`` in a session of its own rather than
Prefect's ephemeral mode: a Ctrl-C to the terminal's process group must not kill the
server before the command has recorded that its runs were cancelled and released its
environment's slot, and it keeps leases on disk like the local server does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from cli import server as local
from cli import signals

# How long the run's last logs and events may take to reach a temporary server (after a
# signal, the command must be gone within seconds).
DRAIN_TIMEOUT_S = 30.0
SIGNAL_DRAIN_TIMEOUT_S = 2.0


@dataclass
class PrefectTarget:
    """Where this run's flow runs are recorded, and how to wait until it answers."""

    kind: Literal["configured", "local", "temporary"]
    api_url: str | None = None
    server: local.LocalServer | None = None
    label: str = "Prefect's server"

    def describe(self) -> str:
        """For the run's header line."""
        if self.kind == "configured":
            return f"Prefect API {self.api_url}"
        if self.kind == "local":
            return f"local Prefect server {self.server.ui_url if self.server else ''}"
        return "a temporary Prefect server for this command (runs are not kept)"

    def wait_ready(self) -> None:
        """Block until the API answers (nothing to wait for when it is configured)."""
        if self.server is not None:
            local.wait_ready(self.server)

    def close(self) -> None:
        """Stop a temporary server once the run's queued logs and events reached it."""
        if self.kind != "temporary" or self.server is None:
            return
        drain_timeout_s = SIGNAL_DRAIN_TIMEOUT_S if signals.current().signum else DRAIN_TIMEOUT_S
        try:
            from prefect.events.worker import EventsWorker
            from prefect.logging.handlers import APILogWorker

            for worker in (APILogWorker, EventsWorker):
                worker.drain_all(timeout=drain_timeout_s, at_exit=False)
        finally:
            local.stop_server(self.server)


def use_local_server() -> local.LocalServer | None:
    """For commands that need a server (deploy, blocks, history): the local one, if it runs."""
    if local.configured_api_url():
        return None
    server = local.recorded_server()
    if server is not None:
        os.environ["PREFECT_API_URL"] = server.api_url
    return server


def choose(
    *, ephemeral: bool, start_local: bool, say: Callable[[str], None] = print
) -> PrefectTarget:
    """Decide, start what is needed, and set PREFECT_API_URL before Prefect is imported."""
    configured = local.configured_api_url()
    if configured and not ephemeral:
        return PrefectTarget("configured", api_url=configured)
    label = local.waiting_label()
    server = None if ephemeral else local.recorded_server()
    kind: Literal["local", "temporary"] = "local"
    if server is None and start_local and not ephemeral:
        server = local.spawn(say=say)
    if server is None:
        server, kind = local.spawn(temporary=True), "temporary"
        label = label.replace("Prefect's server", "a temporary Prefect server")
        temporary = server
        signals.current().at_second_signal(lambda: local.kill_now(temporary))
    os.environ["PREFECT_API_URL"] = server.api_url
    return PrefectTarget(kind, api_url=server.api_url, server=server, label=label)
