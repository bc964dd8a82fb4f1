"""The onboarding contract's proofs: negative cases, the second identity, the cleanup's
probe and refusal, the handed-out preview URL. Validation and identity rules only."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from smoke.errors import ConfigError
from smoke.identities import check_cleanup_refusal, check_identities
from smoke.spec import SecondIdentity, default_contract, load_spec
from tests.support.samples import config

ROOT = Path(__file__).resolve().parents[2]


def steps() -> list[dict[str, Any]]:
    return copy.deepcopy(default_contract()["onboarding"]["steps"])


def with_steps(chain: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    return {"onboarding": {"steps": chain, **more}}


def test_the_sandbox_chain_refuses_other_tokens_and_the_second_identity_s_workspace() -> None:
    onboarding = load_spec().onboarding
    cases = {(s.name, c.name): c.expect_status for s in onboarding.steps for c in s.negative_cases}
    assert cases == {
        ("verify", "onboarding_token"): [401],
        ("workspace", "verification_token"): [401],
        ("profile", "verification_token"): [401],
        ("profile", "foreign_workspace"): [403, 404],
        ("complete", "verification_token"): [401],
        ("complete", "foreign_workspace"): [403, 404],
    }
    assert onboarding.second_values() == {"workspace_id"}
    # The second identity walks only as far as it must to own a workspace.
    assert [s.name for s in onboarding.second_steps()] == ["signup", "verify", "workspace"]
    assert [s.name for s in onboarding.steps if s.cleanup_probe] == ["signup"]
    assert [s.preview_url for s in onboarding.steps if s.preview_url] == ["preview_url"]


def test_a_negative_case_is_the_step_with_only_its_own_parts_replaced() -> None:
    profile = next(s for s in load_spec().onboarding.steps if s.name == "profile")
    case = next(c for c in profile.negative_cases if c.name == "foreign_workspace")
    variant = profile.negative_request(case)
    assert variant.body == {
        "onboarding_token": "{{saved.onboarding_token}}",
        "workspace_id": "{{second.workspace_id}}",
        "role": "{{role}}",
        "use_case": "{{use_case}}",
    }
    assert (variant.method, variant.path, variant.expect_status) == (
        profile.method,
        profile.path,
        [403, 404],
    )
    assert profile.body["workspace_id"] == "{{saved.workspace_id}}"  # the step is unchanged


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ({"name": "same"}, "changes nothing"),
        ({"name": "ok", "body": {"x": 1}, "expect_status": [200, 401]}, "a refusal answers 4xx"),
        ({"name": "none", "body": {"x": 1}, "expect_status": []}, "expect_status is empty"),
    ],
)
def test_a_negative_case_must_change_something_and_expect_a_refusal(
    case: dict[str, Any], message: str
) -> None:
    chain = steps()
    chain[1]["negative_cases"] = [case]
    with pytest.raises(ConfigError, match=message):
        load_spec(inline=with_steps(chain))


def test_a_negative_case_naming_an_unsaved_second_value_is_an_error() -> None:
    chain = steps()
    chain[3]["negative_cases"] = [{"name": "x", "body": {"workspace_id": "{{second.nope}}"}}]
    with pytest.raises(ConfigError, match=r"names \{\{second\.nope\}\}, but no step saves 'nope'"):
        load_spec(inline=with_steps(chain))


def test_a_negative_case_naming_the_second_identity_needs_one() -> None:
    with pytest.raises(ConfigError, match="there is no second_identity"):
        load_spec(inline={"onboarding": {"second_identity": None}})


def test_only_one_step_may_be_the_cleanup_probe() -> None:
    chain = steps()
    chain[1]["cleanup_probe"] = True
    with pytest.raises(ConfigError, match="only one step may set cleanup_probe; signup, verify"):
        load_spec(inline=with_steps(chain))


@pytest.mark.parametrize("email", ["smoke-unreserved@example.invalid", "x-{{unique}}@a.invalid"])
def test_the_cleanup_refusal_address_must_be_new_each_run(email: str) -> None:
    with pytest.raises(ConfigError, match=r"must be new each run"):
        load_spec(inline={"onboarding": {"cleanup_refusal": {"email": email}}})


def test_a_cleanup_refusal_may_not_expect_success() -> None:
    with pytest.raises(ConfigError, match="a refusal answers 4xx"):
        load_spec(inline={"onboarding": {"cleanup_refusal": {"expect_status": [200]}}})


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("smoke+onboarding@sandbox.test", "smoke+onboarding-second@sandbox.test"),
        ("smoke@sandbox.test", "smoke+second@sandbox.test"),
    ],
)
def test_the_second_identity_s_address_is_derived_inside_the_same_pattern(
    first: str, second: str
) -> None:
    assert SecondIdentity().inputs_over({"email": first, "full_name": "A"}) == {
        "email": second,
        "full_name": "A",
    }
    given = SecondIdentity(inputs={"email": "smoke+b@x.test"})
    assert given.inputs_over({"email": first})["email"] == "smoke+b@x.test"


def test_the_sandbox_contract_passes_the_identity_rules() -> None:
    check_identities(config(), load_spec())


def test_a_second_identity_outside_the_reserved_patterns_is_refused() -> None:
    inline = {"onboarding": {"second_identity": {"inputs": {"email": "ceo@globex.test"}}}}
    with pytest.raises(ConfigError, match=r"second_identity\.inputs\.email is 'ceo@globex\.test'"):
        check_identities(config(), load_spec(inline=inline))


def test_a_second_identity_that_is_the_first_one_is_refused() -> None:
    inline = {
        "onboarding": {"second_identity": {"inputs": {"email": "smoke+onboarding@sandbox.test"}}}
    }
    with pytest.raises(ConfigError, match="needs an address of its own"):
        check_identities(config(), load_spec(inline=inline))


def test_a_second_identity_nobody_uses_is_not_checked() -> None:
    # Tasklog's contract inherits the sandbox's second_identity, but no step of its own
    # chain offers it: it never signs up, so its sandbox address is no error there.
    spec = load_spec(str(ROOT / "docs" / "examples" / "tasklog.yaml"))
    assert spec.onboarding.second_identity is not None
    assert spec.onboarding.second_steps() == []
    check_identities(
        config(
            test_email="smoke+ci@tasklog.example.com",
            reserved_identities=["smoke+*@tasklog.example.com"],
        ),
        spec,
    )


def test_a_reserved_cleanup_refusal_address_is_refused_before_the_run() -> None:
    inline = {"onboarding": {"cleanup_refusal": {"email": "smoke+{{run_id}}@sandbox.test"}}}
    with pytest.raises(ConfigError, match="a refusal of it would prove nothing"):
        check_identities(config(), load_spec(inline=inline))


def test_the_cleanup_refusal_offers_only_this_run_s_made_up_address() -> None:
    cleanup = load_spec().onboarding.cleanup
    assert cleanup is not None
    variables = {"run_id": "ab12cd34", "email": "smoke-unreserved-ab12cd34@example.invalid"}
    check_cleanup_refusal(cleanup, variables, variables["email"], config())
    for address in ("smoke+x@sandbox.test", "smoke-unreserved@example.invalid", "ops@globex.test"):
        with pytest.raises(ConfigError):
            check_cleanup_refusal(cleanup, variables | {"email": address}, address, config())


def _pages(handed: str | None) -> list[tuple[str, str]]:
    preview = load_spec().onboarding.preview
    assert preview is not None
    variables = {"saved": {"preview_id": "prev_1"}}
    return preview.pages(variables, handed, "https://staging.example.com")


def test_the_handed_out_preview_url_is_opened_once_when_it_is_the_configured_page() -> None:
    same = "https://staging.example.com/onboarding/preview/prev_1"
    assert _pages(same) == [("the preview page (the handed-out URL)", "/onboarding/preview/prev_1")]
    assert _pages(None) == [("the preview page", "/onboarding/preview/prev_1")]


def test_a_handed_out_preview_url_elsewhere_is_opened_too() -> None:
    other = "https://staging.example.com/onboarding/previews/prev_1"
    assert _pages(other) == [
        ("the preview page", "/onboarding/preview/prev_1"),
        ("the handed-out preview URL", other),
    ]


def test_smoke_list_says_which_onboarding_proofs_apply_to_which_contract() -> None:
    from smoke.selection import listing

    def off(contract: str | None) -> dict[str, str | None]:
        rows = listing(load_spec(contract), config())
        return {r.check: r.off_because for r in rows if r.journey == "onboarding"}

    proofs = ("negative_cases_refused", "cleanup_frees_identity", "cleanup_refuses_unreserved")
    sandbox = off(None)
    assert [sandbox[p] for p in proofs] == [None, None, None]
    # Tasklog: one signup step with no negative cases, marked as the cleanup probe.
    tasklog = off(str(ROOT / "docs" / "examples" / "tasklog.yaml"))
    assert [tasklog[p] for p in proofs] == ["not_applicable", None, None]
    # Kinto: no cleanup at all.
    kinto = off(str(ROOT / "docs" / "examples" / "kinto.yaml"))
    assert [kinto[p] for p in proofs] == ["not_applicable"] * 3
