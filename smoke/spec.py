"""What each journey checks and how: paths, payloads, contracts, budgets, blocking flags.

The sandbox's contract (``default_contract.yaml``) is the default. An environment
overrides any part of it with a YAML/JSON file (``contract_file``) or inline
(``journeys``); mappings merge key by key, lists and scalars replace.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from smoke import catalog
from smoke.contracts import check_schema
from smoke.errors import ConfigError

DEFAULT_CONTRACT = Path(__file__).with_name("default_contract.yaml")
JOURNEYS = ("auth", "onboarding", "billing", "dashboard")
PREFLIGHT = "preflight"

Schema = dict[str, Any]
# Who sends a request: the reserved test identity, the second tenant's identity, the
# configured admin (cleanup in apps without an e2e API), or nobody (anonymous).
Identity = Literal["test", "other", "admin", "none"]
IDENTITIES: tuple[Identity, ...] = ("test", "other", "admin", "none")


class Strict(BaseModel):
    """Unknown keys are errors: a typo in a contract must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class CheckOptions(Strict):
    """Per-check switches an environment can override."""

    enabled: bool = True
    blocking: bool = True
    budget_ms: int | None = None


class Request(Strict):
    """One HTTP call: method, path (with ``{{var}}`` placeholders), body, expectations."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str
    params: dict[str, Any] = Field(
        default_factory=dict, description="Query parameters, URL-encoded for you."
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra request headers; placeholders are filled ({{saved.token}}).",
    )
    body: Any = None
    body_format: Literal["json", "form"] = "json"
    auth: Identity | None = Field(
        None,
        description=(
            "Who sends it: test, other, admin or none. Unset: the default of the place "
            "it is used (the test identity for journey checks, nobody for steps)."
        ),
    )
    expect_status: list[int] = Field(default_factory=lambda: [200])
    schema_: Schema | None = Field(
        None,
        alias="schema",
        description="JSON Schema of the whole response body (scalars too: {const: true}).",
    )
    save: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Values to keep for later requests as {{saved.<name>}}: a dotted field of the "
            "response body, or '$' for the whole body."
        ),
    )
    e2e: bool = Field(
        False,
        description="Send the target's e2e token (only ever to the configured API base).",
    )
    public: bool = Field(
        False,
        description=(
            "Answers anonymous callers by design: never replayed anonymously or with a "
            "tampered credential by the refusal checks."
        ),
    )


class Step(Request):
    """A named request of a sequence (setup, onboarding chain, teardown)."""

    name: str


class JourneyBase(Strict):
    """Switches every journey has."""

    enabled: bool = True
    # Latency budget for this journey's timed checks, unless a check sets its own.
    budget_ms: int | None = None
    checks: dict[str, CheckOptions] = Field(default_factory=dict)
    setup: list[Step] = Field(
        default_factory=list,
        description="Requests run before the journey's checks; a failure skips them.",
    )
    teardown: list[Step] = Field(
        default_factory=list,
        description=(
            "Requests run after the journey, even when it failed. Each one acts as the test "
            "or other identity, or names something this run created ({{saved.*}}, {{run_id}})."
        ),
    )

    def options(self, check: str) -> CheckOptions:
        """The options of one check (defaults when not configured)."""
        opts = self.checks.get(check, CheckOptions())
        if opts.budget_ms is None and self.budget_ms is not None:
            opts = opts.model_copy(update={"budget_ms": self.budget_ms})
        return opts


class PreflightSpec(JourneyBase):
    health: Request
    # A field of the health body that must equal healthy_value; null: the schema alone
    # judges the body (a bare `true`, per-backend booleans).
    status_field: str | None = "status"
    healthy_value: Any = "healthy"
    # Where the deployed version is read: this request (default: the health request).
    version: Request | None = None
    version_field: str = "version"
    e2e_status: Request | None = None
    stripe_mode_field: str = "stripe_mode"


class LoginSpec(Strict):
    """How the suite signs an identity in (auth_method password or cookie_session).

    password: ``request`` is the OAuth2 password form post; ``token_field`` of its answer
    is sent as a bearer token. cookie_session: ``page`` is fetched first and
    ``csrf_pattern`` (a regex with one group) reads the CSRF token from it into
    ``{{csrf}}``; ``request`` posts the form; the cookies it sets are the session.
    """

    request: Request
    token_field: str = "access_token"
    page: Request | None = None
    csrf_pattern: str | None = None
    session_cookie: str | None = None
    wrong_password_status: list[int] = Field(
        default_factory=lambda: [400, 401],
        description=(
            "What the login request must answer the test identity with a wrong password "
            "(auth_method password; the answer must carry no token either). A "
            "cookie_session login is judged by the session cookie: it must set none."
        ),
    )


class BrowserLoginSpec(Strict):
    start_path: str = "/login"
    email_selector: str
    password_selector: str
    submit_selector: str
    error_selector: str | None = None
    success_url: str  # glob, e.g. "**/app"


class ForgedStateSpec(Strict):
    """The browser login, with the ``state`` of the callback request replaced in flight."""

    callback_path: str = "/auth/callback"
    expect_status: list[int] = Field(default_factory=lambda: [400, 401, 403])


class ForeignRedirectSpec(Strict):
    """The browser login's authorize request with its redirect URI moved to another host.

    auth.foreign_redirect_refused opens the login start, takes the identity provider's
    page it lands on (its query names the app's own redirect URI in ``param``), and asks
    for that page again with the redirect URI on ``foreign_host``: the identity provider
    must refuse it (``expect_status``) instead of offering its sign-in form.
    """

    param: str = Field(
        "redirect_uri", min_length=1, description="The query parameter of the redirect URI."
    )
    foreign_host: str = Field(
        "evil.example",
        description=(
            "A host name that is nobody's (.example, .invalid): the redirect URI keeps its "
            "scheme and path and gets this host. Nothing is ever sent to it."
        ),
    )
    expect_status: list[int] = Field(
        default_factory=lambda: [400, 401, 403],
        description="The refusal statuses of the identity provider (4xx only).",
    )

    @field_validator("foreign_host")
    @classmethod
    def _a_bare_host(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", value):
            raise ValueError(
                "foreign_host must be a bare host name that is nobody's, e.g. evil.example"
            )
        return value

    @model_validator(mode="after")
    def _refuses(self) -> ForeignRedirectSpec:
        _refusal_statuses(self.expect_status, "auth.foreign_redirect")
        return self


class DiscoverySpec(Strict):
    """The identity provider's OpenID discovery document, and what its endpoints must do.

    auth.discovery_endpoints reads ``request`` and uses the endpoints it names: the
    authorization endpoint is where the browser login's start sends the browser, the
    token endpoint signs the test identity in by the login request's form (auth_method
    password), the JWKS holds the key the token names, and the userinfo endpoint answers
    that token as the test identity (``identity_claim``).
    """

    request: Request = Field(
        description="Reads the discovery document (the sandbox: GET /.well-known/openid-configuration)."
    )
    identity_claim: str = Field(
        "email", description="The userinfo claim that names the test identity ({{test_email}})."
    )


class ProtectedPage(Strict):
    """A page of the app only a signed-in person may open (proven by anonymous_refused).

    The test identity opens it first (2xx); then an anonymous visitor and a tampered
    session must get 401/403 or a redirect to the sign-in.
    """

    path: str
    session_cookie: str | None = Field(
        "session",
        description=(
            "For a bearer-token login (auth_method password or static_token): the cookie "
            "the page reads that token from. Null: the token is sent as a bearer header. "
            "Cookie logins send their own session cookies."
        ),
    )
    login_redirect: str | None = Field(
        None,
        description=(
            "Where an anonymous visitor may be redirected instead of 401/403: a glob of "
            "the Location's path, e.g. /login*. Null: any redirect to another path."
        ),
    )


class TenantNameSpec(Strict):
    """How me_identity proves the identity endpoint names the test identity's own tenant."""

    field: str = Field(
        "tenant_name", description="The identity answer's field that names the tenant."
    )
    expected: str | None = Field(
        None,
        description=(
            "The name it must be (placeholders allowed). Null: read from the own tenant "
            "(auth.own_tenant, its field own_tenant_field)."
        ),
    )
    own_tenant_field: str = Field(
        "name", description="The field of the auth.own_tenant answer that holds its name."
    )


