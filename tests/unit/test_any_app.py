"""Contract features for apps that are not the sandbox: identities, saved values, run
placeholders, teardown safety, schema-only health, credentials and their tampering."""

from __future__ import annotations

import base64
import json
from functools import cache
from pathlib import Path

import jsonschema
import pytest
import yaml

from smoke.errors import ConfigError
from smoke.spec import contract_json_schema, load_spec, render, request_placeholders
from tasks.signin import set_cookies
from tasks.wire import Credentials, altered, basic_header

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "docs" / "contract.schema.json"


def test_the_published_contract_schema_matches_the_models() -> None:
    published = json.loads(SCHEMA_FILE.read_text())
    assert published == contract_json_schema(), "run `make contract-schema`"


@pytest.mark.parametrize("contract", ["smoke/default_contract.yaml", "docs/examples/kinto.yaml"])
def test_contract_files_validate_against_the_published_schema(contract: str) -> None:
    # The default is a whole contract; an example merged on it is one too.
    from smoke.spec import deep_merge, default_contract

    data = default_contract()
    if "examples" in contract:
        data = deep_merge(data, yaml.safe_load((ROOT / contract).read_text()))
    published_schema().validate(data)


@cache
def published_schema() -> jsonschema.protocols.Validator:
    """A validator of docs/contract.schema.json, the schema itself checked once (most of the cost)."""
    schema = json.loads(SCHEMA_FILE.read_text())
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    return validator(schema)


def test_saved_values_run_id_and_unique() -> None:
    counter = iter(range(100))
    variables = {
        "saved": {"token": "t-1", "user": {"id": 7}},
        "run_id": "ab12cd34",
        "unique": lambda: f"u{next(counter)}",
    }
    assert render("Bearer {{saved.token}}", variables) == "Bearer t-1"
    assert render("{{saved.user.id}}", variables) == 7
    assert render("smoke+{{run_id}}@example.com", variables) == "smoke+ab12cd34@example.com"
    assert render(["{{unique}}", "{{unique}}"], variables) == ["u0", "u1"]
    with pytest.raises(ConfigError, match=r"\{\{saved.missing\}\}.*Known: .*saved.token"):
        render("{{saved.missing}}", variables)


def test_a_request_carries_headers_and_an_identity() -> None:
    spec = load_spec(
        inline={
            "dashboard": {
                "endpoints": [
                    {
                        "name": "items",
                        "path": "/items/{{saved.list}}",
                        "headers": {"X-Trace": "smoke-{{run_id}}"},
                        "auth": "other",
                    }
                ]
            }
        }
    )
    [endpoint] = spec.dashboard.endpoints
    assert endpoint.auth == "other"
    assert request_placeholders(endpoint) == {"saved.list", "run_id"}


def test_an_unknown_identity_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="auth"):
        load_spec(inline={"auth": {"me": {"path": "/me", "auth": "root"}}})


def test_teardown_may_only_touch_what_the_run_created() -> None:
    ok = {"name": "rm", "method": "DELETE", "path": "/things/{{saved.id}}", "auth": "admin"}
    as_test = {"name": "rm", "method": "DELETE", "path": "/mine", "auth": "test"}
    load_spec(inline={"dashboard": {"teardown": [ok, as_test]}})
    reckless = {"name": "wipe", "method": "DELETE", "path": "/things", "auth": "admin"}
    with pytest.raises(ConfigError, match=r"dashboard.teardown.wipe could touch data"):
        load_spec(inline={"dashboard": {"teardown": [reckless]}})


def test_a_health_check_needs_a_field_or_a_schema() -> None:
    spec = load_spec(
        inline={
            "preflight": {"status_field": None, "health": {"path": "/h", "schema": {"const": True}}}
        }
    )
    assert spec.preflight.health.schema_ == {"const": True}
    with pytest.raises(ConfigError, match="checks nothing"):
        load_spec(
            inline={"preflight": {"status_field": None, "health": {"path": "/h", "schema": None}}}
        )


def test_tampered_credentials_differ_in_their_secret_only() -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    bearer = Credentials("test", "bearer", {"Authorization": f"Bearer {jwt}"}, token=jwt)
    forged = bearer.tampered()
    head, claims, signature = forged.headers["Authorization"].split(" ")[1].split(".")
    assert (head, claims) == tuple(jwt.split(".")[:2])
    assert signature != jwt.split(".")[2]

    basic = Credentials("other", "basic", {"Authorization": basic_header("ann", "s3cret-pass")})
    user, _, password = (
        base64.b64decode(basic.tampered().headers["Authorization"].split(" ")[1])
        .decode()
        .partition(":")
    )
    assert user == "ann"
    assert password != "s3cret-pass"

    key = Credentials("test", "api_key", {"X-API-Key": "k" * 32})
    assert key.tampered().headers["X-API-Key"] != "k" * 32
    assert len(key.tampered().headers["X-API-Key"]) == 32

    cookie = Credentials(
        "test",
        "cookie",
        {"Cookie": "sid=abcdef0123456789xyz"},
        cookies={"sid": "abcdef0123456789xyz"},
    )
    assert cookie.tampered().headers["Cookie"].startswith("sid=")
    assert cookie.tampered().cookies["sid"] != "abcdef0123456789xyz"
    assert altered("short") != "short"


def test_set_cookies_reads_names_and_values_and_drops_expired() -> None:
    assert set_cookies(
        [
            "csrftoken=abc; Path=/; SameSite=Lax",
            "sessionid=s1; HttpOnly; Path=/",
            "old=; Max-Age=0",
        ]
    ) == {"csrftoken": "abc", "sessionid": "s1"}
