"""The ``smoke`` command: run the gate, one journey, the demo, the sandbox; manage blocks.

Exit codes (``smoke gate``, ``smoke journey``, ``smoke demo``): 0 PASS, 1 FAIL,
2 usage or configuration error, 3 the smoke system itself failed or the deadline passed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from smoke.errors import ConfigError, Interrupted, SmokeError, SmokeSystemError

if TYPE_CHECKING:
    from cli.prefect_target import PrefectTarget
    from cli.run import Outputs

EXIT_USAGE = 2
EXIT_SYSTEM = 3
JOURNEY_NAMES = ("auth", "onboarding", "billing", "dashboard")

# Prefect's console handlers print every task state change; the CLI shows its own
# progress instead. Logs still reach the Prefect API (and its UI) at INFO.
QUIET_PREFECT = {
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL",
    "PREFECT_LOGGING_HANDLERS_CONSOLE_FLOW_RUNS_LEVEL": "CRITICAL",
    "PREFECT_LOGGING_HANDLERS_CONSOLE_TASK_RUNS_LEVEL": "CRITICAL",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}


def _journeys(value: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in JOURNEY_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown journey {', '.join(unknown) or '(none)'}; choose from {', '.join(JOURNEY_NAMES)}, "
            "e.g. --journeys auth,billing"
        )
    return names


def _deadline(value: str) -> int:
    try:
        seconds = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid deadline {value!r}: give whole seconds, e.g. --deadline 120"
        ) from None
    if not 5 <= seconds <= 3600:
        raise argparse.ArgumentTypeError(
            f"deadline {seconds} s is out of range: between 5 and 3600"
        )
    return seconds


def _fault(value: str) -> str:
    from sandbox import FAULTS

    if value not in FAULTS:
        raise argparse.ArgumentTypeError(f"unknown fault {value!r}; `smoke faults` lists them")
    return value


def _output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", type=Path, metavar="PATH", help="write the JSON result here")
    p.add_argument("--junit", type=Path, metavar="PATH", help="write JUnit XML here")
    p.add_argument(
        "--report-dir",
        type=Path,
        metavar="DIR",
        help="write report.md, result.json, junit.xml and the evidence here (default: ./smoke-report)",
    )
    p.add_argument("--verbose", action="store_true", help="also show Prefect's own log lines")
    p.add_argument(
        "--ephemeral",
        action="store_true",
        help="record to a temporary Prefect server for this command only, even if one runs",
    )


def _selection_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--check",
        action="append",
        default=[],
        metavar="PATTERN",
        help="run only these checks and what they need, e.g. auth.tenant_isolation or "
        "'dashboard.*' (repeatable; `smoke list` names them)",
    )
    p.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="PATTERN",
        help="leave out these checks and what needs them (repeatable, same patterns)",
    )


def _gate_options(p: argparse.ArgumentParser) -> None:
    _selection_options(p)
    p.add_argument(
        "--version", dest="release_version", metavar="V", help="the version being released"
    )
    p.add_argument(
        "--journeys", type=_journeys, metavar="LIST", help="comma-separated, e.g. auth,billing"
    )
    p.add_argument(
        "--fail-on-flaky", action="store_true", help="a check that needed a retry fails the gate"
    )
    p.add_argument(
        "--deadline", type=_deadline, default=120, metavar="S", help="seconds (default 120)"
    )
    p.add_argument(
        "--mode", choices=("gate", "monitor"), default="gate", help="gate (default) or monitor"
    )


class UsageError(ConfigError):
    """A bad command line (exit 2), raised instead of argparse's own exit."""


