"""Running the gate, one journey or the seed flow in this process, for the CLI.

Configuration is resolved and checked before Prefect starts, so a bad setting exits 2
in well under a second; the run itself is bounded by its deadline plus a grace period,
and whatever happens the result is written and the exit code follows the verdict.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from blocks.resolve import EVIDENCE_ENV, prefect_api_configured, resolve_environment
from cli.local import local_sandbox
from smoke import github
from smoke.config import SANDBOX, SmokeConfig
from smoke.errors import ConfigError, SmokeSystemError
from smoke.report import progress_line, render_summary, write_outputs
from smoke.results import GateResult, JourneyResult, Verdict
from smoke.scrub import scrub
from smoke.spec import JOURNEYS, PREFLIGHT
from smoke.verdict import decide

DEFAULT_REPORT_DIR = Path("smoke-report")
# Beyond the gate's own deadline: Prefect's start-up and the final recording.
GRACE_S = 45.0
REACH_TIMEOUT_S = 5.0


def say(text: str = "") -> None:
    """One line of progress for the person at the terminal."""
    print(scrub(text), flush=True)


def run_gate(
    *,
    environment: str,
    version: str | None,
    journeys: list[str] | None,
    mode: str,
    fail_on_flaky: bool,
    deadline_s: int,
    outputs: dict[str, Path | None],
    sandbox_faults: list[str] | None = None,
) -> int:
    """``smoke gate`` / ``smoke demo``: run the gate in this process and report."""
    from flows.gate import release_gate

    report_dir = outputs.get("report_dir") or DEFAULT_REPORT_DIR
    with ExitStack() as stack:
        config = prepare(stack, environment, version, sandbox_faults, report_dir)
        selected = journeys or list(JOURNEYS)
        say(
            f"Gate {environment} ({config.base_url}) version {version or '(not checked)'}, mode {mode}"
        )
        say(f"Journeys: {', '.join(selected)}; deadline {deadline_s} s; {prefect_where()}")
        started = time.perf_counter()
        outcome = run_flow(
            lambda: release_gate(
                environment=environment,
                version=version,
                journeys=selected,
                mode=mode,
                fail_on_flaky=fail_on_flaky,
                deadline_s=deadline_s,
                return_state=True,
            ),
            deadline_s,
        )
    result = (
        outcome if isinstance(outcome, GateResult) else crashed(environment, version, mode, outcome)
    )
    if not result.duration_s:
        result.duration_s = time.perf_counter() - started
    return report(result, outputs, report_dir)


def run_single_journey(name: str, environment: str, *, outputs: dict[str, Path | None]) -> int:
    """``smoke journey NAME``: one journey, judged and reported like a gate."""
    from flows.gate import JOURNEY_FLOWS

    report_dir = outputs.get("report_dir") or DEFAULT_REPORT_DIR
    with ExitStack() as stack:
        config = prepare(stack, environment, None, None, report_dir)
        say(f"Journey {name} against {environment} ({config.base_url}); {prefect_where()}")
        started = time.perf_counter()
        outcome = run_flow(lambda: JOURNEY_FLOWS[name](environment, return_state=True), 600)
    duration = time.perf_counter() - started
    if isinstance(outcome, JourneyResult):
        decision = decide(outcome.checks)
        result = GateResult(
            verdict=decision.verdict,
            environment=environment,
            mode="journey",
            duration_s=duration,
            reasons=decision.reasons,
            warnings=decision.warnings,
            error_kind="system" if decision.verdict is Verdict.ERROR else None,
            journeys=[outcome],
        )
    else:
        result = crashed(environment, None, "journey", outcome)
        result.duration_s = duration
    return report(result, outputs, report_dir)


def run_seed(environment: str, tier: str) -> int:
    """``smoke seed``: seed a tier through the e2e API."""
    from flows.seed import seed

    with ExitStack() as stack:
        prepare(stack, environment, None, None, DEFAULT_REPORT_DIR)
        say(f"Seeding tier {tier} into {environment}; {prefect_where()}")
        outcome = run_flow(lambda: seed(environment, tier, return_state=True), 300)
    if isinstance(outcome, dict):
        say(f"Seeded: {outcome}")
        return 0
    say(f"Seeding failed: {outcome}")
    return 3


def prepare(
    stack: ExitStack,
    environment: str,
    version: str | None,
    sandbox_faults: list[str] | None,
    report_dir: Path,
) -> SmokeConfig:
    """Start the sandbox if asked, resolve and check the configuration, probe the target."""
    os.environ[EVIDENCE_ENV] = str((report_dir / "evidence").resolve())
    if environment == SANDBOX:
        faults = sandbox_faults or []
        say(
            "Starting the local sandbox"
            + (f" with faults: {', '.join(faults)}" if faults else "")
            + " ..."
        )
        sb = stack.enter_context(local_sandbox(faults, version or "1.0.0"))
        say(f"Sandbox ready at {sb.base_url} in {sb.ready_seconds:.1f} s")
    config = asyncio.run(resolve_environment(environment))
    probe(config.base_url)
    return config


def probe(url: str) -> None:
    """Fail fast, with a message to act on, when nothing listens at the target."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=REACH_TIMEOUT_S):
            pass
    except OSError as e:
        raise ConfigError(
            f"Cannot reach the target at {url}: {e.strerror or e}. Check base_url (SMOKE_BASE_URL "
            "or the block) and that the environment is up."
        ) from e


