"""Dashboard journey: the feed, alerts and history APIs (order, pages, tenants) and the page."""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import State, flow

from smoke.catalog import closest
from smoke.contracts import as_json
from smoke.errors import ConfigError, PreconditionError
from smoke.items import (
    as_count,
    describe_where,
    expected_on_page,
    ids_of,
    last_page,
    order_problem,
    query_value,
    row_problems,
    seeded_problems,
    text_problems,
    without_query_keys,
)
from smoke.outcomes import CheckFailed, CheckSkipped, Passed
from smoke.results import Evidence, JourneyResult
from smoke.retry import TransientError
from smoke.spec import (
    DashboardSpec,
    Endpoint,
    Identity,
    Pagination,
    UiElement,
    field_value,
    render,
)
from tasks.browser import ACTION_TIMEOUT_MS, PageWatch, appeared, settle, traced_page
from tasks.checks import journey_checks, journey_outcome, run_check
from tasks.context import open_journey
from tasks.http import Reply, expect, field_of, send, session_token
from tasks.journey import JourneyContext
from tasks.sequences import journey_frame
from tasks.signin import WHO_WORDS, credentials

JOURNEY = "dashboard"
check = journey_checks(JOURNEY)
Ctx = JourneyContext[DashboardSpec]
# As long as any browser action may take: a busy runner renders a healthy page slowly.
READY_TIMEOUT_MS = ACTION_TIMEOUT_MS


def _items(reply: Reply, endpoint: Endpoint, what: str) -> list[Any]:
    """The reply's ``items_field`` as a list, or CheckFailed."""
    items = field_of(reply, endpoint.items_field, what)
    if not isinstance(items, list):
        raise CheckFailed(
            f"{what}: {endpoint.items_field!r} of {reply.method} {reply.path} is not a list",
            expected=f"a list in {endpoint.items_field!r}",
            actual=f"{endpoint.items_field} = {as_json(items)}"[:300],
            evidence=[reply.evidence()],
        )
    return items


def _require_order(endpoint: Endpoint, items: list[Any], replies: list[Reply], what: str) -> None:
    """CheckFailed unless ``items`` come in the endpoint's ``order_by`` order."""
    key = endpoint.sort_key()
    if key is None:
        return
    field, descending = key
    problem = order_problem(items, field, descending)
    if problem:
        raise CheckFailed(
            f"{endpoint.name}: the items are not in {endpoint.order_by} order {what}: {problem}",
            expected=f"items ordered by {endpoint.order_by}",
            actual=problem,
            evidence=[r.evidence() for r in replies],
        )


def _page_request(endpoint: Endpoint, paging: Pagination, page: int) -> Endpoint:
    """The endpoint's request for one page of ``paging.page_size`` items."""
    keys = [paging.per_page_param] + ([paging.page_param] if paging.page_param else [])
    params = {k: v for k, v in endpoint.params.items() if k not in keys}
    params[paging.per_page_param] = paging.page_size
    if paging.page_param:
        params[paging.page_param] = page
    path = without_query_keys(endpoint.path, keys)
    return endpoint.model_copy(update={"path": path, "params": params})


def _total(reply: Reply, paging: Pagination, what: str) -> int | None:
    """The record count the reply states in ``total_field`` (None when none is configured)."""
    if paging.total_field is None:
        return None
    total = as_count(field_of(reply, paging.total_field, what))
    if total is None:
        raise CheckFailed(
            f"{what}: {paging.total_field!r} of {reply.method} {reply.path} is not a count",
            expected=f"a whole number in {paging.total_field!r}",
            actual=reply.excerpt(),
            evidence=[reply.evidence()],
        )
    return total


def _records_moved(endpoint: Endpoint, paging: Pagination) -> TransientError:
    return TransientError(
        f"{endpoint.name}: {paging.total_field} changed while the pages were read",
        expected=f"the same {paging.total_field} on every read",
        actual="records added or removed between the reads",
    )


async def _read_page(ctx: Ctx, endpoint: Endpoint, page: int) -> tuple[Reply, list[Any]]:
    """One page of ``page_size`` items, judged by the endpoint's status and contract."""
    assert endpoint.pagination is not None
    req = _page_request(endpoint, endpoint.pagination, page)
    what = f"{endpoint.name} page {page} of {endpoint.pagination.page_size}"
    # The refusal checks already replay this route: its other pages add nothing to them.
    reply = await send(ctx, req, auth="test", probe=False)
    expect(reply, req, what)
    return reply, _items(reply, req, what)


