"""The onboarding chain: signup → verify → workspace → profile → complete → preview.

No session: each step hands the client the token the next step needs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from sandbox import pages
from sandbox.context import SandboxContext, get_sandbox
from sandbox.security import hash_password, new_id, new_token

Sandbox = Annotated[SandboxContext, Depends(get_sandbox)]
PREVIEW_FIELDS = ("email", "full_name", "workspace_name", "team_size", "role", "use_case")


class SignupBody(BaseModel):
    email: str = Field(min_length=3, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = Field(min_length=1)
    full_name: str = Field(min_length=1)


class VerifyBody(BaseModel):
    verification_token: str = ""


class WorkspaceBody(BaseModel):
    onboarding_token: str = ""
    workspace_name: str = Field(min_length=1)
    team_size: int | str


class ProfileBody(BaseModel):
    onboarding_token: str = ""
    workspace_id: str
    role: str
    use_case: str


class CompleteBody(BaseModel):
    onboarding_token: str = ""
    workspace_id: str


def _user_for_token(sandbox: SandboxContext, token: str, kind: str) -> str:
    """The user id a step token belongs to, or 401."""
    user_id = sandbox.db.scalar(
        "SELECT user_id FROM onboarding_tokens WHERE token = ? AND kind = ?", (token, kind)
    )
    if user_id is None:
        raise HTTPException(401, f"invalid or missing {kind} token")
    return str(user_id)


def _own_workspace(sandbox: SandboxContext, user_id: str, workspace_id: str) -> Any:
    row = sandbox.db.query_one(
        "SELECT * FROM workspaces WHERE id = ? AND user_id = ?", (workspace_id, user_id)
    )
    if row is None:
        raise HTTPException(404, f"no workspace {workspace_id!r} for this onboarding")
    return row


def preview_data(sandbox: SandboxContext, preview_id: str) -> dict[str, Any]:
    """What the preview shows: everything submitted along the chain."""
    row = sandbox.db.query_one(
        "SELECT p.id AS preview_id, u.email, u.name AS full_name, w.name AS workspace_name,"
        " w.team_size, pr.role, pr.use_case"
        " FROM previews p JOIN users u ON u.id = p.user_id"
        " JOIN workspaces w ON w.id = p.workspace_id"
        " LEFT JOIN profiles pr ON pr.workspace_id = w.id"
        " WHERE p.id = ?",
        (preview_id,),
    )
    if row is None:
        raise HTTPException(404, f"no preview {preview_id!r}")
    data = dict(row)
    data["team_size"] = json.loads(data["team_size"])
    if sandbox.is_on("onboarding.preview_drift"):
        data.pop("use_case")
    return data


router = APIRouter(prefix="/api/onboarding")


@router.post("/signup", status_code=201)
def signup(body: SignupBody, sandbox: Sandbox) -> dict[str, str]:
    email = body.email.strip()
    if sandbox.db.scalar("SELECT 1 FROM users WHERE email = ?", (email,)):
        raise HTTPException(409, f"an account for {email} already exists")
    user_id = new_id("usr")
    token = new_token()
    with sandbox.db.transaction() as tx:
        tx.execute(
            "INSERT INTO users (id, email, password_hash, name, tenant_id, verified, source,"
            " created_at) VALUES (?, ?, ?, ?, NULL, 0, 'onboarding', ?)",
            (
                user_id,
                email,
                hash_password(body.password),
                body.full_name,
                datetime.now(UTC).isoformat(),
            ),
        )
        tx.execute("INSERT INTO onboarding_tokens VALUES (?, ?, 'verification')", (token, user_id))
    return {"user_id": user_id, "verification_token": token}


@router.post("/verify")
def verify(body: VerifyBody, sandbox: Sandbox) -> dict[str, str]:
    user_id = _user_for_token(sandbox, body.verification_token, "verification")
    token = new_token()
    with sandbox.db.transaction() as tx:
        tx.execute("UPDATE users SET verified = 1 WHERE id = ?", (user_id,))
        tx.execute("INSERT INTO onboarding_tokens VALUES (?, ?, 'onboarding')", (token, user_id))
    return {"user_id": user_id, "onboarding_token": token}


@router.post("/workspace", status_code=201)
def workspace(body: WorkspaceBody, sandbox: Sandbox) -> dict[str, str]:
    user_id = _user_for_token(sandbox, body.onboarding_token, "onboarding")
    if sandbox.is_on("onboarding.chain_broken"):
        raise HTTPException(500, "internal error while creating the workspace")
    workspace_id = new_id("ws")
    sandbox.db.execute(
        "INSERT INTO workspaces VALUES (?, ?, ?, ?)",
        (workspace_id, user_id, body.workspace_name, json.dumps(body.team_size)),
    )
    return {"workspace_id": workspace_id}


@router.post("/profile")
def profile(body: ProfileBody, sandbox: Sandbox) -> dict[str, str]:
    user_id = _user_for_token(sandbox, body.onboarding_token, "onboarding")
    _own_workspace(sandbox, user_id, body.workspace_id)
    profile_id = new_id("prof")
    with sandbox.db.transaction() as tx:
        # One profile per workspace: submitting again replaces it.
        tx.execute("DELETE FROM profiles WHERE workspace_id = ?", (body.workspace_id,))
        tx.execute(
            "INSERT INTO profiles VALUES (?, ?, ?, ?, ?)",
            (profile_id, user_id, body.workspace_id, body.role, body.use_case),
        )
    return {"profile_id": profile_id}


@router.post("/complete")
def complete(body: CompleteBody, sandbox: Sandbox) -> dict[str, str]:
    user_id = _user_for_token(sandbox, body.onboarding_token, "onboarding")
    workspace_row = _own_workspace(sandbox, user_id, body.workspace_id)
    if not sandbox.db.scalar("SELECT 1 FROM profiles WHERE workspace_id = ?", (body.workspace_id,)):
        raise HTTPException(409, "complete the profile step before completing onboarding")
    preview_id = new_id("prev")
    sandbox.db.execute(
        "INSERT INTO previews VALUES (?, ?, ?)", (preview_id, user_id, body.workspace_id)
    )
    user = sandbox.db.query_one("SELECT email, name FROM users WHERE id = ?", (user_id,))
    assert user is not None
    if not sandbox.is_on("onboarding.email_missing"):
        sandbox.mail.send(
            user["email"],
            f"Welcome to {workspace_row['name']}",
            f"Hi {user['name']},\n\nyour workspace {workspace_row['name']} is ready.\n"
            f"Preview: {sandbox.public_base_url}/onboarding/preview/{preview_id}\n",
        )
    return {
        "preview_id": preview_id,
        "preview_url": f"{sandbox.public_base_url}/onboarding/preview/{preview_id}",
    }


@router.get("/preview/{preview_id}")
def preview(preview_id: str, sandbox: Sandbox) -> dict[str, Any]:
    return preview_data(sandbox, preview_id)


pages_router = APIRouter()


@pages_router.get("/onboarding/preview/{preview_id}", response_class=HTMLResponse)
def preview_page(preview_id: str, sandbox: Sandbox) -> HTMLResponse:
    data = preview_data(sandbox, preview_id)
    return HTMLResponse(pages.preview_page(data, PREVIEW_FIELDS))
