"""--check/--skip patterns, what a selected check brings with it, and `smoke list`'s on/off."""

from __future__ import annotations

import pytest

from smoke import catalog
from smoke.config import SmokeConfig
from smoke.errors import ConfigError
from smoke.selection import checks_of, listing, select
from smoke.spec import JOURNEYS, PREFLIGHT, SuiteSpec, load_spec

PREFLIGHT_KEYS = {
    "preflight.health",
    "preflight.version",
    "preflight.stripe_test_mode",
    "preflight.e2e_token_required",
}


@pytest.fixture
def suite() -> SuiteSpec:
    return load_spec(None, None)


def keys(suite: SuiteSpec, checks: list[str], skip: list[str] = (), **kw: object) -> set[str]:
    selection = select(suite, checks, list(skip), **kw)  # type: ignore[arg-type]
    assert selection is not None
    return set(selection.keys)


def test_no_pattern_selects_nothing_away(suite: SuiteSpec) -> None:
    assert select(suite, [], []) is None


def test_a_check_brings_what_it_needs_first_and_the_preflight(suite: SuiteSpec) -> None:
    # tenant_isolation signs in: the login check comes with it; its journey frame too.
    assert keys(suite, ["auth.tenant_isolation"]) == PREFLIGHT_KEYS | {
        "auth.tenant_isolation",
        "auth.password_login",
        "auth.setup",
        "auth.teardown",
    }


def test_a_journey_run_has_no_preflight(suite: SuiteSpec) -> None:
    chosen = keys(suite, ["auth.me_identity"], journeys=["auth"], with_preflight=False)
    assert chosen == {"auth.me_identity", "auth.password_login", "auth.setup", "auth.teardown"}


def test_a_glob_and_a_bare_journey_name_match_every_check_of_the_journey(
    suite: SuiteSpec,
) -> None:
    dashboard = {c.key for c in checks_of(suite, ["dashboard"])}
    assert {"dashboard.feed", "dashboard.alerts", "dashboard.history", "dashboard.ui"} <= dashboard
    assert keys(suite, ["dashboard.*"]) == dashboard | PREFLIGHT_KEYS
    assert keys(suite, ["dashboard"]) == dashboard | PREFLIGHT_KEYS


def test_only_preflight_checks_bring_nothing_else(suite: SuiteSpec) -> None:
    assert keys(suite, ["preflight.version"]) == {"preflight.version"}


@pytest.mark.parametrize(
    ("pattern", "closest"),
    [
        ("auth.tenant_isolaton", "auth.tenant_isolation"),
        ("dashbord.feed", "dashboard.feed"),
        ("billing.declined", "billing.declined_card"),
    ],
)
def test_a_misspelt_check_is_an_error_naming_the_closest(
    suite: SuiteSpec, pattern: str, closest: str
) -> None:
    with pytest.raises(ConfigError, match=rf"--check '{pattern}' matches no check") as raised:
        select(suite, [pattern], [])
    assert f"did you mean {closest}?" in str(raised.value)


def test_a_pattern_outside_the_run_s_journeys_matches_nothing(suite: SuiteSpec) -> None:
    with pytest.raises(ConfigError, match=r"--check 'dashboard\.ui' matches no check"):
        select(suite, ["dashboard.ui"], [], ["auth"])


def test_a_negative_check_brings_its_positive_twin(suite: SuiteSpec) -> None:
    # A checkout that refused every card would pass declined_card on its own.
    chosen = keys(suite, ["billing.declined_card"])
    assert {"billing.checkout_success", "billing.test_mode_interlock"} <= chosen
    # ...and the subscription that checkout creates is cancelled again.
    assert {"billing.subscription_active", "billing.subscription_cancelled"} <= chosen
    assert "billing.cancel_returns_unchanged" not in chosen


def test_a_refusal_check_alone_brings_the_checks_whose_routes_it_replays(
    suite: SuiteSpec,
) -> None:
    chosen = keys(suite, ["dashboard.anonymous_refused"])
    assert {"dashboard.feed", "dashboard.alerts", "dashboard.history", "dashboard.ui"} <= chosen
    assert "dashboard.bad_token_refused" not in chosen
    # With a check of its own journey selected, that one is what it replays.
    chosen = keys(suite, ["dashboard.feed", "dashboard.anonymous_refused"])
    assert "dashboard.ui" not in chosen


def test_an_onboarding_step_brings_the_steps_before_it(suite: SuiteSpec) -> None:
    steps = [c.name for c in checks_of(suite, ["onboarding"]) if c.declared.per == "step"]
    third = steps[2]
    chosen = keys(suite, [f"onboarding.{third}"])
    assert {f"onboarding.{s}" for s in steps[:3]} <= chosen
    assert not {f"onboarding.{s}" for s in steps[3:]} & chosen
    assert "onboarding.cleanup_before" in chosen
    assert {f"onboarding.{s}" for s in steps} <= keys(suite, ["onboarding.preview_matches"])


