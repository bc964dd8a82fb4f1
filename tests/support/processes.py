"""Processes as /proc shows them: alive or not, descendants, a flow run's own."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def alive(pid: int) -> bool:
    """Alive and not a zombie waiting for its new parent to collect it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def descendants(roots: Iterable[int]) -> set[int]:
    """Every live process below ``roots`` (not the roots themselves)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found: set[int] = set()
    frontier = set(roots)
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def flow_run_processes(run_id: object = "", api_url: str = "") -> list[int]:
    """Processes a worker started for a flow run (they carry PREFECT__FLOW_RUN_ID);
    with ``run_id``, only that run's; with ``api_url``, only runs of that Prefect server
    (another test session's worker runs on the same machine are never touched)."""
    markers = [f"PREFECT__FLOW_RUN_ID={run_id}".encode()]
    if api_url:
        markers.append(f"\0PREFECT_API_URL={api_url}\0".encode())
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit():
                continue
            environ = b"\0" + (entry / "environ").read_bytes()
            if all(m in environ for m in markers):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids
