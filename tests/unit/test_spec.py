from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from smoke.errors import ConfigError
from smoke.spec import (
    JOURNEYS,
    CheckOptions,
    SuiteSpec,
    deep_merge,
    default_contract,
    field_value,
    load_spec,
    render,
)

SCHEMA_FIX = 'Fix it in the journey configuration, e.g. {"type": "object", "required": ["id"]}.'


def test_the_default_contract_loads() -> None:
    spec = load_spec()
    assert isinstance(spec, SuiteSpec)
    assert spec.preflight.health.path == "/health"
    assert spec.auth.login.request.method == "POST"
    assert spec.auth.login.request.body_format == "form"
    assert spec.auth.protected_routes == [
        "/api/me",
        "/api/dashboard/feed",
        "/api/billing/subscription",
    ]
    assert [step.name for step in spec.onboarding.steps] == [
        "signup",
        "verify",
        "workspace",
        "profile",
        "complete",
    ]
    assert spec.onboarding.steps[0].expect_status == [201]
    assert spec.billing.webhook_path == "/webhooks/stripe"
    assert [e.name for e in spec.dashboard.endpoints] == ["feed", "alerts", "history"]
    assert spec.dashboard.budget_ms == 1000
    assert all(spec.journey(name).enabled for name in JOURNEYS)


def test_unset_check_options_are_defaults() -> None:
    assert load_spec().auth.options("me_identity") == CheckOptions(
        enabled=True, blocking=True, budget_ms=None
    )


def test_check_inherits_the_journey_budget_unless_it_sets_its_own() -> None:
    spec = load_spec(inline={"dashboard": {"checks": {"alerts": {"budget_ms": 250}}}})
    assert spec.dashboard.options("feed").budget_ms == 1000
    assert spec.dashboard.options("alerts").budget_ms == 250


def test_default_contract_is_not_mutated_by_overrides() -> None:
    load_spec(inline={"dashboard": {"budget_ms": 5}})
    assert default_contract()["dashboard"]["budget_ms"] == 1000
    assert load_spec().dashboard.budget_ms == 1000


def test_deep_merge_merges_mappings_and_replaces_the_rest() -> None:
    base: dict[str, Any] = {
        "a": {"x": 1, "y": {"deep": 1, "keep": 2}},
        "list": [1, 2, 3],
        "scalar": "old",
        "mapping_to_scalar": {"x": 1},
        "scalar_to_mapping": 1,
    }
    override: dict[str, Any] = {
        "a": {"y": {"deep": 9}, "z": 3},
        "list": [4],
        "scalar": "new",
        "mapping_to_scalar": None,
        "scalar_to_mapping": {"x": 2},
        "added": True,
    }
    merged = deep_merge(base, override)
    assert merged == {
        "a": {"x": 1, "y": {"deep": 9, "keep": 2}, "z": 3},
        "list": [4],
        "scalar": "new",
        "mapping_to_scalar": None,
        "scalar_to_mapping": {"x": 2},
        "added": True,
    }
    assert base["a"] == {"x": 1, "y": {"deep": 1, "keep": 2}}
    merged["list"].append(5)
    assert override["list"] == [4]


def _contract_override() -> dict[str, Any]:
    return {
        "dashboard": {
            "budget_ms": 250,
            "checks": {"ui": {"blocking": False}},
            "endpoints": [{"name": "feed", "path": "/v2/feed"}],
        },
        "billing": {"enabled": False},
    }


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_a_contract_file_overrides_the_default(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"contract{suffix}"
    data = _contract_override()
    path.write_text(json.dumps(data) if suffix == ".json" else yaml.safe_dump(data))
    spec = load_spec(contract_file=str(path))
    assert spec.dashboard.budget_ms == 250
    assert spec.dashboard.options("ui").blocking is False
    assert [(e.name, e.path) for e in spec.dashboard.endpoints] == [("feed", "/v2/feed")]
    assert spec.billing.enabled is False
    # Untouched parts keep the default.
    assert spec.billing.webhook_path == "/webhooks/stripe"
    assert spec.dashboard.ui is not None
    assert spec.dashboard.ui.path == "/app"


def test_inline_overrides_win_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump(_contract_override()))
    spec = load_spec(contract_file=str(path), inline={"dashboard": {"budget_ms": 400}})
    assert spec.dashboard.budget_ms == 400
    assert spec.billing.enabled is False


def test_a_missing_contract_file_is_a_config_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError) as info:
        load_spec(contract_file=missing)
    assert str(info.value) == (
        f"Contract file {missing!r} does not exist. Fix contract_file (or SMOKE_CONTRACT_FILE)."
    )


@pytest.mark.parametrize(("name", "text"), [("bad.json", "{not json"), ("bad.yaml", "a: [1, 2")])
def test_an_unparseable_contract_file_is_a_config_error(
    tmp_path: Path, name: str, text: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"^Contract file '.*{name}' cannot be parsed: "):
        load_spec(contract_file=str(path))


def test_a_contract_file_must_hold_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- auth\n- billing\n")
    with pytest.raises(ConfigError) as info:
        load_spec(contract_file=str(path))
    assert str(info.value) == (
        f"Contract file {str(path)!r} must hold a mapping of journey names to settings."
    )


def test_an_unknown_journey_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        load_spec(inline={"dashbord": {"budget_ms": 5}, "zeta": {}})
    assert str(info.value) == (
        "The inline journeys setting (SMOKE_JOURNEYS or the block): unknown journey 'dashbord' "
        "(did you mean 'dashboard'?), unknown journey 'zeta'. "
        "Known journeys: preflight, auth, onboarding, billing, dashboard."
    )


def test_an_unknown_key_is_a_config_error_naming_the_place() -> None:
    with pytest.raises(ConfigError) as info:
        load_spec(inline={"dashboard": {"budget": 5}})
    assert str(info.value) == (
        "The inline journeys setting (SMOKE_JOURNEYS or the block): unknown key "
        "'dashboard.budget' (did you mean 'budget_ms'?). "
        "Valid keys there: budget_ms, checks, enabled, endpoints, setup, teardown, ui."
    )
    assert info.value.__cause__ is not None


def test_a_bad_value_is_a_config_error_naming_the_place() -> None:
    with pytest.raises(ConfigError) as info:
        load_spec(inline={"auth": {"login": {"request": {"method": "FETCH"}}}})
    assert str(info.value) == (
        "The inline journeys setting (SMOKE_JOURNEYS or the block): 'auth.login.request.method' "
        "is \"FETCH\": Input should be 'GET', 'POST', 'PUT', 'PATCH' or 'DELETE'."
    )


