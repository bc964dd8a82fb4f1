"""The sandbox's HTML pages: small, dependency-free, each element named by data-testid."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

# An inline empty icon: without it the browser asks for /favicon.ico, and a smoke check
# that counts failed requests would see the 404.
_HEAD = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{title} · Smoke Sandbox</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 48rem; color: #222; }}
label {{ display: block; margin: .5rem 0; }}
input {{ padding: .3rem; }}
button {{ padding: .4rem .9rem; }}
.error {{ color: #b00020; }}
li {{ margin: .2rem 0; }}
</style>
<script>
// Like any production front end, the pages retry a request that failed transiently
// (429, 502, 503, 504) twice with a short backoff before giving up.
(() => {{
  const plainFetch = window.fetch.bind(window);
  window.fetch = async (input, init) => {{
    for (let attempt = 0; ; attempt++) {{
      const response = await plainFetch(input, init);
      if (![429, 502, 503, 504].includes(response.status) || attempt === 2) return response;
      await new Promise((resolve) => setTimeout(resolve, 150 * 2 ** attempt));
    }}
  }};
}})();
</script>
</head>
"""


def _page(title: str, body: str) -> str:
    return _HEAD.format(title=escape(title)) + f"<body>\n{body}\n</body>\n</html>\n"


def _json_for_script(data: Mapping[str, Any]) -> str:
    """JSON that is safe inside a <script> element."""
    return json.dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def message_page(title: str, message: str, testid: str) -> str:
    return _page(
        title,
        f'<h1>{escape(title)}</h1>\n<p data-testid="{escape(testid)}" '
        f'class="error">{escape(message)}</p>',
    )


def login_page(
    client_id: str, redirect_uri: str, state: str, *, email: str = "", error: str | None = None
) -> str:
    error_html = (
        f'<p data-testid="login-error" class="error" role="alert">{escape(error)}</p>'
        if error
        else ""
    )
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{escape(value)}">'
        for name, value in (
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("state", state),
        )
    )
    return _page(
        "Sign in",
        f"""<h1>Sign in to the sandbox</h1>
{error_html}
<form method="post" action="/idp/authorize">
{hidden}
<label>Email <input data-testid="login-email" name="email" type="email" autocomplete="username"
 value="{escape(email)}" required></label>
<label>Password <input data-testid="login-password" name="password" type="password"
 autocomplete="current-password" required></label>
<button data-testid="login-submit" type="submit">Sign in</button>
</form>""",
    )


def preview_page(data: Mapping[str, Any], fields: Iterable[str]) -> str:
    rows = "\n".join(
        f'<dt>{escape(name)}</dt><dd data-testid="preview-{escape(name)}">'
        f"{escape(str(data[name]))}</dd>"
        for name in fields
        if name in data
    )
    return _page(
        "Workspace preview",
        f"""<h1>Your workspace preview</h1>
<dl data-testid="preview" data-preview-id="{escape(str(data["preview_id"]))}">
{rows}
</dl>""",
    )


