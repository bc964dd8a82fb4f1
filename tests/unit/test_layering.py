"""The Prefect-free layers stay Prefect-free: one process imports them all and runs `smoke init`.

`make test` runs every suite in one session, so the unit conftest's own check (a unit-only
run imported no Prefect) does not cover it; this does, in a fresh interpreter.
"""

from __future__ import annotations

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