class Parser(argparse.ArgumentParser):
    """argparse that raises UsageError, so a usage error still writes the --json result."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``smoke`` command."""
    parser = Parser(
        prog="smoke",
        description="Smoke-test a deployed product through its core journeys and gate releases.",
        epilog="Exit codes: 0 PASS, 1 FAIL, 2 usage or configuration error, 3 the smoke system failed.",
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )

    gate = sub.add_parser("gate", help="run the release gate against an environment")
    gate.add_argument(
        "--env",
        required=True,
        action="append",
        metavar="NAME",
        help="environment: a block name, or 'sandbox'; repeatable: several environments run "
        "at once, one release-gate deployment run each (implies --via-deployment)",
    )
    gate.add_argument(
        "--via-deployment",
        action="store_true",
        help="trigger the release-gate deployment on the Prefect API and follow it (needs a worker)",
    )
    gate.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="NAME",
        help="with --env sandbox",
    )
    _gate_options(gate)
    _output_options(gate)

    journey = sub.add_parser("journey", help="run one journey against an environment")
    journey.add_argument("name", choices=JOURNEY_NAMES)
    journey.add_argument("--env", required=True, metavar="NAME")
    _selection_options(journey)
    _output_options(journey)

    listed = sub.add_parser(
        "list", help="every check: journey, blocking, writes, on for an environment or why not"
    )
    listed.add_argument("--env", default="sandbox", metavar="NAME", help="default: sandbox")
    listed.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _selection_options(listed)

    demo = sub.add_parser(
        "demo", help="start the sandbox, run the gate against it, stop everything"
    )
    demo.add_argument(
        "--fault", type=_fault, action="append", default=[], metavar="NAME", help="repeatable"
    )
    _gate_options(demo)
    _output_options(demo)

    sandbox = sub.add_parser("sandbox", help="run the local sandbox in the foreground")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=0, help="0 picks a free port")
    sandbox.add_argument("--fault", type=_fault, action="append", default=[], metavar="NAME")
    sandbox.add_argument("--version", dest="sandbox_version", default="1.0.0", metavar="V")
    sandbox.add_argument(
        "--push-block",
        metavar="NAME",
        help="save a SmokeEnvironment block NAME pointing at this sandbox (needs PREFECT_API_URL)",
    )

    sub.add_parser("faults", help="list the sandbox's faults")

    validate = sub.add_parser(
        "validate", help="check an environment's configuration and contract; start nothing"
    )
    validate.add_argument("--env", default="sandbox", metavar="NAME", help="default: sandbox")
    validate.add_argument(
        "--contract", metavar="FILE", help="a contract file (instead of SMOKE_CONTRACT_FILE)"
    )

    init = sub.add_parser(
        "init", help="write a starting contract from the target's OpenAPI document"
    )
    init.add_argument(
        "--openapi", required=True, metavar="URL|FILE", help="the OpenAPI document (JSON or YAML)"
    )
    init.add_argument(
        "--out",
        type=Path,
        default=Path("contract.yaml"),
        metavar="FILE",
        help="where to write it (default: contract.yaml)",
    )
    init.add_argument("--force", action="store_true", help="overwrite --out if it exists")

    server = sub.add_parser(
        "server", help="a local Prefect server that outlives one command (loopback only)"
    )
    server_sub = server.add_subparsers(
        dest="server_command", required=True, metavar="ACTION", parser_class=Parser
    )
    start = server_sub.add_parser("start", help="start it unless it runs; print the UI address")
    start.add_argument(
        "--port",
        type=int,
        metavar="N",
        help="default 4200 (a free port when taken); 0: a free port",
    )
    start.add_argument(
        "--postgres",
        action="store_true",
        help="on PostgreSQL: PREFECT_API_DATABASE_CONNECTION_URL, else a local one "
        "under the Prefect home (needs PostgreSQL's server programs)",
    )
    server_sub.add_parser("stop", help="stop the server `smoke server start` started")
    server_sub.add_parser("status", help="is it running; where is its UI (exit 1 when not)")

    deploy = sub.add_parser(
        "deploy", help="register blocks, create the work pool, deploy prefect.yaml, automations"
    )
    deploy.add_argument(
        "--monitor",
        action="append",
        default=[],
        metavar="ENV",
        help="schedule the monitor for ENV (repeatable)",
    )
    deploy.add_argument(
        "--cron", default="*/15 * * * *", help="the monitor's schedule (default every 15 min)"
    )
    deploy.add_argument(
        "--workdir",
        type=Path,
        metavar="PATH",
        help="where the project is on the worker machines (default: this checkout; "
        "/app in the Dockerfile's image)",
    )

    announce = sub.add_parser("announce", help="emit release.deployed: the gate runs by itself")
    announce.add_argument("--env", required=True, metavar="NAME")
    announce.add_argument("--version", dest="release_version", required=True, metavar="V")

    unlock = sub.add_parser("unlock", help="free an environment's slot that no live gate run holds")
    unlock.add_argument("--env", required=True, metavar="NAME")

    history = sub.add_parser("history", help="the last gate runs and each journey's pass rate")
    history.add_argument("--env", required=True, metavar="NAME")
    history.add_argument("--last", type=int, default=10, metavar="N")
    history.add_argument(
        "--json", action="store_true", help="print the runs and pass rates as JSON"
    )

    seed = sub.add_parser("seed", help="seed test data through the e2e API")
    seed.add_argument("--env", required=True, metavar="NAME")
    seed.add_argument("--tier", choices=("smoke", "dev", "perf"), default="smoke")
    seed.add_argument("--ephemeral", action="store_true", help="a temporary Prefect server")

    blocks = sub.add_parser("blocks", help="register block types or push an environment as a block")
    blocks_sub = blocks.add_subparsers(dest="blocks_command", required=True, metavar="ACTION")
    blocks_sub.add_parser("register", help="register SmokeEnvironment and SlackTarget")
    push = blocks_sub.add_parser("push", help="save the current SMOKE_* configuration as a block")
    push.add_argument("--env", required=True, metavar="NAME")
    return parser


