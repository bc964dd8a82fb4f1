"""Dashboard APIs and the e2e API (token, rate limit, status, seed, cleanup, inbox, faults)."""

from __future__ import annotations

import time
import uuid
from datetime import datetime

import httpx
import pytest
from sandbox_test_helpers import CREDENTIALS, E2E_HEADER, bearer, onboard

from sandbox import FAULTS, RunningSandbox


def test_feed_alerts_and_history_match_their_contracts(
    client: httpx.Client, test_token: str
) -> None:
    feed = client.get("/api/dashboard/feed", headers=bearer(test_token)).json()
    assert set(feed) == {"items", "page", "per_page", "total"}
    assert (feed["page"], feed["per_page"]) == (1, 20)
    assert feed["total"] >= 30
    assert len(feed["items"]) == 20
    for item in feed["items"]:
        assert set(item) == {"id", "type", "title", "created_at"}
        datetime.fromisoformat(item["created_at"].replace("Z", "+00:00"))
    created = [item["created_at"] for item in feed["items"]]
    assert created == sorted(created, reverse=True)

    alerts = client.get("/api/dashboard/alerts", headers=bearer(test_token)).json()
    assert alerts["total"] >= 10
    for item in alerts["items"]:
        assert set(item) == {"id", "severity", "message", "acknowledged", "created_at"}
        assert item["severity"] in ("info", "warning", "critical")
        assert isinstance(item["acknowledged"], bool)

    history = client.get("/api/dashboard/history", headers=bearer(test_token)).json()
    assert history["total"] >= 60
    for item in history["items"]:
        assert set(item) == {"id", "date", "metric", "value"}
        datetime.strptime(item["date"], "%Y-%m-%d")
        assert isinstance(item["value"], int | float)


def test_pagination_walks_every_item_once(client: httpx.Client, test_token: str) -> None:
    first = client.get(
        "/api/dashboard/alerts", params={"per_page": 3}, headers=bearer(test_token)
    ).json()
    total = first["total"]
    seen: list[str] = []
    page = 1
    while True:
        body = client.get(
            "/api/dashboard/alerts",
            params={"page": page, "per_page": 3},
            headers=bearer(test_token),
        ).json()
        if not body["items"]:
            break
        seen += [item["id"] for item in body["items"]]
        page += 1
    assert len(seen) == total == len(set(seen))
    too_many = client.get(
        "/api/dashboard/feed", params={"per_page": 101}, headers=bearer(test_token)
    )
    assert too_many.status_code == 422
    assert (
        client.get(
            "/api/dashboard/feed", params={"per_page": 100}, headers=bearer(test_token)
        ).json()["per_page"]
        == 100
    )


def test_each_tenant_sees_only_its_own_dashboard(
    client: httpx.Client, test_token: str, other_token: str
) -> None:
    acme = client.get("/api/dashboard/feed", headers=bearer(test_token)).json()["items"]
    globex = client.get("/api/dashboard/feed", headers=bearer(other_token)).json()["items"]
    assert acme
    assert globex
    assert all("acme-test" in item["id"] for item in acme)
    assert all("globex" in item["id"] for item in globex)


@pytest.mark.parametrize("headers", [{}, {E2E_HEADER: "wrong"}], ids=["missing", "wrong"])
def test_e2e_api_needs_the_token(sandbox: RunningSandbox, headers: dict[str, str]) -> None:
    with httpx.Client(base_url=sandbox.base_url, headers=headers) as anonymous:
        for method, path in (
            ("GET", "/e2e/status"),
            ("POST", "/e2e/cleanup"),
            ("POST", "/e2e/seed"),
            ("GET", "/e2e/inbox"),
            ("GET", "/e2e/faults"),
            ("POST", "/e2e/faults"),
        ):
            response = anonymous.request(method, path, json={})
            assert response.status_code == 403, (method, path)


def test_e2e_status(e2e: httpx.Client) -> None:
    assert e2e.get("/e2e/status").json() == {
        "stripe_mode": "test",
        "test_tenant_exists": True,
        "test_identity": CREDENTIALS.test_email,
        "faults": [],
    }


def test_e2e_faults_list_and_toggle(e2e: httpx.Client) -> None:
    listed = e2e.get("/e2e/faults").json()["faults"]
    assert [f["name"] for f in listed] == list(FAULTS)
    assert all(f["description"] == FAULTS[f["name"]] and f["enabled"] is False for f in listed)
    try:
        on = e2e.post("/e2e/faults", json={"name": "dashboard.slow", "enabled": True})
        assert on.status_code == 200
        assert e2e.get("/e2e/status").json()["faults"] == ["dashboard.slow"]
    finally:
        e2e.post("/e2e/faults", json={"name": "dashboard.slow", "enabled": False})
    assert e2e.get("/e2e/status").json()["faults"] == []
    unknown = e2e.post("/e2e/faults", json={"name": "nope", "enabled": True})
    assert unknown.status_code == 404
    assert "health.down" in unknown.json()["detail"]


