"""Benchmarks of smoke flows: one table of medians, all measured in this one run.

    .venv/bin/python -m benchmarks.bench [--runs 5] [--out docs/PERFORMANCE.md]

1. gate      the release gate in this process against a warm Prefect server, beside the
             same checks as plain asyncio (benchmarks/baseline.py): the ratio is the
             orchestration overhead
2. trigger   trigger to verdict through the release-gate deployment and a process
             worker, split into pickup, process start, preflight, journeys, reporting
3. scale     1, 2, 4, 8 environments (separate sandboxes) gated at once in one process
             in Prefect's ephemeral mode, as `smoke gate` runs in a pipeline
             (benchmarks/scale.py): wall time and peak memory of that process tree

Start-up (cold and warm `smoke demo`, idle and busy) is benchmarks/startup.py; `make
bench` runs both.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SMOKE = str(Path(sys.executable).with_name("smoke"))
PREFECT = str(Path(sys.executable).with_name("prefect"))


# --- measurement helpers -------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rss_mb(pids: set[int]) -> float:
    """Proportional resident memory (PSS) of ``pids`` in MB; vanished processes count 0.

    PSS splits each shared page among the processes sharing it: summing plain RSS over
    Chromium's processes counts its shared libraries once per process.
    """
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total / 1024


def cpu_seconds(pids: set[int]) -> float:
    """CPU time used by ``pids`` and every child they have reaped (user + system).

    A process that ends hands its time to its parent's child counters, so the sum over
    a live tree only grows: the difference between two samples is what ran in between.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # utime, stime, cutime, cstime: fields 14-17 of stat, 12-15 after the name.
        total += sum(int(f) for f in fields[11:15])
    return total / ticks


def descendants(root: int, exclude: set[int]) -> set[int]:
    """``root`` and every process under it, minus the subtrees rooted at ``exclude``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, stack = set(), [root]
    while stack:
        pid = stack.pop()
        if pid in exclude:
            continue
        out.add(pid)
        stack.extend(children.get(pid, []))
    return out


@contextmanager
def peak_memory(exclude: set[int]) -> Iterator[list[float]]:
    """Sample this process tree's PSS every 0.5 s; the list holds the peak afterwards."""
    peak = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mb(descendants(os.getpid(), exclude)))
            stop.wait(0.5)  # reading smaps costs CPU: sample sparingly

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


# --- the Prefect server and worker ---------------------------------------------------