class PasskeySpec(Strict):
    page_path: str
    session_cookie: str | None = "session"
    register_selector: str
    login_selector: str
    status_selector: str
    registered_text: str = "registered"
    signed_in_text: str = "signed in as {{test_email}}"


class AuthSpec(JourneyBase):
    login: LoginSpec
    # Routes to prove beside the ones the journeys reach: each must answer the test
    # identity 2xx, then refuse anonymous and tampered callers.
    protected_routes: list[str] = Field(default_factory=list)
    bad_token: str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzbW9rZSJ9.invalid-signature"
    me: Request
    identity_field: str = "email"
    # What identity_field must say for the test identity ({{test_email}} by default).
    identity_value: str = "{{test_email}}"
    # Another tenant's resource ({{other_tenant}} is that tenant's id): its owner (the
    # `other` identity) must read it with 2xx, then the test identity must get one of
    # its expect_status. {{own_tenant}} is the test identity's tenant.
    tenant_isolation: Request | None = None
    own_tenant: Request | None = None
    tenant_field: str = "tenant_id"
    tenant_name: TenantNameSpec | None = Field(
        None,
        description=(
            "me_identity also compares the tenant's name the identity endpoint reports. "
            "Null: the identity endpoint names no tenant."
        ),
    )
    protected_pages: list[ProtectedPage] = Field(
        default_factory=list,
        description=(
            "Pages of the app beside the API routes: each must open for the test "
            "identity, then refuse anonymous visitors and a tampered session "
            "(anonymous_refused, bad_token_refused)."
        ),
    )
    browser_login: BrowserLoginSpec | None = None
    sign_out: Request | None = Field(
        None,
        description=(
            "The sign-out request, sent from the signed-in browser page with its cookies "
            "(sign_out_ends_session). Null: the app has no sign-out to prove."
        ),
    )
    forged_state: ForgedStateSpec | None = None
    foreign_redirect: ForeignRedirectSpec | None = Field(
        None,
        description=(
            "The identity provider must refuse the browser login's authorize request with "
            "its redirect URI on a foreign host (auth.foreign_redirect_refused). Null: not "
            "checked (also without browser_login)."
        ),
    )
    discovery: DiscoverySpec | None = Field(
        None,
        description=(
            "The OpenID discovery document whose endpoints auth.discovery_endpoints uses. "
            "Null: the app publishes none."
        ),
    )
    passkey: PasskeySpec | None = None


