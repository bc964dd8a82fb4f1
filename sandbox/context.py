"""The running sandbox's shared state, handed to every route through ``get_sandbox``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request

from sandbox.credentials import SandboxCredentials
from sandbox.db import Database
from sandbox.faults import FaultSet
from sandbox.mail import MailSink

if TYPE_CHECKING:
    from sandbox.idp import IdentityProvider
    from sandbox.stripe_gateway import StripeGateway


@dataclass
class SandboxContext:
    """Everything a route may need: configuration, faults, storage and services."""

    credentials: SandboxCredentials
    version: str
    faults: FaultSet
    db: Database
    idp: IdentityProvider
    stripe: StripeGateway
    mail: MailSink
    public_base_url: str
    localstripe_pid: int = 0
    loop: asyncio.AbstractEventLoop | None = None
    # Strong references: the loop only keeps weak ones to its tasks.
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def is_on(self, fault: str) -> bool:
        """True when the named fault is enabled."""
        return self.faults.is_enabled(fault)

    def run_later(self, delay: float, job: Callable[[], None]) -> None:
        """Run the blocking ``job`` in a worker thread ``delay`` seconds from now.

        Callable from the event loop or any thread: sync routes use it to schedule
        asynchronous work (a webhook's delayed provisioning) on the app's loop.
        """
        loop = self.loop
        if loop is None:
            raise RuntimeError("the sandbox's event loop is not running yet")

        async def later() -> None:
            await asyncio.sleep(delay)
            await asyncio.to_thread(job)

        def start() -> None:  # always on the loop's thread, so the set needs no lock
            task = loop.create_task(later())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            start()
        else:
            loop.call_soon_threadsafe(start)


def get_sandbox(request: Request) -> SandboxContext:
    """FastAPI dependency: the sandbox this request belongs to."""
    sandbox: SandboxContext = request.app.state.sandbox
    return sandbox
