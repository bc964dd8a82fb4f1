"""Passkeys (WebAuthn) with the ``webauthn`` library; the rp id is the request's host name."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from sandbox import pages
from sandbox.auth import CurrentUser, load_user, set_session_cookie
from sandbox.context import SandboxContext, get_sandbox
from sandbox.idp import Identity
from sandbox.security import new_token

CHALLENGE_COOKIE = "passkey_challenge"
CHALLENGE_LIFETIME_S = 300
RP_NAME = "Smoke Sandbox"

Sandbox = Annotated[SandboxContext, Depends(get_sandbox)]
# The browser's PublicKeyCredential, serialised by the page (base64url for binary fields).
Credential = Annotated[dict[str, Any], Body()]


class _Challenges:
    """Outstanding challenges, each usable once and only for a few minutes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, tuple[bytes, float]] = {}

    def put(self, key: str, challenge: bytes) -> None:
        now = time.monotonic()
        with self._lock:
            self._by_key = {k: v for k, v in self._by_key.items() if v[1] > now}
            self._by_key[key] = (challenge, now + CHALLENGE_LIFETIME_S)

    def pop(self, key: str | None) -> bytes | None:
        if key is None:
            return None
        with self._lock:
            entry = self._by_key.pop(key, None)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]


_registrations = _Challenges()
_logins = _Challenges()


def _rp_id(request: Request) -> str:
    return request.url.hostname or "localhost"


def _origin(request: Request) -> str:
    # What the browser puts in clientDataJSON: the page's scheme://host[:port].
    return f"{request.url.scheme}://{request.url.netloc}"


def _json_options(options: Any) -> Response:
    return Response(content=options_to_json(options), media_type="application/json")


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, 400)


router = APIRouter()


@router.post("/api/passkeys/register/options")
def register_options(request: Request, user: CurrentUser, sandbox: Sandbox) -> Response:
    existing = sandbox.db.query("SELECT credential_id FROM passkeys WHERE user_id = ?", (user.id,))
    options = generate_registration_options(
        rp_id=_rp_id(request),
        rp_name=RP_NAME,
        user_id=user.id.encode(),
        user_name=user.email,
        user_display_name=user.name,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            require_resident_key=True,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(row["credential_id"]))
            for row in existing
        ],
    )
    _registrations.put(user.id, options.challenge)
    return _json_options(options)


@router.post("/api/passkeys/register/verify", response_model=None)
def register_verify(
    request: Request, user: CurrentUser, sandbox: Sandbox, credential: Credential
) -> JSONResponse | dict[str, Any]:
    challenge = _registrations.pop(user.id)
    if challenge is None:
        return _bad_request("registration failed: no registration in progress (get options first)")
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=_rp_id(request),
            expected_origin=_origin(request),
        )
    except Exception as exc:  # webauthn raises several unrelated types for bad input  # noqa: BLE001
        return _bad_request(f"registration failed: {exc}")
    credential_id = bytes_to_base64url(verified.credential_id)
    sandbox.db.execute(
        "INSERT OR REPLACE INTO passkeys VALUES (?, ?, ?, ?, ?)",
        (
            credential_id,
            user.id,
            verified.credential_public_key,
            verified.sign_count,
            datetime.now(UTC).isoformat(),
        ),
    )
    return {"verified": True, "credential_id": credential_id}


@router.post("/api/passkeys/login/options")
def login_options(request: Request) -> Response:
    # Discoverable credentials: no allowCredentials, the authenticator picks the account.
    options = generate_authentication_options(
        rp_id=_rp_id(request), user_verification=UserVerificationRequirement.PREFERRED
    )
    key = new_token()
    _logins.put(key, options.challenge)
    response = _json_options(options)
    response.set_cookie(
        CHALLENGE_COOKIE,
        key,
        max_age=CHALLENGE_LIFETIME_S,
        httponly=True,
        samesite="strict",
        path="/api/passkeys",
    )
    return response


@router.post("/api/passkeys/login/verify", response_model=None)
def login_verify(request: Request, sandbox: Sandbox, credential: Credential) -> JSONResponse:
    challenge = _logins.pop(request.cookies.get(CHALLENGE_COOKIE))
    if challenge is None:
        return _bad_request("passkey login failed: no login in progress (get options first)")
    credential_id = str(credential.get("id", ""))
    row = sandbox.db.query_one("SELECT * FROM passkeys WHERE credential_id = ?", (credential_id,))
    if row is None:
        return _bad_request("passkey login failed: unknown credential")
    if sandbox.is_on("auth.passkey_broken"):
        return _bad_request("passkey login failed: signature verification failed")
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=_rp_id(request),
            expected_origin=_origin(request),
            credential_public_key=row["public_key"],
            credential_current_sign_count=row["sign_count"],
        )
    except Exception as exc:  # webauthn raises several unrelated types for bad input  # noqa: BLE001
        return _bad_request(f"passkey login failed: {exc}")
    sandbox.db.execute(
        "UPDATE passkeys SET sign_count = ? WHERE credential_id = ?",
        (verified.new_sign_count, credential_id),
    )
    user = load_user(sandbox, row["user_id"])
    if user is None:
        return _bad_request("passkey login failed: the account no longer exists")
    tokens = sandbox.idp.issue_tokens(Identity(user.id, user.email, user.tenant_id))
    response = JSONResponse(
        {"verified": True, "email": user.email, "access_token": tokens["access_token"]}
    )
    set_session_cookie(response, tokens["access_token"])
    response.delete_cookie(CHALLENGE_COOKIE, path="/api/passkeys")
    return response


pages_router = APIRouter()


@pages_router.get("/passkeys", response_class=HTMLResponse)
def passkeys_page() -> HTMLResponse:
    return HTMLResponse(pages.passkeys_page())
