"""Start and stop the sandbox: in the foreground (``serve``) or as a subprocess (``start_sandbox``).

Process tree::

    your process ── python -m sandbox serve (FastAPI + SMTP sink thread)
                        └── python -m sandbox.localstripe_process (localstripe, GPL)

``serve`` kills localstripe with PR_SET_PDEATHSIG if it dies, and stops it cleanly on
Ctrl-C or SIGTERM. ``start_sandbox`` hands the server the read end of a pipe: when the
calling process dies, even by SIGKILL, the pipe closes and the server shuts down.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from sandbox.children import free_port, log_tail, stop_child
from sandbox.credentials import SandboxCredentials
from sandbox.faults import FaultSet, check_fault_name

if TYPE_CHECKING:
    from sandbox.context import SandboxContext
    from sandbox.mail import MailSink

E2E_TOKEN_HEADER = "X-E2E-Test-Token"
_LOOPBACK_NAMES = {"127.0.0.1", "localhost"}


class SandboxStartError(RuntimeError):
    """The sandbox did not become ready; the message carries the tail of its output."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


def public_base_url(host: str, port: int) -> str:
    """The browser-facing URL: ``localhost`` for loopback (WebAuthn refuses IP rp ids)."""
    if host in _LOOPBACK_NAMES:
        return f"http://localhost:{port}"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _bind_host(host: str) -> str:
    return "127.0.0.1" if host == "localhost" else host


def _internal_url(host: str, port: int) -> str:
    bind = _bind_host(host)
    return f"http://[{bind}]:{port}" if ":" in bind else f"http://{bind}:{port}"


@contextlib.contextmanager
def _signals_noted(stop_requested: threading.Event) -> Iterator[None]:
    """While serving, SIGINT/SIGTERM only set ``stop_requested``.

    uvicorn installs its own handlers while it runs and, once it has shut down,
    re-raises the signal it caught: these handlers make that a no-op instead of an
    abrupt exit, so the cleanup below it still runs.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def note(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _watch_parent_pipe(fd: int, on_parent_gone: Any) -> None:
    """Call ``on_parent_gone`` when the pipe's write end closes (its owner exited)."""

    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(fd, 1024):
                pass
        on_parent_gone()

    threading.Thread(target=watch, name="sandbox-parent-watch", daemon=True).start()


