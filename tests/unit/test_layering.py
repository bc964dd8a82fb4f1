"""The Prefect-free layers stay Prefect-free: one process imports them all and runs `smoke init`.

`make test` runs every suite in one session, so the unit conftest's own check (a unit-only
run imported no Prefect) does not cover it; this does, in a fresh interpreter.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import smoke

ROOT = Path(__file__).resolve().parents[2]
PREFECT_FREE = [
    *(f"smoke.{m.name}" for m in pkgutil.iter_modules(smoke.__path__)),
    "cli.listing",
    "mutations.catalogue",
    "mutations.outcome",
    "mutations.doc",
    "tasks.journey",
    "tasks.wire",
    "tasks.exchange",
    "tasks.http",
    "tasks.signin",
    "tasks.progress",
]
OPENAPI = {
    "openapi": "3.0.0",
    "info": {"title": "t", "version": "1"},
    "paths": {"/health": {"get": {"responses": {"200": {}}}}},
}


def test_the_core_and_smoke_init_import_no_prefect(tmp_path: Path) -> None:
    source = tmp_path / "openapi.json"
    source.write_text(json.dumps(OPENAPI))
    code = (
        "import importlib, sys\n"
        f"for name in {PREFECT_FREE!r}: importlib.import_module(name)\n"
        "from cli.main import main\n"
        f"rc = main(['init', '--openapi', {str(source)!r}, '--out', {str(tmp_path / 'c.yaml')!r}])\n"
        "assert rc == 0, rc\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'prefect'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout


def _tasks_imports(path: Path) -> set[str]:
    """Every tasks module that ``path`` imports: at the top, under TYPE_CHECKING or in a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from .x import y
                base = ".".join(["tasks", *([base] if base else [])])
            # ``from tasks import http`` names a module; ``from tasks.http import send`` its owner.
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(n for n in names if n.startswith("tasks.") and n.count(".") == 1)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import cycle once, as the modules on it in import order (first one repeated)."""
    cycles: list[list[str]] = []
    seen: set[frozenset[str]] = set()

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                if frozenset(path) not in seen:
                    seen.add(frozenset(path))
                    cycles.append([*path, start])
            elif nxt not in path and nxt > start:  # each cycle from its smallest module
                walk(start, nxt, [*path, nxt])

    for start in sorted(graph):
        walk(start, start, [start])
    return cycles


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_the_tasks_modules() -> None:
    # TYPE_CHECKING and function-level imports count: a circle hidden that way is still
    # two modules that cannot be understood, tested or moved one without the other.
    graph = {
        f"tasks.{path.stem}": _tasks_imports(path) - {f"tasks.{path.stem}"}
        for path in sorted((ROOT / "tasks").glob("*.py"))
        if path.stem != "__init__"
    }
    assert set(graph["tasks.refusal"]) >= {
        "tasks.wire",
        "tasks.exchange",
        "tasks.http",
        "tasks.journey",
    }  # the finder works
    cycles = [" -> ".join(c) for c in _cycles(graph)]
    assert cycles == [], "import cycles in tasks/:\n" + "\n".join(cycles)
