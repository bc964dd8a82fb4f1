"""Plans and prices as the billing checks judge them: plain Python, tested without a browser.

A plans API states a price the way Stripe does, an integer in the currency's smallest
unit. ``price_problems`` says what a checkout page gets wrong about it:
``"Team: 99.00 USD per month"`` shows Team at 9900 usd, ``"$99"`` does too, and
``"9900.00 USD"`` (cents shown as dollars) does not. ``plan_problems`` says where a
bought plan is not the one provisioned.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# Currencies Stripe states in whole units (its "zero-decimal currencies").
ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga"}
    | {"pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "inr": "₹"}


@dataclass(frozen=True)
class Offer:
    """One plan as the plans request states it."""

    id: str
    name: str | None
    amount: int
    currency: str

    def price(self) -> str:
        """The price as a person reads it: ``99.00 USD``."""
        value = major_units(self.amount, self.currency)
        text = str(value) if self.currency.lower() in ZERO_DECIMAL else f"{value:.2f}"
        return f"{text} {self.currency.upper()}"


def as_offer(plan_id: Any, name: Any, amount: Any, currency: Any) -> Offer:
    """A listed plan as an Offer; ValueError saying why its amount or currency is no price."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValueError(
            f"amount {json.dumps(amount)} is not a whole number of the currency's smallest unit"
        )
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise ValueError(f"currency {json.dumps(currency)} is not a three-letter currency code")
    return Offer(str(plan_id), None if name is None else str(name), amount, currency)


def major_units(amount: int, currency: str) -> Decimal:
    """``amount`` (the smallest unit, as Stripe states it) in the currency's main unit."""
    if currency.lower() in ZERO_DECIMAL:
        return Decimal(amount)
    return Decimal(amount) / 100


def renderings(amount: int, currency: str) -> list[str]:
    """The ways a page may write the amount: ``99.00``, ``99,00``, ``99``, ``1,299.00`` ..."""
    value = major_units(amount, currency)
    whole = int(value)
    cents = int((value - whole) * 100)
    grouped = f"{whole:,}"
    wholes = sorted({str(whole), grouped, grouped.replace(",", "."), grouped.replace(",", " ")})
    if currency.lower() in ZERO_DECIMAL:
        return wholes
    shown = [f"{w}{sep}{cents:02d}" for w in wholes for sep in ".,"]
    return shown + (wholes if cents == 0 else [])


def price_shown(text: str, amount: int, currency: str) -> bool:
    """Whether ``text`` states ``amount`` as a number of its own, not inside a longer one."""
    for rendering in renderings(amount, currency):
        if re.search(rf"(?<![\d.,]){re.escape(rendering)}(?!\d|[.,]\d)", text):
            return True
    return False


def currency_shown(text: str, currency: str) -> bool:
    """Whether ``text`` names the currency, by its code or its symbol."""
    if re.search(rf"(?<![A-Za-z]){re.escape(currency)}(?![A-Za-z])", text, re.IGNORECASE):
        return True
    symbol = SYMBOLS.get(currency.lower())
    return symbol is not None and symbol in text


def price_problems(text: str, offer: Offer) -> list[str]:
    """What ``text`` (a checkout page's price element) gets wrong about ``offer``."""
    problems = []
    if offer.name and offer.name.casefold() not in text.casefold():
        problems.append(f"it does not name the plan {offer.name!r}")
    if not price_shown(text, offer.amount, offer.currency):
        problems.append(f"it does not show the price {offer.price()}")
    elif not currency_shown(text, offer.currency):
        problems.append(f"it does not name the currency {offer.currency.upper()}")
    return problems


def plan_named(shown: str, plan: str, offers: list[Offer]) -> bool:
    """Whether ``shown`` names ``plan``: its id, or its name among ``offers`` (case aside)."""
    wanted = {plan.strip().casefold()}
    wanted |= {o.name.strip().casefold() for o in offers if o.id == plan and o.name}
    return shown.strip().casefold() in wanted


def plan_problems(wanted: str, seen: dict[str, Any]) -> list[str]:
    """Where the plan ``wanted`` is not the one provisioned: ``seen`` maps a place to its plan.

    A place that lists plans (a Stripe subscription's items) must hold exactly ``wanted``.
    """
    problems = []
    for place, plan in seen.items():
        if isinstance(plan, list):
            if plan != [wanted]:
                problems.append(f"{place} has {', '.join(map(repr, plan)) or 'no plan'}")
        elif plan != wanted:
            problems.append(f"{place} says {plan!r}")
    return problems