def serve(  # noqa: C901 - one start-up sequence whose every step must be undone in order
    host: str = "127.0.0.1",
    port: int = 0,
    faults: Iterable[str] = (),
    version: str = "1.0.0",
    credentials: SandboxCredentials | None = None,
    *,
    parent_fd: int | None = None,
    parent_run_dir: Path | None = None,
    out: TextIO | None = None,
) -> int:
    """Run the sandbox in the foreground until Ctrl-C or SIGTERM; return an exit code.

    Prints the URLs and a one-line health summary (never a secret). ``port=0`` picks a
    free port. Credentials default to ``SandboxCredentials.from_env()``.
    ``parent_fd``/``parent_run_dir`` are for ``start_sandbox``: stop when that pipe closes,
    and then remove the starter's run directory, since the starter is gone.
    """
    from sandbox.localstripe_process import (
        LocalStripe,
        LocalStripeError,
        register_webhook,
        start_localstripe,
        wait_until_up,
    )

    out = out or sys.stdout
    credentials = credentials or SandboxCredentials.from_env()
    fault_set = FaultSet(faults)
    stop_requested = threading.Event()
    parent_gone = threading.Event()
    workdir = Path(tempfile.mkdtemp(prefix="sandbox-"))
    localstripe: LocalStripe | None = None
    mail: MailSink | None = None
    db: Database | None = None
    bind = _bind_host(host)
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets that say so,
    # and without it every response with a body waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)

    with _signals_noted(stop_requested):
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((bind, port))
            except OSError as exc:
                print(
                    f"sandbox: cannot listen on {bind}:{port}: {exc.strerror}. "
                    "Pick another --port, or 0 for a free one.",
                    file=sys.stderr,
                )
                return 2
            port = sock.getsockname()[1]
            base_url = public_base_url(host, port)

            # localstripe boots while this process imports FastAPI & co. (about a second
            # each on a small machine): starting it first nearly halves the ready time.
            localstripe = start_localstripe(workdir)
            import uvicorn

            from sandbox.app import create_app
            from sandbox.context import SandboxContext
            from sandbox.db import Database
            from sandbox.health import health_report
            from sandbox.idp import IdentityProvider
            from sandbox.mail import MailSink
            from sandbox.seed import seed_identities, seed_tier
            from sandbox.stripe_gateway import StripeGateway

            mail = MailSink()
            mail.start()
            db = Database.create(workdir / "sandbox.db")
            seed_identities(db, credentials)
            seed_tier(db, "smoke")
            identity_provider = IdentityProvider(issuer=base_url)
            wait_until_up(localstripe)
            gateway = StripeGateway(localstripe.api_base, credentials.stripe_secret_key)
            gateway.create_plans()
            register_webhook(
                localstripe,
                f"{_internal_url(host, port)}/webhooks/stripe",
                credentials.stripe_webhook_secret,
            )

            context = SandboxContext(
                credentials=credentials,
                version=version,
                faults=fault_set,
                db=db,
                idp=identity_provider,
                stripe=gateway,
                mail=mail,
                public_base_url=base_url,
                localstripe_pid=localstripe.pid,
            )
            app = create_app(context)
            config = uvicorn.Config(
                app, log_level="warning", access_log=False, timeout_graceful_shutdown=3
            )
            server = uvicorn.Server(config)

            async def run() -> None:
                loop = asyncio.get_running_loop()

                def request_exit() -> None:
                    server.should_exit = True

                def on_parent_gone() -> None:
                    parent_gone.set()
                    loop.call_soon_threadsafe(request_exit)

                if parent_fd is not None:
                    _watch_parent_pipe(parent_fd, on_parent_gone)
                task = asyncio.create_task(server.serve(sockets=[sock]))
                while not server.started and not task.done():
                    await asyncio.sleep(0.02)
                if server.started:
                    _, body = await health_report(context, app.state.http)
                    _print_banner(out, context, mail, body)
                    if stop_requested.is_set():
                        request_exit()
                await task

            if not stop_requested.is_set():
                asyncio.run(run())
            print("Sandbox stopped.", file=out, flush=True)
            return 0
        except (LocalStripeError, OSError, TimeoutError) as exc:
            print(f"sandbox: failed to start: {exc}", file=sys.stderr, flush=True)
            return 1
        finally:
            sock.close()
            if localstripe is not None:
                localstripe.stop()
            if mail is not None:
                mail.stop()
            if db is not None:
                db.close()
            shutil.rmtree(workdir, ignore_errors=True)
            if parent_gone.is_set() and parent_run_dir is not None:
                shutil.rmtree(parent_run_dir, ignore_errors=True)


def _print_banner(
    out: TextIO, context: SandboxContext, mail: MailSink, health: dict[str, Any]
) -> None:
    deps = ", ".join(f"{name} {state}" for name, state in health["dependencies"].items())
    faults = ", ".join(context.faults.enabled()) or "none"
    lines = [
        f"Smoke sandbox {context.version} is running (pid {os.getpid()})",
        f"  app:     {context.public_base_url}",
        f"  stripe:  {context.stripe.api_base} "
        f"(localstripe, {context.credentials.stripe_mode} mode)",
        f"  smtp:    {mail.address}",
        f"  health:  {health['status']} ({deps}); version {health['version']}",
        f"  faults:  {faults}",
        "Press Ctrl-C to stop.",
    ]
    print("\n".join(lines), file=out, flush=True)


_running: weakref.WeakSet[RunningSandbox] = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    for sandbox in list(_running):
        sandbox.stop()


