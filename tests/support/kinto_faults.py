"""A Kinto plugin (``kinto.includes``) that lets tests break Kinto at runtime.

A file named after a fault in ``kinto.smoke_fault_dir`` turns it on:

- ``storage_down``: the heartbeat reports the storage backend down (``"storage": false``,
  HTTP 503), as Kinto does when its database is unreachable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyramid.events import ApplicationCreated


def includeme(config: Any) -> None:
    """Wrap the storage heartbeat once the application (and its heartbeats) exists."""
    settings = config.get_settings()
    fault_dir = Path(settings.get("smoke_fault_dir") or settings["kinto.smoke_fault_dir"])

    def wrap(event: ApplicationCreated) -> None:
        heartbeats = event.app.registry.heartbeats
        real = heartbeats["storage"]

        def storage(request: Any) -> bool:
            if (fault_dir / "storage_down").exists():
                return False
            return bool(real(request))

        heartbeats["storage"] = storage

    config.add_subscriber(wrap, ApplicationCreated)