RUN_COMMANDS = ("gate", "journey", "demo")
# Commands that talk to a Prefect server: without PREFECT_API_URL, the local one if it runs.
SERVER_COMMANDS = ("deploy", "blocks", "announce", "history", "sandbox", "unlock")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``smoke`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except UsageError as e:
        print(str(e), file=sys.stderr)
        _record_error(e, argv)
        return e.exit_code
    if not getattr(args, "verbose", False):
        for key, value in QUIET_PREFECT.items():
            os.environ.setdefault(key, value)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    handler = COMMANDS[args.command]
    if args.command in SERVER_COMMANDS:
        from cli.prefect_target import use_local_server

        use_local_server()
    try:
        if args.command not in RUN_COMMANDS:
            return handler(args)
        from cli.signals import exit_now, guarded

        with guarded() as guard:
            code = handler(args)
        if guard.signum is not None:
            exit_now(code, guard)
        return code
    except Interrupted as e:
        print(f"smoke: {e}", file=sys.stderr)
        _record_error(e, argv)
        from cli.signals import exit_now

        exit_now(e.exit_code)
        return e.exit_code
    except SmokeError as e:
        print(f"smoke: {e}", file=sys.stderr)
        _record_error(e, argv)
        return e.exit_code
    except KeyboardInterrupt:
        print("smoke: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug or an unexpected failure: a message, never a traceback
        from smoke.scrub import scrub

        failure = SmokeSystemError(f"the smoke system failed: {type(e).__name__}: {scrub(str(e))}")
        print(f"smoke: {failure}", file=sys.stderr)
        _record_error(failure, argv)
        if os.environ.get("SMOKE_DEBUG"):
            raise
        return EXIT_SYSTEM


def _record_error(error: BaseException, argv: list[str]) -> None:
    """On exit 2 or 3 of a run command, still write its --json/--junit/report files."""
    if not argv or argv[0] not in RUN_COMMANDS:
        return
    outputs = argparse.ArgumentParser(add_help=False)
    _output_options(outputs)
    outputs.add_argument("--env", action="append", default=[])
    outputs.add_argument("--version", dest="release_version")
    outputs.add_argument("--mode", default="gate")
    known, _ = outputs.parse_known_args(argv[1:])
    from cli.run import report_error

    mode = "journey" if argv[0] == "journey" else known.mode
    envs = ["sandbox"] if argv[0] == "demo" or not known.env else list(dict.fromkeys(known.env))
    try:
        if argv[0] == "gate" and len(envs) > 1:
            from cli.via_deployment import report_fan_out_error

            report_fan_out_error(error, _outputs(known), envs, known.release_version, mode)
            return
        report_error(error, _outputs(known), envs[-1], known.release_version, mode)
    except OSError as e:
        print(f"smoke: could not write the result files: {e}", file=sys.stderr)


def _prefect(
    args: argparse.Namespace, environments: Sequence[str] = (), *, start_local: bool = False
) -> PrefectTarget:
    """Check the configuration first (no Prefect), then decide where runs are recorded."""
    from cli import server
    from cli.prefect_target import choose
    from cli.validate import validate_locally
    from smoke.config import unknown_environment

    no_server = server.configured_api_url() is None and server.recorded_server() is None
    for environment in environments or [args.env if args.command != "demo" else "sandbox"]:
        validated = validate_locally(environment)
        if validated.config is not None and validated.suite is not None:
            # A misspelt --check exits 2 now; a block's own contract is checked when it is read.
            from smoke.selection import select

            journeys = [args.name] if args.command == "journey" else args.journeys
            select(
                validated.suite,
                args.check,
                args.skip,
                journeys,
                with_preflight=args.command != "journey",
            )
        if validated.config is None and no_server:
            # Only a block could define it, and no Prefect server is there to hold blocks.
            raise unknown_environment(
                environment, "no Prefect API configured (PREFECT_API_URL) to load a block from"
            )
    return choose(ephemeral=args.ephemeral, start_local=start_local)


def cmd_gate(args: argparse.Namespace) -> int:
    """``smoke gate``, in this process or through the release-gate deployment.

    Several ``--env`` run through the deployment, one run each, on whichever workers take them.
    """
    from smoke.fan_out import check_environments

    environments = check_environments(args.env)
    if args.fault and "sandbox" not in environments:
        raise ConfigError("--fault only applies to --env sandbox (the local sandbox)")
    if len(environments) > 1:
        if args.ephemeral:
            raise ConfigError(
                "several --env run on workers through a Prefect server; --ephemeral records to "
                "a temporary one no worker sees: leave it out"
            )
        from cli.via_deployment import run_gates_via_deployment

        return run_gates_via_deployment(
            environments=environments,
            version=args.release_version,
            journeys=args.journeys,
            mode=args.mode,
            fail_on_flaky=args.fail_on_flaky,
            deadline_s=args.deadline,
            outputs=_outputs(args),
            prefect=_prefect(args, environments),
            sandbox_faults=args.fault,
            checks=args.check,
            skip=args.skip,
        )
    if args.via_deployment:
        from cli.via_deployment import run_gate_via_deployment as run_gate
    else:
        from cli.run import run_gate

    return run_gate(
        environment=environments[0],
        version=args.release_version,
        journeys=args.journeys,
        mode=args.mode,
        fail_on_flaky=args.fail_on_flaky,
        deadline_s=args.deadline,
        outputs=_outputs(args),
        prefect=_prefect(args, environments),
        sandbox_faults=args.fault,
        checks=args.check,
        skip=args.skip,
    )


def cmd_journey(args: argparse.Namespace) -> int:
    """``smoke journey NAME``."""
    from cli.run import run_single_journey

    return run_single_journey(
        args.name,
        args.env,
        outputs=_outputs(args),
        prefect=_prefect(args),
        checks=args.check,
        skip=args.skip,
    )


def cmd_demo(args: argparse.Namespace) -> int:
    """``smoke demo``: the gate against a fresh sandbox, recorded on a local Prefect server."""
    from cli.run import run_gate
    from smoke.local_sandbox import DEFAULT_VERSION

    return run_gate(
        environment="sandbox",
        version=args.release_version or DEFAULT_VERSION,
        journeys=args.journeys,
        mode=args.mode,
        fail_on_flaky=args.fail_on_flaky,
        deadline_s=args.deadline,
        outputs=_outputs(args),
        prefect=_prefect(args, start_local=True),
        sandbox_faults=args.fault,
        checks=args.check,
        skip=args.skip,
    )


def cmd_validate(args: argparse.Namespace) -> int:
    """``smoke validate``."""
    from cli.validate import cmd_validate as validate

    return validate(args.env, args.contract)


def cmd_init(args: argparse.Namespace) -> int:
    """``smoke init --openapi``."""
    from cli.init import cmd_init as init

    return init(args.openapi, args.out, args.force)


def cmd_list(args: argparse.Namespace) -> int:
    """``smoke list``."""
    from cli.listing import cmd_list as list_checks

    return list_checks(args.env, args.check, args.skip, args.json)


def cmd_server(args: argparse.Namespace) -> int:
    """``smoke server start|stop|status``."""
    from cli import server

    if args.server_command == "start":
        return server.cmd_start(args.port, args.postgres)
    if args.server_command == "stop":
        return server.cmd_stop()
    return server.cmd_status()


def cmd_sandbox(args: argparse.Namespace) -> int:
    """``smoke sandbox``: serve until Ctrl-C."""
    from sandbox import serve
    from smoke.local_sandbox import sandbox_credentials

    if args.push_block:
        from cli.local import serve_as_block

        return serve_as_block(
            args.push_block, args.host, args.port, args.fault, args.sandbox_version
        )
    return serve(
        host=args.host,
        port=args.port,
        faults=args.fault,
        version=args.sandbox_version,
        credentials=sandbox_credentials(),
    )


def cmd_faults(args: argparse.Namespace) -> int:
    """``smoke faults``: one fault per line, name and description."""
    from sandbox import FAULTS

    width = max(len(name) for name in FAULTS)
    for name, description in FAULTS.items():
        print(f"{name:<{width}}  {description}")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    """``smoke seed``."""
    from cli.run import run_seed

    return run_seed(args.env, args.tier, _prefect(args))


def cmd_blocks(args: argparse.Namespace) -> int:
    """``smoke blocks register|push``."""
    from cli import blocks_admin

    if args.blocks_command == "register":
        return blocks_admin.register()
    return blocks_admin.push(args.env)


def cmd_deploy(args: argparse.Namespace) -> int:
    """``smoke deploy``."""
    from deployments.deploy import deploy

    return deploy(args.monitor, args.cron, args.workdir)


def cmd_announce(args: argparse.Namespace) -> int:
    """``smoke announce``."""
    from deployments.announce import announce

    return announce(args.env, args.release_version)


def cmd_unlock(args: argparse.Namespace) -> int:
    """``smoke unlock``."""
    from cli.unlock import cmd_unlock as unlock

    return unlock(args.env)


def cmd_history(args: argparse.Namespace) -> int:
    """``smoke history``."""
    from cli.history import history

    return history(args.env, args.last, as_json=args.json)


def _outputs(args: argparse.Namespace) -> Outputs:
    from cli.run import DEFAULT_REPORT_DIR, Outputs

    return Outputs(
        json_path=args.json, junit_path=args.junit, report_dir=args.report_dir or DEFAULT_REPORT_DIR
    )


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "gate": cmd_gate,
    "journey": cmd_journey,
    "demo": cmd_demo,
    "sandbox": cmd_sandbox,
    "faults": cmd_faults,
    "validate": cmd_validate,
    "init": cmd_init,
    "list": cmd_list,
    "server": cmd_server,
    "seed": cmd_seed,
    "blocks": cmd_blocks,
    "deploy": cmd_deploy,
    "announce": cmd_announce,
    "history": cmd_history,
    "unlock": cmd_unlock,
}

__all__ = ["ConfigError", "main"]


if __name__ == "__main__":
    sys.exit(main())
