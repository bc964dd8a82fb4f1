"""``python -m mutations.run [--only ID ...] [--write-doc]``: every mutation through the gate.

The repository (without .venv and .git) is copied to a temporary folder; each mutation
is applied alone to that copy, the copy's sandbox is started (``mutations/target.py``)
and ``smoke gate`` runs against it, both with ``PYTHONPATH`` pointing at the copy, so
they import the copy's code. One real Prefect server serves every run. The unmutated copy runs first
and must PASS. Exit 0 when every visible mutation is caught by its own journey, 1 when
one is not, 2 when the run itself is unusable (stale catalogue, failed control, a
mutation that stops the sandbox from starting).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from mutations.catalogue import CATALOGUE, Mutation, by_id
from mutations.doc import render_section, replace_section
from mutations.outcome import Outcome, Result, judge
from mutations.target import ENVIRONMENT, RELEASE_VERSION, TargetDidNotStart, start_target
from smoke.results import GateResult, Verdict
from tests.support.prefect_server import SMOKE, PrefectServer

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "RELIABILITY.md"
# The gate's own deadline is 120 s; this only stops a run that hangs past it.
RUN_TIMEOUT_S = 900
NICENESS = 10
_NOT_COPIED = shutil.ignore_patterns(
    ".venv", ".git", "__pycache__", "smoke-report", ".mypy_cache", ".ruff_cache", ".pytest_cache"
)


def say(text: str) -> None:
    print(text, flush=True)


def copy_repository(destination: Path) -> Path:
    """A copy of the repository's sources at ``destination``."""
    shutil.copytree(ROOT, destination, ignore=_NOT_COPIED)
    return destination


def check_imports_from(copy: Path, env: dict[str, str]) -> None:
    """Prove that a process started like the gate imports the project from ``copy``."""
    probe = "import cli, flows, sandbox, smoke; print(sandbox.__file__, cli.__file__)"
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=copy, capture_output=True, text=True, check=True
    ).stdout.split()
    outside = [path for path in out if not Path(path).is_relative_to(copy)]
    if outside:
        raise SystemExit(f"the gate would import from outside the copy {copy}: {outside}")


