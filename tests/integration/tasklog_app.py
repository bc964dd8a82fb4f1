"""A small fake of "Tasklog", the other app of docs/examples/tasklog.yaml.

A task-tracking API shaped nothing like the sandbox: an OAuth2 password grant at
``POST /oauth/token`` (form post, opaque bearer tokens), ``/v1/me``, orgs as tenants
(another org's id answers 404), ``/healthz`` with a nested build version, a one-call
signup, a paginated ``/v1/tasks`` list and a test-support cleanup protected by the
e2e token that only ever touches ``smoke+`` addresses. No billing, no browser pages.

Served by uvicorn in a thread on a free loopback port (``serve_tasklog()``), with
switchable faults so tests can prove the checks catch them on this app too.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

E2E_HEADER = "X-E2E-Test-Token"
RESERVED_PREFIX = "smoke+"  # the only addresses test support may delete or read

# name: what it breaks
FAULTS = {
    "tenant_leak": "GET /v1/orgs/{id} answers 200 for any org, not only the caller's",
    "tasks_contract_drift": "the tasks list reports `done` as a string ('yes'/'no')",
    "tasks_anonymous": "GET /v1/tasks answers anonymous callers with the seeded org's tasks",
    "orgs_gone": "GET /v1/orgs/{id} answers 404 for every org, the caller's own included",
    "cleanup_keeps_users": "the test-support cleanup answers 204 but deletes nobody",
    "cleanup_any_email": "the test-support cleanup accepts any address, not only smoke+ ones",
}


@dataclass
class User:
    id: int
    email: str
    password: str
    name: str
    company: str
    org_id: int


@dataclass
class Task:
    id: int
    org_id: int
    title: str
    done: bool


@dataclass
class TasklogState:
    """Everything the fake keeps: orgs, users, tokens, tasks, faults, a request log."""

    version: str
    e2e_token: str
    orgs: dict[int, str] = field(default_factory=dict)
    users: dict[int, User] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    tasks: list[Task] = field(default_factory=list)
    faults: set[str] = field(default_factory=set)
    # (method, path, query, whether the e2e token came along) for every request
    requests: list[tuple[str, str, str, bool]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _next_id: int = 100

    def next_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def add_org(self, name: str) -> int:
        org_id = self.next_id()
        self.orgs[org_id] = name
        return org_id

    def add_user(self, email: str, password: str, name: str, company: str, org_id: int) -> User:
        user = User(self.next_id(), email, password, name, company, org_id)
        self.users[user.id] = user
        return user

    def user_by_email(self, email: str) -> User | None:
        return next((u for u in self.users.values() if u.email.lower() == email.lower()), None)

    def remove_user(self, user: User) -> None:
        del self.users[user.id]
        for token in [t for t, uid in self.tokens.items() if uid == user.id]:
            del self.tokens[token]


def _error(status: int, error: str, detail: str = "", **headers: str) -> JSONResponse:
    body = {"error": error} | ({"detail": detail} if detail else {})
    return JSONResponse(body, status, headers=headers or None)


def _unauthorized() -> JSONResponse:
    return _error(
        401,
        "unauthorized",
        "a valid bearer token is required",
        **{"WWW-Authenticate": 'Bearer realm="tasklog"'},
    )


def create_app(state: TasklogState) -> FastAPI:  # noqa: C901 - a test app: each nested route handler counts toward it
    """Tasklog's API over ``state``."""
    app = FastAPI(title="Tasklog (fake)", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def log_requests(request: Request, call_next: Any) -> Response:
        state.requests.append(
            (
                request.method,
                request.url.path,
                request.url.query,
                E2E_HEADER.lower() in request.headers,
            )
        )
        response: Response = await call_next(request)
        return response

    def caller(request: Request) -> User | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        user_id = state.tokens.get(token)
        return state.users.get(user_id) if user_id is not None else None

    def e2e_ok(request: Request) -> bool:
        sent = request.headers.get(E2E_HEADER, "")
        return bool(sent) and secrets.compare_digest(sent, state.e2e_token)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "build": {"version": state.version, "commit": "0f3c9a1"}}

    @app.post("/oauth/token")
    async def token(request: Request) -> JSONResponse:
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return _error(400, "invalid_request", "the token endpoint takes a form post")
        raw = parse_qs((await request.body()).decode(), keep_blank_values=True)
        # RFC 6749 3.1: parameters sent without a value are treated as omitted.
        form = {k: v[0] for k, v in raw.items() if v and v[0]}
        if form.get("grant_type") != "password":
            return _error(400, "unsupported_grant_type")
        if "client_id" in form:
            # Tasklog's password grant has no client registration: any client is unknown.
            return _error(401, "invalid_client", f"unknown client {form['client_id']!r}")
        with state.lock:
            user = state.user_by_email(form.get("username", ""))
            if user is None or not secrets.compare_digest(user.password, form.get("password", "")):
                return _error(400, "invalid_grant", "wrong username or password")
            access_token = secrets.token_urlsafe(32)
            state.tokens[access_token] = user.id
        return JSONResponse(
            {
                "access_token": access_token,
                "token_type": "bearer",
                "expires_in": 3600,
                "scope": form.get("scope", "tasks:read"),
            },
            headers={"Cache-Control": "no-store"},
        )

    @app.get("/v1/me")
    async def me(request: Request) -> JSONResponse:
        user = caller(request)
        if user is None:
            return _unauthorized()
        return JSONResponse({"id": user.id, "email": user.email, "org_id": user.org_id})

    @app.get("/v1/orgs/{org_id}")
    async def org(org_id: int, request: Request) -> JSONResponse:
        user = caller(request)
        if user is None:
            return _unauthorized()
        if "orgs_gone" in state.faults:
            return _error(404, "not_found")
        visible = org_id == user.org_id or "tenant_leak" in state.faults
        if org_id not in state.orgs or not visible:
            # Another org is indistinguishable from a missing one.
            return _error(404, "not_found")
        return JSONResponse({"id": org_id, "name": state.orgs[org_id]})

    @app.post("/v1/signup")
    async def signup(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "invalid_json")
        fields = ("email", "password", "name", "company")
        missing = [f for f in fields if not isinstance(body, dict) or not body.get(f)]
        if missing:
            return _error(422, "validation_error", f"missing: {', '.join(missing)}")
        with state.lock:
            if state.user_by_email(body["email"]) is not None:
                return _error(409, "email_taken")
            org_id = state.add_org(body["company"])
            user = state.add_user(
                body["email"], body["password"], body["name"], body["company"], org_id
            )
        return JSONResponse(_profile(user), 201)

    @app.get("/v1/users/{user_id}")
    async def user_profile(user_id: int, request: Request) -> JSONResponse:
        user = state.users.get(user_id)
        me = caller(request)
        if me is not None and me.id == user_id and user is not None:
            return JSONResponse(_profile(user))
        if e2e_ok(request):
            # Test support may read reserved test users, and only those.
            if user is None or not user.email.startswith(RESERVED_PREFIX):
                return _error(404, "not_found")
            return JSONResponse(_profile(user))
        if me is None:
            return _unauthorized()
        return _error(404, "not_found")

    @app.delete("/v1/test-support/users")
    async def cleanup_user(request: Request, email: str = "") -> Response:
        if not e2e_ok(request):
            return _error(401, "unauthorized", f"{E2E_HEADER} required")
        if not email.startswith(RESERVED_PREFIX) and "cleanup_any_email" not in state.faults:
            return _error(403, "forbidden", f"only {RESERVED_PREFIX}... test users can be deleted")
        with state.lock:
            user = state.user_by_email(email)
            if user is None:
                return _error(404, "not_found")
            if "cleanup_keeps_users" not in state.faults:
                state.remove_user(user)
        return Response(status_code=204)

    @app.get("/v1/tasks")
    async def tasks(request: Request, page: int = 1, page_size: int = 20) -> JSONResponse:
        user = caller(request)
        if user is None and "tasks_anonymous" in state.faults:
            user = next(u for u in state.users.values() if u.name == "Smoke CI")
        if user is None:
            return _unauthorized()
        if page < 1 or not 1 <= page_size <= 100:
            return _error(400, "invalid_page")
        own = [t for t in state.tasks if t.org_id == user.org_id]
        chunk = own[(page - 1) * page_size : page * page_size]
        drift = "tasks_contract_drift" in state.faults
        results = [
            {"id": t.id, "title": t.title, "done": ("yes" if t.done else "no") if drift else t.done}
            for t in chunk
        ]
        more = page * page_size < len(own)
        next_url = (
            f"{request.base_url}v1/tasks?page={page + 1}&page_size={page_size}" if more else None
        )
        return JSONResponse({"results": results, "count": len(own), "next": next_url})

    return app