class PreviewSpec(Strict):
    request: Request
    fields: list[str]
    # Where the fields sit in the answer (a dotted path, e.g. `data`); the body itself
    # when unset.
    fields_at: str | None = None
    page_path: str | None = None
    page_field_selector: str = '[data-testid="preview-{field}"]'

    def pages(
        self, variables: dict[str, Any], handed: str | None, base: str
    ) -> list[tuple[str, str]]:
        """The preview pages to open, each once, with what they are: the page at
        ``page_path``, and the URL the product ``handed`` out when it is another page."""
        from smoke.origins import resolve

        pages: list[tuple[str, str]] = []
        if self.page_path:
            pages.append(("the preview page", str(render(self.page_path, variables))))
        if handed is not None:
            if any(resolve(base, url) == resolve(base, handed) for _, url in pages):
                pages[0] = ("the preview page (the handed-out URL)", pages[0][1])
            else:
                pages.append(("the handed-out preview URL", handed))
        return pages


class EmailSpec(Strict):
    request: Request
    subject_contains: str = "Welcome"
    timeout_s: float = 10.0


def _refusal_statuses(statuses: list[int], where: str) -> list[int]:
    """A refusal's expected statuses: at least one, and none that means "done"."""
    if not statuses:
        raise ValueError(f"{where}.expect_status is empty: name the refusal statuses, e.g. [401]")
    accepting = [s for s in statuses if s < 400]
    if accepting:
        raise ValueError(
            f"{where}.expect_status lists {accepting}: a refusal answers 4xx, "
            "and a case the product may accept proves nothing. Example: [401, 403]"
        )
    return statuses


class NegativeCase(Strict):
    """A variant of a chain step that the product must refuse.

    It is the step's own request with ``body``, ``params`` and ``headers`` merged over
    the step's (key by key; a mapping body only). Sent after the whole chain passed, so
    the step itself was shown to accept the right input first.
    """

    name: str = Field(description="What is wrong with the variant, e.g. verification_token.")
    body: dict[str, Any] = Field(
        default_factory=dict, description="Body fields replaced in the step's body."
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Query parameters replaced in the step's query."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Headers replaced in the step's headers."
    )
    expect_status: list[int] = Field(
        default_factory=lambda: [401, 403, 404],
        description="The refusal statuses (4xx only): any other answer fails the check.",
    )

    @model_validator(mode="after")
    def _is_a_variant(self) -> NegativeCase:
        if not (self.body or self.params or self.headers):
            raise ValueError(
                f"negative case {self.name!r} changes nothing: replace a body field, a "
                "query parameter or a header, e.g. body: {token: '{{saved.other_token}}'}"
            )
        _refusal_statuses(self.expect_status, f"negative case {self.name!r}")
        return self


class ChainStep(Step):
    """A step of the onboarding chain: a request, and what else it proves."""

    negative_cases: list[NegativeCase] = Field(
        default_factory=list,
        description=(
            "Variants of this step the product must refuse (another step's token, another "
            "identity's id): checked by onboarding.negative_cases_refused."
        ),
    )
    cleanup_probe: bool = Field(
        False,
        description=(
            "Replay this step (the signup) to prove the cleanup frees the reserved identity: "
            "it must be refused while the identity is taken and accepted after the cleanup "
            "(onboarding.cleanup_frees_identity)."
        ),
    )
    preview_url: str | None = Field(
        None,
        description=(
            "A dotted field of this step's answer holding the preview page's URL as the "
            "product hands it out: onboarding.preview_matches opens it and expects the page."
        ),
    )

    def negative_request(self, case: NegativeCase) -> Step:
        """This step's request with the negative case's parts replaced, expecting a refusal."""
        body = self.body
        if case.body:
            if not isinstance(body, dict):
                raise ValueError(
                    f"negative case {case.name!r} of step {self.name!r} replaces body fields, "
                    "but the step's body is not a mapping"
                )
            body = body | case.body
        return Step(
            name=f"{self.name}.{case.name}",
            method=self.method,
            path=self.path,
            params=self.params | case.params,
            headers=self.headers | case.headers,
            body=body,
            body_format=self.body_format,
            auth=self.auth,
            expect_status=case.expect_status,
            e2e=self.e2e,
            public=self.public,
        )


class SecondIdentity(Strict):
    """A second reserved onboarding identity, for negative cases that offer the first
    identity something the second one owns (``{{second.<saved name>}}``).

    Used only when a negative case names ``{{second.*}}``: it is cleaned, then walks the
    chain's first steps with these inputs until it has saved every value named.
    """

    inputs: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Inputs for this identity, over the journey's (the keys named replace theirs). "
            "Without `email`: the first identity's with `-second` added to its local part "
            "(smoke+onboarding@x -> smoke+onboarding-second@x; smoke@x -> smoke+second@x). "
            "Either way it must be another reserved address."
        ),
    )

    def inputs_over(self, first: dict[str, Any]) -> dict[str, Any]:
        """This identity's inputs: ``first`` (the journey's, filled) with its own on top."""
        ours = first | self.inputs
        email = first.get("email")
        if "email" not in self.inputs and isinstance(email, str) and "@" in email:
            local, _, domain = email.rpartition("@")
            ours["email"] = f"{local}{'-' if '+' in local else '+'}second@{domain}"
        return ours