PASSKEY_SCRIPT = """
const statusLine = document.querySelector('[data-testid="passkey-status"]');
const show = (text) => { statusLine.textContent = text; };
const toBuffer = (value) => {
  const b64 = value.replace(/-/g, '+').replace(/_/g, '/');
  const padded = b64 + '='.repeat((4 - b64.length % 4) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)).buffer;
};
const toBase64url = (buffer) => {
  let text = '';
  new Uint8Array(buffer).forEach((byte) => { text += String.fromCharCode(byte); });
  return btoa(text).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
};
const post = async (path, body) => {
  const response = await fetch(path, {
    method: 'POST',
    headers: {'Content-Type': 'application/json'},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = typeof data.detail === 'string' ? data.detail : JSON.stringify(data.detail);
    throw new Error(detail || (path + ' answered ' + response.status));
  }
  return data;
};
async function registerPasskey() {
  const options = await post('/api/passkeys/register/options');
  options.challenge = toBuffer(options.challenge);
  options.user.id = toBuffer(options.user.id);
  (options.excludeCredentials || []).forEach((c) => { c.id = toBuffer(c.id); });
  const credential = await navigator.credentials.create({publicKey: options});
  await post('/api/passkeys/register/verify', {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    response: {
      clientDataJSON: toBase64url(credential.response.clientDataJSON),
      attestationObject: toBase64url(credential.response.attestationObject),
      transports: credential.response.getTransports ? credential.response.getTransports() : [],
    },
    clientExtensionResults: credential.getClientExtensionResults(),
    authenticatorAttachment: credential.authenticatorAttachment,
  });
  show('registered');
}
async function loginWithPasskey() {
  const options = await post('/api/passkeys/login/options');
  options.challenge = toBuffer(options.challenge);
  (options.allowCredentials || []).forEach((c) => { c.id = toBuffer(c.id); });
  const assertion = await navigator.credentials.get({publicKey: options});
  const result = await post('/api/passkeys/login/verify', {
    id: assertion.id,
    rawId: toBase64url(assertion.rawId),
    type: assertion.type,
    response: {
      clientDataJSON: toBase64url(assertion.response.clientDataJSON),
      authenticatorData: toBase64url(assertion.response.authenticatorData),
      signature: toBase64url(assertion.response.signature),
      userHandle: assertion.response.userHandle ? toBase64url(assertion.response.userHandle) : null,
    },
    clientExtensionResults: assertion.getClientExtensionResults(),
    authenticatorAttachment: assertion.authenticatorAttachment,
  });
  show('signed in as ' + result.email);
}
const run = (action) => async () => {
  show('working');
  try { await action(); } catch (error) { show('error: ' + (error.message || error)); }
};
const button = (name) => document.querySelector('[data-testid="' + name + '"]');
button('passkey-register').addEventListener('click', run(registerPasskey));
button('passkey-login').addEventListener('click', run(loginWithPasskey));
"""


def passkeys_page() -> str:
    return _page(
        "Passkeys",
        f"""<h1>Passkeys</h1>
<p>Register a passkey for the signed-in account, or sign in with one.</p>
<button data-testid="passkey-register" type="button">Register a passkey</button>
<button data-testid="passkey-login" type="button">Sign in with a passkey</button>
<p data-testid="passkey-status" role="status"></p>
<script>{PASSKEY_SCRIPT}</script>""",
    )


CHECKOUT_SCRIPT = """
const config = JSON.parse(document.getElementById('checkout-config').textContent);
const errorLine = document.querySelector('[data-testid="checkout-error"]');
const submit = document.querySelector('[data-testid="checkout-submit"]');
const stripe = Stripe(config.publishableKey);
const cardElement = stripe.elements().create('card');
cardElement.mount('#card-element');
submit.addEventListener('click', async () => {
  submit.disabled = true;
  errorLine.textContent = '';
  let stripeResult = {};
  try {
    stripeResult = await stripe.confirmCardSetup(config.clientSecret,
                                                 {payment_method: {card: cardElement}});
  } catch (error) {
    stripeResult = {error: {message: String(error.message || error)}};
  }
  // The server decides from the SetupIntent it reads back from Stripe, whatever the
  // browser says: so the confirm call always happens.
  try {
    const response = await fetch(config.confirmUrl, {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({setup_intent_id: config.setupIntentId}),
    });
    const data = await response.json().catch(() => ({}));
    if (response.ok) {
      window.location.assign(data.redirect);
      return;
    }
    errorLine.textContent = data.detail ||
      (stripeResult.error && stripeResult.error.message) ||
      ('Checkout failed: the server answered ' + response.status);
  } catch (error) {
    errorLine.textContent = 'Checkout failed: ' + (error.message || error);
  }
  submit.disabled = false;
});
"""


