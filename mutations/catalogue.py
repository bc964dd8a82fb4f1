"""The mutation catalogue: small, realistic regressions of the sandbox that are not its faults.

Each mutation is one exact source edit on one sandbox file: ``old`` must occur exactly
once in it (``stale_reason`` says why a mutation no longer applies), so a change to the
sandbox that makes a mutation stale fails loudly instead of silently testing nothing.

``visible`` says whether a user or the business would see the regression; one that is
not visible is allowed to survive the gate. ``gap`` is the analysis used when the
mutation survives: why the current checks miss it, and which check should catch it, how.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

JOURNEYS = ("preflight", "auth", "onboarding", "billing", "dashboard")
KINDS = (
    "field type",
    "renamed field",
    "dropped check",
    "ignored parameter",
    "wrong identity",
    "leaked row",
    "skipped step",
    "lie in a status",
    "wrong target",
)


@dataclass(frozen=True)
class Mutation:
    """One regression: an exact edit of one sandbox file and what it breaks."""

    id: str
    journey: str
    kind: str
    effect: str
    file: str
    old: str
    new: str
    gap: str
    visible: bool = True

    def stale_reason(self, root: Path) -> str | None:
        """None when the edit applies to the sources under ``root``, else why not."""
        path = root / self.file
        if not path.is_file():
            return f"{self.file} does not exist"
        count = path.read_text().count(self.old)
        if count != 1:
            return f"the old text occurs {count} times in {self.file} (must be exactly once)"
        return None

    def mutated_source(self, root: Path) -> str:
        """The file's text with the edit applied; ValueError when the mutation is stale."""
        reason = self.stale_reason(root)
        if reason:
            raise ValueError(f"mutation {self.id} is stale: {reason}")
        return (root / self.file).read_text().replace(self.old, self.new)


