"""Where the Chromium that Playwright drives comes from: the one place that decides.

Order: ``SMOKE_BROWSER_EXECUTABLE``; else Playwright's own Chromium when
``playwright install chromium`` has put one in its cache; else a system Chromium on
``PATH`` (Debian's ``chromium`` package, used through ``executable_path``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
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


def playwright_cache() -> Path | None:
    """Where ``playwright install`` puts browsers and its ffmpeg (None: inside the package)."""
    root = os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or str(Path.home() / ".cache/ms-playwright")
    return None if root == "0" else Path(root)


def playwright_cache_has_chromium() -> bool:
    """True when ``playwright install chromium`` has downloaded a browser."""
    root = playwright_cache()
    if root is None:
        return False
    return any(root.glob("chromium-*")) or any(root.glob("chromium_headless_shell-*"))


# Playwright records video by piping frames to an ffmpeg of its own, at this name in its
# cache (registry): ``playwright install ffmpeg`` downloads it.
_FFMPEG_NAMES = {"linux": "ffmpeg-linux", "darwin": "ffmpeg-mac"}


def playwright_ffmpeg() -> Path | None:
    """The path where Playwright looks for its ffmpeg, whether it is there or not."""
    import importlib.util
    import json

    spec = importlib.util.find_spec("playwright")
    root = playwright_cache()
    name = _FFMPEG_NAMES.get(sys.platform)
    if spec is None or spec.origin is None or root is None or name is None:
        return None
    manifest = Path(spec.origin).parent / "driver" / "package" / "browsers.json"
    try:
        entries = json.loads(manifest.read_text())["browsers"]
        revision = next(e["revision"] for e in entries if e["name"] == "ffmpeg")
    except (OSError, ValueError, KeyError, StopIteration):
        return None
    return root / f"ffmpeg-{revision}" / name


def video_available() -> bool:
    """True when Playwright can record video (its ffmpeg is in place)."""
    path = playwright_ffmpeg()
    return path is not None and os.access(path, os.X_OK)


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
    artifacts = browser_artifacts_dir()
    options: dict[str, Any] = {
        "headless": headless,
        "args": args,
        "artifacts_dir": artifacts,
        "traces_dir": artifacts,
        "downloads_path": artifacts,
    }
    executable = find_chromium_executable()
    if executable:
        options["executable_path"] = executable
    return options


# Playwright writes traces and downloads into the system temp dir by default and a
# killed run never removes them; each launch gets a folder of its own under this one.
ARTIFACTS_PARENT = "smoke-browser"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def browser_artifacts_dir() -> Path:
    """A new folder for one launch's traces and downloads; removes those of dead runs.

    Named ``<pid>-<random>`` under ``<tempdir>/smoke-browser`` so the next launch can
    tell a killed run's folder (its process is gone) from a live run's.
    """
    parent = Path(tempfile.gettempdir()) / ARTIFACTS_PARENT
    parent.mkdir(exist_ok=True)
    for stale in parent.iterdir():
        owner = stale.name.split("-", 1)[0]
        if owner.isdigit() and not _pid_alive(int(owner)):
            shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=parent))


def remove_artifacts_dir(options: dict[str, Any]) -> None:
    """Remove the folder ``launch_options`` made for a launch; traces are copied out by then."""
    folder = options.get("artifacts_dir")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


def install() -> str:
    """Make sure a Chromium is available: Playwright's download, else Debian's package."""
    try:
        found = find_chromium_executable()
        return f"Chromium: {found or 'Playwright-managed'}"
    except ConfigError:
        pass
    download = _playwright_install("chromium")
    if download.returncode == 0 and playwright_cache_has_chromium():
        return "Chromium: downloaded by `playwright install chromium`"
    if _can_apt():
        _apt_install("chromium", check=True)
        return f"Chromium: Debian package at {find_chromium_executable()}"
    raise ConfigError(
        "Could not get a Chromium: `playwright install chromium` failed "
        f"({download.stderr.strip().splitlines()[-1] if download.stderr.strip() else 'no output'}) "
        "and apt-get is not available as root. Install Chromium yourself and set "
        f"{ENV_VAR} to its path."
    )


def install_video() -> str:
    """Give Playwright an ffmpeg for videos of retried browser checks; never fails.

    A system ffmpeg (Debian's package) is linked where Playwright looks for its own;
    else ``playwright install ffmpeg`` downloads it; else, as root with apt-get, Debian's
    package is installed. Without one the checks run the same, with no video.
    """
    target = playwright_ffmpeg()
    if target is None:
        return "Video: off (no Playwright cache folder to hold an ffmpeg)"
    if video_available():
        return f"Video: ffmpeg at {target}"
    if shutil.which("ffmpeg") is None:
        download = _playwright_install("ffmpeg")
        if download.returncode == 0 and video_available():
            return "Video: ffmpeg downloaded by `playwright install ffmpeg`"
    if shutil.which("ffmpeg") is None and _can_apt():
        _apt_install("ffmpeg", check=False, recommends=False)
    system = shutil.which("ffmpeg")
    if system is None:
        return "Video: off (no ffmpeg: `playwright install ffmpeg` or install ffmpeg)"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    target.symlink_to(system)
    return f"Video: the system ffmpeg ({system}) linked at {target}"


def _playwright_install(what: str) -> subprocess.CompletedProcess[str]:
    """``playwright install <what>``: Playwright's own download (fails offline)."""
    command = [sys.executable, "-m", "playwright", "install", what]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)


def _can_apt() -> bool:
    return shutil.which("apt-get") is not None and os.geteuid() == 0


def _apt_install(package: str, *, check: bool, recommends: bool = True) -> None:
    """Debian's ``package`` (the package lists refreshed first: a new machine has none)."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "-qq", package]
    if not recommends:
        install.append("--no-install-recommends")
    for command, timeout in ((["apt-get", "update", "-qq"], 600), (install, 1200)):
        subprocess.run(command, check=check, env=env, timeout=timeout, capture_output=not check)


if __name__ == "__main__":
    if sys.argv[1:] != ["--install"]:
        sys.exit("usage: python -m smoke.browser --install")
    try:
        print(install())
    except ConfigError as e:
        sys.exit(f"smoke: {e}")
    print(install_video())