async def _pages_agree(ctx: Ctx, endpoint: Endpoint, first: Reply, items: list[Any]) -> str:
    """CheckFailed unless the endpoint pages as it says; what was proven, in words.

    A small page holds exactly as many items as asked (fewer only on the last page);
    with a total, the total does not depend on the page size, the last page the total
    implies holds the rest and the page after it is empty; no item is on two pages, and
    the order holds across pages.
    """
    paging = endpoint.pagination
    assert paging is not None
    small, small_items, total = await _small_page_agrees(ctx, endpoint, paging, first, items)
    if total is None or paging.page_param is None:
        return f"a page of {paging.page_size} holds {len(small_items)}"
    return await _later_pages_agree(ctx, endpoint, paging, total, (1, small, small_items))


async def _small_page_agrees(
    ctx: Ctx, endpoint: Endpoint, paging: Pagination, first: Reply, items: list[Any]
) -> tuple[Reply, list[Any], int | None]:
    """Page 1 of ``page_size``: never more than asked, exactly as many as there are, and
    the same total as the configured read. Its reply, items and the total."""
    size = paging.page_size
    small, small_items = await _read_page(ctx, endpoint, 1)
    if len(small_items) > size:
        raise CheckFailed(
            f"{endpoint.name} ignores its page size: asked {paging.per_page_param}={size}, "
            f"got {len(small_items)} items",
            expected=f"at most {size} items",
            actual=f"{len(small_items)} items",
            evidence=[small.evidence()],
        )
    total = _total(small, paging, endpoint.name)
    first_total = _total(first, paging, endpoint.name) if total is not None else None
    if total is not None and first_total != total:
        again = await send(ctx, endpoint, auth="test", probe=False)
        if again.ok and _total(again, paging, endpoint.name) != first_total:
            # The records changed between the reads (live activity), not the count's
            # meaning: read them all again.
            raise _records_moved(endpoint, paging)
        raise CheckFailed(
            f"{endpoint.name}: {paging.total_field} depends on the page size: "
            f"{first_total} with the configured request, {total} with "
            f"{paging.per_page_param}={size}",
            expected=f"{paging.total_field} is the number of records, on every page",
            actual=f"{paging.total_field} = {first_total}, then {total}",
            evidence=[first.evidence(), small.evidence()],
        )
    if total is not None and total < len(items):
        raise CheckFailed(
            f"{endpoint.name}: {paging.total_field} is {total} but one page holds "
            f"{len(items)} items",
            expected=f"{paging.total_field} >= {len(items)}",
            actual=f"{paging.total_field} = {total}",
            evidence=[first.evidence()],
        )
    # Without a total the configured read stands for the records there are (it is asked
    # for a larger page than page_size).
    known = total if total is not None else len(items)
    wanted = min(size, known)
    if len(small_items) != wanted:
        raise CheckFailed(
            f"{endpoint.name}: asked {paging.per_page_param}={size}, got "
            f"{len(small_items)} items though there are {known}",
            expected=f"{wanted} items on page 1",
            actual=f"{len(small_items)} items",
            evidence=[small.evidence()],
        )
    return small, small_items, total


async def _later_pages_agree(
    ctx: Ctx,
    endpoint: Endpoint,
    paging: Pagination,
    total: int,
    first_page: tuple[int, Reply, list[Any]],
) -> str:
    """The last page the total implies holds the rest, the page after it none; no item
    is on two pages and the order holds across them."""
    size = paging.page_size
    last = last_page(total, size)
    pages = [first_page]
    for page in [last, last + 1] if last > 1 else [last + 1]:
        reply, page_items = await _read_page(ctx, endpoint, page)
        pages.append((page, reply, page_items))
    for page, reply, page_items in pages:
        if _total(reply, paging, endpoint.name) != total:
            raise _records_moved(endpoint, paging)
        want = expected_on_page(total, size, page)
        if len(page_items) != want:
            raise CheckFailed(
                f"{endpoint.name}: {paging.total_field} says {total} records, {size} a "
                f"page, yet page {page} holds {len(page_items)} items",
                expected=f"{want} items on page {page} of {size}",
                actual=f"{len(page_items)} items; {paging.total_field} = {total}",
                evidence=[reply.evidence()],
            )
    replies = [r for _, r, _ in pages]
    try:
        ids = [i for _, _, page_items in pages for i in ids_of(page_items, endpoint.id_field)]
    except KeyError as e:
        raise CheckFailed(
            f"{endpoint.name}: {e.args[0]} (id_field)",
            expected=f"every item has {endpoint.id_field!r}",
            actual=str(e.args[0]),
            evidence=[r.evidence() for r in replies],
        ) from None
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise CheckFailed(
            f"{endpoint.name}: items on two pages: {', '.join(twice[:3])}",
            expected="every item on one page only",
            actual=f"{len(twice)} items repeated",
            evidence=[r.evidence() for r in replies],
        )
    across = [item for _, _, page_items in pages for item in page_items]
    _require_order(endpoint, across, replies, f"across pages 1 and {last}")
    return f"{total} records in {last} pages of {size}"


