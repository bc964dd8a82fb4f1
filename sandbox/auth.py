"""The app's side of identity: login redirect, callback, session, and who is calling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from sandbox.context import SandboxContext, get_sandbox
from sandbox.idp import CLIENT_ID, InvalidToken
from sandbox.security import new_token, same_secret
from sandbox.seed import TEST_USER_ID

SESSION_COOKIE = "session"
STATE_COOKIE = "oauth_state"
STATE_LIFETIME_S = 600


@dataclass(frozen=True)
class User:
    """The caller of a protected route."""

    id: str
    email: str
    name: str
    tenant_id: str | None


Sandbox = Annotated[SandboxContext, Depends(get_sandbox)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def _presented_token(request: Request) -> str | None:
    """The bearer token, else the session cookie, else None."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise _unauthorized("malformed Authorization header: expected 'Bearer <token>'")
        return value.strip()
    return request.cookies.get(SESSION_COOKIE) or None


def load_user(sandbox: SandboxContext, user_id: str) -> User | None:
    row = sandbox.db.query_one("SELECT * FROM users WHERE id = ?", (user_id,))
    if row is None:
        return None
    return User(id=row["id"], email=row["email"], name=row["name"], tenant_id=row["tenant_id"])


def user_from_token(sandbox: SandboxContext, token: str) -> User:
    """The user an access token speaks for, or 401."""
    check_signature = not sandbox.is_on("auth.bad_token_accepted")
    try:
        claims = sandbox.idp.verify(token, check_signature=check_signature)
    except InvalidToken as exc:
        raise _unauthorized(f"invalid token: {exc}") from None
    user = load_user(sandbox, str(claims["sub"]))
    if user is None:
        raise _unauthorized("invalid token: unknown user")
    return user


def current_user(request: Request, sandbox: Sandbox) -> User:
    """Dependency for protected routes: bearer token or session cookie, else 401."""
    token = _presented_token(request)
    if token is None:
        raise _unauthorized("authentication required")
    return user_from_token(sandbox, token)


def dashboard_user(request: Request, sandbox: Sandbox) -> User:
    """Like ``current_user``, except that auth.bypass lets anonymous callers in."""
    token = _presented_token(request)
    if token is None and sandbox.is_on("auth.bypass"):
        user = load_user(sandbox, TEST_USER_ID)
        if user is not None:
            return user
    if token is None:
        raise _unauthorized("authentication required")
    return user_from_token(sandbox, token)


CurrentUser = Annotated[User, Depends(current_user)]


def set_session_cookie(response: Response, access_token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, access_token, max_age=3600, httponly=True, samesite="lax", path="/"
    )


def callback_url(request: Request) -> str:
    return str(request.url_for("auth_callback"))


router = APIRouter()


@router.get("/login")
def login(request: Request) -> RedirectResponse:
    state = new_token()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": callback_url(request),
            "state": state,
        }
    )
    response = RedirectResponse(f"{request.url_for('authorize_form')}?{query}", status_code=302)
    response.set_cookie(
        STATE_COOKIE, state, max_age=STATE_LIFETIME_S, httponly=True, samesite="lax", path="/"
    )
    return response


@router.get("/auth/callback", name="auth_callback", response_model=None)
def auth_callback(
    request: Request, sandbox: Sandbox, code: str = "", state: str = ""
) -> JSONResponse | RedirectResponse:
    expected = request.cookies.get(STATE_COOKIE)
    state_ok = bool(state) and expected is not None and same_secret(state, expected)
    if not state_ok and not sandbox.is_on("auth.forged_state_accepted"):
        return JSONResponse({"detail": "invalid state"}, 400)
    identity = sandbox.idp.redeem_code(code, callback_url(request), CLIENT_ID)
    if identity is None:
        return JSONResponse({"detail": "invalid code"}, 400)
    tokens = sandbox.idp.issue_tokens(identity)
    response = RedirectResponse("/app", status_code=302)
    set_session_cookie(response, tokens["access_token"])
    response.delete_cookie(STATE_COOKIE, path="/")
    return response


@router.post("/logout")
def logout() -> JSONResponse:
    response = JSONResponse({"status": "logged_out"})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/api/me")
def me(user: CurrentUser, sandbox: Sandbox) -> dict[str, Any]:
    tenant_name = sandbox.db.scalar("SELECT name FROM tenants WHERE id = ?", (user.tenant_id,))
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "tenant_id": user.tenant_id,
        "tenant_name": tenant_name,
    }


def tenant_plan(sandbox: SandboxContext, tenant_id: str, default: str) -> str:
    """The plan of a member's active subscription, else the tenant's seeded plan."""
    plan = sandbox.db.scalar(
        "SELECT s.plan_id FROM subscriptions s JOIN users u ON u.id = s.user_id"
        " WHERE u.tenant_id = ? AND s.status = 'active' ORDER BY s.updated_at DESC LIMIT 1",
        (tenant_id,),
    )
    return str(plan) if plan else default


@router.get("/api/tenants/{tenant_id}")
def tenant(tenant_id: str, user: CurrentUser, sandbox: Sandbox) -> dict[str, Any]:
    if tenant_id != user.tenant_id and not sandbox.is_on("auth.tenant_leak"):
        raise HTTPException(403, "you are not a member of this tenant")
    row = sandbox.db.query_one("SELECT * FROM tenants WHERE id = ?", (tenant_id,))
    if row is None:
        raise HTTPException(404, f"no tenant {tenant_id!r}")
    members = sandbox.db.query(
        "SELECT id, email, name FROM users WHERE tenant_id = ? ORDER BY email", (tenant_id,)
    )
    return {
        "id": row["id"],
        "name": row["name"],
        "plan": tenant_plan(sandbox, tenant_id, row["plan"]),
        "members": [dict(member) for member in members],
    }
