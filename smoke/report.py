"""Render a GateResult for people and machines: Markdown, JUnit XML, console text, files.

Every function here is deterministic given the result (no clock, no randomness) and
returns text that has been through ``smoke.scrub.scrubber``: field values are scrubbed
before they are formatted (so escaping cannot hide a secret from the scrubber), and
Markdown and console text are scrubbed once more as a whole.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from smoke.results import (
    SKIP_KINDS,
    CheckResult,
    Evidence,
    GateResult,
    JourneyResult,
    Status,
    Verdict,
)
from smoke.scrub import scrubber

REPORT_FILE = "report.md"
HTML_FILE = "report.html"
RESULT_FILE = "result.json"
JUNIT_FILE = "junit.xml"
EVIDENCE_DIR = "evidence"

_PASSING = (Status.PASSED, Status.FLAKY, Status.DEGRADED)
_FAILING = (Status.FAILED, Status.ERROR)
# "degraded" is the longest status word; every word is padded to it.
_WORD_WIDTH = 8
# Browser checks label their trace with a viewer hint for Node users; the reports give
# one that works in this project's Python environment instead (``trace_hint``).
_NPX_TRACE_HINT = " (npx playwright show-trace)"


def status_word(status: Status) -> str:
    """The status as one word, upper-case when a reader has to act on it."""
    return status.value.upper() if status in _FAILING else status.value


def render_markdown(
    result: GateResult, *, evidence_base: Path | None = None, html_report: str | None = None
) -> str:
    """The smoke report as Markdown (report.md, the Prefect markdown artifact).

    ``html_report`` is the path of report.html relative to the Markdown file, when one
    is written beside it.
    """
    r = _scrubbed(result)
    out = [f"# Smoke {r.verdict.value}: {r.environment}, version {_version(r)}", ""]
    out += [
        f"**{r.verdict.value}** · environment `{r.environment}` · version `{_version(r)}` · "
        f"mode {r.mode} · {_seconds(r.duration_s)} · flow run: {_flow_run_link(r)}",
        "",
    ]
    if html_report:
        out += [
            f"The same report with screenshots, in one file that opens offline: "
            f"[{html_report}]({_link_target(html_report)})",
            "",
        ]
    if r.verdict is not Verdict.PASS and r.reasons:
        out += ["Why:", ""] + [f"- {_one_line(reason)}" for reason in r.reasons] + [""]

    out += ["## Summary", ""]
    if r.journeys:
        out += ["| journey | checks | passed | failed | status |", "|---|---:|---:|---:|---|"]
        out += [_summary_row(j) for j in r.journeys]
    else:
        out += ["No journey ran."]
    out.append("")

    if r.journeys:
        out += ["## Coverage", "", coverage_line(r), ""]
        for kind, checks in skipped_by_kind(r).items():
            out += [f"Skipped, {SKIP_KINDS[kind]} ({len(checks)}):", ""]
            out += [f"- {_cell(c.key)}: {_one_line(c.message)}" for c in checks]
            out.append("")

    if r.warnings:
        out += ["## Warnings", ""] + [f"- {_one_line(w)}" for w in r.warnings] + [""]

    problems = _blocking_first(r.problems())
    if problems:
        out += ["## Failed checks", ""]
        for check in problems:
            out += _problem_section(check, evidence_base)

    if r.journeys:
        out += ["## All checks", ""]
        out += ["| check | status | blocking | attempts | duration |", "|---|---|---|---:|---:|"]
        out += [
            f"| {_cell(c.key)} | {status_word(c.status)} | {_yes_no(c.blocking)} "
            f"| {c.attempts} | {c.duration_ms} ms |"
            for c in r.all_checks()
        ]
        out.append("")

    out += ["## What to do next", ""] + [f"- {line}" for line in next_steps(r)]
    return scrubber.text("\n".join(out) + "\n")


def next_steps(result: GateResult) -> list[str]:
    """What a reader should do about this result, most useful first."""
    env = result.environment
    gate = f"`smoke gate --env {env}" + (f" --version {result.version}`" if result.version else "`")
    if result.verdict is Verdict.ERROR:
        first = result.reasons[0] if result.reasons else "no reason was recorded"
        steps = [f"The smoke system could not run: {_one_line(first)}"]
        if result.error_kind == "config":
            steps.append(f"Fix the configuration of environment `{env}`, then run {gate} again.")
        else:
            steps.append(
                "Check that the smoke system can run (Prefect server and worker reachable, "
                f"browser installed), then re-run {gate}. An ERROR is never a PASS."
            )
        return steps
    if result.verdict is Verdict.FAIL:
        culprits = [c for c in result.all_checks() if c.status is Status.FAILED and c.blocking]
        if not culprits:  # fail_on_flaky turned a flaky blocking check into the failure
            culprits = [c for c in result.all_checks() if c.status is Status.FLAKY and c.blocking]
        steps = []
        for journey in _unique(c.journey for c in culprits):
            keys = ", ".join(c.key for c in culprits if c.journey == journey)
            if journey == "preflight":
                steps.append(
                    f"The target is not ready ({keys}): check the deployment's health, version "
                    f"and Stripe mode, then re-run the gate: {gate}."
                )
            else:
                steps.append(
                    f"Fix the failing check ({keys}) or re-run one journey: "
                    f"`smoke journey {journey} --env {env}`."
                )
        return steps or [f"Look at the reasons above, then re-run the gate: {gate}."]
    flaky = [c for c in result.all_checks() if c.status is Status.FLAKY]
    slow = [c for c in result.all_checks() if c.status is Status.DEGRADED]
    non_blocking = [c for c in result.all_checks() if c.is_problem and not c.blocking]
    steps = []
    if flaky:
        listed = ", ".join(f"{c.key} ({c.attempts} attempts)" for c in flaky)
        steps.append(f"PASS with warnings: look at the flaky checks: {listed}.")
    if slow:
        listed = ", ".join(f"{c.key} ({c.duration_ms} ms)" for c in slow)
        steps.append(f"Look at the slow checks, over their latency budget: {listed}.")
    if non_blocking:
        listed = ", ".join(c.key for c in non_blocking)
        steps.append(f"Non-blocking checks failed and need an owner: {listed}.")
    skipped = [c for c in result.all_checks() if c.status is Status.SKIPPED]
    ran = len(result.all_checks()) - len(skipped)
    if skipped:
        return steps or [
            f"Nothing to do for the {ran} check(s) that ran; {len(skipped)} did not run "
            "(see Coverage): turn on what is off by configuration to prove more."
        ]
    return steps or [f"Nothing to do: all {ran} checks ran and passed."]


def skipped_by_kind(result: GateResult) -> dict[str, list[CheckResult]]:
    """Skipped checks grouped by why: off by configuration, not applicable, prerequisite."""
    grouped: dict[str, list[CheckResult]] = {}
    for c in result.all_checks():
        if c.status is Status.SKIPPED:
            grouped.setdefault(c.skipped_because or "not_applicable", []).append(c)
    return {k: grouped[k] for k in SKIP_KINDS if k in grouped}


def coverage_line(result: GateResult) -> str:
    """How many checks ran, and how many were skipped for each reason."""
    checks = result.all_checks()
    skipped = skipped_by_kind(result)
    ran = len(checks) - sum(len(v) for v in skipped.values())
    line = f"{ran} of {len(checks)} checks ran"
    if skipped:
        line += "; skipped: " + ", ".join(f"{len(v)} {SKIP_KINDS[k]}" for k, v in skipped.items())
    return line


def table_rows(result: GateResult) -> list[dict[str, str | int | bool]]:
    """One row per check, for a Prefect table artifact."""
    return [
        {
            "journey": c.journey,
            "check": c.check,
            "status": c.status.value,
            "blocking": c.blocking,
            "attempts": c.attempts,
            "duration_ms": c.duration_ms,
            "expected": c.expected,
            "actual": c.actual,
            "message": c.message,
        }
        for c in _scrubbed(result).all_checks()
    ]


def render_junit(result: GateResult) -> str:
    """JUnit XML: a testsuite per journey, a testcase per check, the verdict as a property.

    Element text always ends with a newline, so a later whole-file scrub (``scrubber.tree``)
    cannot swallow a closing tag into a masked value.
    """
    r = _scrubbed(result)
    suites: list[tuple[str, list[CheckResult], int]] = [
        (j.name, j.checks, j.duration_ms or sum(c.duration_ms for c in j.checks))
        for j in r.journeys
    ]
    if r.verdict is Verdict.ERROR and not r.problems():
        # Nothing a testcase could carry (no check ran, or the run itself crashed): report
        # the run as one errored testcase so CI shows why instead of an empty, green file.
        run = CheckResult(
            journey="gate",
            check="run",
            status=Status.ERROR,
            message="; ".join(r.reasons) or "the smoke system could not run",
        )
        suites.append(("gate", [run], 0))

    all_cases = [c for _, checks, _ in suites for c in checks]
    root = ET.Element("testsuites", _counts("smoke", all_cases, round(r.duration_s * 1000)))
    props = ET.SubElement(root, "properties")
    for name, value in (
        ("verdict", r.verdict.value),
        ("environment", r.environment),
        ("version", r.version or ""),
        ("mode", r.mode),
        ("flow_run_id", r.flow_run_id or ""),
        ("flow_run_url", r.flow_run_url or ""),
    ):
        ET.SubElement(props, "property", {"name": name, "value": value})
    for name, checks, duration_ms in suites:
        suite = ET.SubElement(root, "testsuite", _counts(name, checks, duration_ms))
        for c in checks:
            _testcase(suite, c)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def render_summary(result: GateResult, *, width: int = 100) -> str:
    """The plain-text summary the CLI prints at the end of a run."""
    r = _scrubbed(result)
    checks = r.all_checks()
    name_width = max([len(c.check) for c in checks] + [5])
    # A row is "  <word> <name>  <nnnnnn> ms": 14 characters besides the word and the name.
    name_width = min(name_width, max(width - _WORD_WIDTH - 14, 10))
    lines: list[str] = []
    for journey in r.journeys:
        lines.append(journey.name)
        for c in journey.checks:
            name = _fit(c.check, name_width)
            row = f"  {status_word(c.status):<{_WORD_WIDTH}} {name:<{name_width}}  "
            lines.append(row + f"{c.duration_ms:>6} ms")
    if lines:
        lines.append("")
    where = f"{r.environment}, version {_version(r)}"
    lines.append(f"{r.verdict.value} in {_seconds(r.duration_s)}  ({where})")
    if checks:
        lines.append(coverage_line(r))
        for kind, skipped in skipped_by_kind(r).items():
            lines.append(f"  {SKIP_KINDS[kind]}: {', '.join(c.key for c in skipped)}")
    if r.flow_run_url:
        lines.append(f"flow run: {r.flow_run_url}")
    lines.extend(_summary_problem_lines(r))
    for w in r.warnings:
        lines.append(f"warning: {w}")
    return scrubber.text("\n".join(lines) + "\n")


def _summary_problem_lines(r: GateResult) -> list[str]:
    """The summary's lines about what went wrong: the first problem in full, a count of the rest."""
    problems = _blocking_first(r.problems())
    if not problems:
        return [r.reasons[0]] if r.verdict is not Verdict.PASS and r.reasons else []
    first = problems[0]
    lines = [f"{first.key} {status_word(first.status)}: {_detail(first)}"]
    for ev in first.evidence:
        lines += [f"  evidence: {ev.path}"] if ev.path else []
        lines += [f"  stored: {ev.stored_url}"] if ev.stored_url else []
    lines += [
        f"  view the trace: {trace_hint(ev.path, markup=False)}"
        for ev in first.evidence
        if ev.path and ev.kind == "trace"
    ]
    if len(problems) > 1:
        lines.append(f"  and {len(problems) - 1} more failed check(s); see the report")
    return lines


