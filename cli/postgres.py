"""PostgreSQL for the local Prefect server: ``smoke server start --postgres``.

With ``PREFECT_API_DATABASE_CONNECTION_URL`` set to a ``postgresql+asyncpg://`` URL,
that PostgreSQL is used. Otherwise a cluster of this Prefect home's own, in
``$PREFECT_HOME/postgres``: ``initdb`` once, then ``pg_ctl`` on 127.0.0.1 on a free port,
its unix socket in its data dir, a generated password (scram) so other local users
cannot log in. PostgreSQL refuses to run as root: as root it runs as the ``postgres``
user. Either way the database is created when missing. No system cluster is touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from smoke.config import start_timeout_s
from smoke.errors import ConfigError, SmokeSystemError

URL_ENVS = ("PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_API_DATABASE_CONNECTION_URL")
DRIVER = "postgresql+asyncpg"
DB_USER = "prefect"
DB_NAME = "prefect"
RUN_AS = "postgres"
# Ports tried when the free port chosen is taken before PostgreSQL binds it.
BIND_ATTEMPTS = 3
MISSING = (
    "PostgreSQL's server programs (initdb, pg_ctl) were not found. Install them "
    "(Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql) or put "
    "their bin folder on PATH; or point PREFECT_API_DATABASE_CONNECTION_URL at a "
    f"PostgreSQL server ({DRIVER}://USER:PASSWORD@HOST:5432/prefect)."
)


@dataclass(frozen=True)
class Cluster:
    """The local cluster's files under the Prefect home."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def password_file(self) -> Path:
        return self.root / "password"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    def running(self) -> tuple[int, int] | None:
        """(pid, port) from postmaster.pid when that process still runs."""
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            return None
        return (pid, port) if b"postgres" in cmdline else None

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of PostgreSQL's own log, for an error message."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as e:
            return f"PostgreSQL's log {self.log_path}: not readable ({e.strerror})"
        tail = "\n".join(text.splitlines()[-lines:]) if text.strip() else "(empty)"
        return f"Last lines of PostgreSQL's log {self.log_path}:\n{tail}"

    def url(self, port: int) -> str:
        password = self.password_file.read_text().strip()
        return f"{DRIVER}://{DB_USER}:{password}@127.0.0.1:{port}/{DB_NAME}"


def cluster(home: Path) -> Cluster:
    return Cluster(home / "postgres")


def configured_url() -> str | None:
    """The connection URL from the environment (Prefect's precedence), if one is set."""
    for name in URL_ENVS:
        if os.environ.get(name):
            url = os.environ[name]
            if not url.startswith(f"{DRIVER}://"):
                raise ConfigError(
                    f"--postgres: {name} is not a PostgreSQL URL; it must start with {DRIVER}://"
                )
            return url
    return None


def is_local(url: str) -> bool:
    """The URL names a server on this machine's loopback (the local cluster is one)."""
    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


def safe(url: str) -> str:
    """The URL with its password hidden, for output and the state file."""
    from sqlalchemy.engine import make_url

    return str(make_url(url).render_as_string(hide_password=True))


def bin_dir() -> Path:
    """The folder of initdb and pg_ctl: PATH, else Debian's or RHEL's versioned folders."""
    found = shutil.which("initdb")
    candidates = [Path(found).resolve().parent] if found else []
    for pattern in ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin"):
        candidates += sorted(Path("/").glob(pattern.lstrip("/")), reverse=True)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise ConfigError(MISSING)