class CleanupRefusal(Strict):
    """The cleanup sent for an address outside the reserved identities must be refused."""

    email: str = Field(
        "smoke-unreserved-{{run_id}}@example.invalid",
        description=(
            "The unreserved address offered to the cleanup in place of {{email}}. It must "
            "hold {{run_id}}, so it is new each run and owns nothing anywhere "
            "(the .invalid domain can never be anybody's), even if a broken cleanup accepts it."
        ),
    )
    expect_status: list[int] = Field(
        default_factory=lambda: [400, 403],
        description=(
            "The refusal statuses. Not 404 when the cleanup answers 404 for nothing to "
            "delete: that would pass for a cleanup that accepts any address."
        ),
    )

    @model_validator(mode="after")
    def _is_new_each_run(self) -> CleanupRefusal:
        if placeholders(self.email) != {"run_id"}:
            raise ValueError(
                f"cleanup_refusal.email {self.email!r} must be new each run, or it could be "
                "somebody's address: put {{run_id}} in it (and no other placeholder), e.g. "
                "smoke-unreserved-{{run_id}}@example.invalid"
            )
        _refusal_statuses(self.expect_status, "cleanup_refusal")
        return self


SECOND = "second"


class OnboardingSpec(JourneyBase):
    cleanup: Request | None = None
    inputs: dict[str, Any]
    steps: list[ChainStep]
    preview: PreviewSpec | None = None
    welcome_email: EmailSpec | None = None
    second_identity: SecondIdentity | None = Field(
        None,
        description="A second reserved onboarding identity whose ids negative cases offer.",
    )
    cleanup_refusal: CleanupRefusal | None = Field(
        None,
        description=(
            "The cleanup must refuse an unreserved address (onboarding.cleanup_refuses_"
            "unreserved), checked after onboarding.cleanup_frees_identity passed."
        ),
    )

    @model_validator(mode="after")
    def _chain_is_consistent(self) -> OnboardingSpec:
        names = [s.name for s in self.steps]
        for what in ("cleanup_probe", "preview_url"):
            marked = [s.name for s in self.steps if getattr(s, what)]
            if len(marked) > 1:
                raise ValueError(f"only one step may set {what}; {', '.join(marked)} do")
        for step in self.steps:
            for case in step.negative_cases:
                step.negative_request(case)
        wanted = self.second_values()
        if wanted and self.second_identity is None:
            raise ValueError(
                f"a negative case names {{{{second.{sorted(wanted)[0]}}}}}, but there is no "
                "second_identity: add one, e.g. second_identity: {inputs: {email: "
                "smoke+onboarding-second@example.com}}"
            )
        saved = {name for s in self.steps for name in s.save}
        missing = sorted(wanted - saved)
        if missing:
            raise ValueError(
                f"a negative case names {{{{second.{missing[0]}}}}}, but no step saves "
                f"{missing[0]!r}. Steps: {', '.join(names)}"
            )
        return self

    @property
    def negative_cases(self) -> list[tuple[ChainStep, NegativeCase]]:
        """Every step's negative cases, in chain order, with their step."""
        return [(step, case) for step in self.steps for case in step.negative_cases]

    @property
    def cleanup_probe(self) -> ChainStep | None:
        """The step replayed to prove the cleanup frees the identity, if one is marked."""
        return next((s for s in self.steps if s.cleanup_probe), None)

    def second_values(self) -> set[str]:
        """The saved values of the second identity that negative cases name."""
        found: set[str] = set()
        for step in self.steps:
            for case in step.negative_cases:
                for name in placeholders([case.body, case.params, case.headers]):
                    head, _, rest = name.partition(".")
                    if head == SECOND and rest:
                        found.add(rest.split(".")[0])
        return found

    def second_steps(self) -> list[ChainStep]:
        """The chain's first steps, up to the one that saves the last value ``second_values``
        names: what the second identity walks. Empty when no negative case needs it."""
        wanted = self.second_values()
        walk: list[ChainStep] = []
        for step in self.steps:
            if not wanted:
                break
            walk.append(step)
            wanted -= set(step.save)
        return walk


class CardForm(Strict):
    number: str
    exp_month: str
    exp_year: str
    cvc: str
    postal_code: str | None = None
    submit: str
    error: str
    cancel: str
    success: str
    cancelled: str
    current_plan: str | None = Field(
        None,
        description=(
            "The cancel page's element that names the user's current plan: it must show "
            "the plan the tenant had before the checkout (its id, or its name from the plans)."
        ),
    )
    price: str | None = Field(
        None,
        description=(
            "The checkout page's element that shows what is bought: before paying, it must "
            "show the plan's price (and name) as the plans request states them."
        ),
    )
    success_plan: str | None = Field(
        None,
        description=(
            "The success page's element that names what was bought: after paying, it must "
            "name the plan bought (its id, or its name from the plans)."
        ),
    )


class PlansSpec(Strict):
    """Where the app lists its plans, and how to read the one the checkout buys."""

    request: Request
    items_field: str = Field(
        "plans", description="Where the list of plans sits in the answer ('$': the body itself)."
    )
    id_field: str = "id"
    name_field: str | None = "name"
    amount_field: str = Field(
        "amount",
        description="An integer in the currency's smallest unit (cents), as Stripe states prices.",
    )
    currency_field: str = Field("currency", description="An ISO currency code (usd, eur, ...).")


class TenantPlanSpec(Strict):
    """Where the test identity's tenant shows the plan it is provisioned with."""

    request: Request = Field(
        description=(
            "Reads the tenant; {{own_tenant}} is the test identity's tenant as the auth "
            "journey's `me` request names it (its tenant_field)."
        )
    )
    plan_field: str = "plan"


