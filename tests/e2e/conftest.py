"""A real `prefect server start` (SQLite, loopback, a free port) for end-to-end tests.

Started once per session; every e2e test talks to it through PREFECT_API_URL, exactly
as a pipeline or a worker would.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.prefect_server import PrefectServer, run_smoke


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    server = PrefectServer(tmp_path_factory.mktemp("prefect-server"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smoke_cli() -> object:
    """``smoke_cli(args, env=..., cwd=...)``: the `smoke` command's CompletedProcess."""
    return run_smoke
