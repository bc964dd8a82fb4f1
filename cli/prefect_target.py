"""Which Prefect API a run records to, decided before Prefect is imported.

In order: ``PREFECT_API_URL`` (the environment or the active Prefect profile); else
the local server (``smoke server start``) when it runs; else, for ``smoke demo``, a
local server started now and left running; else Prefect's ephemeral mode, a temporary
server for this command alone (``--ephemeral`` asks for it whatever runs).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from cli import server as local
from smoke.config import start_timeout_s

# Prefect's ephemeral server lives as long as this command. The services that turn
# events into task-run history and fire automations contend with the run's own writes
# for SQLite's lock and nothing outlives the process to read what they write: off.
LEAN_EPHEMERAL_SERVER = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
}
EPHEMERAL_TIMEOUT_ENV = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"


@dataclass
class PrefectTarget:
    """Where this run's flow runs are recorded, and how to wait until it answers."""

    kind: Literal["configured", "local", "ephemeral"]
    api_url: str | None = None
    server: local.LocalServer | None = None
    label: str = "Prefect's server"

    def describe(self) -> str:
        """For the run's header line."""
        if self.kind == "configured":
            return f"Prefect API {self.api_url}"
        if self.kind == "local":
            return f"local Prefect server {self.server.ui_url if self.server else ''}"
        return "Prefect ephemeral mode (a temporary server for this command; runs are not kept)"

    def wait_ready(self) -> Any:
        """Block until the API answers (start the temporary server in ephemeral mode)."""
        if self.kind == "local" and self.server is not None:
            return local.wait_ready(self.server)
        if self.kind == "ephemeral":
            from prefect.server.api.server import SubprocessASGIServer

            server = SubprocessASGIServer()
            server.start(timeout=int(start_timeout_s()))
            return server
        return None


# How long the run's last logs and events may take to reach the temporary server.
DRAIN_TIMEOUT_S = 30.0


def stop_ephemeral(server: Any) -> None:
    """Deliver the run's queued logs and events, then stop the temporary server.

    Stopped first, the queues would retry a dead server for a minute or more at exit.
    """
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=DRAIN_TIMEOUT_S, at_exit=False)
    server.stop()


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
    """Decide, and set the environment Prefect will read when it is imported."""
    configured = local.configured_api_url()
    if configured and not ephemeral:
        return PrefectTarget("configured", api_url=configured)
    if not ephemeral:
        label = local.waiting_label()
        server = local.recorded_server()
        if server is None and start_local:
            server = local.spawn(say=say)
        if server is not None:
            os.environ["PREFECT_API_URL"] = server.api_url
            return PrefectTarget("local", api_url=server.api_url, server=server, label=label)
    os.environ.pop("PREFECT_API_URL", None)
    for key, value in LEAN_EPHEMERAL_SERVER.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault(EPHEMERAL_TIMEOUT_ENV, str(int(start_timeout_s())))
    first = not (local.prefect_home() / "prefect.db").exists()
    label = "Prefect's temporary server" + (
        " (its first start migrates a new database)" if first else ""
    )
    return PrefectTarget("ephemeral", label=label)
