"""`smoke init --openapi` through the CLI, and `smoke validate` of what it wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from cli.validate import validate_locally


def written(tmp_path: Path, doc: dict[str, Any], name: str = "contract.yaml") -> Path:
    """``doc`` through ``smoke init``; the contract file it wrote."""
    source = tmp_path / "openapi.json"
    source.write_text(json.dumps(doc))
    out = tmp_path / name
    assert main(["init", "--openapi", str(source), "--out", str(out)]) == 0
    return out


def validates(contract: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The contract passes ``smoke validate`` for an environment given by SMOKE_BASE_URL."""
    monkeypatch.setenv("SMOKE_BASE_URL", "https://staging.example.com")
    assert validate_locally("staging", str(contract)).suite is not None
    assert main(["validate", "--env", "staging", "--contract", str(contract)]) == 0