def test_seed_tiers_are_idempotent_and_perf_is_fast(e2e: httpx.Client) -> None:
    smoke = e2e.post("/e2e/seed", json={"tier": "smoke"})
    assert smoke.json() == {"tier": "smoke", "tenants": 2, "records": 200}
    assert e2e.post("/e2e/seed", json={"tier": "smoke"}).json() == smoke.json()
    dev = e2e.post("/e2e/seed", json={"tier": "dev"}).json()
    assert (dev["tenants"], dev["records"]) == (10, 1000)
    started = time.monotonic()
    perf = e2e.post("/e2e/seed", json={"tier": "perf"})
    elapsed = time.monotonic() - started
    assert perf.status_code == 200
    assert perf.json()["tenants"] == 100
    assert perf.json()["records"] >= 50_000
    assert elapsed < 5.0
    assert e2e.post("/e2e/seed", json={"tier": "perf"}).json() == perf.json()
    assert e2e.post("/e2e/seed", json={"tier": "huge"}).status_code == 422


def test_cleanup_touches_only_reserved_identities(
    client: httpx.Client, e2e: httpx.Client, sandbox: RunningSandbox, other_token: str
) -> None:
    reserved = f"smoke+cleanup-{uuid.uuid4().hex[:6]}@sandbox.test"
    outsider = f"real-customer-{uuid.uuid4().hex[:6]}@example.com"
    lookalike = f"smoke+{uuid.uuid4().hex[:6]}@sandbox.test.example.com"
    for email in (reserved, outsider, lookalike):
        onboard(client, email)
    cleaned = e2e.post("/e2e/cleanup")
    assert cleaned.status_code == 200
    body = cleaned.json()
    assert set(body) == {"deleted", "canceled_subscriptions"}
    assert body["deleted"]["users"] >= 1
    assert body["deleted"]["previews"] >= 1
    assert body["deleted"]["inbox_messages"] >= 1

    def exists(email: str) -> bool:
        response = client.post(
            "/api/onboarding/signup", json={"email": email, "password": "x", "full_name": "X"}
        )
        return response.status_code == 409

    assert not exists(reserved)
    assert exists(outsider)
    assert exists(lookalike)
    for email in (outsider, lookalike):
        assert len(e2e.get("/e2e/inbox", params={"to": email}).json()["messages"]) == 1
    # Seeded identities and their tenants survive.
    assert e2e.get("/e2e/status").json()["test_tenant_exists"] is True
    assert client.get("/api/me", headers=bearer(other_token)).status_code == 200
    assert client.get("/api/dashboard/feed", headers=bearer(other_token)).json()["total"] > 0


def test_cleanup_for_one_identity_leaves_the_others(
    client: httpx.Client, e2e: httpx.Client
) -> None:
    mine = f"smoke+mine-{uuid.uuid4().hex[:6]}@sandbox.test"
    theirs = f"smoke+theirs-{uuid.uuid4().hex[:6]}@sandbox.test"
    onboard(client, mine)
    onboard(client, theirs)
    cleaned = e2e.post("/e2e/cleanup", json={"email": mine})
    assert cleaned.status_code == 200
    assert cleaned.json()["deleted"]["users"] == 1
    assert e2e.get("/e2e/inbox", params={"to": mine}).json()["messages"] == []
    assert len(e2e.get("/e2e/inbox", params={"to": theirs}).json()["messages"]) == 1
    refused = e2e.post("/e2e/cleanup", json={"email": "ops@globex.test"})
    assert refused.status_code == 400
    assert "not a reserved test identity" in refused.json()["detail"]


def test_e2e_rate_limit_answers_429_with_retry_after(sandbox: RunningSandbox) -> None:
    # A second loopback address is a different client: the shared fixtures keep their quota.
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(
        transport=transport,
        base_url=sandbox.internal_url,
        headers={E2E_HEADER: CREDENTIALS.e2e_token},
    ) as hammer:
        codes = [hammer.get("/e2e/status").status_code for _ in range(121)]
        assert codes[:120] == [200] * 120
        assert codes[120] == 429
        limited = hammer.get("/e2e/status")
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 10
    with httpx.Client(
        base_url=sandbox.internal_url, headers={E2E_HEADER: CREDENTIALS.e2e_token}
    ) as other_client:
        assert other_client.get("/e2e/status").status_code == 200
