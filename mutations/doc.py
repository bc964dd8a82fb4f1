"""The "Mutation catalogue" section of docs/RELIABILITY.md: rendered, and replaced on re-run."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from mutations.outcome import Outcome, Result
from mutations.target import RELEASE_VERSION

HEADING = "## Mutation catalogue"
BEGIN = "<!-- mutations:begin -->"
END = "<!-- mutations:end -->"
COMMAND = "make mutations"
EXPANDED = ".venv/bin/python -m mutations.run --write-doc"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def verdict_cell(outcome: Outcome) -> str:
    """The result column: what happened, in a few words."""
    if outcome.result is Result.SURVIVED and not outcome.mutation.visible:
        return "survived (not visible)"
    return outcome.result.value


def detail_cell(outcome: Outcome) -> str:
    """Which checks caught it, or why it survived and which check should catch it."""
    if outcome.result is Result.CAUGHT:
        text = ", ".join(f"`{key}`" for key in outcome.owning_checks)
        if outcome.other_checks:
            text += " (also " + ", ".join(f"`{key}`" for key in outcome.other_checks) + ")"
        return text
    if outcome.result is Result.MISATTRIBUTED:
        blamed = ", ".join(f"`{key}`" for key in outcome.other_checks)
        return f"blamed on {blamed}, not on {outcome.mutation.journey}. {outcome.mutation.gap}"
    if outcome.result is Result.SURVIVED:
        return outcome.mutation.gap
    return outcome.note


def counts_line(outcomes: Sequence[Outcome]) -> str:
    """One sentence with the totals."""
    n = len(outcomes)
    caught = sum(o.result is Result.CAUGHT for o in outcomes)
    survived = [o for o in outcomes if o.result is Result.SURVIVED]
    invisible = sum(not o.mutation.visible for o in survived)
    visible_survivors = len(survived) - invisible
    misattributed = sum(o.result is Result.MISATTRIBUTED for o in outcomes)
    broken = sum(o.result in (Result.BROKE_SANDBOX, Result.ERROR) for o in outcomes)
    visible_total = sum(o.mutation.visible for o in outcomes)
    return (
        f"{n} mutations: {caught} caught by a check of their own journey, "
        f"{visible_survivors} visible ones survived, {invisible} not visible survived "
        f"(allowed), {misattributed} blamed on another journey, {broken} errors. "
        f"Caught: {caught} of the {visible_total} visible mutations."
    )


def render_section(
    outcomes: Sequence[Outcome], *, date: str, total_s: float, control_s: float
) -> str:
    """The whole section, heading and markers included."""
    per_run = [o.seconds for o in outcomes] + [control_s]
    lines = [
        HEADING,
        "",
        BEGIN,
        f"Measured {date} on this 2-core machine with `{COMMAND}` (`{EXPANDED}`). Each "
        "mutation is one exact edit of a sandbox file (`mutations/catalogue.py`), applied "
        "alone to a copy of the repository; the copy's sandbox starts and `smoke gate` runs "
        "the whole gate against it "
        f"(`--version {RELEASE_VERSION}`), every run through one real Prefect "
        "server. *Caught* means verdict FAIL "
        "with a failed check in the mutation's own journey; the unmutated copy must PASS "
        "first. None of these is one of the sandbox's named faults.",
        "",
        counts_line(outcomes),
        f"The run took {total_s / 60:.1f} min: one gate run {statistics.median(per_run):.0f} s "
        f"median ({min(per_run):.0f}-{max(per_run):.0f} s), the control run included.",
        "",
        "| mutation | journey | kind | what a user or the business would see | result "
        "| caught by, or why it survived and which check should catch it |",
        "|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        m = o.mutation
        lines.append(
            f"| `{m.id}` | {m.journey} | {m.kind} | {_cell(m.effect)} | {verdict_cell(o)} "
            f"| {_cell(detail_cell(o))} |"
        )
    lines += [
        "",
        "A mutation marked *not visible* changes nothing a user or the business sees in a "
        "healthy environment within one run; it may survive, and its row says why. Every "
        "other survivor is a gap in a check, and its row names the check and how it should "
        "catch it.",
        END,
    ]
    return "\n".join(lines) + "\n"


def replace_section(document: str, section: str) -> str:
    """``document`` with its mutation section replaced by ``section`` (appended if absent)."""
    if BEGIN in document and END in document:
        start = document.rfind(HEADING, 0, document.index(BEGIN))
        start = start if start >= 0 else document.index(BEGIN)
        stop = document.index(END) + len(END)
        rest = document[stop:].lstrip("\n")
        return document[:start] + section + ("\n" + rest if rest else "")
    return document.rstrip("\n") + "\n\n" + section