class ConfirmAgainSpec(Strict):
    """billing.confirm_again_refused: the checkout page's confirmation, sent a second time.

    The request the checkout page sends to confirm the payment (the first whose URL
    matches ``request_url``) is recorded during billing.checkout_success and replayed
    once the checkout succeeded: a double click on Subscribe must be refused and must not
    subscribe the customer twice.
    """

    request_url: str = Field(
        description=(
            "A glob of the confirmation request's URL, as Playwright matches it "
            "(the sandbox: **/api/billing/checkout/*/confirm)."
        ),
        min_length=1,
    )
    expect_status: list[int] = Field(
        default_factory=lambda: [409],
        description="The refusal statuses of the second confirmation (4xx only).",
    )

    @model_validator(mode="after")
    def _refuses(self) -> ConfirmAgainSpec:
        _refusal_statuses(self.expect_status, "billing.confirm_again")
        return self


class BillingSpec(JourneyBase):
    cleanup: Request | None = None
    session_cookie: str | None = "session"
    plan_id: str | None = Field(
        None,
        description=(
            "The plan the checkout buys, sent as {{plan_id}} in the checkout request. Best a "
            "plan other than the app's default, so a checkout that ignores the choice shows. "
            "Unset: which plan is bought is not checked."
        ),
    )
    stripe_plan_id: str | None = Field(
        None,
        description=(
            "The Stripe plan or price id of plan_id ({{plan_id}} when they are the same): "
            "the Stripe subscription must be for it. Unset: Stripe's plan is not compared."
        ),
    )
    plans: PlansSpec | None = None
    tenant_plan: TenantPlanSpec | None = None
    checkout: Request
    checkout_url_field: str = "checkout_url"
    cancel_url_field: str = "cancel_url"
    card_form: CardForm
    subscription: Request
    subscription_status_field: str = "status"
    subscription_plan_field: str | None = Field(
        "plan_id",
        description="The field of the subscription answer naming its plan; null: not compared.",
    )
    subscription_stripe_id_field: str = Field(
        "stripe_subscription_id",
        description="The field of the subscription answer holding the Stripe subscription id.",
    )
    active_value: str = "active"
    inactive_values: list[str] = Field(default_factory=lambda: ["none", "canceled"])
    cancel_subscription: Request
    confirm_again: ConfirmAgainSpec | None = Field(
        None,
        description=(
            "The checkout page's confirmation request, replayed after a paid checkout: it "
            "must be refused and leave the customer one subscription in Stripe. Null: not "
            "checked."
        ),
    )
    webhook_path: str = "/webhooks/stripe"
    poll_timeout_s: float = 30.0
    success_card: str = "4242424242424242"
    declined_card: str = "4000000000000002"


class Pagination(Strict):
    """How an endpoint pages: the query parameters it takes and where it says its total.

    The endpoint check asks ``page_size`` items per page (smaller than the seeded data,
    so a page size the endpoint ignores shows) and, with ``page_param`` and
    ``total_field``, reads the last page the total implies and the page after it.
    """

    per_page_param: str = Field(
        "per_page", min_length=1, description="The query parameter that sets the page size."
    )
    page_param: str | None = Field(
        "page",
        description="The query parameter of the 1-based page number; null: no page numbers.",
    )
    page_size: int = Field(
        5,
        ge=1,
        description="The small page size to ask: the seeded data should hold more items.",
    )
    total_field: str | None = Field(
        "total",
        description="The dotted field with the number of records in all pages; null: none.",
    )


_ORDER_BY = re.compile(r"\s*([A-Za-z0-9_][A-Za-z0-9_.-]*)(?:\s+(asc|desc))?\s*", re.IGNORECASE)


class SeededItems(Strict):
    """What the seeded test tenant's items hold: how many match ``where``."""

    where: dict[str, Any] = Field(
        min_length=1,
        description="Dotted item fields and the value each must have, e.g. {acknowledged: true}.",
    )
    count: int | None = Field(
        None, ge=0, description="Exactly this many items match (the seed's own number)."
    )
    at_least: int | None = Field(
        None, ge=1, description="At least this many items match (data that may grow)."
    )

    @model_validator(mode="after")
    def _one_bound(self) -> SeededItems:
        if (self.count is None) == (self.at_least is None):
            raise ValueError(
                "seeded items need exactly one of count or at_least, e.g. "
                "{where: {acknowledged: true}, count: 7}"
            )
        return self


