"""Slack Block Kit payloads for incidents, recoveries, flaky notes and crashed runs.

Each builder returns ``{"text": ..., "blocks": [...]}``: ``text`` is the notification
and fallback text, ``blocks`` the message. Deterministic given its inputs (no clock).

Secrets: field values are scrubbed before they are escaped, truncated or formatted (so
neither can hide a secret from the scrubber), and the finished payload is scrubbed once
more as a whole. Text from the product (expected, actual, messages) is escaped, so a
``<!channel>`` in a response body cannot page anyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from smoke.incidents import Notification
from smoke.report import next_steps, status_word
from smoke.results import CheckResult, Evidence, GateResult, Status, Verdict
from smoke.scrub import scrubber

Payload = dict[str, Any]

# Slack's limits: a header holds 150 characters, a section 3000, a message 50 blocks.
HEADER_LIMIT = 150
SECTION_LIMIT = 3000
# Enough to see what went wrong; the flow run and the evidence have the rest.
DETAIL_LIMIT = 300
MAX_CHECK_SECTIONS = 10


def failure_message(
    result: GateResult,
    notification: Notification,
    mentions: Sequence[str] = (),
    escalation_mentions: Sequence[str] = (),
) -> Payload:
    """A failure, reminder or escalation: what failed, expected vs actual, where to look."""
    r = _scrubbed(result)
    problems = _problems(r)
    verdict = r.verdict.value
    title = {
        "failure": f"Smoke {verdict}",
        "reminder": f"Still failing: smoke {verdict}",
        "escalation": f"Escalation: smoke {verdict}",
    }.get(notification.kind, f"Smoke {verdict}")

    blocks: list[dict[str, Any]] = [
        _header(f"{_emoji(r.verdict)} {title}: {r.environment} {_version(r)}"),
        _fields(r),
        _section(_situation(notification)),
    ]
    people = _people(notification, mentions, escalation_mentions)
    if people:
        blocks.append(_section(people))
    blocks.append({"type": "divider"})
    for check in problems[:MAX_CHECK_SECTIONS]:
        blocks.append(_section(_check_text(check)))
    if len(problems) > MAX_CHECK_SECTIONS:
        more = len(problems) - MAX_CHECK_SECTIONS
        blocks.append(_section(f"…and {more} more failed check(s): see the flow run."))
    if not problems and r.reasons:
        blocks.append(_section("*Why:*\n" + "\n".join(f"• {_esc(x)}" for x in r.reasons)))
    blocks.append(_section(_flow_run_line(r.flow_run_url, r.flow_run_id)))
    blocks.append(_next_steps_section(next_steps(r)))

    first = problems[0] if problems else None
    what = (
        f"{first.key} {status_word(first.status)}: {_detail(first)}"
        if first
        else _one_line(r.reasons[0] if r.reasons else "see the flow run")
    )
    text = _esc(f"{title}: {r.environment} {_version(r)} ({r.mode}). {what}")
    if len(problems) > 1:
        text += f" (+{len(problems) - 1} more)"
    if people:
        text += f" {people}"
    return _payload(text, blocks)


def recovery_message(result: GateResult, notification: Notification) -> Payload:
    """The first PASS after a failure: what was failing, for how many runs. Pages nobody."""
    r = _scrubbed(result)
    was = ", ".join(_esc(k) for k in notification.previous_checks) or "the previous run"
    runs = notification.consecutive_failures
    runs_text = f"{runs} failed run{'s' if runs != 1 else ''}"
    blocks = [
        _header(f":large_green_circle: Smoke recovered: {r.environment} {_version(r)}"),
        _fields(r),
        _section(f"Every blocking check passes again after {runs_text}. Was failing: {was}."),
    ]
    if r.warnings:
        blocks.append(_section("*Warnings:*\n" + "\n".join(f"• {_esc(w)}" for w in r.warnings)))
    blocks.append(_section(_flow_run_line(r.flow_run_url, r.flow_run_id)))
    text = _esc(
        f"Smoke recovered: {r.environment} {_version(r)} ({r.mode}) passes again after {runs_text}."
    )
    return _payload(text, blocks)


def flaky_message(result: GateResult, notification: Notification) -> Payload:
    """A PASS that needed retries: noted for whoever owns the check, paging nobody."""
    r = _scrubbed(result)
    flaky = [c for c in r.all_checks() if c.status is Status.FLAKY]
    lines = [
        f"• *{_esc(c.key)}* ({c.attempts} attempts): {_esc(_cut(c.message))}"
        if c.message
        else f"• *{_esc(c.key)}*: passed after {c.attempts} attempts"
        for c in flaky
    ]
    blocks = [
        _header(
            f":large_yellow_circle: Smoke PASS with flaky checks: {r.environment} {_version(r)}"
        ),
        _fields(r),
        _section(
            "The gate passed, but these checks needed a retry. Nobody is paged; "
            "the check's owner should look:\n" + "\n".join(lines)
        ),
        _section(_flow_run_line(r.flow_run_url, r.flow_run_id)),
    ]
    keys = ", ".join(c.key for c in flaky)
    text = _esc(f"Smoke PASS with flaky checks: {r.environment} {_version(r)} ({r.mode}): {keys}")
    return _payload(text, blocks)


def crash_message(
    environment: str,
    flow_run_url: str | None,
    state_message: str | None,
    *,
    mentions: Sequence[str] = (),
) -> Payload:
    """A gate run that crashed before it gave a verdict: never a PASS."""
    env = scrubber.text(environment)
    why = _one_line(scrubber.text(state_message or "")) or "no message recorded"
    blocks = [
        _header(f":red_circle: Smoke run crashed: {env}"),
        _section(
            "The smoke run crashed before it gave a verdict, so nothing was verified. "
            "A crashed run is never a PASS: treat the release as blocked.\n"
            f"*State:* {_esc(_cut(why))}"
        ),
    ]
    people = " ".join(mentions)
    if people:
        blocks.append(_section(f"cc {people}"))
    blocks.append(_section(_flow_run_line(flow_run_url, None)))
    blocks.append(
        _next_steps_section(
            [
                "Read the flow run's logs (and the worker's) for why it crashed.",
                f"Re-run the gate: `smoke gate --env {env}`.",
            ]
        )
    )
    text = _esc(f"Smoke run crashed: {env}. {_cut(why)}") + (f" {people}" if people else "")
    return _payload(text, blocks)


def message_for(
    result: GateResult,
    notification: Notification,
    mentions: Sequence[str] = (),
    escalation_mentions: Sequence[str] = (),
) -> Payload:
    """The payload for ``notification``, by its kind."""
    if notification.kind == "recovery":
        return recovery_message(result, notification)
    if notification.kind == "flaky":
        return flaky_message(result, notification)
    return failure_message(result, notification, mentions, escalation_mentions)


def _situation(n: Notification) -> str:
    checks = ", ".join(n.failing_checks)
    plural = "s" if n.consecutive_failures != 1 else ""
    runs = f"{n.consecutive_failures} consecutive failed run{plural}"
    if n.kind == "escalation":
        return f":rotating_light: Escalating: failing for {runs}. Failing: {_esc(checks)}."
    if n.kind == "reminder":
        return f"Reminder: still failing after {runs}. Failing: {_esc(checks)}."
    if n.is_update:
        changes = []
        if n.newly_failing:
            changes.append(f"now also failing: {_esc(', '.join(n.newly_failing))}")
        if n.no_longer_failing:
            changes.append(f"no longer failing: {_esc(', '.join(n.no_longer_failing))}")
        return (
            f"Update: the failing checks changed ({'; '.join(changes)}). "
            f"Failing now: {_esc(checks)}; {runs}."
        )
    if n.consecutive_failures > 1:
        return f"Still failing ({runs}). Failing: {_esc(checks)}."
    return f"New incident. Failing: {_esc(checks)}."


def _people(n: Notification, mentions: Sequence[str], escalation_mentions: Sequence[str]) -> str:
    if not n.pages_people:
        return ""
    people = list(mentions)
    if n.kind == "escalation":
        people += [m for m in escalation_mentions if m not in people]
    return f"cc {' '.join(people)}" if people else ""


def _check_text(c: CheckResult) -> str:
    blocking = "blocking" if c.blocking else "non-blocking"
    attempts = "1 attempt" if c.attempts == 1 else f"{c.attempts} attempts"
    lines = [
        f"*{_esc(c.key)}* {status_word(c.status)} ({blocking}, {attempts}, {c.duration_ms} ms)"
    ]
    if c.expected:
        lines.append(f"*Expected:* {_code(c.expected)}")
    if c.actual:
        lines.append(f"*Actual:* {_code(c.actual)}")
    if c.message:
        lines.append(f"*Message:* {_esc(_cut(c.message))}")
    evidence = [_evidence(ev) for ev in c.evidence if ev.link()]
    if evidence:
        lines.append(f"*Evidence:* {', '.join(evidence)}")
    return "\n".join(lines)


def _evidence(ev: Evidence) -> str:
    label = _esc(_one_line(ev.label or ev.kind))
    # The stored copy resolves for a reader of the message; the worker's path may not.
    where = ev.stored_url or ev.path
    if where and where.startswith(("http://", "https://")):
        return f"<{_url(where)}|{label.replace('|', '/')}>"
    if where:
        return f"{label}: {_code(where)}"
    return f"{label}: {_code(ev.excerpt or '')}"


def _fields(r: GateResult) -> dict[str, Any]:
    return {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": f"*Environment:*\n{_esc(r.environment)}"},
            {"type": "mrkdwn", "text": f"*Version:*\n{_esc(_version(r))}"},
            {"type": "mrkdwn", "text": f"*Verdict:*\n{r.verdict.value}"},
            {"type": "mrkdwn", "text": f"*Mode:*\n{_esc(r.mode)}"},
        ],
    }


def _flow_run_line(url: str | None, run_id: str | None) -> str:
    if url:
        return f"*Flow run:* <{_url(url)}|{_esc(run_id or 'open in Prefect')}>"
    return f"*Flow run:* `{_esc(run_id)}`" if run_id else "*Flow run:* not recorded"


def _next_steps_section(steps: list[str]) -> dict[str, Any]:
    return _section("*What to do next:*\n" + "\n".join(f"• {_esc(s)}" for s in steps))


def _header(text: str) -> dict[str, Any]:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": _fit(_one_line(text), HEADER_LIMIT)},
    }


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _fit(text, SECTION_LIMIT)}}


def _payload(text: str, blocks: list[dict[str, Any]]) -> Payload:
    payload: Payload = {"text": text, "blocks": blocks}
    cleaned = scrubber.value(payload)
    assert isinstance(cleaned, dict)
    return cleaned


def _scrubbed(result: GateResult) -> GateResult:
    return GateResult.model_validate(scrubber.value(result.model_dump(mode="json")))


def _problems(r: GateResult) -> list[CheckResult]:
    """Failed and errored checks, the ones that decided the verdict first."""
    problems = sorted(r.problems(), key=lambda c: not c.blocking)
    if not problems and r.verdict is Verdict.FAIL:  # fail_on_flaky
        problems = [c for c in r.all_checks() if c.status is Status.FLAKY and c.blocking]
    return problems


def _detail(c: CheckResult) -> str:
    if c.expected and c.actual:
        return f"expected {_cut(_one_line(c.expected))}, got {_cut(_one_line(c.actual))}"
    return _cut(_one_line(c.message or c.actual or c.expected or "no detail recorded"))


def _emoji(verdict: Verdict) -> str:
    return ":red_circle:" if verdict is Verdict.FAIL else ":warning:"


def _version(r: GateResult) -> str:
    return r.version or "(no version)"


def _code(text: str) -> str:
    """Inline code; Slack has no escape for a backtick inside one, so it becomes a quote."""
    return "`" + _esc(_cut(_one_line(text))).replace("`", "'") + "`"


def _esc(text: str) -> str:
    """Slack's three control characters; everything else is literal."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _url(url: str) -> str:
    return url.replace(" ", "%20").replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")


def _cut(text: str, limit: int = DETAIL_LIMIT) -> str:
    return _fit(text, limit)


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _one_line(text: str) -> str:
    return " ".join(text.split())