@pytest.mark.parametrize(
    ("inline", "where"),
    [
        (
            {"dashboard": {"endpoints": [{"name": "feed", "path": "/f", "schema": {"type": "x"}}]}},
            "dashboard.feed",
        ),
        ({"auth": {"me": {"schema": {"type": "x"}}}}, "auth.me"),
        ({"auth": {"login": {"request": {"schema": {"type": "x"}}}}}, "auth.login.request"),
        (
            {"onboarding": {"preview": {"request": {"schema": {"type": "x"}}}}},
            "onboarding.preview.request",
        ),
        (
            {"onboarding": {"welcome_email": {"request": {"schema": {"type": "x"}}}}},
            "onboarding.welcome_email.request",
        ),
    ],
)
def test_a_bad_schema_is_a_config_error_naming_the_place(
    inline: dict[str, Any], where: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_spec(inline=inline)
    assert str(info.value) == (
        f"The contract for {where} is not a valid JSON Schema: 'x' is not valid under any "
        f"of the given schemas. {SCHEMA_FIX}"
    )


def test_render_keeps_the_type_of_a_whole_placeholder() -> None:
    variables = {"team_size": 5, "flag": True, "tags": ["a"], "email": "e@x.test"}
    template = {
        "team_size": "{{team_size}}",
        "padded": "  {{ team_size }} ",
        "flag": "{{flag}}",
        "tags": "{{tags}}",
        "text": "size {{team_size}} for {{email}}",
        "nested": [{"to": "{{email}}"}, 7, None],
    }
    assert render(template, variables) == {
        "team_size": 5,
        "padded": 5,
        "flag": True,
        "tags": ["a"],
        "text": "size 5 for e@x.test",
        "nested": [{"to": "e@x.test"}, 7, None],
    }


def test_render_leaves_non_placeholder_text_alone() -> None:
    assert render("/api/{x}/{{ not a name }}", {}) == "/api/{x}/{{ not a name }}"
    assert render(3, {}) == 3


def test_an_unknown_placeholder_is_a_config_error_listing_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        render({"path": "/api/{{nope}}"}, {"b": 1, "a": 2})
    assert str(info.value) == (
        "Unknown placeholder {{nope}} in the journey configuration. Known: a, b."
    )
    with pytest.raises(ConfigError, match=r"Known: none\.$"):
        render("{{nope}}", {})


def test_field_value() -> None:
    body = {"data": {"items": [{"id": "a"}, {"id": "b"}]}, "status": "active"}
    assert field_value(body, "status") == "active"
    assert field_value(body, "data.items.1.id") == "b"
    with pytest.raises(KeyError):
        field_value(body, "data.missing")
    with pytest.raises(KeyError):
        field_value(body, "status.deeper")
    with pytest.raises(IndexError):
        field_value(body, "data.items.5")


def test_bodies_params_schemas_and_inputs_replace_as_a_whole() -> None:
    spec = load_spec(
        inline={
            "auth": {"login": {"request": {"body": {"username": "{{email}}"}}}},
            "onboarding": {"inputs": {"email": "smoke+x@example.test"}},
        }
    )
    # The sandbox's client_id and grant_type are gone, not merged in.
    assert spec.auth.login.request.body == {"username": "{{email}}"}
    assert spec.onboarding.inputs == {"email": "smoke+x@example.test"}
    # Other keys of the same request still merge with the default.
    assert spec.auth.login.request.path == "/idp/token"


def test_a_misspelt_key_in_a_contract_file_names_the_file_and_the_closest_key(
    tmp_path: Path,
) -> None:
    contract = tmp_path / "contract.yaml"
    contract.write_text("auth:\n  me:\n    pathh: /api/me\n")
    with pytest.raises(ConfigError) as info:
        load_spec(str(contract))
    assert str(info.value) == (
        f"Contract file {contract}: unknown key 'auth.me.pathh' (did you mean 'path'?). "
        "Valid keys there: auth, body, body_format, e2e, expect_status, headers, method, "
        "params, path, public, save, schema."
    )


def test_a_misspelt_check_name_is_an_error_suggesting_the_check(tmp_path: Path) -> None:
    contract = tmp_path / "contract.yaml"
    contract.write_text("auth:\n  checks:\n    anonymous_refsed: {enabled: false}\n")
    with pytest.raises(ConfigError) as info:
        load_spec(str(contract))
    message = str(info.value)
    assert message.startswith(
        f"Contract file {contract}: unknown check auth.checks.anonymous_refsed "
        "(did you mean 'anonymous_refused'?). Checks of auth: password_login, "
    )


def test_checks_named_after_the_contract_are_valid_check_keys() -> None:
    spec = load_spec(
        inline={
            "onboarding": {"checks": {"step.verify": {"blocking": False}}},
            "dashboard": {"checks": {"alerts": {"budget_ms": 50}}},
        }
    )
    assert spec.onboarding.options("step.verify").blocking is False
    assert spec.dashboard.options("alerts").budget_ms == 50
    with pytest.raises(ConfigError, match=r"unknown check onboarding.checks.step.verfy"):
        load_spec(inline={"onboarding": {"checks": {"step.verfy": {"enabled": False}}}})


def test_the_default_contract_names_the_sandboxs_pages_sign_out_and_tenant_name() -> None:
    auth = load_spec().auth
    assert [(p.path, p.session_cookie, p.login_redirect) for p in auth.protected_pages] == [
        ("/app", "session", "/login*")
    ]
    assert auth.sign_out is not None
    assert (auth.sign_out.method, auth.sign_out.path) == ("POST", "/logout")
    assert auth.tenant_name is not None
    assert (auth.tenant_name.field, auth.tenant_name.own_tenant_field) == ("tenant_name", "name")
    assert auth.tenant_name.expected is None
    assert auth.login.wrong_password_status == [400, 401]


def test_a_tenant_name_with_nothing_to_compare_with_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as e:
        load_spec(inline={"auth": {"own_tenant": None}})
    assert str(e.value) == (
        "The inline journeys setting (SMOKE_JOURNEYS or the block): auth.tenant_name has no "
        "name to compare with: set "
        "auth.tenant_name.expected (e.g. 'Acme Test'), or auth.own_tenant to read it from, "
        "or auth.tenant_name: null."
    )
    named = load_spec(inline={"auth": {"own_tenant": None, "tenant_name": {"expected": "Acme"}}})
    assert named.auth.tenant_name is not None
    assert named.auth.tenant_name.expected == "Acme"
    assert (
        load_spec(inline={"auth": {"own_tenant": None, "tenant_name": None}}).auth.own_tenant
        is None
    )


def test_a_protected_page_needs_a_path_and_takes_no_unknown_key() -> None:
    with pytest.raises(ConfigError, match=r"'auth\.protected_pages\.0\.path' is required"):
        load_spec(inline={"auth": {"protected_pages": [{"session_cookie": "sid"}]}})
    with pytest.raises(ConfigError, match="did you mean 'login_redirect'"):
        load_spec(inline={"auth": {"protected_pages": [{"path": "/app", "login_redirct": "/x"}]}})
    page = load_spec(inline={"auth": {"protected_pages": [{"path": "/home"}]}}).auth.protected_pages
    assert [(p.path, p.session_cookie, p.login_redirect) for p in page] == [
        ("/home", "session", None)
    ]


def test_the_sandbox_contract_buys_a_plan_other_than_the_default_and_names_where_it_shows() -> None:
    billing = load_spec().billing
    assert billing.plan_id == "team-monthly"
    assert billing.checkout.body == {"plan_id": "{{plan_id}}"}
    assert render(billing.stripe_plan_id, {"plan_id": billing.plan_id}) == "team-monthly"
    assert billing.plans is not None
    assert billing.plans.request.auth == "none"
    assert billing.tenant_plan is not None
    assert billing.tenant_plan.request.path == "/api/tenants/{{own_tenant}}"
    assert billing.card_form.price == '[data-testid="checkout-plan"]'


def test_a_checkout_that_does_not_send_the_plan_to_buy_is_refused() -> None:
    inline = {"billing": {"checkout": {"body": {"plan_id": "pro-monthly"}}}}
    with pytest.raises(ConfigError) as e:
        load_spec(inline=inline)
    assert "billing.plan_id is 'team-monthly' but billing.checkout never sends it" in str(e.value)
    assert "set billing.plan_id: null" in str(e.value)
    # Said so, the bought plan is left unchecked; billing switched off, nothing is judged.
    assert (
        load_spec(
            inline=deep_merge(inline, {"billing": {"plan_id": None, "stripe_plan_id": None}})
        ).billing.plan_id
        is None
    )
    assert not load_spec(inline=deep_merge(inline, {"billing": {"enabled": False}})).billing.enabled


def test_a_plan_placeholder_without_a_plan_to_buy_is_refused() -> None:
    with pytest.raises(ConfigError) as e:
        load_spec(inline={"billing": {"plan_id": None}})
    assert "uses {{plan_id}} but billing.plan_id is not set" in str(e.value)