class Endpoint(Request):
    name: str
    items_field: str = "items"
    id_field: str = Field(
        "id", min_length=1, description="The dotted field of an item that identifies it."
    )
    pagination: Pagination | None = Field(
        None, description="How the endpoint pages; null: it does not (nothing to check)."
    )
    order_by: str | None = Field(
        None,
        description=(
            "The order the items must come in: a dotted item field and asc or desc "
            "(e.g. `created_at desc`); null: any order."
        ),
    )
    seeded: list[SeededItems] = Field(
        default_factory=list,
        description=(
            "What the seeded test tenant's items hold, counted over the configured read "
            "(which must hold every item: total, when stated, no larger than the page)."
        ),
    )
    tenant_scoped: bool = Field(
        False,
        description=(
            "Each identity gets only its own tenant's items: dashboard.tenant_isolation "
            "reads it as the other identity too and fails on an item id both get."
        ),
    )

    @field_validator("order_by")
    @classmethod
    def _order_by_is_a_field_and_direction(cls, value: str | None) -> str | None:
        if value is not None and not _ORDER_BY.fullmatch(value):
            raise ValueError(
                "order_by must be an item field and a direction, e.g. `created_at desc`"
            )
        return value

    @model_validator(mode="after")
    def _tenant_scoped_is_read_as_the_test_identity(self) -> Endpoint:
        if self.tenant_scoped and self.auth not in (None, "test"):
            raise ValueError(
                f"tenant_scoped compares the test identity's items with the other "
                f"identity's, so the endpoint must be read as the test identity (auth is "
                f"{self.auth!r}; leave it unset or set test)"
            )
        return self

    def sort_key(self) -> tuple[str, bool] | None:
        """``order_by`` as (dotted field, descending); None when the order is free."""
        if self.order_by is None:
            return None
        found = _ORDER_BY.fullmatch(self.order_by)
        assert found is not None  # validated above
        return found.group(1), (found.group(2) or "asc").lower() == "desc"


def _or_a_bare_selector(schema: dict[str, Any]) -> None:
    """A key element's JSON Schema: the object, or a bare selector string."""
    element = dict(schema)
    schema.clear()
    schema["anyOf"] = [{"type": "string", "description": "A selector that must match."}, element]


class UiElement(Strict):
    """A key element of the page, and what it must show.

    A bare selector (a string) must only match. ``text``: every element the selector
    matches shows exactly this (placeholders filled, e.g. ``{{test_email}}``).
    ``rows_of``: each element is a row of that endpoint's items and shows the
    ``fields`` of one of them, as the API answers it.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra=_or_a_bare_selector)

    selector: str = Field(min_length=1)
    text: str | None = None
    rows_of: str | None = Field(
        None, description="The endpoint (by name) whose items these elements show."
    )
    fields: list[str] = Field(
        default_factory=list,
        description="With rows_of: the dotted item fields each row shows (e.g. [message]).",
    )

    @model_validator(mode="before")
    @classmethod
    def _a_bare_selector(cls, value: Any) -> Any:
        return {"selector": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _rows_need_fields(self) -> UiElement:
        if self.rows_of is not None and not self.fields:
            raise ValueError("rows_of needs fields: the item fields each row shows")
        if self.fields and self.rows_of is None:
            raise ValueError("fields needs rows_of: the endpoint whose items the rows show")
        return self


class UiSpec(Strict):
    path: str
    session_cookie: str | None = "session"
    ready_selector: str | None = None
    elements: list[UiElement] = Field(
        description="Key elements: a selector, or {selector, text} / {selector, rows_of, fields}."
    )


class DashboardSpec(JourneyBase):
    endpoints: list[Endpoint]
    ui: UiSpec | None = None

    @property
    def tenant_scoped(self) -> list[Endpoint]:
        """The endpoints whose items belong to the calling identity's tenant."""
        return [e for e in self.endpoints if e.tenant_scoped]


class SuiteSpec(Strict):
    """Every journey's specification for one environment."""

    preflight: PreflightSpec
    auth: AuthSpec
    onboarding: OnboardingSpec
    billing: BillingSpec
    dashboard: DashboardSpec

    def journey(self, name: str) -> JourneyBase:
        """The spec of one journey by name."""
        spec = getattr(self, name)
        if not isinstance(spec, JourneyBase):
            raise AttributeError(f"{name!r} is not a journey of the suite")
        return spec


@cache
def default_contract() -> dict[str, Any]:
    """The sandbox's contract, parsed once."""
    contract: dict[str, Any] = yaml.safe_load(DEFAULT_CONTRACT.read_text())
    return contract


# Mappings that describe one thing whole (a request body, its query, a JSON Schema, the
# onboarding inputs): another app's version replaces the sandbox's instead of merging
# with it, so no stray sandbox field leaks into another app's requests or contracts.
WHOLE_VALUES = frozenset({"body", "params", "schema", "inputs"})


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``: mappings merge, everything else replaces.

    Bodies, query parameters, schemas and onboarding inputs replace as a whole.
    """
    out = copy.deepcopy(base)
    for key, value in override.items():
        if key in WHOLE_VALUES:
            out[key] = copy.deepcopy(value)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_contract_file(path: str) -> dict[str, Any]:
    """A contract override file (YAML or JSON) as a mapping."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(
            f"Contract file {path!r} does not exist. Fix contract_file (or SMOKE_CONTRACT_FILE)."
        )
    try:
        text = file.read_text()
        data = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise ConfigError(f"Contract file {path!r} cannot be parsed: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(
            f"Contract file {path!r} must hold a mapping of journey names to settings."
        )
    return data


