"""Scale: 1, 2, 4, 8 environments gated at once, in one process, as `smoke gate` runs.

    .venv/bin/python -m benchmarks.scale [--runs 5] [--sizes 1,2,4,8] [--json PATH]

`benchmarks/bench.py` runs this in a process of its own: Prefect's ephemeral mode with
the same lean server services the `smoke` CLI uses without PREFECT_API_URL (a pipeline
job gating several environments). Each environment is a sandbox of its own. Memory is
the peak resident memory of this process tree (the in-process Prefect server,
Playwright's driver, Chromium) without the sandboxes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench import cpu_seconds, descendants, median, peak_memory
from cli.main import QUIET_PREFECT
from cli.server import TEMPORARY_ENV as LEAN_EPHEMERAL_SERVER


async def gates(names: list[str]) -> list[str]:
    """Gate every environment at once; the verdicts (an error counts as ERROR)."""
    from flows.gate import release_gate
    from tasks.browser import shared_browser

    # One browser for the whole process; a context per journey keeps the gates apart.
    async with shared_browser():
        states = await asyncio.gather(
            *(release_gate(environment=n, version="1.0.0", return_state=True) for n in names),
            return_exceptions=True,
        )
    verdicts = []
    for state in states:
        if isinstance(state, BaseException):
            verdicts.append(f"ERROR ({type(state).__name__})")
            continue
        result = await state.result(raise_on_failure=False)
        # The verdict also heads the final state's message ("PASS: env 1.0.0").
        verdict = getattr(result, "verdict", None)
        verdicts.append(verdict.value if verdict else (state.message or state.name).split(":")[0])
    return verdicts


def measure(runs: int, sizes: list[int], exclude: set[int]) -> list[dict[str, Any]]:
    rows = []
    for size in sizes:
        names = [f"scale-{i}" for i in range(size)]
        asyncio.run(gates(names))  # warm: imports, the browser binary, the server's caches
        walls, peaks, cpus, verdicts = [], [], [], set()
        for _ in range(runs):
            with peak_memory(exclude) as peak:
                cpu = cpu_seconds(descendants(os.getpid(), exclude))
                started = time.perf_counter()
                verdicts.update(asyncio.run(gates(names)))
                walls.append(time.perf_counter() - started)
                cpus.append(cpu_seconds(descendants(os.getpid(), exclude)) - cpu)
            peaks.append(peak[0])
        print(
            f"  {size} environment(s): {median(walls):.1f} s, {max(peaks):.0f} MB, "
            f"{median(cpus):.1f} CPU-s",
            flush=True,
        )
        rows.append(
            {
                "environments": size,
                "wall_s": median(walls),
                "cpu_s": median(cpus),
                "peak_mb": max(peaks),
                "verdicts": sorted(verdicts),
                "all": walls,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default="1,2,4,8")
    parser.add_argument("--json", type=Path, help="write the rows here as JSON")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    # Before Prefect is imported: its own temporary server, as the CLI runs it.
    os.environ.pop("PREFECT_API_URL", None)
    os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="smoke-scale-")
    os.environ.update(QUIET_PREFECT | LEAN_EPHEMERAL_SERVER)

    from blocks.resolve import register_local_environment
    from sandbox import start_sandbox
    from smoke.local_sandbox import sandbox_config

    sandboxes = []
    try:
        for i in range(max(sizes)):
            sb = start_sandbox(version="1.0.0", ready_timeout=30)
            sandboxes.append(sb)
            register_local_environment(sandbox_config(sb).model_copy(update={"name": f"scale-{i}"}))
        rows = measure(args.runs, sizes, {sb.pid for sb in sandboxes})
    finally:
        for sb in sandboxes:
            sb.stop()
    if args.json:
        args.json.write_text(json.dumps(rows))
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