class RunningSandbox:
    """A sandbox server subprocess; stop it with ``stop()`` or use it as a context manager."""

    def __init__(
        self,
        *,
        process: subprocess.Popen[bytes],
        base_url: str,
        internal_url: str,
        stripe_api_base: str,
        smtp_address: str,
        credentials: SandboxCredentials,
        version: str,
        log_path: Path,
        run_dir: Path,
        parent_pipe: int,
        ready_seconds: float,
        localstripe_pid: int,
    ) -> None:
        self.process = process
        self.base_url = base_url
        self.api_url = base_url
        self.internal_url = internal_url
        self.stripe_api_base = stripe_api_base
        self.smtp_address = smtp_address
        self.credentials = credentials
        self.version = version
        self.log_path = log_path
        self.ready_seconds = ready_seconds
        self.localstripe_pid = localstripe_pid
        self._run_dir = run_dir
        self._parent_pipe: int | None = parent_pipe
        self._lock = threading.Lock()

    @property
    def pid(self) -> int:
        """The server process id."""
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def _e2e(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the e2e API; on 429 wait as told by Retry-After (up to 15 s), then retry.

        The harness shares the per-client rate limit with whatever else the calling
        process does against the e2e API: waiting beats failing a fault toggle.
        """
        import httpx

        headers = {E2E_TOKEN_HEADER: self.credentials.e2e_token}
        deadline = time.monotonic() + 15.0
        while True:
            response = httpx.request(
                method, f"{self.internal_url}{path}", headers=headers, timeout=10.0, **kwargs
            )
            if response.status_code != 429 or time.monotonic() > deadline:
                break
            time.sleep(min(float(response.headers.get("Retry-After", "1")), 10.0))
        if response.status_code != 200:
            raise RuntimeError(
                f"Sandbox e2e API: {method} {path} answered {response.status_code}, "
                f"expected 200: {response.text[:300]}"
            )
        return response

    @property
    def faults(self) -> tuple[str, ...]:
        """The faults enabled right now (asked from the server)."""
        data = self._e2e("GET", "/e2e/faults").json()
        return tuple(item["name"] for item in data["faults"] if item["enabled"])

    def set_fault(self, name: str, enabled: bool = True) -> None:
        """Turn a fault on or off through the token-protected e2e API."""
        check_fault_name(name)
        self._e2e("POST", "/e2e/faults", json={"name": name, "enabled": enabled})

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and everything it started; safe to call twice."""
        with self._lock:
            stop_child(self.process, timeout=timeout)
            if self._parent_pipe is not None:
                os.close(self._parent_pipe)
                self._parent_pipe = None
            shutil.rmtree(self._run_dir, ignore_errors=True)
            _running.discard(self)

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<RunningSandbox {self.base_url} version={self.version!r} {state}>"


def start_sandbox(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: Iterable[str] = (),
    version: str = "1.0.0",
    credentials: SandboxCredentials | None = None,
    ready_timeout: float = 120.0,
) -> RunningSandbox:
    """Start ``python -m sandbox serve`` and return once it answers, within ``ready_timeout``.

    The bound only turns a hang into an error: on a busy machine a start takes 10 s or
    more, and "ready in under 5 s" is a benchmark figure, not a limit.

    Credentials reach the server through its environment, never its command line.
    On failure, raises SandboxStartError with the tail of the server's output and leaves
    no process behind.
    """
    import httpx

    fault_names = [check_fault_name(name) for name in faults]
    credentials = credentials or SandboxCredentials()
    port = port or free_port(_bind_host(host))
    internal_url = _internal_url(host, port)
    run_dir = Path(tempfile.mkdtemp(prefix="sandbox-run-"))
    log_path = run_dir / "server.log"
    read_fd, write_fd = os.pipe()
    argv = [
        sys.executable,
        "-m",
        "sandbox",
        "serve",
        "--host",
        host,
        "--port",
        str(port),
        "--version",
        version,
        "--parent-fd",
        str(read_fd),
        "--parent-run-dir",
        str(run_dir),
    ]
    for name in fault_names:
        argv += ["--fault", name]
    env = {**os.environ, **credentials.to_env(), "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            pass_fds=(read_fd,),
        )
    os.close(read_fd)

    def fail(reason: str, *, timed_out: bool = False) -> SandboxStartError:
        stop_child(process, timeout=5.0)
        os.close(write_fd)
        tail = log_tail(log_path)
        shutil.rmtree(run_dir, ignore_errors=True)
        return SandboxStartError(
            f"The sandbox on {internal_url} did not start: {reason}.\n"
            f"Command: {' '.join(argv[1:])}\nLast lines of its output:\n{tail}",
            timed_out=timed_out,
        )

    info: dict[str, Any] | None = None
    with httpx.Client(timeout=1.0) as client:
        while info is None:
            code = process.poll()
            if code is not None:
                raise fail(f"the server exited with code {code}")
            try:
                response = client.get(f"{internal_url}/_sandbox/ready")
                if response.status_code == 200:
                    info = response.json()
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() - started > ready_timeout:
                raise fail(f"it was not ready within {ready_timeout:g} s", timed_out=True)
            time.sleep(0.05)
    sandbox = RunningSandbox(
        process=process,
        base_url=str(info["base_url"]),
        internal_url=internal_url,
        stripe_api_base=str(info["stripe_api_base"]),
        smtp_address=str(info["smtp"]),
        credentials=credentials,
        version=version,
        log_path=log_path,
        run_dir=run_dir,
        parent_pipe=write_fd,
        ready_seconds=time.monotonic() - started,
        localstripe_pid=int(info["localstripe_pid"]),
    )
    _running.add(sandbox)
    return sandbox