def checkout_page(
    *, plan_name: str, amount: str, stripe_js_url: str, config: Mapping[str, Any], cancel_url: str
) -> str:
    return _page(
        "Checkout",
        f"""<h1>Subscribe to {escape(plan_name)}</h1>
<p data-testid="checkout-plan">{escape(plan_name)}: {escape(amount)}</p>
<div id="card-element" data-testid="card-element"></div>
<p><button data-testid="checkout-submit" type="button">Subscribe</button>
<a data-testid="checkout-cancel" href="{escape(cancel_url)}">Cancel</a></p>
<p data-testid="checkout-error" class="error" role="alert"></p>
<script id="checkout-config" type="application/json">{_json_for_script(config)}</script>
<script src="{escape(stripe_js_url)}"></script>
<script>{CHECKOUT_SCRIPT}</script>""",
    )


def success_page(plan_name: str) -> str:
    return _page(
        "Subscribed",
        f"""<h1 data-testid="checkout-success">Thank you!</h1>
<p>Your <span data-testid="success-plan">{escape(plan_name)}</span> subscription is being activated.</p>
<p><a href="/app">Back to the dashboard</a></p>""",
    )


def cancel_page(current_plan: str) -> str:
    return _page(
        "Checkout cancelled",
        f"""<h1 data-testid="checkout-cancelled">Checkout cancelled</h1>
<p>Nothing was charged. Your plan:
<strong data-testid="current-plan">{escape(current_plan)}</strong></p>
<p><a href="/app">Back to the dashboard</a></p>""",
    )


DASHBOARD_SCRIPT = """
const testid = (name) => document.querySelector('[data-testid="' + name + '"]');
const load = async (path) => {
  const response = await fetch(path, {credentials: 'same-origin'});
  if (!response.ok) throw new Error(path + ' answered ' + response.status);
  return response.json();
};
const fill = (listName, itemName, items, describe) => {
  const list = testid(listName);
  list.replaceChildren(...items.map((item) => {
    const li = document.createElement('li');
    li.dataset.testid = itemName;
    li.textContent = describe(item);
    return li;
  }));
};
(async () => {
  try {
    const [me, feed, alerts, history] = await Promise.all([
      load('/api/me'),
      load('/api/dashboard/feed?page=1&per_page=10'),
      load('/api/dashboard/alerts?page=1&per_page=10'),
      load('/api/dashboard/history?page=1&per_page=10'),
    ]);
    testid('user-email').textContent = me.email;
    testid('tenant-name').textContent = me.tenant_name || '';
    fill('dashboard-feed', 'feed-item', feed.items,
         (i) => i.created_at.slice(0, 10) + ' ' + i.title);
    fill('dashboard-alerts', 'alert-item', alerts.items,
         (i) => '[' + i.severity + '] ' + i.message);
    fill('dashboard-history', 'history-item', history.items,
         (i) => i.date + ' ' + i.metric + ': ' + i.value);
    document.body.dataset.ready = 'true';
  } catch (error) {
    testid('dashboard-error').textContent = 'Could not load the dashboard: ' + error.message;
    document.body.dataset.ready = 'error';
  }
})();
"""


def dashboard_page(*, js_error: bool, failed_request: bool) -> str:
    extra = ""
    if failed_request:
        extra += '<script src="/static/dashboard-widgets.js"></script>\n'
    if js_error:
        extra += "<script>throw new Error('dashboard widget crashed');</script>\n"
    return _page(
        "Dashboard",
        f"""<header><h1>Dashboard</h1>
<p>Signed in as <span data-testid="user-email"></span> (<span data-testid="tenant-name"></span>)</p>
<p data-testid="dashboard-error" class="error" role="alert"></p></header>
<section><h2>Feed</h2><ul data-testid="dashboard-feed"></ul></section>
<section><h2>Alerts</h2><ul data-testid="dashboard-alerts"></ul></section>
<section><h2>History</h2><ul data-testid="dashboard-history"></ul></section>
<script>{DASHBOARD_SCRIPT}</script>
{extra}""",
    )
