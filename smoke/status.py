"""What a status page reads about an environment: run tags, the status document, the badge.

Prefect-free. The gate tags its run with :func:`run_tags` (``smoke history`` filters on
them server-side), and records :func:`status_document` and :func:`badge_svg` as
artifacts keyed per environment (``tasks/status.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast
from xml.sax.saxutils import escape

from smoke.results import GateResult, Status, Verdict
from smoke.scrub import scrubber

# Bump when a field changes meaning or goes away; adding a field keeps the version.
STATUS_SCHEMA = "smoke-status/1"
# The badge's right half; the left half is grey like every shields-style badge.
BADGE_COLOURS = {Verdict.PASS: "#2e7d32", Verdict.FAIL: "#c62828", Verdict.ERROR: "#ef6c00"}
_LABEL_GREY = "#555"
# Verdana 11 px averages about 7 px a character; a badge wider than its text is fine.
_CHAR_PX = 7
_PAD_PX = 10


def env_tag(environment: str) -> str:
    """The tag every gate run of ``environment`` carries."""
    return f"env:{environment}"


def run_tags(environment: str, mode: str, version: str | None = None) -> list[str]:
    """``env:<name>``, ``mode:<mode>`` and, when given, ``version:<v>``: a gate run's tags."""
    tags = [env_tag(environment), f"mode:{mode}"]
    if version:
        tags.append(f"version:{version}")
    return tags


def journey_passed(status: Status) -> bool | None:
    """Whether a journey counts as passed for a pass rate; None when it did not run.

    Flaky and degraded journeys passed the gate (with a warning), so they count as passed.
    """
    if status is Status.SKIPPED:
        return None
    return status not in (Status.FAILED, Status.ERROR)


def status_document(result: GateResult, at: datetime) -> dict[str, Any]:
    """The JSON status of an environment after a gate run finished at ``at`` (UTC).

    Strings are scrubbed like every artifact; ``problems`` names the failed checks.
    """
    document: dict[str, Any] = {
        "schema": STATUS_SCHEMA,
        "environment": result.environment,
        "verdict": result.verdict.value,
        "version": result.version,
        "mode": result.mode,
        "time": at.isoformat(timespec="seconds"),
        "duration_s": round(result.duration_s, 3),
        "flow_run_id": result.flow_run_id,
        "flow_run_url": result.flow_run_url,
        "journeys": {j.name: j.status.value for j in result.journeys},
        "problems": [c.key for c in result.problems()],
    }
    return cast(dict[str, Any], scrubber.value(document))


def badge_svg(verdict: Verdict, label: str = "smoke") -> str:
    """A shields-style SVG badge: ``label`` on grey, the verdict on its colour. No network."""
    value = verdict.value
    left = _PAD_PX + _CHAR_PX * len(label)
    right = _PAD_PX + _CHAR_PX * len(value)
    width = left + right
    text = escape(label, {'"': "&quot;"})
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" '
        f'role="img" aria-label="{text}: {value}">'
        f"<title>{text}: {value}</title>"
        f'<rect width="{left}" height="20" fill="{_LABEL_GREY}"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{BADGE_COLOURS[verdict]}"/>'
        '<g fill="#fff" text-anchor="middle" '
        'font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2:g}" y="14">{text}</text>'
        f'<text x="{left + right / 2:g}" y="14">{value}</text>'
        "</g></svg>"
    )


def pass_rates(journeys_per_run: list[dict[str, str]]) -> dict[str, dict[str, float | int]]:
    """Each journey's pass rate over runs (``{journey: status}`` each): passed, runs, rate.

    A run in which a journey was skipped does not count for that journey.
    """
    outcomes: dict[str, list[bool]] = {}
    for journeys in journeys_per_run:
        for name, status in journeys.items():
            passed = journey_passed(Status(status))
            if passed is not None:
                outcomes.setdefault(name, []).append(passed)
    return {
        name: {"passed": sum(seen), "runs": len(seen), "rate": round(sum(seen) / len(seen), 4)}
        for name, seen in outcomes.items()
    }
