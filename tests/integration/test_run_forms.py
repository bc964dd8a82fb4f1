"""Every parameter of every deployed flow has a description in its run form."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from prefect.utilities.callables import parameter_schema_from_entrypoint

from smoke.config import unknown_environment

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINTS = sorted(
    {d["entrypoint"] for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}
)


@pytest.mark.parametrize("entrypoint", ENTRYPOINTS)
def test_every_parameter_has_a_description(
    entrypoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # How `prefect deploy` reads it: the flow function's signature and docstring.
    monkeypatch.chdir(ROOT)
    schema = parameter_schema_from_entrypoint(entrypoint).model_dump_for_openapi()
    assert schema["properties"]
    undescribed = [n for n, p in schema["properties"].items() if not p.get("description")]
    assert not undescribed, f"{entrypoint}: no description for {undescribed}"


def test_the_gate_form_is_plain_fields_with_working_defaults() -> None:
    from prefect.utilities.callables import parameter_schema

    from flows.gate import release_gate

    props = parameter_schema(release_gate.fn).model_dump_for_openapi()["properties"]
    assert props["version"]["type"] == "string"
    assert props["version"]["default"] == ""
    assert "anyOf" not in props["version"]
    assert props["environment"]["default"] == "sandbox"
    assert (props["deadline_s"]["minimum"], props["deadline_s"]["maximum"]) == (5, 3600)


def test_unknown_sandbox_does_not_send_the_user_back_to_sandbox() -> None:
    message = str(unknown_environment("sandbox", "no block 'sandbox'"))
    assert "Use --env sandbox" not in message
    assert "start one themselves" in message
    assert "Use --env sandbox" in str(unknown_environment("nowhere", "no block"))