CATALOGUE: tuple[Mutation, ...] = (
    # --- preflight -----------------------------------------------------------------------
    Mutation(
        id="preflight.e2e_status_field_renamed",
        journey="preflight",
        kind="renamed field",
        effect="the e2e status answers `mode` instead of `stripe_mode`: tooling that reads "
        "the Stripe mode can no longer tell test from live",
        file="sandbox/e2e.py",
        old='        "stripe_mode": mode,\n',
        new='        "mode": mode,\n',
        gap="preflight.stripe_test_mode reads `stripe_mode` and should fail on its absence.",
    ),
    Mutation(
        id="preflight.health_skips_stripe",
        journey="preflight",
        kind="lie in a status",
        effect="not visible while Stripe answers: /health reports Stripe `ok` without asking "
        "it, so an outage of Stripe would not show on the health endpoint",
        file="sandbox/health.py",
        old='        "stripe": "ok" if await _stripe_answers(sandbox, http) else "down",\n',
        new='        "stripe": "ok",\n',
        gap="Not visible in a healthy environment: the lie only shows while Stripe is down, "
        "which a smoke run cannot arrange on a deployed target. Allowed to survive; the "
        "billing journey proves Stripe answers by using it.",
        visible=False,
    ),
    Mutation(
        id="preflight.e2e_any_token",
        journey="preflight",
        kind="dropped check",
        effect="the e2e API accepts any X-E2E-Test-Token value: anyone who sends the header "
        "can seed, clean up and read the test inboxes",
        file="sandbox/e2e.py",
        old="    if not same_secret(request.headers.get(TOKEN_HEADER), sandbox.credentials.e2e_token):\n",
        new="    if not request.headers.get(TOKEN_HEADER):\n",
        gap="preflight.e2e_token_required only tries a request with no token at all. It "
        "should also send a wrong token (e.g. the real one with a suffix) and expect "
        "401/403, after proving the right token is accepted.",
    ),
    Mutation(
        id="preflight.stripe_mode_always_test",
        journey="preflight",
        kind="lie in a status",
        effect="not visible with a test key: the e2e status says `test` whatever key the "
        "target holds, so a target given a live key would still pass the interlock",
        file="sandbox/e2e.py",
        old='    mode = "live" if sandbox.is_on("billing.live_mode") else sandbox.credentials.stripe_mode\n',
        new='    mode = "live" if sandbox.is_on("billing.live_mode") else "test"\n',
        gap="Not visible while the target holds a test key, which is the only key a smoke "
        "run may use. Allowed to survive; the suite's own key check (a live key exits 2 "
        "before any call) is the second lock.",
        visible=False,
    ),
    # --- auth ----------------------------------------------------------------------------
    Mutation(
        id="auth.tenant_route_anonymous",
        journey="auth",
        kind="dropped check",
        effect="GET /api/tenants/{id} answers anonymous callers: anyone reads any tenant's "
        "name, plan and member list",
        file="sandbox/auth.py",
        old=(
            '@router.get("/api/tenants/{tenant_id}")\n'
            "def tenant(tenant_id: str, user: CurrentUser, sandbox: Sandbox) -> dict[str, Any]:\n"
            '    if tenant_id != user.tenant_id and not sandbox.is_on("auth.tenant_leak"):\n'
        ),
        new=(
            '@router.get("/api/tenants/{tenant_id}")\n'
            "def tenant(tenant_id: str, request: Request, sandbox: Sandbox) -> dict[str, Any]:\n"
            "    # Public tenant pages; signed-in callers still see only their own tenant.\n"
            "    token = _presented_token(request)\n"
            "    user = user_from_token(sandbox, token) if token else None\n"
            "    if user is not None and tenant_id != user.tenant_id"
            ' and not sandbox.is_on("auth.tenant_leak"):\n'
        ),
        gap="auth.anonymous_refused tries a fixed list of three routes. It should replay "
        "every authenticated request the suite makes (me, own and other tenant, "
        "subscription, dashboard endpoints, passkey options) without credentials and "
        "expect 401/403 on each.",
    ),
    Mutation(
        id="auth.app_page_anonymous",
        journey="auth",
        kind="dropped check",
        effect="the /app page renders for a signed-out visitor (an empty dashboard and an "
        "error) instead of sending them to sign in",
        file="sandbox/dashboard.py",
        old=(
            "        if token is None:\n"
            "            raise HTTPException(401)\n"
            "        user_from_token(sandbox, token)\n"
        ),
        new="        if token is not None:\n            user_from_token(sandbox, token)\n",
        gap="No check opens a protected page without a session. auth.anonymous_refused "
        "should include the protected pages (the dashboard UI path): anonymous must get "
        "401/403 or a redirect to the login start, never 200.",
    ),
    Mutation(
        id="auth.password_not_checked",
        journey="auth",
        kind="dropped check",
        effect="the identity provider signs in any known email with any password",
        file="sandbox/idp.py",
        old='    if row is None or not verify_password(password, row["password_hash"]):\n',
        new="    if row is None:\n",
        gap="auth.password_login proves the right password works, never that a wrong one "
        "is refused. It needs its negative twin: the same login request with a wrong "
        "password must answer 400/401 and no token (and the browser login form must show "
        "its error).",
    ),
    Mutation(
        id="auth.expired_token_accepted",
        journey="auth",
        kind="dropped check",
        effect="not visible within a run: an expired access token keeps working, so a "
        "leaked session never ends",
        file="sandbox/idp.py",
        old='                    "verify_exp": True,\n',
        new='                    "verify_exp": False,\n',
        gap="Not visible in a smoke run: tokens live an hour and the suite cannot mint an "
        "expired token the target would sign. Allowed to survive; a target that offered a "
        "short-lived test token (an e2e endpoint) would let auth.bad_token_refused try an "
        "expired one too.",
        visible=False,
    ),
    Mutation(
        id="auth.state_cookie_optional",
        journey="auth",
        kind="dropped check",
        effect="the login callback accepts any state when the state cookie is missing: a "
        "login CSRF works against a browser that never started a login",
        file="sandbox/auth.py",
        old="    state_ok = bool(state) and expected is not None and same_secret(state, expected)\n",
        new="    state_ok = bool(state) and (expected is None or same_secret(state, expected))\n",
        gap="auth.forged_state_rejected forges the state while the browser holds the state "
        "cookie. It should also deliver a real code with a forged state to a browser "
        "without the state cookie (the attacker's case: clear the cookie before the "
        "callback) and expect a refusal and no session.",
    ),
    Mutation(
        id="auth.logout_keeps_session",
        journey="auth",
        kind="lie in a status",
        effect="sign-out answers `logged_out` but clears the cookie on the wrong path: the "
        "user stays signed in",
        file="sandbox/auth.py",
        old=(
            '    response = JSONResponse({"status": "logged_out"})\n'
            '    response.delete_cookie(SESSION_COOKIE, path="/")\n'
        ),
        new=(
            '    response = JSONResponse({"status": "logged_out"})\n'
            '    response.delete_cookie(SESSION_COOKIE, path="/app")\n'
        ),
        gap="No check signs out. The auth journey should sign out the way a browser does "
        "(POST /logout from the signed-in page) and then expect the identity endpoint to "
        "refuse the page's session.",
    ),
    Mutation(
        id="auth.me_tenant_id_is_name",
        journey="auth",
        kind="renamed field",
        effect="/api/me reports the tenant's display name as tenant_id: every client that "
        "uses it to address the tenant gets 403",
        file="sandbox/auth.py",
        old='        "tenant_id": user.tenant_id,\n',
        new='        "tenant_id": tenant_name,\n',
        gap="auth.tenant_isolation reads the own tenant through /api/me's tenant_id and "
        "expects 200: it should fail.",
    ),
    Mutation(
        id="auth.me_tenant_name_wrong_column",
        journey="auth",
        kind="wrong identity",
        effect="/api/me names the tenant by its plan: the dashboard header reads `(free)` "
        "instead of `(Acme Test)`",
        file="sandbox/auth.py",
        old='    tenant_name = sandbox.db.scalar("SELECT name FROM tenants WHERE id = ?", (user.tenant_id,))\n',
        new='    tenant_name = sandbox.db.scalar("SELECT plan FROM tenants WHERE id = ?", (user.tenant_id,))\n',
        gap="auth.me_identity checks only the email. It should compare every identity field "
        "it can know: tenant_id with the own tenant, tenant_name with the own tenant's "
        "name from GET /api/tenants/{own} (or a configured expected name).",
    ),
    Mutation(
        id="auth.members_of_every_tenant",
        journey="auth",
        kind="leaked row",
        effect="a tenant's member list shows every user of every tenant, with emails",
        file="sandbox/auth.py",
        old='        "SELECT id, email, name FROM users WHERE tenant_id = ? ORDER BY email", (tenant_id,)\n',
        new='        "SELECT id, email, name FROM users ORDER BY email", ()\n',
        gap="auth.tenant_isolation proves the own tenant answers 200 but never reads it. It "
        "should check that the own tenant's body holds nothing of the second tenant: the "
        "other identity's email must not appear in it.",
    ),
    Mutation(
        id="auth.passkey_login_no_session",
        journey="auth",
        kind="lie in a status",
        effect="passkey sign-in says `signed in as …` but sets no session: the user is "
        "still signed out",
        file="sandbox/passkeys.py",
        old=(
            '    set_session_cookie(response, tokens["access_token"])\n'
            '    response.delete_cookie(CHALLENGE_COOKIE, path="/api/passkeys")\n'
        ),
        new='    response.delete_cookie(CHALLENGE_COOKIE, path="/api/passkeys")\n',
        gap="auth.passkey_login reads /api/me from the page after the status line: it should fail.",
    ),
    Mutation(
        id="auth.token_field_renamed",
        journey="auth",
        kind="renamed field",
        effect="the token endpoint answers `token` instead of `access_token`: every API "
        "client's password login breaks",
        file="sandbox/idp.py",
        old=(
            "    return JSONResponse(\n"
            '        sandbox.idp.issue_tokens(identity, client_id), headers={"Cache-Control": "no-store"}\n'
            "    )\n"
        ),
        new=(
            "    tokens = sandbox.idp.issue_tokens(identity, client_id)\n"
            '    tokens["token"] = tokens.pop("access_token")\n'
            '    return JSONResponse(tokens, headers={"Cache-Control": "no-store"})\n'
        ),
        gap="auth.password_login validates the token response's contract: it should fail.",
    ),
    Mutation(
        id="auth.code_reusable",
        journey="auth",
        kind="dropped check",
        effect="not visible to a user: an authorization code can be redeemed again, so a "
        "leaked callback URL signs in a second browser",
        file="sandbox/idp.py",
        old="            entry = self._codes.pop(code, None)\n",
        new="            entry = self._codes.get(code)\n",
        gap="Not visible to a user (an attack on a leaked code). Allowed to survive; "
        "auth.browser_login could capture the callback URL and replay it in a fresh "
        "context, expecting a refusal.",
        visible=False,
    ),
    # --- onboarding ----------------------------------------------------------------------
    Mutation(
        id="onboarding.token_kind_ignored",
        journey="onboarding",
        kind="skipped step",
        effect="the signup's verification token works where the onboarding token is "
        "required: a workspace can be created without verifying the email",
        file="sandbox/onboarding.py",
        old=(
            '        "SELECT user_id FROM onboarding_tokens WHERE token = ? AND kind = ?",'
            " (token, kind)\n"
        ),
        new='        "SELECT user_id FROM onboarding_tokens WHERE token = ?", (token,)\n',
        gap="The chain only walks the happy path. A step's contract could name a negative "
        "case: the workspace step with the verification token in place of the onboarding "
        "token must answer 401 (and, generally, a step must refuse the previous step's "
        "token).",
    ),
    Mutation(
        id="onboarding.team_size_as_text",
        journey="onboarding",
        kind="field type",
        effect='the preview shows team_size as the text "5" instead of the number 5',
        file="sandbox/onboarding.py",
        old='    data["team_size"] = json.loads(data["team_size"])\n',
        new="",
        gap="onboarding.preview_matches compares each field with what was submitted, type "
        "included: it should fail.",
    ),
    Mutation(
        id="onboarding.welcome_to_fixed_address",
        journey="onboarding",
        kind="wrong identity",
        effect="the welcome email goes to a hard-coded address instead of the new user: "
        "they never get it, somebody else gets every one",
        file="sandbox/onboarding.py",
        old='            user["email"],\n            f"Welcome to',
        new='            sandbox.credentials.test_email,\n            f"Welcome to',
        gap="onboarding.welcome_email polls the signup address's inbox: it should fail.",
    ),
    Mutation(
        id="onboarding.preview_url_broken",
        journey="onboarding",
        kind="wrong target",
        effect="the completed onboarding hands the client a preview_url that answers 404",
        file="sandbox/onboarding.py",
        old='        "preview_url": f"{sandbox.public_base_url}/onboarding/preview/{preview_id}",\n',
        new='        "preview_url": f"{sandbox.public_base_url}/onboarding/previews/{preview_id}",\n',
        gap="onboarding.preview_matches opens the page at its configured path, never the "
        "URL the product handed out. It should open the `preview_url` the complete step "
        "returned (when the contract has one) and expect the page.",
    ),
    Mutation(
        id="onboarding.cleanup_keeps_accounts",
        journey="onboarding",
        kind="skipped step",
        effect="cleanup no longer deletes signed-up accounts: the next gate against the "
        "same environment fails its signup with 409",
        file="sandbox/cleanup.py",
        old='        removable = [row["id"] for row in reserved if row["source"] == "onboarding"]\n',
        new='        removable = [row["id"] for row in reserved if row["source"] == "signup"]\n',
        gap="Each gate runs against a fresh sandbox here, so the leftover account only "
        "collides on a second run. onboarding.cleanup_before should prove the cleanup "
        "worked, not only that it answered: after it, the reserved identity must be free "
        "(e.g. the cleanup's `deleted.users` count, or a second cleanup/signup probe), or "
        "the runner should run the onboarding journey twice.",
    ),
    Mutation(
        id="onboarding.cleanup_any_email",
        journey="onboarding",
        kind="dropped check",
        effect="e2e cleanup accepts any email, not only reserved test identities: one call "
        "deletes a real customer's passkeys and cancels their subscription",
        file="sandbox/cleanup.py",
        old="    if only_email is not None and not is_reserved_identity(only_email, credentials):\n",
        new="    if only_email is not None and not only_email.strip():\n",
        gap="No check asks cleanup to touch a non-reserved identity. onboarding.cleanup_before "
        "(or a preflight safety check) should send the cleanup request with the second "
        "identity's email and expect a refusal (400/403) before trusting cleanup.",
    ),
    Mutation(
        id="onboarding.workspace_of_anyone",
        journey="onboarding",
        kind="dropped check",
        effect="the profile and complete steps accept another user's workspace id: one "
        "signup can rewrite someone else's workspace profile",
        file="sandbox/onboarding.py",
        old=(
            '        "SELECT * FROM workspaces WHERE id = ? AND user_id = ?",'
            " (workspace_id, user_id)\n"
        ),
        new='        "SELECT * FROM workspaces WHERE id = ?", (workspace_id,)\n',
        gap="The chain has one identity, so it never offers a foreign workspace. A check "
        "would need a second reserved onboarding identity (smoke+other@…) whose workspace "
        "id the first one's profile step must be refused (404/403).",
    ),
    # --- billing -------------------------------------------------------------------------
    Mutation(
        id="billing.plan_ignored",
        journey="billing",
        kind="ignored parameter",
        effect="checkout ignores the chosen plan: a customer who picks Team is subscribed to Pro",
        file="sandbox/billing.py",
        old="        (session_id, user.id, body.plan_id, setup_intent_id, client_secret, _now()),\n",
        new="        (session_id, user.id, PLANS[0].id, setup_intent_id, client_secret, _now()),\n",
        gap="The suite always buys the default plan (pro-monthly), which is what an ignored "
        "plan_id falls back to. billing should buy a non-default plan (configurable) and "
        "check that the subscription's plan_id is the one bought, in the app and in Stripe.",
    ),
    Mutation(
        id="billing.decline_leaves_pending",
        journey="billing",
        kind="leaked row",
        effect="a declined card shows its error but leaves a pending subscription behind",
        file="sandbox/billing.py",
        old=(
            '    user_id, plan_id = session["user_id"], session["plan_id"]\n'
            "\n"
            '    if status != "succeeded":\n'
        ),
        new=(
            '    user_id, plan_id = session["user_id"], session["plan_id"]\n'
            "    _record_subscription(sandbox, user_id, plan_id, None, session_id)\n"
            "\n"
            '    if status != "succeeded":\n'
        ),
        gap="billing.declined_card reads the subscription status after the decline: it "
        "should fail.",
    ),
    Mutation(
        id="billing.cancel_skips_stripe",
        journey="billing",
        kind="skipped step",
        effect="cancelling marks the subscription canceled in the app but never in Stripe: "
        "the customer keeps being charged",
        file="sandbox/billing.py",
        old=(
            '    if row["stripe_subscription_id"] and row["status"] != "canceled":\n'
            '        sandbox.stripe.cancel_subscription(row["stripe_subscription_id"])\n'
        ),
        new="",
        gap="billing.subscription_cancelled cross-checks Stripe after the app's cancel: it "
        "should fail.",
    ),
    Mutation(
        id="billing.pending_reported_active",
        journey="billing",
        kind="lie in a status",
        effect="the subscription API says `active` while the payment is still pending: the "
        "plan shown as active is not provisioned (the tenant stays on free)",
        file="sandbox/billing.py",
        old='        "status": row["status"],\n',
        new='        "status": "active" if row["status"] == "pending" else row["status"],\n',
        gap="billing.subscription_active trusts the status field and Stripe, which agree. "
        "It should also prove the provisioning took effect where the user sees it: the "
        "own tenant's plan (GET /api/tenants/{own}) or the page's current-plan shows the "
        "plan bought.",
    ),
    Mutation(
        id="billing.cancel_page_shows_new_plan",
        journey="billing",
        kind="lie in a status",
        effect="the checkout cancel page tells the user their plan is the one they just "
        "declined to buy",
        file="sandbox/billing.py",
        old='    current = tenant_plan(sandbox, tenant["id"], tenant["plan"]) if tenant else "free"\n',
        new='    current = session["plan_id"]\n',
        gap="billing.cancel_returns_unchanged checks the cancelled marker and the API status "
        "but not what the page says; the contract's `card_form.current_plan` selector is "
        "never read. It should read it and compare with the plan before checkout (the own "
        "tenant's plan).",
    ),
    Mutation(
        id="billing.stripe_cancellation_ignored",
        journey="billing",
        kind="skipped step",
        effect="a subscription cancelled in Stripe (dashboard, dunning) stays active in the "
        "app: service without payment",
        file="sandbox/billing.py",
        old=(
            '    elif event_type == "customer.subscription.deleted":\n'
            "        await run_in_threadpool(mark_canceled, sandbox, subscription_id)\n"
        ),
        new="",
        gap="The suite cancels through the app, which marks the row itself, so the "
        "`customer.subscription.deleted` webhook is never what changes it. "
        "billing.subscription_cancelled could cancel in Stripe directly (it already holds "
        "a test-mode client) and poll the app until it says canceled.",
    ),
    Mutation(
        id="billing.price_in_cents",
        journey="billing",
        kind="field type",
        effect="the checkout page shows the price in cents as dollars: 2900.00 USD per month "
        "instead of 29.00",
        file="sandbox/billing.py",
        old='    amount = f"{plan.amount / 100:.2f} {plan.currency.upper()} per {plan.interval}"\n',
        new='    amount = f"{plan.amount:.2f} {plan.currency.upper()} per {plan.interval}"\n',
        gap="No check reads the checkout page's text. billing.checkout_success should check "
        "the page shows the plan's price as the plans API (or the contract) states it, "
        "before paying.",
    ),
    Mutation(
        id="billing.plans_amount_text",
        journey="billing",
        kind="field type",
        effect="the plans API returns amount as a string: a pricing page doing arithmetic "
        "on it breaks",
        file="sandbox/stripe_gateway.py",
        old='            "amount": self.amount,\n',
        new='            "amount": str(self.amount),\n',
        gap="No check calls GET /api/billing/plans. The billing journey should read the "
        "plans with a contract (amount integer, the bought plan listed) before checkout.",
    ),
    Mutation(
        id="billing.paid_lands_on_cancel",
        journey="billing",
        kind="wrong target",
        effect="after a successful payment the customer is sent to the `checkout cancelled` page",
        file="sandbox/billing.py",
        old='    success_url = _urls(sandbox, session_id)["success_url"]\n',
        new='    success_url = _urls(sandbox, session_id)["cancel_url"]\n',
        gap="billing.checkout_success waits for the success page: it should fail.",
    ),
    # --- dashboard -----------------------------------------------------------------------
    Mutation(
        id="dashboard.history_value_text",
        journey="dashboard",
        kind="field type",
        effect='history values come back as text ("2500.0"): charts that plot them break',
        file="sandbox/dashboard.py",
        old='        "SELECT id, date, metric, value FROM history WHERE tenant_id = ?"\n',
        new='        "SELECT id, date, metric, CAST(value AS TEXT) AS value FROM history WHERE tenant_id = ?"\n',
        gap="dashboard.history validates `value: number` in its contract: it should fail.",
    ),
    Mutation(
        id="dashboard.per_page_ignored",
        journey="dashboard",
        kind="ignored parameter",
        effect="per_page is ignored (20 rows whatever is asked) while the answer echoes the "
        "requested per_page: the dashboard shows 20 rows where it asked for 10",
        file="sandbox/dashboard.py",
        old="    rows = sandbox.db.query(rows_sql, (tenant_id, per_page, (page - 1) * per_page))\n",
        new="    rows = sandbox.db.query(rows_sql, (tenant_id, 20, (page - 1) * per_page))\n",
        gap="The endpoint checks ask per_page=20, the value the regression falls back to, "
        "and never compare the item count with it. They should assert len(items) <= "
        "per_page and ask a small non-default page size (say 5) that the seeded data "
        "exceeds, expecting exactly that many.",
    ),
    Mutation(
        id="dashboard.alerts_of_other_tenants",
        journey="dashboard",
        kind="leaked row",
        effect="an unparenthesised filter shows every tenant's unacknowledged alerts: Acme "
        "sees Globex's alerts",
        file="sandbox/dashboard.py",
        old='        " WHERE tenant_id = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",\n',
        new=(
            '        " WHERE tenant_id = ? OR acknowledged = 0 ORDER BY created_at DESC, id DESC'
            ' LIMIT ? OFFSET ?",\n'
        ),
        gap="The endpoint checks prove status, contract and non-emptiness, never whose rows "
        "they are. The dashboard journey should read each endpoint as the second tenant "
        "too (the configured other identity) and fail when an item id appears in both "
        "tenants' answers.",
    ),
    Mutation(
        id="dashboard.feed_oldest_first",
        journey="dashboard",
        kind="ignored parameter",
        effect="the feed lists the oldest activity first: the newest events are on the last page",
        file="sandbox/dashboard.py",
        old=(
            '        "SELECT id, type, title, created_at FROM feed_items WHERE tenant_id = ?"\n'
            '        " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",\n'
        ),
        new=(
            '        "SELECT id, type, title, created_at FROM feed_items WHERE tenant_id = ?"\n'
            '        " ORDER BY created_at ASC, id ASC LIMIT ? OFFSET ?",\n'
        ),
        gap="dashboard.feed does not look at the order. An endpoint's contract could name a "
        "sort key (`order_by: created_at desc`) that the check verifies over the page's "
        "items.",
    ),
    Mutation(
        id="dashboard.total_is_page_length",
        journey="dashboard",
        kind="lie in a status",
        effect="`total` reports the page's length instead of the number of records: a "
        "client's pager shows one page of 20 where there are 30",
        file="sandbox/dashboard.py",
        old="    total = int(sandbox.db.scalar(count_sql, (tenant_id,)) or 0)\n",
        new="    total = len(rows)\n",
        gap="The checks read one page and never relate `total` to anything. They could ask "
        "the page after the last one the total implies and expect it empty, and the page "
        "before it full, or (cheaper) ask a small per_page and expect total > per_page for "
        "the seeded tenant.",
    ),
    Mutation(
        id="dashboard.ui_user_email_field",
        journey="dashboard",
        kind="renamed field",
        effect="the dashboard header reads `Signed in as undefined`",
        file="sandbox/pages.py",
        old="    testid('user-email').textContent = me.email;\n",
        new="    testid('user-email').textContent = me.username;\n",
        gap="dashboard.ui checks the user-email element exists, which it does, empty or "
        "not. Key elements should be able to carry expected text: user-email must show "
        "the test identity's email.",
    ),
    Mutation(
        id="dashboard.ui_alerts_from_feed",
        journey="dashboard",
        kind="wrong target",
        effect="the alerts panel renders the feed's items: ten rows of `[undefined] undefined`",
        file="sandbox/pages.py",
        old="    fill('dashboard-alerts', 'alert-item', alerts.items,\n",
        new="    fill('dashboard-alerts', 'alert-item', feed.items,\n",
        gap="dashboard.ui counts alert-item rows, not what they say. It should compare the "
        "rendered rows with the alerts API it just checked (each row shows an alert's "
        "message; no `undefined`).",
    ),
    Mutation(
        id="dashboard.ui_page_size_over_limit",
        journey="dashboard",
        kind="ignored parameter",
        effect="the dashboard page asks for 200 history rows, over the API's limit of 100: "
        "the page shows `Could not load the dashboard`",
        file="sandbox/pages.py",
        old="      load('/api/dashboard/history?page=1&per_page=10'),\n",
        new="      load('/api/dashboard/history?page=1&per_page=200'),\n",
        gap="dashboard.ui waits for the page to become ready and counts failed requests: it "
        "should fail.",
    ),
    # --- written from the sandbox's sources alone, without reading the checks -----------
    Mutation(
        id="preflight.health_mail_probe_renamed",
        journey="preflight",
        kind="lie in a status",
        effect="the mail probe looks for the SMTP controller's thread under a name it does "
        "not have: /health answers 503 `unhealthy` with mail `down` while mail works",
        file="sandbox/mail.py",
        old='        thread = getattr(self._controller, "_thread", None)\n',
        new='        thread = getattr(self._controller, "thread", None)\n',
        gap="A preflight check of /health should expect 200, status `healthy` and every "
        "dependency `ok` on a healthy target.",
    ),
    Mutation(
        id="preflight.health_version_without_patch",
        journey="preflight",
        kind="lie in a status",
        effect="/health reports the release without its patch number (`2.7` for 2.7.1): a "
        "deploy check cannot tell whether the intended release is live",
        file="sandbox/health.py",
        old='        "version": version,\n',
        new='        "version": version.rpartition(".")[0] or version,\n',
        gap="A preflight version check should compare /health's version with the exact "
        "release the target is expected to run, not only its presence or shape.",
    ),
    Mutation(
        id="auth.redirect_uri_any_host",
        journey="auth",
        kind="dropped check",
        effect="the IdP's authorize endpoint accepts a redirect_uri on any host: an attacker's "
        "link gets a signed-in user's authorization code sent to the attacker's site",
        file="sandbox/idp.py",
        old='    return parts.hostname in {"localhost", "127.0.0.1", request.url.hostname}\n',
        new="    return bool(parts.hostname)  # preview deployments run on their own host names\n",
        gap="An auth check should open /idp/authorize with a redirect_uri on a foreign host "
        "(https://evil.example/cb) and expect the 400 sign-in error, not a login form.",
    ),
    Mutation(
        id="auth.discovery_token_endpoint_moved",
        journey="auth",
        kind="wrong target",
        effect="the OpenID discovery document names /oauth/token as the token endpoint, a "
        "route that answers 404: every OIDC client configured from discovery cannot sign in",
        file="sandbox/idp.py",
        old='        "token_endpoint": f"{base}/idp/token",\n',
        new='        "token_endpoint": f"{base}/oauth/token",\n',
        gap="An auth check should read /.well-known/openid-configuration and use the "
        "endpoints it names (authorize, token, jwks, userinfo) rather than fixed paths.",
    ),
    Mutation(
        id="onboarding.profile_role_use_case_swapped",
        journey="onboarding",
        kind="wrong target",
        effect="the profile step stores the role as the use case and the use case as the "
        "role: the preview shows each answer under the other's label",
        file="sandbox/onboarding.py",
        old="            (profile_id, user_id, body.workspace_id, body.role, body.use_case),\n",
        new="            (profile_id, user_id, body.workspace_id, body.use_case, body.role),\n",
        gap="The onboarding preview check should compare every field with what the chain "
        "submitted, each under its own name, with distinct values for role and use_case.",
    ),
    Mutation(
        id="onboarding.signup_duplicate_server_error",
        journey="onboarding",
        kind="dropped check",
        effect="signing up again with an existing email answers 500 Internal Server Error "
        "(the UNIQUE constraint) instead of 409 `an account … already exists`",
        file="sandbox/onboarding.py",
        old=(
            '    if sandbox.db.scalar("SELECT 1 FROM users WHERE email = ?", (email,)):\n'
            '        raise HTTPException(409, f"an account for {email} already exists")\n'
        ),
        new="    # The users table's UNIQUE email constraint refuses a second account.\n",
        gap="An onboarding check should sign up the same reserved email twice and expect "
        "409 with a readable detail on the second attempt.",
    ),
    Mutation(
        id="billing.success_page_first_plan",
        journey="billing",
        kind="lie in a status",
        effect="the payment success page names the first plan whatever was bought: a "
        "customer who pays for Team reads `Your Pro subscription is being activated`",
        file="sandbox/billing.py",
        old='    return HTMLResponse(pages.success_page(PLANS_BY_ID[session["plan_id"]].name))\n',
        new="    return HTMLResponse(pages.success_page(PLANS[0].name))\n",
        gap="The billing checkout check should buy a plan other than the first and expect "
        "the success page to name that plan.",
    ),
    Mutation(
        id="billing.confirm_twice_subscribes_again",
        journey="billing",
        kind="dropped check",
        effect="a completed checkout session can be confirmed again: a double click on "
        "Subscribe starts a second Stripe subscription and charges the customer twice",
        file="sandbox/billing.py",
        old=(
            '    if session["status"] == "completed":\n'
            '        raise HTTPException(409, "this checkout session is already completed")\n'
        ),
        new="",
        gap="A billing check should confirm a completed session a second time and expect "
        "409, and the customer to hold exactly one subscription in Stripe.",
    ),
    Mutation(
        id="dashboard.page_offset_one_page_late",
        journey="dashboard",
        kind="ignored parameter",
        effect="every dashboard list starts one page late: page 1 shows the second page, "
        "the newest feed items, alerts and history never appear",
        file="sandbox/dashboard.py",
        old="    rows = sandbox.db.query(rows_sql, (tenant_id, per_page, (page - 1) * per_page))\n",
        new="    rows = sandbox.db.query(rows_sql, (tenant_id, per_page, page * per_page))\n",
        gap="A dashboard check should expect page 1 to hold the newest records of the seeded "
        "tenant (e.g. today's feed item) and pages 1 and 2 to be consecutive.",
    ),
    Mutation(
        id="dashboard.alerts_acknowledged_always_false",
        journey="dashboard",
        kind="lie in a status",
        effect="the alerts API compares SQLite's integer flag with a string: every alert "
        "reads acknowledged=false, so handled alerts come back as open",
        file="sandbox/dashboard.py",
        old='        item["acknowledged"] = bool(item["acknowledged"])\n',
        new='        item["acknowledged"] = item["acknowledged"] == "1"\n',
        gap="A dashboard alerts check should expect the seeded tenant's acknowledged alerts "
        "(seven of its ten) to read acknowledged=true.",
    ),
)


def by_id() -> dict[str, Mutation]:
    """The catalogue keyed by mutation id."""
    return {m.id: m for m in CATALOGUE}
