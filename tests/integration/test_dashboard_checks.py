"""The dashboard's endpoint and tenant-isolation checks against an in-process list API
(httpx MockTransport; the check bodies run as plain coroutines, no Prefect run).

The fake pages two tenants' items the way a healthy API does; each fault breaks one
promise (a page size ignored, a total that lies, the wrong order, rows of the other
tenant) and the check that promises it must fail, while a healthy API passes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from flows.dashboard import endpoint_answers, tenant_isolation
from smoke.config import SmokeConfig
from smoke.results import CheckResult, Status
from smoke.spec import load_spec
from tasks.journey import JourneyContext

TOKENS = {"Bearer tok-test-0123456789": "acme", "Bearer tok-other-0123456789": "globex"}
RECORDS = 12


def rows(tenant: str, count: int = RECORDS) -> list[dict[str, Any]]:
    """A tenant's items, newest first."""
    return [
        {"id": f"{tenant}-{i:02d}", "created_at": f"2026-12-{28 - i:02d}T12:00:00Z"}
        for i in range(count)
    ]


class ListApi:
    """GET /items?page=&per_page= for the caller's tenant, with named faults."""

    def __init__(self) -> None:
        self.faults: set[str] = set()
        self.data = {"acme": rows("acme"), "globex": rows("globex")}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        tenant = TOKENS.get(request.headers.get("authorization", ""))
        if tenant is None:
            return httpx.Response(401)
        page = int(request.url.params.get("page", 1))
        per_page = int(request.url.params.get("per_page", 10))
        own = list(self.data[tenant])
        if "leak" in self.faults:
            other = "globex" if tenant == "acme" else "acme"
            # Interleaved by time, as one query over both tenants would list them.
            own = sorted(own + self.data[other][:2], key=lambda r: r["created_at"], reverse=True)
        if "oldest_first" in self.faults:
            own.reverse()
        limit = 10 if "per_page_ignored" in self.faults else per_page
        chunk = own[(page - 1) * per_page : (page - 1) * per_page + limit]
        total = len(chunk) if "total_is_page_length" in self.faults else len(own)
        body = {"items": chunk, "page": page, "per_page": per_page, "total": total}
        return httpx.Response(200, json=body)


ENDPOINT: dict[str, Any] = {
    "name": "items",
    "path": "/items?page=1&per_page=10",
    "order_by": "created_at desc",
    "tenant_scoped": True,
    "pagination": {"page_size": 5},
}


def journey(tmp_path: Path, api: ListApi, endpoint: dict[str, Any], other: bool = True) -> Any:
    config = SmokeConfig(
        name="fake",
        base_url="http://app.test",
        auth_method="static_token",
        test_email="smoke@example.com",
        static_token=SecretStr("tok-test-0123456789"),
        other_email="other@example.com" if other else "",
        other_token=SecretStr("tok-other-0123456789") if other else None,
    )
    suite = load_spec(inline={"dashboard": {"endpoints": [endpoint], "ui": None}})
    ctx = JourneyContext("dashboard", config, suite, tmp_path, suite.dashboard)
    ctx.http = httpx.AsyncClient(
        base_url=config.api_base, transport=httpx.MockTransport(api), cookies=ctx.http.cookies.jar
    )
    return ctx


def run(
    tmp_path: Path,
    api: ListApi,
    check: str,
    endpoint: dict[str, Any] | None = None,
    other: bool = True,
) -> CheckResult:
    async def go() -> CheckResult:
        ctx = journey(tmp_path, api, endpoint or ENDPOINT, other)
        try:
            if check == "tenant_isolation":
                await tenant_isolation.fn(ctx)
            else:
                [spec] = ctx.spec.endpoints
                await endpoint_answers.fn(ctx, spec, check_name=spec.name)
        finally:
            await ctx.aclose()
        return ctx.finished[check]

    return asyncio.run(go())