def _require_seeded(endpoint: Endpoint, reply: Reply, items: list[Any]) -> str:
    """CheckFailed unless the items hold what the seed put there (``seeded``).

    The configured read must hold every item: with a stated total larger than the page,
    a count over the page proves nothing, which is an error of the contract.
    """
    paging = endpoint.pagination
    total = _total(reply, paging, endpoint.name) if paging is not None else None
    if total is not None and total > len(items):
        raise PreconditionError(
            f"{endpoint.name}: the seeded items are counted over the configured read, but it "
            f"holds {len(items)} of {total}: ask a page that holds them all (its "
            f"{paging.per_page_param if paging else 'page size'}), or drop `seeded`"
        )
    problems = seeded_problems(items, endpoint.seeded)
    if problems:
        raise CheckFailed(
            f"{endpoint.name} does not hold what the seed put there: {problems[0]}",
            expected="; ".join(_seeded_words(endpoint)),
            actual="; ".join(problems),
            evidence=[reply.evidence()],
        )
    return "as seeded: " + "; ".join(_seeded_words(endpoint))


def _seeded_words(endpoint: Endpoint) -> list[str]:
    words = []
    for s in endpoint.seeded:
        bound = f"{s.count}" if s.count is not None else f"at least {s.at_least}"
        words.append(f"{bound} with {describe_where(s.where)}")
    return words


@check("endpoint")
async def endpoint_answers(ctx: Ctx, endpoint: Endpoint) -> Passed:
    """Run once per configured endpoint, named after it (``dashboard.feed``).

    Invariant: the endpoint answers the test identity (by default) with an expected
    status, its whole body matches the contract, and ``items_field`` holds at least one
    item for the seeded test tenant; timed against the latency budget. With
    ``order_by``, the items come in that order. With ``pagination``: no page holds more
    items than it asked for; a page of ``page_size`` holds exactly that many (fewer only
    when there are fewer records); with a total, the total is the same whatever the page
    size, and (with page numbers) the last page it implies holds the rest, the page after
    it is empty, no item is on two pages and the order holds across them. With
    ``seeded``, the items hold what the seed put there: as many matching each ``where``
    as its ``count`` (or ``at_least``).
    """
    reply = await send(ctx, endpoint, auth="test")
    expect(reply, endpoint, endpoint.name)
    items = _items(reply, endpoint, endpoint.name)
    if not items:
        raise CheckFailed(
            f"{endpoint.name} is empty for the seeded test tenant",
            expected=f"at least one item in {endpoint.items_field!r}",
            actual=f"{endpoint.items_field} = {as_json(items)}",
            evidence=[reply.evidence()],
        )
    proven = [f"{len(items)} items in {reply.elapsed_ms} ms"]
    paging = endpoint.pagination
    if paging is not None:
        asked = as_count(query_value(endpoint.path, endpoint.params, paging.per_page_param))
        if asked is not None and len(items) > asked:
            raise CheckFailed(
                f"{endpoint.name} ignores its page size: asked {paging.per_page_param}="
                f"{asked}, got {len(items)} items",
                expected=f"at most {asked} items",
                actual=f"{len(items)} items",
                evidence=[reply.evidence()],
            )
    _require_order(endpoint, items, [reply], "on the page")
    if endpoint.seeded:
        proven.append(_require_seeded(endpoint, reply, items))
    if paging is not None:
        proven.append(await _pages_agree(ctx, endpoint, reply, items))
    extras = (["ordered"] if endpoint.order_by else []) + (["paged"] if paging else [])
    extras += ["as seeded"] if endpoint.seeded else []
    return Passed(
        expected=f"status {reply.status}, contract, non-empty" + "".join(f", {e}" for e in extras),
        actual="; ".join(proven),
        elapsed_ms=reply.elapsed_ms,
    )


