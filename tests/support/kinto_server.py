"""Kinto, a real open-source JSON storage service, as a second product to gate.

``start_kinto()`` runs ``python -m kinto start`` as a separate process on a free loopback
port with a generated ini: memory backends, the accounts plugin (HTTP Basic), and the
fault plugin of ``tests/support/kinto_faults.py``. It waits for ``/v1/__heartbeat__``,
then seeds what a staging Kinto would hold: an admin account, the test identity with a
bucket of tasks, and a second user with a bucket of its own.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
VERSION = "26.5.0"
TEST_BUCKET, TEST_COLLECTION = "smoke-test", "tasks"
OTHER_BUCKET, OTHER_COLLECTION, OTHER_RECORD = "smoke-other", "notes", "secret"
TASKS = [("Write release notes", False), ("Rotate keys", True), ("Triage", False)]

INI = """\
[app:main]
use = egg:kinto
kinto.storage_backend = kinto.core.storage.memory
kinto.storage_url =
kinto.cache_backend = kinto.core.cache.memory
kinto.cache_url =
kinto.permission_backend = kinto.core.permission.memory
kinto.permission_url =
kinto.includes = kinto.plugins.accounts
                 tests.support.kinto_faults
multiauth.policies = account
multiauth.policy.account.use = kinto.plugins.accounts.AccountsPolicy
kinto.account_create_principals = system.Everyone
kinto.account_write_principals = account:admin
kinto.account_read_principals = account:admin
kinto.bucket_create_principals = system.Authenticated
kinto.version_json_path = {version_json}
kinto.smoke_fault_dir = {fault_dir}

[server:main]
use = egg:waitress#main
host = 127.0.0.1
port = {port}

[loggers]
keys = root
[handlers]
keys = console
[formatters]
keys = generic
[logger_root]
level = WARNING
handlers = console
[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic
[formatter_generic]
format = %(levelname)s %(name)s %(message)s
"""


@dataclass(frozen=True)
class Account:
    user: str
    password: str


@dataclass
class RunningKinto:
    """A started Kinto: its URL, the seeded accounts, and its faults."""

    url: str
    admin: Account
    test: Account
    other: Account
    fault_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def client(self, account: Account) -> httpx.Client:
        """An HTTP client signed in as ``account`` (HTTP Basic)."""
        return httpx.Client(base_url=self.url, auth=(account.user, account.password), timeout=30)

    @contextmanager
    def fault(self, name: str) -> Iterator[None]:
        """A fault of the plugin (``storage_down``) for the block; always turned off again."""
        marker = self.fault_dir / name
        marker.touch()
        try:
            yield
        finally:
            marker.unlink(missing_ok=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_heartbeat(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"Kinto exited with {process.returncode}:\n{log.read_text()[-2000:]}"
            )
        try:
            if httpx.get(f"{url}/v1/__heartbeat__", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(
        f"Kinto did not answer its heartbeat in {timeout:g} s:\n{log.read_text()[-2000:]}"
    )


def _put(client: httpx.Client, path: str, body: dict[str, object] | None = None) -> None:
    response = client.put(path, json=body or {})
    response.raise_for_status()


def seed(kinto: RunningKinto) -> None:
    """Accounts for admin, test and other; the test identity's tasks; the other's note."""
    with httpx.Client(base_url=kinto.url, timeout=30) as anonymous:
        for account in (kinto.admin, kinto.test, kinto.other):
            _put(
                anonymous, f"/v1/accounts/{account.user}", {"data": {"password": account.password}}
            )
    with kinto.client(kinto.test) as test:
        _put(test, f"/v1/buckets/{TEST_BUCKET}")
        _put(test, f"/v1/buckets/{TEST_BUCKET}/collections/{TEST_COLLECTION}")
        for i, (title, done) in enumerate(TASKS):
            _put(
                test,
                f"/v1/buckets/{TEST_BUCKET}/collections/{TEST_COLLECTION}/records/task-{i}",
                {"data": {"title": title, "done": done}},
            )
    with kinto.client(kinto.other) as other:
        _put(other, f"/v1/buckets/{OTHER_BUCKET}")
        _put(other, f"/v1/buckets/{OTHER_BUCKET}/collections/{OTHER_COLLECTION}")
        _put(
            other,
            f"/v1/buckets/{OTHER_BUCKET}/collections/{OTHER_COLLECTION}/records/{OTHER_RECORD}",
            {"data": {"title": "Second tenant's plan", "done": False}},
        )


@contextmanager
def start_kinto(folder: Path, *, ready_timeout: float = 90.0) -> Iterator[RunningKinto]:
    """Kinto on a free loopback port, seeded; stopped (by its pid) on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    fault_dir = folder / "faults"
    fault_dir.mkdir(exist_ok=True)
    version_json = folder / "version.json"
    version_json.write_text(
        json.dumps(
            {
                "source": "https://github.com/Kinto/kinto",
                "version": VERSION,
                "commit": "smoke",
                "build": "smoke",
            }
        )
    )
    port = _free_port()
    ini = folder / "kinto.ini"
    ini.write_text(INI.format(port=port, version_json=version_json, fault_dir=fault_dir))
    log_path = folder / "kinto.log"
    env = os.environ | {"PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            # kinto's __main__ has no main guard: call its entry point as its script does.
            [
                sys.executable,
                "-c",
                "import sys; from kinto.__main__ import main; sys.exit(main(sys.argv[1:]))",
                "start",
                "--ini",
                str(ini),
            ],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    kinto = RunningKinto(
        url=url,
        admin=Account("admin", secrets.token_urlsafe(12)),
        test=Account("smoke-test", secrets.token_urlsafe(12)),
        other=Account("smoke-other", secrets.token_urlsafe(12)),
        fault_dir=fault_dir,
        log_path=log_path,
        process=process,
    )
    try:
        _wait_for_heartbeat(url, process, log_path, ready_timeout)
        seed(kinto)
        yield kinto
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