def progress_line(check: CheckResult) -> str:
    """One line of live progress for a finished check."""
    word = f"{status_word(check.status):<{_WORD_WIDTH}}"
    head = f"  {word} {check.key}"
    if check.is_problem:
        line = f"{head}  {_detail(check)}"
    elif check.status is Status.SKIPPED:
        line = f"{head}  {_one_line(check.message)}" if check.message else head
    else:
        extra = f", {check.attempts} attempts" if check.attempts > 1 else ""
        line = f"{head}  ({check.duration_ms} ms{extra})"
        if check.status is Status.DEGRADED and check.message:
            line += f"  {_one_line(check.message)}"
    return scrubber.text(line)


def trace_hint(path: str, *, checkout_path: str | None = None, markup: bool = True) -> str:
    """How to open a Playwright trace with Playwright for Python (no Node needed).

    ``path`` is relative to the report folder when ``checkout_path`` (the same file as
    seen from where smoke ran) is given; otherwise it is valid from anywhere.
    """
    anywhere = f"python -m playwright show-trace {path}"
    local = f".venv/bin/playwright show-trace {checkout_path or path}"
    if not markup:
        return f"{local}  (or: {anywhere})"
    if checkout_path:
        return (
            f"from the report folder {_code(anywhere)}, or from the smoke checkout {_code(local)}"
        )
    return f"{_code(local)} in the smoke checkout, or {_code(anywhere)}"