class Server:
    """`prefect server start` on a free port, with this process pointed at it."""

    def __init__(self) -> None:
        from tests.support.prefect_server import PrefectServer

        self.home = Path(tempfile.mkdtemp(prefix="smoke-bench-"))
        self.server = PrefectServer(self.home)
        self.worker: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.server.start()
        os.environ["PREFECT_API_URL"] = self.server.api_url
        os.environ["PREFECT_HOME"] = str(self.home / "client")

    def env(self, **extra: str) -> dict[str, str]:
        return self.server.env(**extra)

    def start_worker(self, query_seconds: float) -> None:
        env = self.env(PREFECT_WORKER_QUERY_SECONDS=str(query_seconds))
        log = (self.home / "worker.log").open("wb")
        self.worker = subprocess.Popen(
            [PREFECT, "worker", "start", "--pool", "smoke", "--limit", "4"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        time.sleep(3)

    def stop(self) -> None:
        if self.worker is not None:
            os.killpg(self.worker.pid, signal.SIGTERM)
            self.worker.wait(timeout=20)
        self.server.stop()

    def pids(self) -> set[int]:
        pids = set()
        for process in (self.server.process, self.worker):
            if process is not None:
                pids.add(process.pid)
        return pids


# --- 1. gate vs baseline -----------------------------------------------------------------


def bench_gate(runs: int, environment: str) -> dict[str, Any]:
    from benchmarks.baseline import baseline_gate
    from flows.gate import release_gate

    async def gate() -> tuple[float, Any]:
        started = time.perf_counter()
        state = await release_gate(environment=environment, version="1.0.0", return_state=True)
        result = await state.result(raise_on_failure=False)
        return time.perf_counter() - started, result

    asyncio.run(gate())  # warm: the browser binary, imports, the server's caches
    asyncio.run(baseline_gate(environment, "1.0.0"))
    gate_s, base_s, verdicts = [], [], []
    for _ in range(runs):
        seconds, result = asyncio.run(gate())
        gate_s.append(seconds)
        verdicts.append(result.verdict.value)
        base_s.append(asyncio.run(baseline_gate(environment, "1.0.0"))[0])
    return {
        "gate_s": median(gate_s),
        "baseline_s": median(base_s),
        "ratio": median(gate_s) / median(base_s),
        "verdicts": sorted(set(verdicts)),
        "gate_all": gate_s,
        "baseline_all": base_s,
    }


# --- 2. trigger to verdict ---------------------------------------------------------------


async def deployment_split(flow_run_id: Any) -> dict[str, float]:
    """Where the time went, from the run's state history and its subflows."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    async with get_client() as client:
        run = await client.read_flow_run(flow_run_id)
        states = await client.read_flow_run_states(flow_run_id)
        subflows = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id])
            )
        )
    at = {s.type.value: s.timestamp for s in states}
    created = run.created
    pending, running, final = at.get("PENDING"), at.get("RUNNING"), run.end_time
    pre = [r for r in subflows if r.name.startswith("preflight-")]
    journeys = [r for r in subflows if r not in pre]
    pre_start, pre_end = pre[0].start_time, pre[0].end_time
    j_end = max(r.end_time for r in journeys if r.end_time)
    return {
        "pickup": (pending - created).total_seconds(),
        "process_start": (running - pending).total_seconds(),
        "until_preflight": (pre_start - running).total_seconds(),
        "preflight": (pre_end - pre_start).total_seconds(),
        "journeys": (j_end - pre_end).total_seconds(),
        "reporting": (final - j_end).total_seconds(),
    }


def bench_trigger(runs: int, server: Server, environment: str) -> dict[str, Any]:
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    async def once() -> tuple[float, dict[str, float]]:
        started = time.perf_counter()
        run = await run_deployment(
            "release-gate/release-gate",
            parameters={"environment": environment, "version": "1.0.0"},
            timeout=0,
        )
        async with get_client() as client:
            while True:
                current = await client.read_flow_run(run.id)
                if current.state and current.state.is_final():
                    break
                await asyncio.sleep(0.2)
        total = time.perf_counter() - started
        return total, await deployment_split(run.id)

    asyncio.run(once())  # warm
    totals, splits = [], []
    for _ in range(runs):
        total, split = asyncio.run(once())
        totals.append(total)
        splits.append(split)
    parts = {k: median([s[k] for s in splits]) for k in splits[0]}
    return {"total_s": median(totals), "parts": parts, "all": totals}


# --- 3. scale ------------------------------------------------------------------------------


def bench_scale(runs: int, sizes: list[int]) -> list[dict[str, Any]]:
    """benchmarks/scale.py in a process of its own (Prefect's ephemeral mode, as the CLI)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scale.json"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        command = [sys.executable, "-m", "benchmarks.scale", "--runs", str(runs)]
        command += ["--sizes", ",".join(map(str, sizes)), "--json", str(out)]
        subprocess.run(command, env=env, cwd=ROOT, check=True, timeout=3600)
        rows: list[dict[str, Any]] = json.loads(out.read_text())
    return rows


# --- the table --------------------------------------------------------------------------------


def table(results: dict[str, Any], runs: int) -> str:
    lines = ["| measure | median | target | met |", "|---|---:|---:|---|"]
    for section, rows in (
        ("gate", _gate_rows),
        ("trigger", _trigger_rows),
        ("scale", _scale_rows),
    ):
        value = results.get(section)
        if value is None:
            lines.append(f"| {section}: not measured in this run | | | |")
        elif isinstance(value, Exception):
            lines.append(f"| {section}: failed: {type(value).__name__}: {value} | | | |")
        else:
            lines.extend(rows(value))
    head = (
        f"Measured {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} on {platform.node()} "
        f"({os.cpu_count()} cores), medians of {runs} runs, all in one run of "
        "`.venv/bin/python -m benchmarks.bench` (`make bench`)."
    )
    return head + "\n\n" + "\n".join(lines) + "\n"


def _gate_rows(g: dict[str, Any]) -> list[str]:
    return [
        f"| gate wall time, warm Prefect server (4 journeys, browser checks) | {g['gate_s']:.2f} s "
        f"| ≤ 6 s | {_met(g['gate_s'] <= 6)} |",
        f"| same checks, plain asyncio (benchmarks/baseline.py) | {g['baseline_s']:.2f} s | | |",
        f"| orchestration overhead (gate / baseline) | {g['ratio']:.2f} | ≤ 1.25 | {_met(g['ratio'] <= 1.25)} |",
        f"| gate verdicts | {', '.join(g['verdicts'])} | PASS | {_met(g['verdicts'] == ['PASS'])} |",
    ]


def _trigger_rows(t: dict[str, Any]) -> list[str]:
    lines = [
        f"| trigger to verdict through the deployment | {t['total_s']:.2f} s "
        f"| ≤ 10 s | {_met(t['total_s'] <= 10)} |",
    ]
    for name, seconds in t["parts"].items():
        lines.append(f"| &nbsp;&nbsp;{name.replace('_', ' ')} | {seconds:.2f} s | | |")
    return lines


def _scale_rows(scale: list[dict[str, Any]]) -> list[str]:
    lines = []
    one = scale[0]["wall_s"]
    for row in scale:
        growth = row["wall_s"] / one
        target = "≤ 2.5× one" if row["environments"] == 8 else ""
        met = _met(growth <= 2.5) if row["environments"] == 8 else ""
        n = row["environments"]
        lines.append(
            f"| {n} environment(s) at once: wall time | {row['wall_s']:.2f} s ({growth:.2f}× one) | {target} | {met} |"
        )
        cores = os.cpu_count() or 1
        lines.append(
            f"| {n} environment(s) at once: CPU time (whole tree) | {row['cpu_s']:.1f} CPU-s "
            f"(wall time ≥ {row['cpu_s'] / cores:.1f} s on {cores} cores) | | |"
        )
        lines.append(
            f"| {n} environment(s) at once: peak memory (PSS of the process tree) | {row['peak_mb']:.0f} MB "
            f"| ≤ 1536 MB | {_met(row['peak_mb'] <= 1536)} |"
        )
        verdicts = ", ".join(sorted(row["verdicts"]))
        lines.append(
            f"| {n} environment(s) at once: verdicts | {verdicts} | PASS "
            f"| {_met(set(row['verdicts']) == {'PASS'})} |"
        )
    return lines


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def timed(label: str, fn: Callable[[], Any]) -> Any:
    """Run one section; a section that fails is reported in the table, not fatal."""
    print(f"… {label}", flush=True)
    started = time.perf_counter()
    try:
        value = fn()
    except Exception as exc:  # the other sections still count  # noqa: BLE001
        print(f"  failed after {time.perf_counter() - started:.0f} s: {exc!r}", flush=True)
        return exc
    print(f"  done in {time.perf_counter() - started:.0f} s: {value}", flush=True)
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default="1,2,4,8")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "PERFORMANCE.md")
    parser.add_argument(
        "--skip", default="", help="comma-separated sections to skip: gate,trigger,scale"
    )
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    sizes = [int(s) for s in args.sizes.split(",")]
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    for handler in ("CONSOLE", "CONSOLE_FLOW_RUNS", "CONSOLE_TASK_RUNS"):
        os.environ.setdefault(f"PREFECT_LOGGING_HANDLERS_{handler}_LEVEL", "CRITICAL")

    results: dict[str, Any] = {}
    server = Server()
    sandboxes: list[Any] = []
    # Prefect reads PREFECT_API_URL when it is first imported: start the server first.
    timed("Prefect server", server.start)
    from blocks import SmokeEnvironment
    from blocks.resolve import prefect_api_configured, register_local_environment
    from deployments.deploy import deploy
    from sandbox import start_sandbox
    from smoke.local_sandbox import sandbox_config

    assert prefect_api_configured(), "the benchmark must run against the started server"
    try:
        sb = start_sandbox(version="1.0.0", ready_timeout=30)
        sandboxes.append(sb)
        config = sandbox_config(sb).model_copy(update={"name": "bench-0"})
        register_local_environment(config)
        SmokeEnvironment.from_config(config).save("bench-0", overwrite=True)
        if "gate" not in skip:
            results["gate"] = timed("gate vs baseline", lambda: bench_gate(args.runs, "bench-0"))
        if "trigger" not in skip:
            timed("smoke deploy", lambda: deploy())
            server.start_worker(query_seconds=1)
            results["trigger"] = timed(
                "trigger to verdict", lambda: bench_trigger(args.runs, server, "bench-0")
            )
    finally:
        for sb in sandboxes:
            sb.stop()
        server.stop()
    # Without the Prefect server and its sandbox: the gates must not share the machine.
    if "scale" not in skip:
        results["scale"] = timed("scale", lambda: bench_scale(args.runs, sizes))
    text = table(results, args.runs)
    print(text)
    if not skip:
        update_doc(args.out, text)
    return 0 if not any(isinstance(v, Exception) for v in results.values()) else 1


def update_doc(path: Path, text: str) -> None:
    """Replace the measured table in docs/PERFORMANCE.md (between the markers)."""
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    doc = path.read_text() if path.exists() else f"# Performance\n\n{begin}\n{end}\n"
    head, _, rest = doc.partition(begin)
    _, _, tail = rest.partition(end)
    path.write_text(f"{head}{begin}\n{text}{end}{tail}")


if __name__ == "__main__":
    sys.exit(main())
