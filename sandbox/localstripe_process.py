"""Run localstripe (GPL-3.0) in its own process, listening on loopback only.

This module stays import-light (stdlib only at module level): the server starts
localstripe first and imports its own heavy dependencies while localstripe boots.

Sandbox code never imports localstripe: ``start_localstripe`` launches
``python -m sandbox.localstripe_process`` and only that child process imports it.
localstripe's own entry point binds ``::`` (every interface) and reloads a pickle from
``/tmp``; this launcher binds one loopback address and keeps its store in memory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sandbox.children import free_port, log_tail, spawn_child, stop_child

# Subscription events are all the app acts on; filtering keeps localstripe from posting
# every customer/invoice/plan event to the app.
WEBHOOK_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
)


@dataclass
class LocalStripe:
    """A running localstripe child process."""

    process: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path

    @property
    def api_base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        stop_child(self.process, timeout=3.0)


class LocalStripeError(RuntimeError):
    """localstripe did not start or did not accept its configuration."""


def start_localstripe(workdir: Path, host: str = "127.0.0.1") -> LocalStripe:
    """Launch localstripe on a free loopback port; return without waiting for it."""
    port = free_port(host)
    log_path = workdir / "localstripe.log"
    proc = spawn_child(
        [sys.executable, "-m", "sandbox.localstripe_process", "--host", host, "--port", str(port)],
        log_path=log_path,
        cwd=workdir,
    )
    return LocalStripe(process=proc, host=host, port=port, log_path=log_path)


def wait_until_up(stripe: LocalStripe, timeout: float = 120.0) -> None:
    """Block until localstripe answers HTTP, or raise LocalStripeError with its log tail."""
    deadline = time.monotonic() + timeout
    while True:
        if stripe.process.poll() is not None:
            raise LocalStripeError(
                f"localstripe exited while starting; its output:\n{log_tail(stripe.log_path)}"
            )
        try:
            with urllib.request.urlopen(f"{stripe.api_base}/js.stripe.com/v3/", timeout=0.5):
                return
        except OSError:  # connection refused while it boots; URLError is an OSError
            if time.monotonic() > deadline:
                raise LocalStripeError(
                    f"localstripe did not answer on {stripe.api_base} within {timeout} s; "
                    f"its output:\n{log_tail(stripe.log_path)}"
                ) from None
            time.sleep(0.05)


def register_webhook(stripe: LocalStripe, url: str, secret: str) -> None:
    """Ask localstripe to sign and POST subscription events to ``url``."""
    request = urllib.request.Request(
        f"{stripe.api_base}/_config/webhooks/sandbox",
        data=json.dumps({"url": url, "secret": secret, "events": list(WEBHOOK_EVENTS)}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30.0):
            pass
    except urllib.error.HTTPError as exc:
        raise LocalStripeError(
            f"localstripe refused the webhook registration for {url}: {exc.code} {exc.reason}"
        ) from None


def main(argv: list[str] | None = None) -> None:
    """Entry point of the child process: serve localstripe on ``--host``:``--port``."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.localstripe_process")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    from aiohttp import web
    from localstripe import resources, server

    # localstripe pickles its whole store to /tmp/localstripe.pickle on every write:
    # that would leak state between sandboxes and race between concurrent ones.
    resources.Store.dump_to_disk = lambda self: None
    resources.store.clear()
    web.run_app(server.app, host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
