"""A local server's start: whether it still runs, and what a failed start shows."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli import postgres, server
from smoke.errors import ConfigError, SmokeSystemError

LOCAL_DB = "postgresql+asyncpg://prefect:***@127.0.0.1:5432/prefect"


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A child process that is no Prefect server by its command line."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def test_a_server_this_command_started_runs_while_its_process_runs_whatever_proc_says(
    sleeper: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    # Right after Popen returns, /proc/<pid>/cmdline can read empty (the exec is not
    # done): the process handle, not the command line, says whether our child runs.
    started = server.LocalServer(pid=sleeper.pid, port=1, home=tmp_path, process=sleeper)
    assert not server._runs_prefect_server(sleeper.pid)
    assert started.alive()
    sleeper.send_signal(signal.SIGKILL)
    sleeper.wait()
    assert not started.alive()
    assert started.exit_status() == "killed by SIGKILL"


def test_a_start_that_exits_says_how_and_shows_the_server_and_postgres_logs(
    tmp_path: Path,
) -> None:
    (tmp_path / server.LOG_FILE).write_text("boot\nConnectionRefusedError: [Errno 111]\n")
    cluster = postgres.cluster(tmp_path)
    cluster.root.mkdir()
    cluster.log_path.write_text("LOG:  database system is ready to accept connections\n")
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    process.wait()
    exited = server.LocalServer(
        pid=process.pid, port=_unused_port(), home=tmp_path, database=LOCAL_DB, process=process
    )
    with pytest.raises(SmokeSystemError) as info:
        server.wait_ready(exited)
    message = str(info.value)
    assert message.startswith("Prefect's server exited while starting (exit code 3).\n")
    assert f"Last lines of {tmp_path / server.LOG_FILE}:\n" in message
    assert "ConnectionRefusedError: [Errno 111]" in message
    assert f"Last lines of PostgreSQL's log {cluster.log_path}:\n" in message
    assert "ready to accept connections" in message


def test_an_empty_or_missing_log_says_so(tmp_path: Path) -> None:
    (tmp_path / server.LOG_FILE).write_text("")
    on_sqlite = server.LocalServer(pid=1, port=1, home=tmp_path)
    assert server.start_logs(on_sqlite) == f"Last lines of {tmp_path / server.LOG_FILE}:\n(empty)"
    assert "PostgreSQL" not in server.start_logs(on_sqlite)
    assert "not readable" in postgres.cluster(tmp_path).log_tail()


@pytest.mark.parametrize(
    ("url", "local"),
    [
        (LOCAL_DB, True),
        ("postgresql+asyncpg://u:p@localhost/prefect", True),
        ("postgresql+asyncpg://u:p@db.internal:5432/prefect", False),
    ],
)
def test_only_a_loopback_database_can_be_the_local_cluster(url: str, local: bool) -> None:
    assert postgres.is_local(url) is local


def test_a_connection_url_that_is_not_postgres_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL", "sqlite+aiosqlite:///x.db")
    with pytest.raises(ConfigError, match=r"is not a PostgreSQL URL; it must start with"):
        postgres.configured_url()


def test_stopping_the_local_cluster_signals_its_postmaster_and_waits_until_it_is_gone(
    tmp_path: Path,
) -> None:
    # A stand-in postmaster ("postgres" in its command line) that a fast shutdown (SIGINT)
    # ends; no pg_ctl, so no folder above the data dir needs to be reachable. It handles
    # SIGINT itself, as a postmaster does: a shell's background job (a CI runner's) starts
    # with SIGINT ignored, and Python would inherit that.
    code = (
        "import signal, time; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "print(flush=True); time.sleep(60)"
    )
    stand_in = subprocess.Popen([sys.executable, "-c", code, "postgres"], stdout=subprocess.PIPE)
    # Its first line: its exec is done, so its command line reads whole (the same moment
    # that the liveness fix is about; a real postmaster is long past it).
    assert stand_in.stdout is not None
    stand_in.stdout.readline()
    cluster = postgres.cluster(tmp_path)
    cluster.data.mkdir(parents=True)
    (cluster.data / "postmaster.pid").write_text(f"{stand_in.pid}\n{cluster.data}\n0\n5432\n")
    try:
        assert postgres.stop(tmp_path) == stand_in.pid
        assert stand_in.wait(timeout=5) != 0  # ended by the signal, not by its sleep
    finally:
        stand_in.kill()
        stand_in.wait()
        stand_in.stdout.close()
    assert postgres.stop(tmp_path) is None  # nothing runs any more


def test_a_port_taken_is_read_from_the_log_written_since_this_start(tmp_path: Path) -> None:
    log = tmp_path / "postgres.log"
    log.write_bytes(b'LOG:  could not bind IPv4 address "127.0.0.1": Address already in use\n')
    since = log.stat().st_size
    assert postgres._port_taken(log, 0)
    assert not postgres._port_taken(log, since)  # an earlier start's line does not count
    with log.open("ab") as more:
        more.write(b"FATAL:  could not create any TCP/IP sockets: Address already in use\n")
    assert postgres._port_taken(log, since)
    assert not postgres._port_taken(tmp_path / "missing.log", 0)


def test_two_cluster_starts_take_turns(tmp_path: Path) -> None:
    import threading

    order: list[str] = []
    first_in = threading.Event()

    def first() -> None:
        with postgres._start_lock(tmp_path):
            order.append("first in")
            first_in.set()
            threading.Event().wait(0.05)  # the second start tries meanwhile
            order.append("first out")

    def second() -> None:
        first_in.wait()
        with postgres._start_lock(tmp_path):
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert order == ["first in", "first out", "second in"]
