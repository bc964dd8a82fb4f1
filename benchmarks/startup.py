"""Start-up benchmark: what a newcomer waits for, on an idle and on a busy machine.

    .venv/bin/python -m benchmarks.startup [--runs 5]

Measures, each as a median of ``--runs``, first idle, then with two CPU-bound
processes keeping both cores busy: ``smoke demo`` cold (a new PREFECT_HOME each run:
its local Prefect server migrates a new database), ``smoke demo`` warm (the local
server already running), ``smoke --help``, and the sandbox's readiness. Every demo must
end PASS: on a busy machine slower is fine, exit 3 is not. Writes its table into
docs/PERFORMANCE.md between the ``startup`` markers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SMOKE = str(Path(sys.executable).with_name("smoke"))
TARGETS = {"cold": 30.0, "warm": 15.0, "help": 1.0}


@contextmanager
def busy_cores(count: int) -> Iterator[None]:
    """``count`` CPU-bound processes for the block (none when ``count`` is 0)."""
    hogs = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(count)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SMOKE_"))}
    return env | {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def _demo(env: dict[str, str], cwd: str) -> tuple[float, float | None, int]:
    """Wall time, the gate's own time and the exit code of one ``smoke demo``."""
    started = time.perf_counter()
    proc = subprocess.run(
        [SMOKE, "demo"], env=env, cwd=cwd, capture_output=True, text=True, timeout=900
    )
    wall = time.perf_counter() - started
    found = re.search(r"^PASS in ([\d.]+) s", proc.stdout, re.MULTILINE)
    return wall, float(found.group(1)) if found else None, proc.returncode


def _stop_server(env: dict[str, str]) -> None:
    subprocess.run([SMOKE, "server", "stop"], env=env, capture_output=True, timeout=120)


def measure(runs: int) -> dict[str, Any]:
    """One machine state's figures: lists of seconds and the demos' exit codes."""
    from sandbox import start_sandbox

    out: dict[str, Any] = {
        "cold": [],
        "warm": [],
        "gate": [],
        "help": [],
        "sandbox": [],
        "codes": [],
    }
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(runs):
            env = _env(Path(scratch) / f"home-{i}")
            try:
                wall, _, code = _demo(env, scratch)
            finally:
                _stop_server(env)
            out["cold"].append(wall)
            out["codes"].append(code)
        env = _env(Path(scratch) / "warm-home")
        try:
            _demo(env, scratch)  # starts the local server the warm runs use
            for _ in range(runs):
                wall, gate, code = _demo(env, scratch)
                out["warm"].append(wall)
                out["codes"].append(code)
                if gate is not None:
                    out["gate"].append(gate)
        finally:
            _stop_server(env)
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run([SMOKE, "--help"], capture_output=True, check=True, timeout=60)
            out["help"].append(time.perf_counter() - started)
        for _ in range(runs):
            with start_sandbox() as sb:
                out["sandbox"].append(sb.ready_seconds)
    return out


def table(idle: dict[str, Any], busy: dict[str, Any], runs: int) -> str:
    def med(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} s" if values else "n/a"

    def met(key: str, values: list[float]) -> str:
        if key not in TARGETS or not values:
            return ""
        return "yes" if statistics.median(values) <= TARGETS[key] else "**no**"

    rows = [
        ("cold", "`smoke demo` cold (new PREFECT_HOME: the local server migrates a new database)"),
        ("warm", "`smoke demo` warm (local Prefect server running)"),
        ("gate", "&nbsp;&nbsp;its gate (the `PASS in` figure)"),
        ("help", "`smoke --help`"),
        ("sandbox", "sandbox readiness (`start_sandbox`)"),
    ]
    lines = [
        "| measure | idle | both cores busy | target (idle) | met |",
        "|---|---:|---:|---:|---|",
    ]
    for key, label in rows:
        target = f"≤ {TARGETS[key]:g} s" if key in TARGETS else ""
        lines.append(
            f"| {label} | {med(idle[key])} | {med(busy[key])} | {target} | {met(key, idle[key])} |"
        )
    codes = idle["codes"] + busy["codes"]
    verdicts = f"{codes.count(0)} of {len(codes)} demos PASS (exit 0)"
    lines.append(
        f"| demos ending PASS, idle and busy | {verdicts} | | every one | "
        f"{'yes' if codes.count(0) == len(codes) else '**no**'} |"
    )
    head = (
        f"Start-up, measured {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} on "
        f"{platform.node()} ({os.cpu_count()} cores), medians of {runs} runs, idle and then "
        "with two `yes` processes keeping both cores busy, in one run of "
        "`.venv/bin/python -m benchmarks.startup`."
    )
    return head + "\n\n" + "\n".join(lines) + "\n"


def update_doc(path: Path, text: str) -> None:
    """Replace the start-up table in docs/PERFORMANCE.md (between its markers)."""
    begin, end = "<!-- startup:begin -->", "<!-- startup:end -->"
    doc = path.read_text() if path.exists() else "# Performance\n"
    if begin not in doc:
        doc += f"\n## Start-up\n\n{begin}\n{end}\n"
    head, _, rest = doc.partition(begin)
    _, _, tail = rest.partition(end)
    path.write_text(f"{head}{begin}\n{text}{end}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "PERFORMANCE.md")
    args = parser.parse_args(argv)
    print("… start-up, idle", flush=True)
    idle = measure(args.runs)
    print(f"  {idle}", flush=True)
    print("… start-up, both cores busy", flush=True)
    with busy_cores(2):
        busy = measure(args.runs)
    print(f"  {busy}", flush=True)
    text = table(idle, busy, args.runs)
    print(text)
    update_doc(args.out, text)
    codes = idle["codes"] + busy["codes"]
    return 0 if all(code == 0 for code in codes) else 1


if __name__ == "__main__":
    sys.exit(main())