def evidence_label(ev: Evidence) -> str:
    """What a report calls a piece of evidence."""
    label = ev.label or ev.kind
    return label.removesuffix(_NPX_TRACE_HINT) if ev.kind == "trace" else label


def evidence_href(path: str, base: Path | None) -> str:
    """``path`` relative to the report folder ``base`` when it lies inside it, else as recorded."""
    p = Path(path)
    if base is not None and p.is_absolute():
        inside = _relative_to(p, base)
        if inside is not None:
            return inside.as_posix()
    return p.as_posix()


def write_outputs(
    result: GateResult,
    *,
    json_path: Path | None,
    junit_path: Path | None,
    report_dir: Path | None,
) -> list[Path]:
    """Write the JSON result, the JUnit file and the report folder; return what was written.

    The report folder holds report.md, report.html, result.json, junit.xml and evidence/.
    Evidence files outside it are copied into evidence/ and the folder's copies of the
    result point at them. Everything written is scrubbed; the folder is scrubbed as a whole,
    then report.html is rendered from it (its screenshots are the scrubbed files).
    """
    from smoke.report_html import render_html

    written: list[Path] = []
    if json_path is not None:
        written.append(_write(json_path, _json_text(result)))
    if junit_path is not None:
        written.append(_write(junit_path, render_junit(result)))
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        local, copies = _collect_evidence(result, report_dir)
        markdown = render_markdown(local, evidence_base=report_dir, html_report=HTML_FILE)
        written.append(_write(report_dir / REPORT_FILE, markdown))
        written.append(_write(report_dir / RESULT_FILE, _json_text(local)))
        written.append(_write(report_dir / JUNIT_FILE, render_junit(local)))
        written += copies
        scrubber.tree(report_dir)
        # Not through _write: render_html scrubs its text itself, and a scrub of the whole
        # page would read the screenshots' base64 as text.
        html_path = report_dir / HTML_FILE
        html_path.write_text(render_html(local, report_dir=report_dir), encoding="utf-8")
        written.append(html_path)
    return written