def run_gate(copy: Path, env: dict[str, str], folder: Path) -> tuple[int, GateResult | None, str]:
    """The copy's sandbox, and ``smoke gate`` against it: exit code, JSON result, output.

    Raises TargetDidNotStart when the sandbox does not come up.
    """
    folder.mkdir(parents=True)
    target = start_target(copy, env, RELEASE_VERSION, folder / "sandbox.log")
    try:
        json_path = folder / "result.json"
        args = ["gate", "--env", ENVIRONMENT, "--version", RELEASE_VERSION]
        args += ["--json", str(json_path), "--report-dir", str(folder / "report")]
        try:
            proc = subprocess.run(
                [SMOKE, *args],
                env=env | target.smoke_env(),
                cwd=copy,
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            return -1, None, f"no verdict within {RUN_TIMEOUT_S} s"
    finally:
        target.stop()
    result = None
    if json_path.exists():
        result = GateResult.from_json_dict(json.loads(json_path.read_text()))
    return proc.returncode, result, proc.stdout + proc.stderr


def write_source(path: Path, text: str) -> None:
    """Write a module's source and drop its cached bytecode.

    A .pyc is trusted when the source's mtime (in seconds) and size match; a mutation
    written and reverted within a second could otherwise run stale code.
    """
    path.write_text(text)
    for cached in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
        cached.unlink()


def run_mutation(mutation: Mutation, copy: Path, env: dict[str, str], folder: Path) -> Outcome:
    """Apply ``mutation`` to ``copy``, run the gate, restore the file; judge the run."""
    target = copy / mutation.file
    original = target.read_text()
    started = time.monotonic()
    write_source(target, mutation.mutated_source(copy))
    try:
        code, result, output = run_gate(copy, env, folder)
    except TargetDidNotStart as e:
        return Outcome(
            mutation, Result.BROKE_SANDBOX, note=str(e), seconds=time.monotonic() - started
        )
    finally:
        write_source(target, original)
    return judge(mutation, code, result, output, seconds=time.monotonic() - started)


def select(only: Sequence[str]) -> list[Mutation]:
    """The mutations to run: all, or those named (unknown names exit 2)."""
    if not only:
        return list(CATALOGUE)
    known = by_id()
    unknown = [name for name in only if name not in known]
    if unknown:
        raise SystemExit(
            f"unknown mutation {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return [known[name] for name in only]


def stale(mutations: Sequence[Mutation]) -> list[str]:
    """Why any mutation no longer applies to the repository's sandbox."""
    return [f"{m.id}: {reason}" for m in mutations if (reason := m.stale_reason(ROOT))]


def lower_priority() -> None:
    """Run this and every child under ``nice``: the machine is shared."""
    current = os.nice(0)
    if current < NICENESS:
        os.nice(NICENESS - current)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mutations.run",
        description="Apply each sandbox mutation to a copy of the repository and run the gate.",
    )
    parser.add_argument("--only", nargs="+", default=[], metavar="ID", help="run these only")
    parser.add_argument(
        "--write-doc",
        action="store_true",
        help='replace the "Mutation catalogue" section of docs/RELIABILITY.md (whole runs only)',
    )
    parser.add_argument("--keep", action="store_true", help="keep the copy and every report")
    args = parser.parse_args(argv)
    if args.write_doc and args.only:
        parser.error("--write-doc records whole runs only: drop --only")
    mutations = select(args.only)
    problems = stale(mutations)
    if problems:
        say("The catalogue no longer matches the sandbox:\n  " + "\n  ".join(problems))
        return 2

    lower_priority()
    # SIGTERM ends the run like Ctrl-C: the Prefect server and the sandbox stop with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="smoke-mutations-"))
    started = time.monotonic()
    server = PrefectServer(work / "prefect")
    (work / "prefect").mkdir()
    try:
        copy = copy_repository(work / "repo")
        say(f"Copied the repository to {copy}; starting a Prefect server ...")
        server.start(timeout=300)
        env = server.env(PYTHONPATH=str(copy))
        check_imports_from(copy, env)
        say(f"Prefect server at {server.api_url} after {time.monotonic() - started:.0f} s")

        control_started = time.monotonic()
        try:
            code, result, output = run_gate(copy, env, work / "control")
        except TargetDidNotStart as e:
            code, result, output = -1, None, f"the unmutated sandbox did not start: {e}"
        control_s = time.monotonic() - control_started
        if result is None or result.verdict is not Verdict.PASS:
            say(f"The unmutated copy did not PASS (exit {code}): nothing can be judged.")
            say(output[-3000:])
            return 2
        say(f"control: PASS in {control_s:.0f} s")

        outcomes: list[Outcome] = []
        width = max(len(m.id) for m in mutations)
        for n, mutation in enumerate(mutations, 1):
            outcome = run_mutation(mutation, copy, env, work / "runs" / mutation.id)
            outcomes.append(outcome)
            say(
                f"[{n:2d}/{len(mutations)}] {mutation.id:<{width}}  {outcome.seconds:4.0f} s  "
                f"{outcome.summary()}"
            )
            if outcome.message:
                say(f"        {outcome.message[:200]}")
    finally:
        server.stop()
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    total_s = time.monotonic() - started

    section = render_section(
        outcomes, date=dt.date.today().isoformat(), total_s=total_s, control_s=control_s
    )
    say("")
    say(section)
    if args.write_doc:
        DOC.write_text(replace_section(DOC.read_text(), section))
        say(f"wrote {DOC.relative_to(ROOT)}")
    if any(o.result is Result.BROKE_SANDBOX for o in outcomes):
        return 2
    return 0 if all(o.meets_target for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