def _user() -> pwd.struct_passwd | None:
    """Whom the cluster runs as: this user, or ``postgres`` when this is root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(RUN_AS)
    except KeyError:
        raise ConfigError(
            "PostgreSQL refuses to run as root and there is no `postgres` user to run it: "
            "create one (useradd --system postgres) or run as an unprivileged user."
        ) from None


def _run(args: list[str], user: pwd.struct_passwd | None, cwd: Path) -> None:
    proc = subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        user=user.pw_uid if user else None,
        group=user.pw_gid if user else None,
        extra_groups=[] if user else None,
    )
    if proc.returncode != 0:
        raise SmokeSystemError(
            f"{Path(args[0]).name} failed: {(proc.stdout + proc.stderr)[-1500:]}"
        )


def _reachable(path: Path) -> None:
    """Others get search (x, not read) on the folders above ``path`` that lack it: the
    ``postgres`` user must reach its data dir, e.g. under a 0700 temporary folder."""
    for folder in reversed(path.parents):
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(folder, mode | stat.S_IXOTH)


@contextlib.contextmanager
def _start_lock(root: Path) -> Iterator[None]:
    """One start at a time per cluster: two `smoke server start --postgres` at once would
    both run initdb into one folder, or start two postmasters on one data folder."""
    with (root / ".start.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def start(home: Path) -> tuple[str, bool]:
    """Initialise (once) and start the local cluster: its connection URL, and whether
    the database was created now (so Prefect's first start migrates it)."""
    c = cluster(home)
    c.root.mkdir(parents=True, exist_ok=True)
    with _start_lock(c.root):
        return _start(c)


def _start(c: Cluster) -> tuple[str, bool]:
    binaries = bin_dir()
    user = _user()
    c.root.mkdir(parents=True, exist_ok=True)
    if user:
        _reachable(c.root)
        os.chown(c.root, user.pw_uid, user.pw_gid)
    os.chmod(c.root, 0o700)
    if not (c.data / "PG_VERSION").exists():
        shutil.rmtree(c.data, ignore_errors=True)  # a half-done initdb of ours
        c.password_file.write_text(secrets.token_hex(16))
        c.password_file.chmod(0o600)
        pwfile = c.root / ".initdb-password"
        pwfile.write_text(c.password_file.read_text())
        if user:
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        try:
            _run(
                [
                    str(binaries / "initdb"),
                    "-D",
                    str(c.data),
                    "-U",
                    DB_USER,
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ],
                user,
                c.root,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        with (c.data / "postgresql.conf").open("a") as conf:
            conf.write(f"listen_addresses = '127.0.0.1'\nunix_socket_directories = '{c.data}'\n")
    running = c.running() or _pg_ctl_start(c, binaries, user)
    url = c.url(running[1])
    try:
        return url, ensure_database(url)
    except SmokeSystemError as e:
        raise SmokeSystemError(f"{e}\n{c.log_tail()}") from None


def _pg_ctl_start(c: Cluster, binaries: Path, user: pwd.struct_passwd | None) -> tuple[int, int]:
    """Start the postmaster on a free port; another free port when one was taken between
    choosing it and PostgreSQL binding it (another program started in between)."""
    from cli.server import _free_port

    # -w: pg_ctl returns once the server accepts connections, bounded only to turn a
    # hang into an error (SMOKE_START_TIMEOUT_S).
    timeout = str(int(start_timeout_s()))
    for attempt in range(1, BIND_ATTEMPTS + 1):
        port = _free_port()
        log_start = c.log_path.stat().st_size if c.log_path.exists() else 0
        try:
            _run(
                [
                    str(binaries / "pg_ctl"),
                    "start",
                    "-D",
                    str(c.data),
                    "-l",
                    str(c.log_path),
                    "-w",
                    "-t",
                    timeout,
                    "-o",
                    f"-p {port}",
                ],
                user,
                c.root,
            )
        except SmokeSystemError as e:
            if attempt < BIND_ATTEMPTS and _port_taken(c.log_path, log_start):
                continue
            raise SmokeSystemError(f"{e}\n{c.log_tail()}") from None
        if (running := c.running()) is not None:
            return running
        break
    raise SmokeSystemError(f"PostgreSQL did not start.\n{c.log_tail()}")


def _port_taken(log_path: Path, since: int) -> bool:
    """Whether PostgreSQL's log, from byte ``since`` on, says its port was in use."""
    try:
        with log_path.open("rb") as log:
            log.seek(since)
            return b"Address already in use" in log.read()
    except OSError:
        return False


def stop(home: Path) -> int | None:
    """Stop the local cluster if it runs; its pid then.

    A fast shutdown, as ``pg_ctl stop -m fast`` does it: SIGINT to the postmaster, then
    wait until it is gone. Not through ``pg_ctl`` as the ``postgres`` user: that needs
    search permission on every folder above the data dir, which another program may have
    taken back since the start (pytest resets ``/tmp/pytest-of-<user>`` to 0700 whenever
    a session starts), and the cluster was then left running.
    """
    c = cluster(home)
    running = c.running()
    if running is None:
        return None
    pid = running[0]
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)
    timeout_s = start_timeout_s()
    deadline = time.monotonic() + timeout_s
    while _runs(pid):
        if time.monotonic() > deadline:
            raise SmokeSystemError(
                f"PostgreSQL (pid {pid}) did not stop within {timeout_s:g} s of a fast "
                f"shutdown request.\n{c.log_tail()}"
            )
        time.sleep(0.1)
    return pid


def _runs(pid: int) -> bool:
    """``pid`` exists and is not a zombie (the postmaster is not this process's child)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def ensure_database(url: str) -> bool:
    """Create the URL's database when missing (True then); SmokeSystemError if unreachable."""
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(url)

    async def create() -> bool:
        conn = await asyncpg.connect(
            host=u.host,
            port=u.port or 5432,
            user=u.username,
            password=u.password,
            database="postgres",
            timeout=start_timeout_s(),
        )
        try:
            if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", u.database):
                return False
            await conn.execute(f'CREATE DATABASE "{u.database}"')
            return True
        finally:
            await conn.close()

    try:
        return asyncio.run(create())
    except (OSError, asyncpg.PostgresError, TimeoutError) as e:
        raise SmokeSystemError(f"Could not reach PostgreSQL at {safe(url)}: {e}") from None