def _scrubbed(result: GateResult) -> GateResult:
    return GateResult.model_validate(scrubber.value(result.model_dump(mode="json")))


def _json_text(result: GateResult) -> str:
    return json.dumps(scrubber.value(result.to_json_dict()), indent=2, ensure_ascii=False) + "\n"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(scrubber.text(text), encoding="utf-8")
    return path


def _collect_evidence(result: GateResult, report_dir: Path) -> tuple[GateResult, list[Path]]:
    """A copy of ``result`` whose evidence paths are relative to ``report_dir``."""
    local = result.model_copy(deep=True)
    copied: dict[Path, Path] = {}
    for check in local.all_checks():
        for ev in check.evidence:
            source = _locate(ev, report_dir)
            if source is None:
                continue  # a file that is gone: keep the path the run recorded
            inside = _relative_to(source, report_dir)
            if inside is None:
                if source not in copied:
                    target = _free_name(report_dir / EVIDENCE_DIR, source.name, copied.values())
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if source.is_dir():
                        shutil.copytree(source, target)
                    else:
                        shutil.copyfile(source, target)
                    copied[source] = target
                inside = copied[source].relative_to(report_dir)
            ev.path = inside.as_posix()
    return local, list(copied.values())


def _locate(ev: Evidence, report_dir: Path) -> Path | None:
    if not ev.path:
        return None
    path = Path(ev.path)
    candidates = [path] if path.is_absolute() else [report_dir / path, path]
    return next((p for p in candidates if p.exists()), None)