def load_spec(contract_file: str | None = None, inline: dict[str, Any] | None = None) -> SuiteSpec:
    """The default contract with an environment's file and inline overrides applied.

    Every error names where the offending key came from (the file, or the inline
    ``journeys`` setting), its key path and what would be valid there.
    """
    merged = default_contract()
    sources: list[tuple[str, dict[str, Any]]] = []
    if contract_file:
        file_data = read_contract_file(contract_file)
        merged = deep_merge(merged, file_data)
        sources.append((f"Contract file {contract_file}", file_data))
    if inline:
        merged = deep_merge(merged, inline)
        sources.append(("The inline journeys setting (SMOKE_JOURNEYS or the block)", inline))
    known = (PREFLIGHT, *JOURNEYS)
    unknown = sorted(set(merged) - set(known))
    if unknown:
        raise ConfigError(
            f"{_source_of((unknown[0],), sources)}: "
            + ", ".join(f"unknown journey {n!r}{_did_you_mean(n, known)}" for n in unknown)
            + f". Known journeys: {', '.join(known)}."
        )
    try:
        spec = SuiteSpec.model_validate(merged)
    except ValidationError as e:
        raise ConfigError(_explain(e.errors()[0], sources)) from e
    for where, schema in _schemas(spec):
        check_schema(schema, where)
    _check_check_names(spec, sources)
    if spec.preflight.setup or spec.preflight.teardown:
        raise ConfigError(
            "preflight has no setup or teardown: it only reads. Put them on the journey "
            "that needs them (auth, onboarding, billing, dashboard)."
        )
    for name in (PREFLIGHT, *JOURNEYS):
        check_teardown(spec.journey(name), name)
    _check_tenant_name(spec.auth, sources)
    if spec.billing.enabled:
        check_plan_choice(spec.billing)
    if spec.preflight.status_field is None and spec.preflight.health.schema_ is None:
        raise ConfigError(
            "preflight.health checks nothing: with status_field null it needs a schema "
            "that a healthy body matches, e.g. {const: true} or "
            "{type: object, additionalProperties: {const: true}}."
        )
    return spec


def contract_json_schema() -> dict[str, Any]:
    """The JSON Schema of a whole contract (docs/contract.schema.json is this, written out).

    An override file holds any part of it: what it leaves out keeps the default's value.
    """
    schema = SuiteSpec.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "smoke flows contract"
    return schema


def _explain(err: Any, sources: list[tuple[str, dict[str, Any]]]) -> str:
    """One validation error as: where it came from, the key path, what is valid there."""
    loc = tuple(err["loc"])
    where = ".".join(str(p) for p in loc)
    source = _source_of(loc, sources)
    if err["type"] == "extra_forbidden":
        allowed = _fields_at(loc[:-1])
        key = str(loc[-1])
        return (
            f"{source}: unknown key {where!r}{_did_you_mean(key, allowed)}. "
            f"Valid keys there: {', '.join(allowed) or '(none)'}."
        )
    if err["type"] == "missing":
        return f"{source}: {where!r} is required but missing."
    given = json.dumps(err.get("input"), default=str)[:120]
    return f"{source}: {where!r} is {given}: {err['msg']}."


def _check_tenant_name(auth: AuthSpec, sources: list[tuple[str, dict[str, Any]]]) -> None:
    """A tenant name to compare needs something to compare it with."""
    tn = auth.tenant_name
    if tn is not None and tn.expected is None and auth.own_tenant is None:
        raise ConfigError(
            f"{_source_of(('auth', 'tenant_name'), sources)}: auth.tenant_name has no name "
            "to compare with: set auth.tenant_name.expected (e.g. 'Acme Test'), or "
            "auth.own_tenant to read it from, or auth.tenant_name: null."
        )


def _check_check_names(spec: SuiteSpec, sources: list[tuple[str, dict[str, Any]]]) -> None:
    """``checks:`` may only switch checks the journey has (see smoke/catalog.py)."""
    for journey in (PREFLIGHT, *JOURNEYS):
        part = spec.journey(journey)
        steps = [s.name for s in part.steps] if isinstance(part, OnboardingSpec) else []
        endpoints = [e.name for e in part.endpoints] if isinstance(part, DashboardSpec) else []
        valid = catalog.names_for(journey, steps, endpoints)
        for name in part.checks:
            if name not in valid:
                loc = (journey, "checks", name)
                raise ConfigError(
                    f"{_source_of(loc, sources)}: unknown check {journey}.checks.{name}"
                    f"{_did_you_mean(name, valid)}. Checks of {journey}: {', '.join(valid)}."
                )


def _source_of(loc: tuple[Any, ...], sources: list[tuple[str, dict[str, Any]]]) -> str:
    """The override that holds most of ``loc`` (the later one on a tie, as in the merge)."""
    best: tuple[str, dict[str, Any]] | None = max(
        reversed(sources), key=lambda source: _depth(source[1], loc), default=None
    )
    if best is not None and _depth(best[1], loc) > 0:
        return best[0]
    return "The journey configuration"