async def _own_ids(ctx: Ctx, endpoint: Endpoint, who: Identity) -> tuple[Reply, list[str]]:
    """The ids of the items ``who`` reads from ``endpoint`` (its reply, to show as evidence)."""
    creds = await credentials(ctx, who)
    reply = await send(ctx, endpoint, as_credentials=creds, probe=False)
    if reply.status not in endpoint.expect_status or not reply.is_json:
        why = f"{reply.method} {reply.path} answered {reply.status} to {WHO_WORDS[who]}"
        if who == "test":
            raise CheckSkipped(f"needs {endpoint.name} readable: {why}", kind="prerequisite")
        raise PreconditionError(
            f"{WHO_WORDS[who]} cannot read {endpoint.name} ({why}), so no item shared with "
            "the test identity would prove nothing. Is other_email a user of a second tenant?"
        )
    try:
        items = field_value(reply.body, endpoint.items_field)
        ids = ids_of(items if isinstance(items, list) else [], endpoint.id_field)
    except (KeyError, IndexError, ValueError, TypeError) as e:
        raise PreconditionError(
            f"{endpoint.name}: cannot read the item ids of {WHO_WORDS[who]}'s answer "
            f"({e}); fix items_field or id_field"
        ) from None
    if not ids:
        if who == "test":
            raise CheckSkipped(
                f"needs items of the test tenant in {endpoint.name}", kind="prerequisite"
            )
        raise PreconditionError(
            f"{WHO_WORDS[who]} gets no items of its own from {endpoint.name}, so no item "
            "shared with the test identity would prove nothing. Seed the second tenant."
        )
    return reply, ids


@check("tenant_isolation")
async def tenant_isolation(ctx: Ctx) -> Passed:
    """Invariant: for every ``tenant_scoped`` endpoint, the test identity and the other
    identity (a user of a second tenant) each get items of their own, and no item id is
    in both answers: neither tenant sees the other's rows.

    The other identity's own items are the positive twin: without them (no items, a
    refusal) the check errors, since an empty overlap would prove nothing. Without the
    other identity configured it is skipped (off by configuration).
    """
    scoped = ctx.spec.tenant_scoped
    if not scoped:
        raise CheckSkipped("no dashboard endpoint is tenant_scoped", kind="not_applicable")
    leaks: list[str] = []
    evidence = []
    counts = []
    unproven: list[Exception] = []
    for endpoint in scoped:
        try:
            mine, my_ids = await _own_ids(ctx, endpoint, "test")
            theirs, their_ids = await _own_ids(ctx, endpoint, "other")
        except (CheckSkipped, PreconditionError) as e:
            # Another endpoint may still show a leak: judge them all before giving up.
            unproven.append(e)
            continue
        shared = sorted(set(my_ids) & set(their_ids))
        counts.append(f"{endpoint.name}: {len(my_ids)} vs {len(their_ids)}")
        if shared:
            leaks.append(f"{endpoint.name} gives both {len(shared)}: {', '.join(shared[:3])}")
            evidence += [mine.evidence(f"{endpoint.name} as the test identity")]
            evidence += [theirs.evidence(f"{endpoint.name} as the other identity")]
    if leaks:
        raise CheckFailed(
            f"two tenants get the same items: {leaks[0]}",
            expected="no item id in both the test and the other identity's answers",
            actual="; ".join(leaks),
            evidence=evidence,
        )
    # An error (the other identity has nothing of its own) outranks a skip.
    unproven.sort(key=lambda e: not isinstance(e, PreconditionError))
    if unproven:
        raise unproven[0]
    return Passed(
        expected="each tenant gets items of its own, none shared",
        actual="; ".join(counts) + ", none shared",
    )


def _element_problems(
    ctx: Ctx, elements: list[UiElement], texts: dict[str, list[str]]
) -> list[str]:
    """Key elements that are missing or show the wrong text."""
    problems = []
    missing = [e.selector for e in elements if not texts[e.selector]]
    if missing:
        problems.append(f"missing elements: {', '.join(missing)}")
    for element in elements:
        expected = render(element.text, ctx.variables) if element.text is not None else None
        problems += text_problems(element.selector, texts[element.selector], expected)
    return problems


def _did_you_mean(word: str, candidates: Any) -> str:
    guess = closest(word, candidates)
    return f" (did you mean {guess!r}?)" if guess else ""