def test_a_healthy_list_api_passes_both_checks(tmp_path: Path) -> None:
    api = ListApi()
    items = run(tmp_path, api, "items")
    assert items.status is Status.PASSED, items
    assert "12 records in 3 pages of 5" in items.actual
    isolation = run(tmp_path, api, "tenant_isolation")
    assert isolation.status is Status.PASSED, isolation
    assert isolation.actual == "items: 10 vs 10, none shared"


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("per_page_ignored", "items ignores its page size: asked per_page=5, got 10 items"),
        ("total_is_page_length", "items: total depends on the page size: 10 with the configured"),
        ("oldest_first", "items: the items are not in created_at desc order on the page"),
    ],
)
def test_each_broken_promise_fails_the_endpoint_check(
    tmp_path: Path, fault: str, message: str
) -> None:
    api = ListApi()
    api.faults.add(fault)
    result = run(tmp_path, api, "items")
    assert result.status is Status.FAILED, result
    assert result.message.startswith(message), result.message
    assert result.expected
    assert result.actual


def test_a_total_that_lies_on_every_page_size_fails_on_the_pages_it_implies(
    tmp_path: Path,
) -> None:
    api = ListApi()
    # A total that is stable but short by one: the page after the last it implies is
    # not empty.
    real = api.__call__

    def short_total(request: httpx.Request) -> httpx.Response:
        response = real(request)
        body = response.json()
        body["total"] = RECORDS - 2
        return httpx.Response(200, json=body)

    result = run(tmp_path, short_total, "items")  # type: ignore[arg-type]
    assert result.status is Status.FAILED, result
    assert "total says 10 records, 5 a page, yet page 3 holds 2 items" in result.message


def test_rows_of_the_other_tenant_fail_tenant_isolation(tmp_path: Path) -> None:
    api = ListApi()
    api.faults.add("leak")
    result = run(tmp_path, api, "tenant_isolation")
    assert result.status is Status.FAILED, result
    assert result.message.startswith("two tenants get the same items: items gives both"), result
    assert "acme-00" in result.actual


def test_isolation_cannot_pass_when_the_other_tenant_has_no_rows(tmp_path: Path) -> None:
    api = ListApi()
    api.data["globex"] = []
    result = run(tmp_path, api, "tenant_isolation")
    assert result.status is Status.ERROR, result
    assert "the other identity gets no items of its own" in result.message


def test_isolation_is_off_without_the_other_identity(tmp_path: Path) -> None:
    result = run(tmp_path, ListApi(), "tenant_isolation", other=False)
    assert result.status is Status.SKIPPED, result
    assert result.skipped_because == "configuration"


def test_an_endpoint_without_paging_order_or_tenants_checks_only_its_answer(
    tmp_path: Path,
) -> None:
    api = ListApi()
    api.faults.update({"per_page_ignored", "total_is_page_length", "oldest_first", "leak"})
    plain = {"name": "items", "path": "/items?page=1&per_page=10"}
    assert run(tmp_path, api, "items", plain).status is Status.PASSED
    isolation = run(tmp_path, api, "tenant_isolation", plain)
    assert isolation.status is Status.SKIPPED
    assert isolation.skipped_because == "not_applicable"


def test_records_added_while_paging_are_retried_not_failed(tmp_path: Path) -> None:
    from smoke.retry import TransientError

    api = ListApi()
    served = api.__call__

    def growing(request: httpx.Request) -> httpx.Response:
        # Live activity: every read finds one more record than the one before.
        api.data["acme"].insert(0, {"id": f"new-{len(api.data['acme'])}", "created_at": "2027"})
        return served(request)

    with pytest.raises(TransientError, match="items: total changed while the pages were read"):
        run(tmp_path, growing, "items")  # type: ignore[arg-type]


def test_isolation_is_not_judged_when_the_test_tenant_cannot_read_the_endpoint(
    tmp_path: Path,
) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": "internal"})

    result = run(tmp_path, broken, "tenant_isolation")  # type: ignore[arg-type]
    assert result.status is Status.SKIPPED, result
    assert result.skipped_because == "prerequisite"
    assert "needs items readable: GET /items answered 500" in result.message
