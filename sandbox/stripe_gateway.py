"""The app's Stripe calls (blocking, through the official library) against localstripe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stripe


@dataclass(frozen=True)
class Plan:
    """A billing plan: localstripe has Plans (no Prices), so the id is the plan id."""

    id: str
    name: str
    amount: int
    currency: str
    interval: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "amount": self.amount,
            "currency": self.currency,
            "interval": self.interval,
        }


PLANS: tuple[Plan, ...] = (
    Plan("pro-monthly", "Pro", 2900, "usd", "month"),
    Plan("team-monthly", "Team", 9900, "usd", "month"),
)
PLANS_BY_ID = {plan.id: plan for plan in PLANS}


class StripeGateway:
    """Thin wrapper over ``stripe.StripeClient`` pointed at the local Stripe API.

    Every method blocks on HTTP: call them from sync routes (FastAPI's threadpool) or
    through ``run_in_threadpool``, never directly on the event loop.
    """

    def __init__(self, api_base: str, secret_key: str) -> None:
        self.api_base = api_base
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base},
            max_network_retries=0,
        )

    def create_plans(self) -> None:
        for plan in PLANS:
            self._client.v1.plans.create(
                params={
                    "id": plan.id,
                    "amount": plan.amount,
                    "currency": plan.currency,
                    "interval": plan.interval,
                    "product": {"name": plan.name},
                }
            )

    def create_customer(self, email: str, user_id: str) -> str:
        customer = self._client.v1.customers.create(
            params={"email": email, "metadata": {"user_id": user_id}}
        )
        return str(customer.id)

    def create_setup_intent(self, customer_id: str) -> tuple[str, str]:
        """(id, client_secret) of a new SetupIntent for a card."""
        # localstripe's SetupIntents default to cards, and this stripe-python version no
        # longer types payment_method_types.
        intent = self._client.v1.setup_intents.create(params={"customer": customer_id})
        return str(intent.id), str(intent.client_secret)

    def setup_intent_state(self, setup_intent_id: str) -> tuple[str, str | None]:
        """(status, payment_method id) as Stripe sees them now."""
        intent = self._client.v1.setup_intents.retrieve(setup_intent_id)
        payment_method = intent.payment_method
        pm_id = payment_method if isinstance(payment_method, str | None) else payment_method.id
        return str(intent.status), pm_id

    def subscribe(
        self, customer_id: str, payment_method_id: str, plan_id: str, metadata: dict[str, str]
    ) -> str:
        """Attach the card, make it the default, start the subscription; return its id."""
        self._client.v1.payment_methods.attach(payment_method_id, params={"customer": customer_id})
        self._client.v1.customers.update(
            customer_id, params={"invoice_settings": {"default_payment_method": payment_method_id}}
        )
        subscription = self._client.v1.subscriptions.create(
            params={"customer": customer_id, "items": [{"plan": plan_id}], "metadata": metadata}
        )
        return str(subscription.id)

    def cancel_subscription(self, subscription_id: str) -> str:
        subscription = self._client.v1.subscriptions.cancel(subscription_id)
        return str(subscription.status)
