"""Starting and stopping: ready time, Ctrl-C/SIGTERM/SIGKILL leave no process behind,
secrets never reach argv or output, a failed start says why."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sandbox_test_helpers import CREDENTIALS, wait_for

from sandbox import SandboxStartError, start_sandbox


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (Linux /proc)."""
    found: set[int] = set()
    pending = [pid]
    while pending:
        current = pending.pop()
        for children_file in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                children = {int(c) for c in children_file.read_text().split()}
            except OSError:
                continue
            pending += list(children - found)
            found |= children
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def listening_addresses(pids: set[int]) -> set[str]:
    """``ip:port`` of every TCP socket in LISTEN state that one of ``pids`` holds."""
    inodes: set[str] = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:
                host_hex, port_hex = local.split(":")
                if len(host_hex) == 8:
                    host = socket.inet_ntop(socket.AF_INET, bytes.fromhex(host_hex)[::-1])
                else:
                    words = bytes.fromhex(host_hex)
                    raw = b"".join(words[i : i + 4][::-1] for i in range(0, 16, 4))
                    host = socket.inet_ntop(socket.AF_INET6, raw)
                found.add(f"{host}:{int(port_hex, 16)}")
    return found


def assert_gone(pids: set[int], timeout: float = 10.0) -> None:
    wait_for(lambda: not any(alive(pid) for pid in pids), timeout=timeout)


def test_start_sandbox_answers_and_stop_leaves_nothing() -> None:
    pickle = Path("/tmp/localstripe.pickle")  # where localstripe would dump its store
    pickle_before = pickle.stat().st_mtime_ns if pickle.exists() else None
    sandbox = start_sandbox(faults=["version.stale"], version="9.9.1", credentials=CREDENTIALS)
    try:
        # How fast it starts is a benchmark figure (make bench), not a test.
        assert sandbox.ready_seconds > 0
        health = httpx.get(f"{sandbox.base_url}/health").json()
        assert health["version"] == "9.9.0"
        assert sandbox.faults == ("version.stale",)
        children = descendants(sandbox.pid)
        assert sandbox.localstripe_pid in children
        for pid in {sandbox.pid, *children}:
            for secret in CREDENTIALS.secret_values():
                assert secret not in cmdline(pid)
        workdir = Path(os.readlink(f"/proc/{sandbox.localstripe_pid}/cwd"))
        assert workdir.is_dir()
        assert "127.0.0.1" in sandbox.stripe_api_base
        # Loopback only: the app, localstripe and the SMTP sink.
        listening = listening_addresses({sandbox.pid, *children})
        assert len(listening) == 3, listening
        assert all(address.startswith("127.0.0.1:") for address in listening), listening
        # localstripe's store stays in memory: no pickle in /tmp or in its working dir.
        assert (pickle.stat().st_mtime_ns if pickle.exists() else None) == pickle_before
        assert not list(workdir.glob("*.pickle"))
    finally:
        sandbox.stop()
    assert not sandbox.running
    assert_gone({sandbox.pid, *children})
    assert not workdir.exists()
    log = sandbox.log_path
    assert not log.exists()  # the run directory is removed too
    sandbox.stop()  # idempotent


def read_until(stream: subprocess.Popen[str], marker: str, timeout: float) -> str:
    """Read the child's stdout until ``marker`` appears (or fail after ``timeout``)."""
    assert stream.stdout is not None
    lines: list[str] = []
    done = threading.Event()

    def reader() -> None:
        assert stream.stdout is not None
        for line in stream.stdout:
            lines.append(line)
            if marker in line:
                done.set()
                return

    threading.Thread(target=reader, daemon=True).start()
    assert done.wait(timeout), f"no {marker!r} within {timeout} s; output: {''.join(lines)}"
    return "".join(lines)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_prints_urls_and_stops_everything_on_signal(stop_signal: signal.Signals) -> None:
    env = {**os.environ, **CREDENTIALS.to_env()}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "serve",
            "--port",
            "0",
            "--fault",
            "dashboard.slow",
            "--version",
            "3.1.4",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, like a shell job
    )
    try:
        banner = read_until(server, "Press Ctrl-C", timeout=10.0)
        app_line = next(line for line in banner.splitlines() if "app:" in line)
        base_url = app_line.split()[-1]
        assert base_url.startswith("http://localhost:")
        assert "stripe:  http://127.0.0.1:" in banner
        assert "smtp:    127.0.0.1:" in banner
        assert "health:  healthy (database ok, stripe ok, mail ok); version 3.1.4" in banner
        assert "faults:  dashboard.slow" in banner
        assert httpx.get(f"{base_url}/health").status_code == 200
        children = descendants(server.pid)
        assert children, "localstripe should run as a child process"
        if stop_signal == signal.SIGINT:
            os.killpg(server.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
        else:
            server.send_signal(stop_signal)
        rest, _ = server.communicate(timeout=15)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode == 0
    assert "Sandbox stopped." in rest
    output = banner + rest
    assert "Traceback" not in output
    for secret in CREDENTIALS.secret_values():
        assert secret not in output
    assert_gone(children)


PARENT_SCRIPT = """
import json, sys, time
from sandbox import start_sandbox
sandbox = start_sandbox()
print(json.dumps({"server": sandbox.pid, "localstripe": sandbox.localstripe_pid,
                  "url": sandbox.base_url, "run_dir": str(sandbox.log_path.parent)}), flush=True)
time.sleep(120)
"""


def test_everything_stops_when_the_starting_process_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT_SCRIPT], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        info = json.loads(parent.stdout.readline())
        assert httpx.get(f"{info['url']}/health").status_code == 200
        assert alive(info["server"])
        assert alive(info["localstripe"])
        server_workdir = Path(os.readlink(f"/proc/{info['localstripe']}/cwd"))
        parent.send_signal(signal.SIGKILL)  # no atexit, no cleanup in the parent
        parent.wait()
        assert_gone({info["server"], info["localstripe"]})
        # The server cleaned up after the dead parent too: its files and the parent's.
        assert not server_workdir.exists()
        assert not Path(info["run_dir"]).exists()
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_localstripe_dies_when_the_server_is_killed() -> None:
    sandbox = start_sandbox()
    server_workdir = Path(os.readlink(f"/proc/{sandbox.localstripe_pid}/cwd"))
    try:
        os.kill(sandbox.pid, signal.SIGKILL)
        assert_gone({sandbox.localstripe_pid})
    finally:
        sandbox.stop()
        # Nobody is left to remove a SIGKILLed server's temporary files but us.
        shutil.rmtree(server_workdir, ignore_errors=True)
    assert not sandbox.running


def test_a_failed_start_says_why_and_leaves_no_process() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        before = descendants(os.getpid())
        started = time.monotonic()
        with pytest.raises(SandboxStartError) as failure:
            start_sandbox(port=port, credentials=CREDENTIALS)
        assert time.monotonic() - started < 5.0
    message = str(failure.value)
    assert f"cannot listen on 127.0.0.1:{port}" in message
    assert "exited with code 2" in message
    for secret in CREDENTIALS.secret_values():
        assert secret not in message
    assert descendants(os.getpid()) <= before


def test_unknown_fault_is_refused_before_starting_anything() -> None:
    with pytest.raises(ValueError, match=r"Unknown fault 'health\.sideways'"):
        start_sandbox(faults=["health.sideways"])
