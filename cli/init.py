"""``smoke init --openapi``: write a starting contract from an OpenAPI document (no Prefect)."""

from __future__ import annotations

from pathlib import Path

from smoke.openapi_init import init_contract


def cmd_init(openapi: str, out: Path, force: bool) -> int:
    """Write the contract, then say what is left to do; ConfigError (exit 2) if it cannot."""
    inferred = init_contract(openapi, out, force=force)
    todos = sum(len(t) for t in inferred.todos.values())
    print(f"Wrote {out}: {todos} TODO comment(s) to review.")
    for setting in inferred.settings:
        print(f"  set {setting}")
    print(f"Then: smoke validate --env <name> --contract {out}")
    return 0
