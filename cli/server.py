"""A local Prefect server that outlives one command: ``smoke server start|stop|status``.

Prefect's own ``prefect server start --background`` pipes the server's output to the
command that started it, so the server dies when that command exits. This starts
``prefect server start`` detached instead: a session of its own, output to a log file
and its pid and port in a state file under the Prefect home, then waits on
``/api/health``. Loopback only. While it runs and ``PREFECT_API_URL`` is not set,
``smoke gate|demo|journey|history`` use it, so runs skip Prefect's start and are kept
for ``smoke history`` and the UI.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cli import postgres
from cli.startup import StartUps, wait_until
from smoke.config import start_timeout_s
from smoke.errors import ConfigError, SmokeSystemError

HOST = "127.0.0.1"
DEFAULT_PORT = 4200
STATE_FILE = "smoke-server.json"
LOG_FILE = "smoke-server.log"
TEMPORARY_LOG_FILE = "smoke-temporary-server.log"
STOP_TIMEOUT_S = 20.0


def prefect_home() -> Path:
    """The Prefect home this process uses (PREFECT_HOME, else ~/.prefect)."""
    return Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()


@dataclass(frozen=True)
class LocalServer:
    """A Prefect server this project started: its process and where it listens."""

    pid: int
    port: int
    home: Path
    # Started for one command (``--ephemeral``), not recorded, stopped with it.
    temporary: bool = False
    # PostgreSQL's URL, password hidden; None: SQLite in the Prefect home.
    database: str | None = None
    # The child process, when this command started it: its exit status is the truth.
    process: subprocess.Popen[bytes] | None = field(default=None, compare=False, repr=False)

    @property
    def ui_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.ui_url}/api"

    @property
    def log_path(self) -> Path:
        return self.home / (TEMPORARY_LOG_FILE if self.temporary else LOG_FILE)

    def alive(self) -> bool:
        """The process still runs and is a Prefect server (not a reused pid).

        A server this command started is asked through its process handle, never through
        /proc: its ``cmdline`` reads empty for a moment after ``Popen`` returns (the
        kernel closes the close-on-exec pipe ``Popen`` waits on before it sets up the new
        program's arguments), and on a busy machine the first check of a starting server
        fell in that moment and called it dead, with its log still empty.
        """
        if self.process is not None:
            return self.process.poll() is None
        return _runs_prefect_server(self.pid)

    def exit_status(self) -> str:
        """How the process this command started ended, for an error message."""
        code = self.process.poll() if self.process is not None else None
        if code is None:
            return "exit status unknown"
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exit code {code}"

    def healthy(self, timeout_s: float = 5.0) -> bool:
        """``/api/health`` answers 200."""
        try:
            with urllib.request.urlopen(f"{self.api_url}/health", timeout=timeout_s) as reply:
                return bool(reply.status == 200)
        except (OSError, urllib.error.URLError):
            return False


def recorded_server(home: Path | None = None) -> LocalServer | None:
    """The server recorded in the Prefect home's state file, if its process still runs."""
    home = home or prefect_home()
    try:
        state = json.loads((home / STATE_FILE).read_text())
        server = LocalServer(
            pid=int(state["pid"]),
            port=int(state["port"]),
            home=home,
            database=state.get("database"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return server if server.alive() else None


# Leases on disk under the Prefect home: a server that restarts still knows the leases of
# the runs that held slots, and its repossessor frees those whose holder died.
SERVER_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect.server.concurrency.lease_storage.filesystem",
}
# A temporary server lives as long as one command: nothing outlives it to read task-run
# history, events or automations, and their writes contend for SQLite's lock.
TEMPORARY_ENV = {
    "PREFECT_UI_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
}
PR_SET_PDEATHSIG = 1


def spawn(
    port: int | None = None,
    *,
    temporary: bool = False,
    say: Callable[[str], None] = print,
    database_url: str | None = None,
) -> LocalServer:
    """Start ``prefect server start`` detached; it answers a little later.

    A session of its own, so a Ctrl-C meant for the command does not kill it before the
    command has recorded how its run ended. The local server is recorded in the state
    file and outlives the command; a temporary one dies with it, even by SIGKILL.
    """
    home = prefect_home()
    home.mkdir(parents=True, exist_ok=True)
    if port == 0 or (port is None and (temporary or not _port_free(DEFAULT_PORT))):
        port = _free_port()
    port = port or DEFAULT_PORT
    if not _port_free(port):
        raise ConfigError(
            f"Port {port} on {HOST} is taken by another program. "
            "Pick another with --port, or leave it out to get a free one."
        )
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env |= SERVER_ENV | (TEMPORARY_ENV if temporary else {})
    env |= {
        # What it prints reaches its log at once, so the log of a failed start is whole.
        "PYTHONUNBUFFERED": "1",
        "PREFECT_HOME": str(home),
        # Its UI asks this address for the API; by default it would ask port 4200.
        "PREFECT_UI_API_URL": f"http://{HOST}:{port}/api",
    }
    if database_url:
        env |= dict.fromkeys(postgres.URL_ENVS, database_url)
    log_path = home / (TEMPORARY_LOG_FILE if temporary else LOG_FILE)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [_prefect(), "server", "start", "--host", HOST, "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=home,
            start_new_session=True,
            preexec_fn=_die_with_parent if temporary else None,
        )
    database = postgres.safe(database_url) if database_url else None
    server = LocalServer(
        pid=process.pid,
        port=port,
        home=home,
        temporary=temporary,
        database=database,
        process=process,
    )
    if temporary:
        return server
    state = {"pid": process.pid, "port": port, "database": database}
    (home / STATE_FILE).write_text(json.dumps(state))
    say(f"Starting a local Prefect server on {server.ui_url} (log {server.log_path})")
    return server


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the process that started it dies."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


MIGRATES = "Prefect's server (its first start migrates a new database)"


def waiting_label(home: Path | None = None) -> str:
    """What a wait for the server on SQLite is called in the progress line."""
    if recorded_server(home) is None and not ((home or prefect_home()) / "prefect.db").exists():
        return MIGRATES
    return "Prefect's server"


def wait_ready(server: LocalServer) -> float:
    """Wait until ``server`` answers its health check; SmokeSystemError with its logs if not."""

    def failed() -> str | None:
        if not server.alive():
            return f"Prefect's server exited while starting ({server.exit_status()})."
        return None

    try:
        return wait_until(
            server.healthy, what="Prefect's server", timeout_s=start_timeout_s(), failed=failed
        )
    except (RuntimeError, TimeoutError) as e:
        raise SmokeSystemError(f"{e}\n{start_logs(server)}") from None


def start_logs(server: LocalServer) -> str:
    """The last lines of the server's log, and of PostgreSQL's when it runs on the local
    cluster: what a failed start shows, so the cause is in the message itself."""
    parts = [f"Last lines of {server.log_path}:\n{_tail(server.log_path, 30)}"]
    local_cluster = postgres.cluster(server.home)
    if server.database and postgres.is_local(server.database) and local_cluster.log_path.exists():
        parts.append(local_cluster.log_tail())
    return "\n".join(parts)


def stop_server(server: LocalServer) -> bool:
    """Stop ``server``'s process group (SIGTERM, then SIGKILL); True when it was running."""
    if not server.alive():
        if not server.temporary:
            _forget(server)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while server.alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    if server.alive():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
    if not server.temporary:
        _forget(server)
    return True


def kill_now(server: LocalServer) -> None:
    """SIGKILL ``server``'s process group, for a command that must exit at once."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(server.pid, signal.SIGKILL)


def configured_api_url() -> str | None:
    """PREFECT_API_URL from the environment or the active Prefect profile, if set."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    path = Path(os.environ.get("PREFECT_PROFILES_PATH") or prefect_home() / "profiles.toml")
    try:
        profiles = tomllib.loads(path.expanduser().read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active") or "ephemeral"
    value = profiles.get("profiles", {}).get(active, {}).get("PREFECT_API_URL")
    return str(value) if value else None


def cmd_start(port: int | None, use_postgres: bool = False) -> int:
    """``smoke server start``: start it unless it runs, wait until it answers.

    ``use_postgres``: on PostgreSQL (``cli.postgres``) instead of SQLite.
    """
    server = recorded_server()
    if server is not None and port and port != server.port:
        raise ConfigError(
            f"A local Prefect server already runs on port {server.port} for PREFECT_HOME "
            f"{server.home}; stop it first (`smoke server stop`) to use port {port}."
        )
    if server is not None and use_postgres and server.database is None:
        raise ConfigError(
            f"A local Prefect server on SQLite already runs for PREFECT_HOME {server.home}; "
            "stop it first (`smoke server stop`) to start it on PostgreSQL."
        )
    label = "Prefect's server" if use_postgres else waiting_label()
    startups = StartUps()
    started_cluster = False
    if server is None:
        database_url = None
        if use_postgres:
            database_url = postgres.configured_url()
            if database_url is None:
                home = prefect_home()
                started_cluster = postgres.cluster(home).running() is None
                database_url, created = startups.result(
                    startups.start("PostgreSQL", lambda: postgres.start(home))
                )
            else:
                created = postgres.ensure_database(database_url)
            if created:
                label = MIGRATES
        server = spawn(port, database_url=database_url)
    try:
        startups.result(startups.start(label, lambda: wait_ready(server)))
    except BaseException:
        stop_server(server)
        if started_cluster:  # nothing else uses the cluster this command started
            with contextlib.suppress(SmokeSystemError):  # the start's own error matters
                postgres.stop(server.home)
        raise
    print(f"Prefect server running (pid {server.pid}), log {server.log_path}")
    print(f"  UI:  {server.ui_url}")
    print(f"  API: {server.api_url}  (smoke gate|demo|journey|history use it while it runs)")
    print(f"  database: {server.database or 'SQLite in the Prefect home'}")
    print("  stop it with: smoke server stop")
    return 0


def cmd_stop() -> int:
    """``smoke server stop``."""
    server = recorded_server()
    if server is None or not stop_server(server):
        print(f"No local Prefect server runs for PREFECT_HOME {prefect_home()}.")
    else:
        print(f"Stopped the local Prefect server (pid {server.pid}, port {server.port}).")
    # After the server, which holds connections to it; also one a crashed server left.
    if (pid := postgres.stop(prefect_home())) is not None:
        print(f"Stopped the local PostgreSQL (pid {pid}).")
    return 0


def cmd_status() -> int:
    """``smoke server status``: 0 when it runs and answers, 1 otherwise."""
    server = recorded_server()
    if server is None:
        print(f"No local Prefect server runs for PREFECT_HOME {prefect_home()}.")
        print("  start one with: smoke server start")
        return 1
    state = "answering" if server.healthy() else "not answering yet"
    print(f"Prefect server running (pid {server.pid}), {state}, log {server.log_path}")
    print(f"  UI:  {server.ui_url}")
    print(f"  API: {server.api_url}")
    print(f"  database: {server.database or 'SQLite in the Prefect home'}")
    return 0 if state == "answering" else 1


def _prefect() -> str:
    beside = Path(sys.executable).with_name("prefect")
    return str(beside) if beside.exists() else "prefect"


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _runs_prefect_server(pid: int) -> bool:
    """``pid`` runs (not a zombie) and its command line is ``prefect ... server ...``."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, IndexError):
        return False
    if state in ("Z", "X"):
        return False
    return b"server" in cmdline and any(b"prefect" in part for part in cmdline)


def _forget(server: LocalServer) -> None:
    with contextlib.suppress(OSError):
        state = json.loads((server.home / STATE_FILE).read_text())
        if int(state.get("pid", -1)) == server.pid:
            (server.home / STATE_FILE).unlink()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"(not readable: {e.strerror})"
    return "\n".join(text.splitlines()[-lines:]) if text.strip() else "(empty)"
