"""One gate per environment at once (``smoke gate --env a --env b``): one table, one exit code.

Plain Python: the CLI (``cli/via_deployment.py``) triggers and follows the runs; this
module names the environments' report folders, prefixes their progress lines, and
combines their results. Across environments the worst outcome wins, in this order:

    a signal (130/143) > ERROR (3) > a configuration ERROR (2) > FAIL (1) > PASS (0)

ERROR beats FAIL here, unlike inside one gate (``smoke/verdict.py``, where a proved
failure is the more useful answer about that one environment): an ERROR means an
environment went unchecked, and no FAIL elsewhere says anything about it. A pipeline
that sees 3 knows to look at the smoke system before it reads the product's failures.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from smoke.errors import ConfigError
from smoke.report import render_junit
from smoke.results import GateResult, Verdict
from smoke.scrub import scrubber

# A folder per environment under --report-dir: block names are slugs, but a name is
# never trusted to be one.
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_COLUMNS = ("environment", "verdict", "duration", "flow run")


def check_environments(environments: Sequence[str]) -> list[str]:
    """The environments in the order given; a name given twice is a usage error."""
    seen: list[str] = []
    for name in environments:
        if name in seen:
            raise ConfigError(
                f"--env {name} is given twice: each environment runs one gate, "
                "e.g. --env staging --env staging-eu"
            )
        seen.append(name)
    if not seen:
        raise ConfigError("no environment: give --env NAME at least once")
    return seen


def report_folder(report_dir: Path, environment: str) -> Path:
    """The report folder of one environment: ``<report-dir>/<environment>``."""
    name = _UNSAFE.sub("_", environment).strip(".") or "_"
    return report_dir / name


def progress_prefix(environment: str, environments: Sequence[str]) -> str:
    """``[staging]    ``: every line of one environment starts alike, aligned with the others."""
    width = max(len(e) for e in environments) + 2
    return f"{'[' + environment + ']':<{width}} "


def exit_code_rank(code: int) -> int:
    """How bad an exit code is: a signal, then 3, 2, 1, 0 (see the module's docstring)."""
    order = {0: 0, 1: 1, 2: 2, 3: 3}
    return order.get(code, 4)


@dataclass(frozen=True)
class FanOutResult:
    """The results of one command's gates, one per environment, in the order given."""

    results: list[GateResult]
    duration_s: float = 0.0

    @property
    def exit_code(self) -> int:
        """The worst exit code of the environments' results."""
        return max((r.exit_code for r in self.results), key=exit_code_rank, default=3)

    @property
    def verdict(self) -> Verdict:
        """ERROR if any environment is ERROR, else FAIL if any is FAIL, else PASS."""
        verdicts = {r.verdict for r in self.results}
        if not self.results or Verdict.ERROR in verdicts:
            return Verdict.ERROR
        return Verdict.FAIL if Verdict.FAIL in verdicts else Verdict.PASS

    def to_json_dict(self) -> dict[str, object]:
        """The ``--json`` document: the combined verdict, then each environment's result."""
        return {
            "verdict": self.verdict.value,
            "exit_code": self.exit_code,
            "duration_s": round(self.duration_s, 3),
            "environments": [r.to_json_dict() for r in self.results],
        }

    def json_text(self) -> str:
        """``to_json_dict`` as scrubbed, indented JSON."""
        return json.dumps(scrubber.value(self.to_json_dict()), indent=2, ensure_ascii=False) + "\n"


def render_table(fan_out: FanOutResult) -> str:
    """The summary table: environment, verdict, duration, flow-run URL, then the outcome.

    Plain text in fixed columns, for a terminal and for a CI log alike. An environment
    that did not pass gets its first reason under the table.
    """
    rows = [
        (
            r.environment,
            r.verdict.value,
            f"{r.duration_s:.1f} s",
            r.flow_run_url or r.flow_run_id or "(no run)",
        )
        for r in fan_out.results
    ]
    widths = [max(len(row[i]) for row in [_COLUMNS, *rows]) for i in range(len(_COLUMNS) - 1)]

    def line(cells: Sequence[str]) -> str:
        head = "  ".join(f"{cell:<{w}}" for cell, w in zip(cells, widths, strict=False))
        return f"{head}  {cells[-1]}"

    lines = [line(_COLUMNS), *(line(row) for row in rows), ""]
    for r in fan_out.results:
        if r.verdict is not Verdict.PASS and r.reasons:
            lines.append(f"{r.environment}: {r.reasons[0]}")
    counts = ", ".join(
        f"{sum(r.verdict is v for r in fan_out.results)} {v.value}"
        for v in (Verdict.PASS, Verdict.FAIL, Verdict.ERROR)
        if any(r.verdict is v for r in fan_out.results)
    )
    lines.append(
        f"{fan_out.verdict.value} in {fan_out.duration_s:.1f} s: {len(fan_out.results)} "
        f"environments ({counts}); exit {fan_out.exit_code}"
    )
    return scrubber.text("\n".join(lines) + "\n")


def render_junit_all(fan_out: FanOutResult) -> str:
    """One JUnit file for every environment: a testsuite per environment and journey.

    Each suite is named ``<environment>.<journey>``, so CI tells the environments apart.
    """
    root = ET.Element("testsuites", {"name": "smoke"})
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    seconds = 0.0
    props = ET.SubElement(root, "properties")
    ET.SubElement(props, "property", {"name": "verdict", "value": fan_out.verdict.value})
    for result in fan_out.results:
        one = ET.fromstring(render_junit(result))
        for key in totals:
            totals[key] += int(one.get(key, "0"))
        seconds += float(one.get("time", "0"))
        for name, value in (
            ("verdict", result.verdict.value),
            ("flow_run_url", result.flow_run_url or ""),
        ):
            ET.SubElement(
                props, "property", {"name": f"{result.environment}.{name}", "value": value}
            )
        for suite in one.iter("testsuite"):
            suite.set("name", f"{result.environment}.{suite.get('name', '')}")
            root.append(suite)
    root.attrib |= {key: str(value) for key, value in totals.items()}
    root.set("time", f"{seconds:.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


__all__ = [
    "FanOutResult",
    "check_environments",
    "exit_code_rank",
    "progress_prefix",
    "render_junit_all",
    "render_table",
    "report_folder",
]
