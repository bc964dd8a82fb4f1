"""A journey's frame: its setup requests, its checks, the refusal checks, its teardown.

``journey_frame`` runs the contract's ``setup`` sequence first (a failure skips the
journey's checks), and on the way out, whatever happened inside, the refusal checks
(``tasks/refusal.py``) and the ``teardown`` sequence. Teardown only ever sends steps
that act as a reserved identity or name something this run created (``check_teardown``
refuses any other at load time), and leaves out a step whose saved value was never
saved, because the setup step that creates it did not run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from smoke.errors import ConfigError
from smoke.outcomes import CheckFailed, Passed
from smoke.spec import Step, request_placeholders
from tasks.checks import every_journey_check as check
from tasks.checks import run_check, skip_rest
from tasks.exchange import expect, save
from tasks.http import send
from tasks.journey import JourneyContext
from tasks.refusal import anonymous_refused, bad_token_refused

REFUSAL_CHECKS = ["anonymous_refused", "bad_token_refused"]


async def _run_step(ctx: JourneyContext[Any], step: Step, phase: str) -> str:
    reply = await send(ctx, step)
    expect(reply, step, f"{phase} step {step.name}")
    saved = save(ctx, reply, step, f"{phase} step {step.name}")
    kept = f", saved {', '.join(saved)}" if saved else ""
    return f"{step.name} -> {reply.status}{kept}"


@check("setup")
async def setup(ctx: JourneyContext[Any]) -> Passed:
    """Invariant: every setup request of the contract answers its expected status and
    contract, in order; what they save is there for the journey's checks."""
    done = [await _run_step(ctx, step, "setup") for step in ctx.spec.setup]
    return Passed(expected=f"{len(done)} setup request(s) answered", actual="; ".join(done))


def _unsaved(ctx: JourneyContext[Any], step: Step) -> list[str]:
    saved = ctx.variables["saved"]
    names = request_placeholders(step)
    return sorted(n for n in names if n.startswith("saved.") and n.split(".")[1] not in saved)


@check("teardown")
async def teardown(ctx: JourneyContext[Any]) -> Passed:
    """Invariant: every teardown request whose data this run created answers its expected
    status; all are tried even when one fails, and none touches data this run did not make.
    """
    done: list[str] = []
    failed: list[CheckFailed] = []
    left_out: list[str] = []
    for step in ctx.spec.teardown:
        missing = _unsaved(ctx, step)
        if missing:
            left_out.append(f"{step.name} (nothing saved for {', '.join(missing)})")
            continue
        try:
            done.append(await _run_step(ctx, step, "teardown"))
        except CheckFailed as f:
            failed.append(f)
        except ConfigError as e:
            left_out.append(f"{step.name} ({e})")
    note = f"not sent: {'; '.join(left_out)}" if left_out else ""
    if failed:
        first = failed[0]
        raise CheckFailed(
            first.message
            + (f" (and {len(failed) - 1} more teardown failures)" if failed[1:] else ""),
            expected=first.expected,
            actual=first.actual,
            evidence=[e for f in failed for e in f.evidence],
        )
    return Passed(
        expected="what this run created is removed",
        actual="; ".join(done) or "nothing to remove",
        message=note,
    )


@asynccontextmanager
async def journey_frame(ctx: JourneyContext[Any], checks: list[str]) -> AsyncIterator[bool]:
    """Setup, then the body (told whether setup worked), then refusal checks and teardown.

    ``checks`` are the journey's own check names: recorded as skipped when setup fails.
    """
    ready = True
    if ctx.spec.setup:
        result = await run_check(ctx, setup)
        ready = not result.is_problem and result.status.value != "skipped"
    if not ready:
        skip_rest(ctx, [*checks, *REFUSAL_CHECKS], "not run: the journey's setup failed")
    try:
        yield ready
        if ready:
            await run_check(ctx, anonymous_refused)
            await run_check(ctx, bad_token_refused)
    finally:
        if ctx.spec.teardown:
            await run_check(ctx, teardown)
