"""The built-in OIDC-style identity provider: RS256 tokens, JWKS, login form, token endpoint."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from jwt.algorithms import RSAAlgorithm

from sandbox import pages
from sandbox.context import SandboxContext, get_sandbox
from sandbox.security import new_token, verify_password

CLIENT_ID = "smoke-web"
TOKEN_LIFETIME_S = 3600
CODE_LIFETIME_S = 120
GRANT_TYPES = ["password", "authorization_code"]


@dataclass(frozen=True)
class Identity:
    """Who a token speaks for."""

    user_id: str
    email: str
    tenant_id: str | None


class InvalidToken(Exception):
    """A token that is malformed, expired, or not signed by this provider."""


@dataclass
class _Code:
    identity: Identity
    redirect_uri: str
    client_id: str
    expires_at: float


class IdentityProvider:
    """Keys, token minting and checking, and short-lived authorization codes."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.key_id = f"sandbox-{new_token()[:8]}"
        # A fresh key per start: tokens from a previous run are worthless.
        self._private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._public_key = self._private_key.public_key()
        self._codes: dict[str, _Code] = {}
        self._lock = threading.Lock()

    def jwks(self) -> dict[str, Any]:
        jwk = dict(RSAAlgorithm.to_jwk(self._public_key, as_dict=True))
        jwk.update({"kid": self.key_id, "use": "sig", "alg": "RS256"})
        return {"keys": [jwk]}

    def issue_tokens(self, identity: Identity, client_id: str = CLIENT_ID) -> dict[str, Any]:
        """The token response: an access token and an id token, both RS256 JWTs."""
        now = int(time.time())
        claims = {
            "sub": identity.user_id,
            "email": identity.email,
            "tenant_id": identity.tenant_id,
            "iss": self.issuer,
            "aud": client_id,
            "iat": now,
            "exp": now + TOKEN_LIFETIME_S,
        }
        headers = {"kid": self.key_id}
        access = jwt.encode(claims, self._private_key, algorithm="RS256", headers=headers)
        id_token = jwt.encode(
            {**claims, "token_use": "id"}, self._private_key, algorithm="RS256", headers=headers
        )
        return {
            "access_token": access,
            "id_token": id_token,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_S,
        }

    def verify(self, token: str, *, check_signature: bool = True) -> dict[str, Any]:
        """The claims of a valid access token, else InvalidToken."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._public_key,
                algorithms=["RS256"],
                audience=CLIENT_ID,
                issuer=self.issuer,
                options={
                    "verify_signature": check_signature,
                    "verify_exp": True,
                    "verify_aud": True,
                    "verify_iss": True,
                    "require": ["sub", "exp", "iss", "aud"],
                },
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        return claims

    def new_code(self, identity: Identity, redirect_uri: str, client_id: str) -> str:
        code = new_token()
        with self._lock:
            self._codes[code] = _Code(
                identity, redirect_uri, client_id, time.monotonic() + CODE_LIFETIME_S
            )
        return code

    def redeem_code(self, code: str, redirect_uri: str, client_id: str) -> Identity | None:
        """The identity behind a code (single use), or None if it is unknown or mismatched."""
        with self._lock:
            entry = self._codes.pop(code, None)
        if entry is None or entry.expires_at < time.monotonic():
            return None
        if entry.redirect_uri != redirect_uri or entry.client_id != client_id:
            return None
        return entry.identity


def identity_for_user(row: Any) -> Identity:
    return Identity(user_id=row["id"], email=row["email"], tenant_id=row["tenant_id"])


def check_password(sandbox: SandboxContext, email: str, password: str) -> Identity | None:
    """The identity for valid credentials; None when they are wrong (or the IdP is broken)."""
    row = sandbox.db.query_one("SELECT * FROM users WHERE email = ?", (email.strip(),))
    if row is None or not verify_password(password, row["password_hash"]):
        return None
    if sandbox.is_on("auth.login_broken"):
        return None
    return identity_for_user(row)


def redirect_uri_allowed(uri: str, request: Request) -> bool:
    """Only back to this sandbox (any loopback name for it): no open redirect."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    return parts.hostname in {"localhost", "127.0.0.1", request.url.hostname}


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded form body as a dict (last value wins).

    Parsed here rather than with FastAPI's Form(), which needs python-multipart for
    what is only ever ``application/x-www-form-urlencoded``.
    """
    body = (await request.body()).decode("utf-8", errors="replace")
    return dict(parse_qsl(body, keep_blank_values=True))


router = APIRouter()
Sandbox = Annotated[SandboxContext, Depends(get_sandbox)]
FormFields = Annotated[dict[str, str], Depends(read_form)]


@router.get("/.well-known/openid-configuration")
def discovery(sandbox: Sandbox) -> dict[str, Any]:
    base = sandbox.public_base_url
    return {
        "issuer": sandbox.idp.issuer,
        "authorization_endpoint": f"{base}/idp/authorize",
        "token_endpoint": f"{base}/idp/token",
        "jwks_uri": f"{base}/idp/jwks",
        "userinfo_endpoint": f"{base}/idp/userinfo",
        "grant_types_supported": GRANT_TYPES,
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["none"],
    }


@router.get("/idp/jwks")
def jwks(sandbox: Sandbox) -> dict[str, Any]:
    return sandbox.idp.jwks()


@router.get("/idp/authorize", response_class=HTMLResponse)
def authorize_form(
    request: Request,
    response_type: str = "code",
    client_id: str = "",
    redirect_uri: str = "",
    state: str = "",
) -> HTMLResponse:
    error = _authorize_request_error(request, response_type, client_id, redirect_uri)
    if error:
        return HTMLResponse(pages.message_page("Sign-in error", error, "login-error"), 400)
    return HTMLResponse(pages.login_page(client_id, redirect_uri, state))


@router.post("/idp/authorize", response_model=None)
def authorize_submit(
    request: Request, sandbox: Sandbox, form: FormFields
) -> HTMLResponse | RedirectResponse:
    email, password, state = form.get("email", ""), form.get("password", ""), form.get("state", "")
    client_id, redirect_uri = form.get("client_id", ""), form.get("redirect_uri", "")
    response_type = form.get("response_type", "code")
    error = _authorize_request_error(request, response_type, client_id, redirect_uri)
    if error:
        return HTMLResponse(pages.message_page("Sign-in error", error, "login-error"), 400)
    identity = check_password(sandbox, email, password)
    if identity is None:
        page = pages.login_page(
            client_id, redirect_uri, state, email=email, error="Wrong email or password."
        )
        return HTMLResponse(page)
    code = sandbox.idp.new_code(identity, redirect_uri, client_id)
    separator = "&" if "?" in redirect_uri else "?"
    target = f"{redirect_uri}{separator}{urlencode({'code': code, 'state': state})}"
    return RedirectResponse(target, status_code=302)


def _authorize_request_error(
    request: Request, response_type: str, client_id: str, redirect_uri: str
) -> str | None:
    if response_type != "code":
        return f"Unsupported response_type {response_type!r}: only 'code' is supported."
    if client_id != CLIENT_ID:
        return f"Unknown client_id {client_id!r}: expected {CLIENT_ID!r}."
    if not redirect_uri_allowed(redirect_uri, request):
        return f"redirect_uri {redirect_uri!r} is not a URL of this sandbox."
    return None


@router.post("/idp/token")
def token(sandbox: Sandbox, form: FormFields) -> JSONResponse:
    grant_type, client_id = form.get("grant_type", ""), form.get("client_id", "")
    username, password = form.get("username", ""), form.get("password", "")
    code, redirect_uri = form.get("code", ""), form.get("redirect_uri", "")
    if client_id != CLIENT_ID:
        return JSONResponse({"error": "invalid_client"}, 401)
    if grant_type == "password":
        identity = check_password(sandbox, username, password)
        if identity is None:
            return JSONResponse({"error": "invalid_grant"}, 401)
    elif grant_type == "authorization_code":
        redeemed = sandbox.idp.redeem_code(code, redirect_uri, client_id)
        if redeemed is None:
            return JSONResponse({"error": "invalid_grant"}, 400)
        identity = redeemed
    else:
        return JSONResponse({"error": "unsupported_grant_type"}, 400)
    return JSONResponse(
        sandbox.idp.issue_tokens(identity, client_id), headers={"Cache-Control": "no-store"}
    )


@router.get("/idp/userinfo")
def userinfo(request: Request, sandbox: Sandbox) -> JSONResponse:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value:
        return JSONResponse({"error": "invalid_token"}, 401)
    try:
        claims = sandbox.idp.verify(value.strip())
    except InvalidToken:
        return JSONResponse({"error": "invalid_token"}, 401)
    return JSONResponse(
        {"sub": claims["sub"], "email": claims.get("email"), "tenant_id": claims.get("tenant_id")}
    )