def _free_name(folder: Path, name: str, taken: Iterable[Path]) -> Path:
    used = set(taken)
    target = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    n = 2
    while target in used or target.exists():
        target = folder / f"{stem}-{n}{suffix}"
        n += 1
    return target


def _relative_to(path: Path, base: Path) -> Path | None:
    for p, b in (
        (path, base),
        (path.absolute(), base.absolute()),
        (path.resolve(), base.resolve()),
    ):
        try:
            return p.relative_to(b)
        except ValueError:
            continue
    return None


def _problem_section(c: CheckResult, evidence_base: Path | None) -> list[str]:
    blocking = "blocking" if c.blocking else "non-blocking"
    attempts = "1 attempt" if c.attempts == 1 else f"{c.attempts} attempts"
    out = [
        f"### {c.key}",
        "",
        f"- status: **{status_word(c.status)}** ({blocking}), {attempts}, {c.duration_ms} ms",
    ]
    if c.expected:
        out.append(f"- expected: {_code(c.expected)}")
    if c.actual:
        out.append(f"- actual: {_code(c.actual)}")
    if c.message:
        out.append(f"- message: {_one_line(c.message)}")
    links = [
        f"[{_link_text(ev)}]({_link_target(evidence_href(ev.path, evidence_base))})"
        for ev in c.evidence
        if ev.path
    ]
    if links:
        out.append(f"- evidence: {', '.join(links)}")
    stored = [
        f"[{_link_text(ev)}]({_link_target(ev.stored_url)})" for ev in c.evidence if ev.stored_url
    ]
    if stored:
        out.append(f"- stored: {', '.join(stored)}")
    for ev in c.evidence:
        if ev.path and ev.kind == "trace":
            out.append(f"- view the trace: {trace_hint_for(ev.path, evidence_base)}")
    out.append("")
    for ev in c.evidence:
        if ev.excerpt:
            fence = "`" * max(3, _longest_backtick_run(ev.excerpt) + 1)
            out += [f"{_link_text(ev)}:", "", fence, ev.excerpt.rstrip("\n"), fence, ""]
    return out


def _summary_row(j: JourneyResult) -> str:
    passed = sum(c.status in _PASSING for c in j.checks)
    failed = sum(c.status in _FAILING for c in j.checks)
    status = status_word(j.status)
    return f"| {_cell(j.name)} | {len(j.checks)} | {passed} | {failed} | {status} |"