async def _rows_problems(
    ctx: Ctx, elements: list[UiElement], texts: dict[str, list[str]]
) -> list[str]:
    """The rendered rows that show none of their endpoint's items, as the API answers now."""
    problems: list[str] = []
    by_name = {e.name: e for e in ctx.spec.endpoints}
    for element in elements:
        if element.rows_of is None:
            continue
        endpoint = by_name.get(element.rows_of)
        if endpoint is None:
            # Checked here, not when the contract loads: an app that replaces the
            # endpoints may keep the sandbox's page settings without running them.
            raise ConfigError(
                f"dashboard.ui element {element.selector!r} has rows_of "
                f"{element.rows_of!r}, which is no dashboard endpoint"
                f"{_did_you_mean(element.rows_of, by_name)}. Endpoints: "
                f"{', '.join(by_name) or '(none)'}."
            )
        reply = await send(ctx, endpoint, auth="test", probe=False)
        if reply.status not in endpoint.expect_status:
            raise CheckSkipped(
                f"needs the {endpoint.name} API to compare the page's rows with: "
                f"{reply.method} {reply.path} answered {reply.status}",
                kind="prerequisite",
            )
        items = _items(reply, endpoint, endpoint.name)
        found = row_problems(texts[element.selector], items, element.fields)
        problems += [f"{element.selector}: {p}" for p in found[:3]]
    return problems


@check("ui")
async def ui(ctx: Ctx) -> Passed:
    """Invariant: the dashboard page, opened as the test identity, loads, becomes ready,
    shows every key element, logs no console error and has no failed request. A key
    element with ``text`` shows exactly that text (``{{test_email}}``: the test
    identity's); one with ``rows_of`` is a list of rows each showing the ``fields`` of
    one item the endpoint's API gives the test identity; no key element shows
    ``undefined``, ``NaN`` or ``[object Object]``."""
    spec = ctx.spec.ui
    if spec is None:
        raise CheckSkipped("no dashboard page configured", kind="not_applicable")
    token = await session_token(ctx)
    async with traced_page(ctx) as page:
        if spec.session_cookie:
            await page.context.add_cookies(
                [{"name": spec.session_cookie, "value": token, "url": ctx.config.base_url}]
            )
        watch = PageWatch(page)
        response = await page.goto(spec.path, wait_until="load")
        if response is None or response.status >= 400:
            raise CheckFailed(
                f"the dashboard page {spec.path} did not load",
                expected="status 200",
                actual=f"status {response.status if response else 'none'}",
            )
        problems = []
        if spec.ready_selector and not await appeared(page, spec.ready_selector, READY_TIMEOUT_MS):
            # The page loaded but never finished rendering: a product failure, not a
            # transient one, so it is judged now rather than retried.
            problems.append(
                f"never became ready ({spec.ready_selector} within {READY_TIMEOUT_MS} ms)"
            )
        texts = {
            e.selector: await page.locator(e.selector).all_inner_texts() for e in spec.elements
        }
        await settle(page)
        problems += _element_problems(ctx, spec.elements, texts)
        if watch.console_errors:
            problems.append(f"console errors: {'; '.join(watch.console_errors[:3])}")
        if watch.failed_requests:
            problems.append(f"failed requests: {'; '.join(watch.failed_requests[:3])}")
        if problems and watch.transient:
            # The page was hit by transient faults it did not recover from: retry it.
            raise TransientError(
                f"the dashboard page did not recover from {'; '.join(watch.transient[:3])}"
            )
        try:
            problems += await _rows_problems(ctx, spec.elements, texts)
        except CheckSkipped:
            # The API the rows are compared with does not answer: with the page already
            # broken that is the same fault, and the page's problems are the verdict.
            if not problems:
                raise
        if problems:
            raise CheckFailed(
                f"the dashboard page {spec.path} is broken: {problems[0]}",
                expected=f"{len(spec.elements)} key elements showing what they must, "
                "no console errors, no failed requests",
                actual="; ".join(problems),
                evidence=[
                    Evidence(kind="log", label="page problems", excerpt="\n".join(problems)[:800])
                ],
            )
    return Passed(
        expected=f"{len(spec.elements)} key elements showing what they must, no console "
        "errors, no failed requests",
        actual="all present and as expected, clean console",
    )


@flow(name="dashboard", flow_run_name="dashboard-{environment}", persist_result=False)
async def dashboard(environment: str = "sandbox") -> State[JourneyResult]:
    """Feed, alerts and history APIs (status, contract, latency, data, order, paging),
    whose rows each tenant gets, and the page.

    Args:
        environment: The environment to test: a SmokeEnvironment block's name. `sandbox`
            starts a local sandbox for this run and stops it afterwards.
    """
    async with open_journey(JOURNEY, environment, DashboardSpec) as ctx:
        spec = ctx.spec
        names = [e.name for e in spec.endpoints] + ["tenant_isolation", "ui"]
        async with journey_frame(ctx, names) as ready:
            if ready:
                await asyncio.gather(
                    *(
                        run_check(ctx, endpoint_answers, e, check_name=e.name)
                        for e in spec.endpoints
                    ),
                    run_check(ctx, tenant_isolation),
                    run_check(ctx, ui),
                )
    return await journey_outcome(ctx)