def test_skip_removes_a_check_and_what_needs_it_saying_why(suite: SuiteSpec) -> None:
    selection = select(suite, [], ["auth.password_login"])
    assert selection is not None
    gone = {"auth.password_login", "auth.me_identity", "auth.tenant_isolation"}
    assert not gone & selection.keys
    assert {"auth.browser_login", "dashboard.feed", "preflight.health"} <= selection.keys
    assert selection.why_not("auth", "password_login") == "not selected (--skip)"
    assert selection.why_not("auth", "me_identity") == (
        "not selected: needs auth.password_login, which --skip removes"
    )
    assert selection.why_not("dashboard", "feed") == "not selected"


def test_skip_applies_to_a_glob_selection(suite: SuiteSpec) -> None:
    chosen = keys(suite, ["auth.*"], ["auth.passkey_login"])
    assert "auth.passkey_login" not in chosen
    assert "auth.browser_login" in chosen


def test_a_named_check_that_skip_takes_away_is_an_error(suite: SuiteSpec) -> None:
    with pytest.raises(ConfigError, match=r"needs auth\.password_login, which --skip removes"):
        select(suite, ["auth.me_identity"], ["auth.password_login"])


def test_a_misspelt_skip_is_an_error_too(suite: SuiteSpec) -> None:
    with pytest.raises(ConfigError, match=r"--skip 'auth\.pass_login'"):
        select(suite, [], ["auth.pass_login"])


def test_the_catalogue_s_needs_and_requires_name_real_things(suite: SuiteSpec) -> None:
    for declared in catalog.CATALOG:
        own = {c.name for c in catalog.CATALOG if c.journey == declared.journey}
        assert set(declared.needs) <= own, declared.key
        part = type(suite.journey(declared.journey))
        for field in declared.requires:
            # A field of the contract, or a property read from its fields (the
            # dashboard's tenant-scoped endpoints).
            derived = isinstance(getattr(part, field, None), property)
            assert field in part.model_fields or derived, f"{declared.key} requires {field}"


def test_tenant_isolation_of_the_dashboard_is_not_applicable_without_scoped_endpoints(
    suite: SuiteSpec,
) -> None:
    plain = load_spec(
        inline={"dashboard": {"endpoints": [{"name": "tasks", "path": "/v1/tasks"}], "ui": None}}
    )
    assert _row(listing(suite, None, None), "dashboard.tenant_isolation").on
    row = _row(listing(plain, None, None), "dashboard.tenant_isolation")
    assert not row.on
    assert row.off_because == "not_applicable"


def _row(rows: list, key: str):  # type: ignore[no-untyped-def]
    return next(r for r in rows if r.key == key)


def test_listing_says_what_is_on_and_why_not(suite: SuiteSpec) -> None:
    rows = listing(suite, SmokeConfig(name="staging", base_url="https://staging.example"))
    assert [r.key for r in rows] == [c.key for c in checks_of(suite)]
    assert {r.journey for r in rows} == {PREFLIGHT, *JOURNEYS}
    feed = _row(rows, "dashboard.feed")
    assert (feed.on, feed.blocking, feed.writes, feed.off_because) == (True, True, False, None)
    setup = _row(rows, "auth.setup")
    assert (setup.on, setup.off_because) == (False, "not_applicable")
    assert "no auth.setup in the contract" in setup.reason
    assert _row(rows, "auth.tenant_isolation").needs == [
        "auth.password_login",
        "auth.setup",
        "auth.teardown",
    ]


def test_listing_a_read_only_environment_turns_writing_checks_off() -> None:
    suite = load_spec(
        None,
        {
            "dashboard": {"checks": {"ui": {"blocking": False}}},
            "billing": {"checks": {"declined_card": {"enabled": False}}},
        },
    )
    production = SmokeConfig(name="prod", base_url="https://example.com", production=True)
    rows = listing(suite, production)
    checkout = _row(rows, "billing.checkout_success")
    assert (checkout.on, checkout.off_because) == (False, "configuration")
    assert "read-only" in checkout.reason
    declined = _row(rows, "billing.declined_card")
    assert "checks.declined_card.enabled is false" in declined.reason
    assert _row(rows, "dashboard.ui").blocking is False
    assert _row(rows, "dashboard.ui").on


def test_listing_with_a_selection_marks_the_rest_not_selected(suite: SuiteSpec) -> None:
    rows = listing(suite, None, select(suite, ["dashboard.feed"], []))
    assert _row(rows, "dashboard.feed").on
    ui = _row(rows, "dashboard.ui")
    assert (ui.on, ui.off_because, ui.reason) == (False, "not_selected", "not selected")