def _depth(data: Any, loc: tuple[Any, ...]) -> int:
    """How many parts of ``loc`` exist in ``data``."""
    depth = 0
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            break
        depth += 1
    return depth


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys the model at ``loc`` accepts (by alias), for "valid keys there"."""
    model: type[BaseModel] | None = SuiteSpec
    skip_key = False  # the part after a mapping field is a free key (a check's name)
    for part in loc:
        if isinstance(part, int) or skip_key or model is None:
            skip_key = False
            continue
        field = model.model_fields.get(part)
        model = _model_of(field.annotation) if field is not None else None
        skip_key = field is not None and get_origin(field.annotation) is dict
    if model is None:
        return []
    return sorted(f.alias or n for n, f in model.model_fields.items())


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``X``, ``X | None``, ``list[X]`` or ``dict[str, X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _did_you_mean(word: str, candidates: Any) -> str:
    guess = catalog.closest(word, candidates)
    return f" (did you mean {guess!r}?)" if guess else ""


def _schemas(spec: SuiteSpec) -> list[tuple[str, Schema]]:
    found: list[tuple[str, Schema]] = []
    for name in (PREFLIGHT, *JOURNEYS):
        _collect_schemas(spec.journey(name), name, found)
    return found


def _collect_schemas(model: BaseModel, where: str, found: list[tuple[str, Schema]]) -> None:
    """Every request schema below ``model``, named by where it sits (``auth.login.request``)."""
    if isinstance(model, Request) and model.schema_ is not None:
        found.append((where, model.schema_))
    for field_name in type(model).model_fields:
        value = getattr(model, field_name)
        if isinstance(value, BaseModel):
            _collect_schemas(value, f"{where}.{field_name}", found)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    label = getattr(item, "name", None) or f"{field_name}[{i}]"
                    _collect_schemas(item, f"{where}.{label}", found)


_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)\s*\}\}")
# Placeholders every request may use beside the configured ones: {{run_id}} (the same in
# every request of one run) and {{unique}} (a fresh value each time it is filled).
RUN_PLACEHOLDERS = ("run_id", "unique")


def render(template: Any, variables: dict[str, Any]) -> Any:
    """Fill ``{{name}}`` placeholders in strings, lists and mappings.

    A string that is exactly one placeholder takes the variable's value with its type
    (so ``"{{team_size}}"`` stays a number); elsewhere values are formatted as text.
    Dotted names read into mappings (``{{saved.token}}``); a callable variable is called
    each time it is filled (``{{unique}}``).
    """
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template.strip())
        if whole:
            return _lookup(whole.group(1), variables)
        return _PLACEHOLDER.sub(lambda m: str(_lookup(m.group(1), variables)), template)
    if isinstance(template, list):
        return [render(v, variables) for v in template]
    if isinstance(template, dict):
        return {k: render(v, variables) for k, v in template.items()}
    return template


def placeholders(template: Any) -> set[str]:
    """Every placeholder name in ``template`` (strings, lists and mappings)."""
    if isinstance(template, str):
        return set(_PLACEHOLDER.findall(template))
    if isinstance(template, list):
        return set().union(*(placeholders(v) for v in template)) if template else set()
    if isinstance(template, dict):
        return set().union(*(placeholders(v) for v in template.values())) if template else set()
    return set()


def request_placeholders(req: Request) -> set[str]:
    """The placeholders of a request's path, query, headers and body."""
    return placeholders([req.path, req.params, req.headers, req.body])


def _lookup(name: str, variables: dict[str, Any]) -> Any:
    head, _, rest = name.partition(".")
    if head in variables:
        value = variables[head]
        if rest:
            try:
                value = field_value(value, rest)
            except (KeyError, IndexError, ValueError, TypeError):
                value = _MISSING
        if value is not _MISSING:
            return value() if callable(value) else value
    known = _known(variables)
    raise ConfigError(
        f"Unknown placeholder {{{{{name}}}}} in the journey configuration. Known: {known}."
    )


_MISSING = object()


def _known(variables: dict[str, Any]) -> str:
    names = []
    for key, value in variables.items():
        if isinstance(value, dict):
            names += [f"{key}.{k}" for k in value] or [f"{key}.*"]
        else:
            names.append(key)
    return ", ".join(sorted(names)) or "none"


def check_teardown(spec: JourneyBase, where: str) -> None:
    """Refuse a teardown step that could touch data this run did not create.

    A step acting as the test or other identity touches only a reserved identity's data;
    any other step must name what this run created: a ``{{saved.*}}`` value or
    ``{{run_id}}`` in its path, query or body.
    """
    for step in spec.teardown:
        if step.auth in ("test", "other"):
            continue
        names = request_placeholders(step)
        if any(n.startswith("saved.") or n == "run_id" for n in names):
            continue
        raise ConfigError(
            f"Teardown step {where}.teardown.{step.name} could touch data this run did not "
            "create: it acts as "
            f"{step.auth or 'nobody'} and names nothing this run made. Put a {{{{saved.<name>}}}} "
            "value or {{run_id}} in its path, params or body, or set auth: test."
        )


def check_plan_choice(billing: BillingSpec) -> None:
    """Refuse a checkout that does not buy the plan the billing checks look for."""
    sends = "plan_id" in request_placeholders(billing.checkout)
    if billing.plan_id is not None and not sends:
        raise ConfigError(
            f"billing.plan_id is {billing.plan_id!r} but billing.checkout never sends it, so "
            "the journey would look for a plan it did not ask for. Put {{plan_id}} where the "
            "checkout request names the plan (e.g. body: {plan_id: '{{plan_id}}'}), or set "
            "billing.plan_id: null to leave the bought plan unchecked."
        )
    uses = sends or "plan_id" in placeholders(billing.stripe_plan_id)
    if uses and billing.plan_id is None:
        raise ConfigError(
            "billing.checkout or billing.stripe_plan_id uses {{plan_id}} but billing.plan_id "
            "is not set. Set it to the plan the checkout buys, e.g. plan_id: team-monthly."
        )


def field_value(body: Any, dotted: str) -> Any:
    """``body["a"]["b"]`` for ``"a.b"`` (``"$"``: the whole body); KeyError when missing."""
    value = body
    if dotted == "$":
        return value
    for part in dotted.split("."):
        if isinstance(value, list):
            value = value[int(part)]
        elif isinstance(value, dict):
            value = value[part]
        else:
            raise KeyError(dotted)
    return value