def _testcase(suite: ET.Element, c: CheckResult) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        {"classname": f"smoke.{c.journey}", "name": c.check, "time": _secs(c.duration_ms)},
    )
    if c.status is Status.FAILED:
        failure = ET.SubElement(case, "failure", {"message": c.message, "type": "failed"})
        failure.text = _junit_details(c)
    elif c.status is Status.ERROR:
        error = ET.SubElement(case, "error", {"message": c.message, "type": "error"})
        error.text = _junit_details(c)
    elif c.status is Status.SKIPPED:
        ET.SubElement(case, "skipped", {"message": c.message})
    elif c.status is Status.FLAKY:
        out = ET.SubElement(case, "system-out")
        out.text = f"flaky: passed after {c.attempts} attempts\n{_junit_details(c)}"
    elif c.status is Status.DEGRADED:
        out = ET.SubElement(case, "system-out")
        out.text = f"degraded: passed over its latency budget\n{_junit_details(c)}"


def _junit_details(c: CheckResult) -> str:
    lines = []
    if not c.blocking:
        lines.append("non-blocking: does not fail the gate")
    if c.expected:
        lines.append(f"expected: {c.expected}")
    if c.actual:
        lines.append(f"actual: {c.actual}")
    if c.message:
        lines.append(f"message: {c.message}")
    lines.append(f"attempts: {c.attempts}")
    lines += [f"evidence ({ev.kind}): {evidence_label(ev)}: {ev.link()}" for ev in c.evidence]
    lines += [f"stored ({ev.kind}): {ev.stored_url}" for ev in c.evidence if ev.stored_url]
    return "\n".join(lines) + "\n"


def _counts(name: str, checks: list[CheckResult], duration_ms: int) -> dict[str, str]:
    return {
        "name": name,
        "tests": str(len(checks)),
        "failures": str(sum(c.status is Status.FAILED for c in checks)),
        "errors": str(sum(c.status is Status.ERROR for c in checks)),
        "skipped": str(sum(c.status is Status.SKIPPED for c in checks)),
        "time": _secs(duration_ms),
    }


def _detail(c: CheckResult) -> str:
    """``expected X, got Y`` when both are known, else the message."""
    if c.expected and c.actual:
        return _one_line(f"expected {c.expected}, got {c.actual}")
    return _one_line(c.message or c.actual or c.expected or "no detail recorded")


def _flow_run_link(r: GateResult) -> str:
    if r.flow_run_url:
        return f"[{r.flow_run_id or 'open'}]({_link_target(r.flow_run_url)})"
    return f"`{r.flow_run_id}`" if r.flow_run_id else "not recorded"


def _version(r: GateResult) -> str:
    return r.version or "not given"


def _seconds(duration_s: float) -> str:
    return f"{duration_s:.1f} s"


def _secs(duration_ms: int) -> str:
    return f"{duration_ms / 1000:.3f}"


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")


def _code(text: str) -> str:
    text = _one_line(text)
    ticks = "`" * (_longest_backtick_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _longest_backtick_run(text: str) -> int:
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return longest


def _link_text(ev: Evidence) -> str:
    return evidence_label(ev).replace("[", "(").replace("]", ")")


def trace_hint_for(path: str, base: Path | None) -> str:
    """The trace hint in a report written to the folder ``base`` (its links are relative)."""
    href = evidence_href(path, base)
    if base is None or Path(href).is_absolute():
        return trace_hint(href)
    return trace_hint(href, checkout_path=(base / href).as_posix())


def _link_target(target: str) -> str:
    target = target.replace("<", "%3C").replace(">", "%3E")
    return f"<{target}>" if any(ch in target for ch in " ()") else target


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _blocking_first(checks: list[CheckResult]) -> list[CheckResult]:
    """The checks that decided the verdict first, in run order otherwise."""
    return sorted(checks, key=lambda c: not c.blocking)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
