"""Start-up waits: bounded only against hangs, with a progress line; the local server's records."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pytest

from cli import server, startup
from smoke.config import DEFAULT_START_TIMEOUT_S, start_timeout_s
from smoke.errors import ConfigError


def test_a_wait_that_never_ends_says_what_hung_and_how_to_allow_longer() -> None:
    polls: list[bool] = []
    with pytest.raises(TimeoutError) as info:
        startup.wait_until(
            lambda: polls.append(False) or False,
            what="the sandbox",
            timeout_s=0.02,
            interval_s=0.005,
        )
    assert str(info.value) == (
        "the sandbox did not start within 0.02 s. If this machine is only slow, allow longer "
        "with SMOKE_START_TIMEOUT_S (seconds)."
    )
    assert len(polls) >= 2  # polled until the deadline, not given up after one look


def test_a_wait_stops_at_once_when_waiting_is_pointless() -> None:
    with pytest.raises(RuntimeError, match="exited with code 1"):
        startup.wait_until(
            lambda: False, what="x", timeout_s=60, failed=lambda: "exited with code 1"
        )


def test_a_slow_start_is_waited_for_with_a_progress_line_in_a_log(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(startup, "LOG_FIRST_S", 0.01)
    monkeypatch.setattr(startup, "POLL_S", 0.002)
    out = io.StringIO()
    startups = startup.StartUps(out)

    def slow_start() -> str:
        # Still starting until the waiting line is in the log (5 s only against a hang).
        deadline = time.monotonic() + 5
        while "waiting for" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.002)
        return "up"

    slow = startups.start("Prefect's server", slow_start)
    assert startups.result(slow) == "up"
    assert "  waiting for Prefect's server: " in out.getvalue()


def test_an_error_in_a_start_reaches_whoever_waits() -> None:
    startups = startup.StartUps(io.StringIO())

    def broken() -> None:
        raise ValueError("no port")

    with pytest.raises(ValueError, match="no port"):
        startups.result(startups.start("the sandbox", broken))


@pytest.mark.parametrize(("raw", "expected"), [("", DEFAULT_START_TIMEOUT_S), ("300", 300.0)])
def test_start_timeout_reads_the_setting(raw: str, expected: float) -> None:
    assert start_timeout_s({"SMOKE_START_TIMEOUT_S": raw}) == expected


@pytest.mark.parametrize("raw", ["soon", "0", "-5"])
def test_a_bad_start_timeout_is_a_configuration_error(raw: str) -> None:
    with pytest.raises(ConfigError, match="SMOKE_START_TIMEOUT_S"):
        start_timeout_s({"SMOKE_START_TIMEOUT_S": raw})


def test_a_recorded_server_whose_process_is_gone_is_not_running(tmp_path: Path) -> None:
    (tmp_path / server.STATE_FILE).write_text(json.dumps({"pid": 2**22 + 17, "port": 4200}))
    assert server.recorded_server(tmp_path) is None


def test_a_recorded_pid_that_is_not_a_prefect_server_is_not_running(tmp_path: Path) -> None:
    # This very process: alive, but not a Prefect server (a reused pid must never be killed).
    (tmp_path / server.STATE_FILE).write_text(json.dumps({"pid": os.getpid(), "port": 4200}))
    assert server.recorded_server(tmp_path) is None


def test_the_api_url_of_the_active_prefect_profile_counts_as_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_PROFILE", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    assert server.configured_api_url() is None
    (tmp_path / "profiles.toml").write_text(
        'active = "work"\n[profiles.work]\nPREFECT_API_URL = "http://prefect.internal/api"\n'
    )
    assert server.configured_api_url() == "http://prefect.internal/api"
    monkeypatch.setenv("PREFECT_API_URL", "http://other/api")
    assert server.configured_api_url() == "http://other/api"
