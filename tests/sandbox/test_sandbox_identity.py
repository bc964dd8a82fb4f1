"""Health, the identity provider, login/session, tenants and passkeys, over real HTTP."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from sandbox_test_helpers import CREDENTIALS, bearer
from soft_authenticator import SoftAuthenticator

from sandbox import RunningSandbox


def test_health_reports_version_and_dependencies(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "healthy",
        "version": "2.3.4",
        "dependencies": {"database": "ok", "stripe": "ok", "mail": "ok"},
    }


def test_discovery_and_jwks_verify_an_issued_token(
    client: httpx.Client, sandbox: RunningSandbox, test_token: str
) -> None:
    discovery = client.get("/.well-known/openid-configuration").json()
    assert discovery["issuer"] == sandbox.base_url
    assert discovery["token_endpoint"] == f"{sandbox.base_url}/idp/token"
    assert {"password", "authorization_code"} <= set(discovery["grant_types_supported"])
    for key in ("authorization_endpoint", "jwks_uri", "userinfo_endpoint"):
        assert discovery[key].startswith(sandbox.base_url)
    jwks = client.get("/idp/jwks").json()
    (jwk,) = jwks["keys"]
    assert jwk["kty"] == "RSA"
    assert jwk["kid"]
    assert jwt.get_unverified_header(test_token)["kid"] == jwk["kid"]
    public_key = jwt.PyJWK(jwk).key
    claims = jwt.decode(
        test_token,
        public_key,
        algorithms=["RS256"],
        audience="smoke-web",
        issuer=discovery["issuer"],
    )
    assert claims["email"] == CREDENTIALS.test_email
    assert claims["tenant_id"] == "acme-test"
    assert claims["sub"] == "usr_smoke_test"
    assert 3500 <= claims["exp"] - time.time() <= 3600


def test_password_grant_answers_the_token_response(client: httpx.Client) -> None:
    response = client.post(
        "/idp/token",
        data={
            "grant_type": "password",
            "username": CREDENTIALS.other_email,
            "password": CREDENTIALS.other_password,
            "client_id": "smoke-web",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "id_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600


def test_wrong_password_is_invalid_grant(client: httpx.Client) -> None:
    response = client.post(
        "/idp/token",
        data={
            "grant_type": "password",
            "username": CREDENTIALS.test_email,
            "password": "wrong",
            "client_id": "smoke-web",
        },
    )
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_grant"}


def test_userinfo(client: httpx.Client, test_token: str) -> None:
    response = client.get("/idp/userinfo", headers=bearer(test_token))
    assert response.json() == {
        "sub": "usr_smoke_test",
        "email": CREDENTIALS.test_email,
        "tenant_id": "acme-test",
    }
    assert client.get("/idp/userinfo").status_code == 401


def browser_login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    """GET /login, submit the IdP form, follow back to the callback; return its answer."""
    to_idp = client.get("/login")
    assert to_idp.status_code == 302
    authorize_url = to_idp.headers["location"]
    form_page = client.get(authorize_url)
    assert form_page.status_code == 200
    for testid in ("login-email", "login-password", "login-submit"):
        assert f'data-testid="{testid}"' in form_page.text
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    submitted = client.post(
        "/idp/authorize",
        data={
            "email": email,
            "password": password,
            "client_id": query["client_id"],
            "redirect_uri": query["redirect_uri"],
            "state": query["state"],
            "response_type": "code",
        },
    )
    if submitted.status_code != 302:
        return submitted
    return client.get(submitted.headers["location"])


def test_browser_login_through_the_idp_sets_a_session(client: httpx.Client) -> None:
    callback = browser_login(client, CREDENTIALS.test_email, CREDENTIALS.test_password)
    assert callback.status_code == 302
    assert callback.headers["location"] == "/app"
    assert "httponly" in callback.headers["set-cookie"].lower()
    me = client.get("/api/me")
    assert me.status_code == 200
    assert me.json() == {
        "id": "usr_smoke_test",
        "email": CREDENTIALS.test_email,
        "name": "Smoke Tester",
        "tenant_id": "acme-test",
        "tenant_name": "Acme Test",
    }
    assert client.get("/app").status_code == 200
    assert client.post("/logout").status_code == 200
    assert client.get("/api/me").status_code == 401


def test_wrong_password_on_the_login_form_shows_an_error(client: httpx.Client) -> None:
    page = browser_login(client, CREDENTIALS.test_email, "not-the-password")
    assert page.status_code == 200
    assert 'data-testid="login-error"' in page.text


def test_authorization_code_grant_exchanges_a_code(
    client: httpx.Client, sandbox: RunningSandbox
) -> None:
    redirect_uri = f"{sandbox.base_url}/somewhere/callback"
    submitted = client.post(
        "/idp/authorize",
        data={
            "email": CREDENTIALS.test_email,
            "password": CREDENTIALS.test_password,
            "client_id": "smoke-web",
            "redirect_uri": redirect_uri,
            "state": "s1",
            "response_type": "code",
        },
    )
    assert submitted.status_code == 302
    query = parse_qs(urlsplit(submitted.headers["location"]).query)
    assert query["state"] == ["s1"]
    form = {
        "grant_type": "authorization_code",
        "code": query["code"][0],
        "redirect_uri": redirect_uri,
        "client_id": "smoke-web",
    }
    first = client.post("/idp/token", data=form)
    assert first.status_code == 200
    assert client.get("/api/me", headers=bearer(first.json()["access_token"])).status_code == 200
    assert client.post("/idp/token", data=form).json() == {"error": "invalid_grant"}


def test_callback_with_a_forged_state_is_rejected(client: httpx.Client) -> None:
    client.get("/login")  # sets the real oauth_state cookie
    response = client.get("/auth/callback", params={"code": "x", "state": "forged"})
    assert response.status_code == 400
    assert response.json() == {"detail": "invalid state"}
    assert "session=" not in response.headers.get("set-cookie", "")


def test_app_page_sends_anonymous_users_to_login(client: httpx.Client) -> None:
    response = client.get("/app")
    assert response.status_code == 302
    assert response.headers["location"] == "/login"


def test_password_grant_token_as_session_cookie_authenticates(
    sandbox: RunningSandbox, test_token: str
) -> None:
    with httpx.Client(base_url=sandbox.base_url, cookies={"session": test_token}) as browser:
        assert browser.get("/api/me").json()["email"] == CREDENTIALS.test_email
        assert browser.get("/app").status_code == 200


def tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    flipped = (
        base64.urlsafe_b64encode(
            bytes(
                [b ^ 1 for b in base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))]
            )
        )
        .rstrip(b"=")
        .decode()
    )
    return f"{header}.{payload}.{flipped}"


def foreign_token(claims: dict[str, object]) -> str:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm="RS256")


@pytest.mark.parametrize(
    "kind", ["none", "malformed", "bad_signature", "other_key", "expired", "not_bearer"]
)
def test_protected_routes_refuse_anonymous_and_bad_tokens(
    client: httpx.Client, sandbox: RunningSandbox, test_token: str, kind: str
) -> None:
    claims = jwt.decode(test_token, options={"verify_signature": False})
    headers = {
        "none": {},
        "malformed": bearer("not-a-jwt"),
        "bad_signature": bearer(tampered(test_token)),
        "other_key": bearer(foreign_token(claims)),
        "expired": bearer(foreign_token({**claims, "exp": int(time.time()) - 10})),
        "not_bearer": {"Authorization": f"Basic {test_token}"},
    }[kind]
    for path in (
        "/api/me",
        "/api/tenants/acme-test",
        "/api/dashboard/feed",
        "/api/billing/subscription",
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == 401, (path, response.text)


def test_tenant_is_readable_by_members_only(
    client: httpx.Client, test_token: str, other_token: str
) -> None:
    own = client.get("/api/tenants/acme-test", headers=bearer(test_token))
    assert own.status_code == 200
    body = own.json()
    assert (body["id"], body["name"]) == ("acme-test", "Acme Test")
    assert isinstance(body["plan"], str)
    assert body["plan"]
    assert [m["email"] for m in body["members"]] == [CREDENTIALS.test_email]
    assert client.get("/api/tenants/globex", headers=bearer(test_token)).status_code == 403
    assert client.get("/api/tenants/acme-test", headers=bearer(other_token)).status_code == 403
    globex = client.get("/api/tenants/globex", headers=bearer(other_token)).json()
    assert globex["name"] == "Globex"


def test_passkey_register_and_login(
    client: httpx.Client, sandbox: RunningSandbox, test_token: str
) -> None:
    authenticator = SoftAuthenticator(origin=sandbox.base_url)
    options = client.post("/api/passkeys/register/options", headers=bearer(test_token))
    assert options.status_code == 200
    creation = options.json()
    assert creation["rp"]["id"] == "localhost"
    assert creation["authenticatorSelection"]["residentKey"] == "required"
    registered = client.post(
        "/api/passkeys/register/verify",
        headers=bearer(test_token),
        json=authenticator.create(creation),
    )
    assert registered.status_code == 200, registered.text
    assert registered.json()["verified"] is True
    assert registered.json()["credential_id"]

    with httpx.Client(base_url=sandbox.base_url) as browser:  # no session: a new device
        request_options = browser.post("/api/passkeys/login/options")
        assert request_options.status_code == 200
        assert "passkey_challenge" in request_options.cookies
        assert request_options.json().get("allowCredentials", []) == []
        login = browser.post(
            "/api/passkeys/login/verify", json=authenticator.get(request_options.json())
        )
        assert login.status_code == 200, login.text
        body = login.json()
        assert body["verified"] is True
        assert body["email"] == CREDENTIALS.test_email
        assert browser.get("/api/me").json()["email"] == CREDENTIALS.test_email
        assert browser.get("/api/me", headers=bearer(body["access_token"])).status_code == 200


def test_passkey_bad_attestation_and_bad_assertion_are_400(
    client: httpx.Client, sandbox: RunningSandbox, test_token: str
) -> None:
    authenticator = SoftAuthenticator(origin="http://evil.example")
    options = client.post("/api/passkeys/register/options", headers=bearer(test_token)).json()
    bad = client.post(
        "/api/passkeys/register/verify",
        headers=bearer(test_token),
        json=authenticator.create(options),
    )
    assert bad.status_code == 400
    assert "registration failed" in bad.json()["detail"]
    with httpx.Client(base_url=sandbox.base_url) as browser:
        request_options = browser.post("/api/passkeys/login/options").json()
        assertion = authenticator.get(request_options)
        response = browser.post("/api/passkeys/login/verify", json=assertion)
        assert response.status_code == 400
        assert "session" not in response.cookies


def test_passkey_registration_needs_auth(client: httpx.Client) -> None:
    assert client.post("/api/passkeys/register/options").status_code == 401


def test_passkey_page_has_its_controls(client: httpx.Client) -> None:
    page = client.get("/passkeys")
    assert page.status_code == 200
    for testid in ("passkey-register", "passkey-login", "passkey-status"):
        assert f'data-testid="{testid}"' in page.text
    assert json.dumps("navigator.credentials.create")[1:-1] in page.text


def test_server_output_holds_no_secret(sandbox: RunningSandbox, client: httpx.Client) -> None:
    client.get("/health")
    output = sandbox.log_path.read_text()
    assert "Smoke sandbox 2.3.4 is running" in output
    for secret in CREDENTIALS.secret_values():
        assert secret not in output
