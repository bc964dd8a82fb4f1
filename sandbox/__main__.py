"""``python -m sandbox serve [--host H] [--port N] [--fault NAME ...] [--version V]``.

Credentials come from ``SANDBOX_*`` environment variables (see credentials.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sandbox.faults import FAULTS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description="The local staging double of the product."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run the sandbox until Ctrl-C")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve_cmd.add_argument(
        "--fault",
        action="append",
        default=[],
        choices=list(FAULTS),
        metavar="NAME",
        help="turn a fault on (repeatable)",
    )
    serve_cmd.add_argument("--version", default="1.0.0", help="the version /health reports")
    # Internal, set by start_sandbox: the pipe that closes when the starter dies, and the
    # starter's run directory to remove in that case.
    serve_cmd.add_argument("--parent-fd", type=int, default=None, help=argparse.SUPPRESS)
    serve_cmd.add_argument("--parent-run-dir", type=Path, default=None, help=argparse.SUPPRESS)
    commands.add_parser("faults", help="list the faults")
    args = parser.parse_args(argv)

    if args.command == "faults":
        width = max(len(name) for name in FAULTS)
        for name, description in FAULTS.items():
            print(f"{name:<{width}}  {description}")
        return 0

    from sandbox.runner import serve

    return serve(
        host=args.host,
        port=args.port,
        faults=args.fault,
        version=args.version,
        parent_fd=args.parent_fd,
        parent_run_dir=args.parent_run_dir,
    )


if __name__ == "__main__":
    sys.exit(main())
