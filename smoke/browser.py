"""Where the Chromium that Playwright drives comes from: the one place that decides.

Order: ``SMOKE_BROWSER_EXECUTABLE``; else Playwright's own Chromium when
``playwright install chromium`` has put one in its cache; else a system Chromium on
``PATH`` (Debian's ``chromium`` package, used through ``executable_path``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from smoke.errors import ConfigError

ENV_VAR = "SMOKE_BROWSER_EXECUTABLE"
SYSTEM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Chromium phones home at start-up; on a closed network those connections fail loudly
# and slow the first page. These switches keep it quiet and are harmless elsewhere.
QUIET_ARGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
    "--no-first-run",
)


def playwright_cache_has_chromium() -> bool:
    """True when ``playwright install chromium`` has downloaded a browser."""
    root = os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or str(Path.home() / ".cache/ms-playwright")
    if root == "0":
        return False
    return any(Path(root).glob("chromium-*")) or any(Path(root).glob("chromium_headless_shell-*"))


def find_chromium_executable() -> str | None:
    """The executable to pass to Playwright, or None to let Playwright use its own."""
    override = os.environ.get(ENV_VAR)
    if override:
        if not (Path(override).is_file() and os.access(override, os.X_OK)):
            raise ConfigError(
                f"{ENV_VAR}={override!r} is not an executable file. "
                "Point it at a Chromium binary, e.g. /usr/bin/chromium, or unset it."
            )
        return override
    if playwright_cache_has_chromium():
        return None
    for name in SYSTEM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise ConfigError(
        "No Chromium found for the browser checks. Run `make install` (it installs one), "
        f"or `playwright install chromium`, or set {ENV_VAR} to a Chromium binary."
    )


def launch_options(headless: bool = True) -> dict[str, Any]:
    """Keyword arguments for ``playwright.chromium.launch``."""
    args = list(QUIET_ARGS)
    # Chromium's own sandbox cannot start as root (CI containers); it is still headless
    # and only ever opens the configured target.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")
    options: dict[str, Any] = {"headless": headless, "args": args}
    executable = find_chromium_executable()
    if executable:
        options["executable_path"] = executable
    return options