def prefect_where() -> str:
    """Where runs are recorded, for the header line."""
    from prefect.settings import PREFECT_API_URL

    if prefect_api_configured():
        return f"Prefect API {PREFECT_API_URL.value()}"
    return "Prefect ephemeral mode (a temporary server starts first, ~10 s; set PREFECT_API_URL to keep runs)"


def run_flow(call: Callable[[], Awaitable[Any]], deadline_s: float) -> Any:
    """Await a flow call (``return_state=True``) with live progress; its result or the error."""
    from tasks import progress

    async def bounded() -> Any:
        state = await asyncio.wait_for(call(), timeout=deadline_s + GRACE_S)
        return await state.result(raise_on_failure=False)

    with progress.listening(lambda r: say(progress_line(r))):
        try:
            return asyncio.run(bounded())
        except TimeoutError:
            return SmokeSystemError(
                f"the run did not finish within its deadline of {deadline_s:g} s (+{GRACE_S:g} s grace)"
            )
        except Exception as e:
            return SmokeSystemError(f"the smoke system failed: {type(e).__name__}: {e}")


def crashed(environment: str, version: str | None, mode: str, outcome: object) -> GateResult:
    """An ERROR result for a run that ended without a verdict."""
    reason = (
        str(outcome)
        if isinstance(outcome, BaseException)
        else f"the run ended without a result: {outcome!r}"
    )
    return GateResult(
        verdict=Verdict.ERROR,
        environment=environment,
        version=version,
        mode=mode,
        error_kind="config" if isinstance(outcome, ConfigError) else "system",
        reasons=[scrub(reason)],
    )


def report(result: GateResult, outputs: dict[str, Path | None], report_dir: Path) -> int:
    """Write every output, print the summary and return the exit code."""
    written = write_outputs(
        result,
        json_path=outputs.get("json_path"),
        junit_path=outputs.get("junit_path"),
        report_dir=report_dir,
    )
    github.publish(result, os.environ, report_dir=report_dir)  # only in GitHub Actions
    say()
    sys.stdout.write(render_summary(result))
    say(
        f"report: {report_dir / 'report.md'}, {report_dir / 'report.html'}"
        + (f" (+{len(written) - 4} files)" if len(written) > 4 else "")
    )
    return result.exit_code


__all__ = ["PREFLIGHT", "run_gate", "run_seed", "run_single_journey"]
