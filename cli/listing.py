"""``smoke list``: every check, its flags, and whether it is on for an environment.

Reads the catalogue and the environment's contract as ``smoke validate`` checks them:
no Prefect, no network, in well under a second.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from cli.validate import validate_locally
from smoke.results import SKIP_KINDS
from smoke.selection import Listed, listing, select


def cmd_list(environment: str, checks: Sequence[str], skip: Sequence[str], as_json: bool) -> int:
    """Print the checks as a table (or JSON); ConfigError (exit 2) for a bad pattern."""
    validated = validate_locally(environment)
    assert validated.suite is not None  # validate_locally always loads the contract
    selection = select(validated.suite, checks, skip)
    rows = listing(validated.suite, validated.config, selection)
    if as_json:
        print(json.dumps({"environment": environment, "checks": [_as_dict(r) for r in rows]}))
    else:
        for line in table(rows):
            print(line)
    return 0


def _as_dict(row: Listed) -> dict[str, object]:
    return {
        "check": row.key,
        "journey": row.journey,
        "name": row.check,
        "blocking": row.blocking,
        "writes": row.writes,
        "on": row.on,
        "off_because": row.off_because,
        "reason": row.reason,
        "needs": row.needs,
        "promise": row.promise,
    }


def table(rows: list[Listed]) -> list[str]:
    """One line per check: key, blocking, writes, on or why not."""
    width = max(len(r.key) for r in rows)
    lines = [f"{'CHECK':<{width}}  BLOCKING  WRITES  ON"]
    for r in rows:
        if r.on:
            state = "on" + (f" ({r.reason})" if r.reason else "")
        else:
            kind = SKIP_KINDS[r.off_because or "not_applicable"]
            # A "not selected" reason says it all; the others are a kind and a detail.
            state = (
                f"off: {r.reason if r.off_because == 'not_selected' else f'{kind} ({r.reason})'}"
            )
        blocking = "yes" if r.blocking else "no"
        writes = "yes" if r.writes else "no"
        lines.append(f"{r.key:<{width}}  {blocking:<8}  {writes:<6}  {state}")
    return lines