def _profile(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "name": user.name, "company": user.company}


@dataclass
class Identity:
    email: str
    password: str


@dataclass
class RunningTasklog:
    """A started fake: its URL, its state, and the identities it was seeded with."""

    url: str
    state: TasklogState
    test_user: Identity
    other_user: Identity
    version: str
    e2e_token: str

    @contextmanager
    def fault(self, *names: str) -> Iterator[None]:
        """Turn faults on for the block; always turned off again."""
        unknown = set(names) - set(FAULTS)
        if unknown:
            raise KeyError(f"unknown Tasklog fault(s): {', '.join(sorted(unknown))}")
        self.state.faults.update(names)
        try:
            yield
        finally:
            self.state.faults.difference_update(names)


def seed(state: TasklogState, test_user: Identity, other_user: Identity) -> None:
    """Two orgs with one user each; tasks for both, so leaks would show."""
    own = state.add_org("Smoke Test Org")
    other = state.add_org("Second Tenant Inc")
    state.add_user(test_user.email, test_user.password, "Smoke CI", "Smoke Test Org", own)
    state.add_user(other_user.email, other_user.password, "Other Tenant", "Second Tenant", other)
    for title, done in [("Write release notes", False), ("Rotate keys", True), ("Triage", False)]:
        state.tasks.append(Task(state.next_id(), own, title, done))
    state.tasks.append(Task(state.next_id(), other, "Second tenant's secret plan", False))


@contextmanager
def serve_tasklog(
    *,
    version: str = "2.4.0",
    e2e_token: str | None = None,
    test_user: Identity | None = None,
    other_user: Identity | None = None,
    ready_timeout: float = 120.0,
) -> Iterator[RunningTasklog]:
    """Start the fake on a free loopback port in a thread; stop it on exit."""
    test_user = test_user or Identity("smoke+ci@tasklog.example.com", secrets.token_urlsafe(12))
    other_user = other_user or Identity(
        "smoke+other-org@tasklog.example.com", secrets.token_urlsafe(12)
    )
    e2e_token = e2e_token or secrets.token_urlsafe(24)
    state = TasklogState(version=version, e2e_token=e2e_token)
    seed(state, test_user, other_user)

    # Bound here, so the port is ours before uvicorn starts (no free-port race).
    # IPPROTO_TCP: asyncio then sets TCP_NODELAY (no ~40 ms delayed-ACK stalls).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(state),
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), name="tasklog", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + ready_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake Tasklog app did not start")
            time.sleep(0.02)
        yield RunningTasklog(
            url=f"http://127.0.0.1:{port}",
            state=state,
            test_user=test_user,
            other_user=other_user,
            version=version,
            e2e_token=e2e_token,
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
