"""How the billing checks judge a page's price and where a bought plan is provisioned."""

from __future__ import annotations

import pytest

from smoke.plans import (
    Offer,
    as_offer,
    plan_named,
    plan_problems,
    price_problems,
    price_shown,
    renderings,
)

TEAM = Offer("team-monthly", "Team", 9900, "usd")


@pytest.mark.parametrize(
    "text",
    [
        "Team: 99.00 USD per month",
        "Team — $99 / month",
        "Team 99,00 usd",
        "Team (usd 99.00)",
    ],
)
def test_a_page_that_states_the_plan_and_its_price_passes(text: str) -> None:
    assert price_problems(text, TEAM) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        # Cents shown as dollars: the number 99 is there only inside a longer one.
        ("Team: 9900.00 USD per month", "it does not show the price 99.00 USD"),
        ("Team: 199.00 USD per month", "it does not show the price 99.00 USD"),
        ("Team: 99.001 USD per month", "it does not show the price 99.00 USD"),
        ("Team: 99.00 per month", "it does not name the currency USD"),
        # The default plan shown where Team was bought.
        ("Pro: 29.00 USD per month", "it does not name the plan 'Team'"),
    ],
)
def test_a_page_that_gets_the_price_wrong_says_what(text: str, problem: str) -> None:
    assert problem in price_problems(text, TEAM)


def test_large_and_zero_decimal_amounts_read_as_a_person_writes_them() -> None:
    assert price_shown("1,299.00 USD", 129900, "usd")
    assert price_shown("1.299,00 EUR", 129900, "eur")
    assert price_shown("¥1200", 1200, "jpy")
    assert not price_shown("¥12.00", 1200, "jpy")
    assert "12.50" in renderings(1250, "usd")
    assert "12" not in renderings(1250, "usd")
    assert Offer("x", None, 1200, "jpy").price() == "1200 JPY"


@pytest.mark.parametrize(
    ("amount", "currency", "why"),
    [
        ("9900", "usd", 'amount "9900" is not a whole number'),
        (99.0, "usd", "amount 99.0 is not a whole number"),
        (True, "usd", "amount true is not a whole number"),
        (-1, "usd", "amount -1 is not a whole number"),
        (9900, "dollars", 'currency "dollars" is not a three-letter currency code'),
        (9900, None, "currency null is not a three-letter currency code"),
    ],
)
def test_a_listed_plan_without_a_real_price_is_refused(
    amount: object, currency: object, why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        as_offer("team-monthly", "Team", amount, currency)


def test_a_plan_is_named_by_its_id_or_its_listed_name() -> None:
    assert plan_named(" free ", "free", [TEAM])
    assert plan_named("team", "team-monthly", [TEAM])
    assert plan_named("Team-Monthly", "team-monthly", [])
    assert not plan_named("team-monthly", "free", [TEAM])


def test_plan_problems_name_every_place_that_has_another_plan() -> None:
    seen = {
        "the app's subscription": "team-monthly",
        "the tenant": "free",
        "Stripe": ["pro-monthly"],
    }
    assert plan_problems("team-monthly", seen) == [
        "the tenant says 'free'",
        "Stripe has 'pro-monthly'",
    ]
    assert plan_problems("team-monthly", {"Stripe": []}) == ["Stripe has no plan"]
    assert (
        plan_problems("team-monthly", {"the tenant": "team-monthly", "Stripe": ["team-monthly"]})
        == []
    )
