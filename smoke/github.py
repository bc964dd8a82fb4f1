"""GitHub Actions: a gate result as a job summary, annotations and step outputs.

The renderers are pure functions of a GateResult. ``publish`` is the one function that
writes, to the files a runner names in its environment (``GITHUB_STEP_SUMMARY``,
``GITHUB_OUTPUT``) and as workflow commands on stdout; it is handed that environment
and does nothing outside GitHub Actions. Every text goes through ``smoke.scrub``.

``python -m smoke.github --exit-code N ...`` publishes for a ``smoke`` command that
ended before it had a result (a configuration error found before the run): the
composite action in ``deployments/ci`` calls it then.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from smoke.report import HTML_FILE, evidence_href, evidence_label, status_word, trace_hint_for
from smoke.results import CheckResult, GateResult, JourneyResult, Status, Verdict
from smoke.scrub import scrub, scrubber

# What each exit code tells the reader of a pipeline: 1, 2 and 3 call for different people.
HEADLINES = {
    0: "PASS: the release can go ahead",
    1: "FAIL: the product is broken",
    2: "ERROR: configuration error (fix the smoke configuration, not the product)",
    3: "ERROR: the smoke system failed (the product was not judged)",
}
_ICONS = {0: ":white_check_mark:", 1: ":x:"}
# A step summary holds at most 1 MiB; excerpts are cut well below that.
MAX_EXCERPT_CHARS = 2000
_WARNED = (Status.FLAKY, Status.DEGRADED)


def headline(exit_code: int) -> str:
    """The verdict in words, distinct for every exit code."""
    return HEADLINES.get(exit_code, f"ERROR: smoke exited {exit_code} (the product was not judged)")


def run_url(environ: Mapping[str, str]) -> str | None:
    """The workflow run's page, where its artifacts are listed."""
    server, repo, run_id = (
        environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    return f"{server}/{repo}/actions/runs/{run_id}" if server and repo and run_id else None


def render_step_summary(
    result: GateResult,
    *,
    report_dir: Path | None,
    exit_code: int | None = None,
    artifacts_url: str | None = None,
) -> str:
    """The job summary: verdict, failed checks with expected vs actual, a table per journey.

    Evidence paths are shown relative to the report folder, which is the uploaded
    artifact; ``artifacts_url`` (the run's page) is where a reader downloads it.
    """
    r = _scrubbed(result)
    code = result.exit_code if exit_code is None else exit_code
    icon = _ICONS.get(code, ":warning:")
    out = [f"## {icon} Smoke {headline(code)}", ""]
    flow_run = f"[{_text(r.flow_run_id or 'open')}]({r.flow_run_url})" if r.flow_run_url else "none"
    out += [
        f"environment {_code(r.environment)} · version {_code(r.version or 'not given')} · "
        f"mode {_text(r.mode)} · exit code {code} · {r.duration_s:.1f} s · flow run: {flow_run}",
        "",
    ]
    if r.verdict is not Verdict.PASS and r.reasons:
        out += ["**Why:**", ""] + [f"- {_text(reason)}" for reason in r.reasons] + [""]
    if r.warnings:
        out += ["**Warnings:**", ""] + [f"- {_text(w)}" for w in r.warnings] + [""]

    problems = sorted(r.problems(), key=lambda c: not c.blocking)
    if problems:
        out += ["### Failed checks", ""]
        for c in problems:
            out += _failed_check(c, report_dir, artifacts_url)
    if r.journeys:
        out += ["### Journeys", ""]
        for j in r.journeys:
            out += _journey_table(j)
    if report_dir is not None:
        where = f"[this run's artifacts]({artifacts_url}#artifacts)" if artifacts_url else ""
        html_path = (report_dir / HTML_FILE).as_posix()
        out += [
            "### Report",
            "",
            f"{_code(html_path)}: the whole report with screenshots, one file that opens "
            f"offline; with `report.md`, `result.json`, `junit.xml` and `evidence/`"
            + (f" in {where}." if where else "."),
            "",
        ]
    return scrubber.text("\n".join(out) + "\n")


def render_annotations(
    result: GateResult, *, report_dir: Path | None = None, exit_code: int | None = None
) -> list[str]:
    """``::error`` for failed and errored checks, ``::warning`` for flaky and degraded ones.

    An ERROR with no check to blame (the run never started, or crashed) is one ``::error``.
    """
    r = _scrubbed(result)
    code = result.exit_code if exit_code is None else exit_code
    lines = []
    for c in r.all_checks():
        if c.is_problem or c.status in _WARNED:
            command = "error" if c.is_problem else "warning"
            blocking = "" if c.blocking or not c.is_problem else " (non-blocking)"
            title = f"{c.key} {status_word(c.status)}{blocking}"
            text = _annotation_text(c, report_dir)
            lines.append(workflow_command(command, text, title=title))
    if r.verdict is Verdict.ERROR and not r.problems():
        reason = "; ".join(r.reasons) or "no reason was recorded"
        lines.append(workflow_command("error", reason, title=f"Smoke {headline(code)}"))
    return [scrub(line) for line in lines]


def render_outputs(
    result: GateResult, *, report_dir: Path | None, exit_code: int | None = None
) -> str:
    """The step outputs, as ``name=value`` lines for the ``GITHUB_OUTPUT`` file."""
    code = result.exit_code if exit_code is None else exit_code
    values = {
        "verdict": result.verdict.value,
        "exit-code": str(code),
        "report-dir": str(report_dir.absolute()) if report_dir is not None else "",
        "flow-run-url": result.flow_run_url or "",
    }
    return "".join(f"{name}={_one_line(scrub(value))}\n" for name, value in values.items())


def workflow_command(command: str, message: str, **properties: str) -> str:
    """``::command key=value,...::message``, escaped the way the runner parses it."""
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{command}{' ' + props if props else ''}::{escape_data(message)}"


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF escaped."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as a message, and ``:`` and ``,`` too."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def publish(
    result: GateResult,
    environ: Mapping[str, str],
    *,
    report_dir: Path | None,
    exit_code: int | None = None,
    out: TextIO | None = None,
) -> bool:
    """In GitHub Actions, annotate, append the job summary and the step outputs.

    Returns False, having done nothing, when ``environ`` is not a GitHub Actions step's.
    """
    if environ.get("GITHUB_ACTIONS") != "true":
        return False
    stream = out or sys.stdout
    for line in render_annotations(result, report_dir=report_dir, exit_code=exit_code):
        stream.write(line + "\n")
    stream.flush()
    summary = environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        text = render_step_summary(
            result, report_dir=report_dir, exit_code=exit_code, artifacts_url=run_url(environ)
        )
        _append(Path(summary), text)
    outputs = environ.get("GITHUB_OUTPUT")
    if outputs:
        _append(Path(outputs), render_outputs(result, report_dir=report_dir, exit_code=exit_code))
    return True


def result_without_run(
    environment: str, version: str | None, exit_code: int, message: str
) -> GateResult:
    """The result of a ``smoke`` command that ended before it had one: an ERROR, as a rule."""
    return GateResult(
        verdict=Verdict.FAIL if exit_code == 1 else Verdict.ERROR,
        environment=environment,
        version=version or None,
        error_kind="config" if exit_code == 2 else "system",
        reasons=[scrub(message) or f"smoke exited {exit_code} before it wrote a result"],
    )


def last_message(stderr: str) -> str:
    """The ``smoke: ...`` line a failed command ends with (its last non-empty line)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1].removeprefix("smoke: ") if lines else ""


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """``python -m smoke.github``: publish for a command that ended without a result."""
    import os

    parser = argparse.ArgumentParser(
        prog="python -m smoke.github",
        description="Write the GitHub Actions summary and outputs of a smoke command "
        "that ended before it had a result.",
    )
    parser.add_argument("--exit-code", type=int, required=True)
    parser.add_argument("--environment", required=True)
    parser.add_argument("--version", dest="release_version", default="")
    parser.add_argument("--report-dir", type=Path)
    parser.add_argument(
        "--stderr-file", type=Path, help="the command's stderr: its last line is the reason"
    )
    args = parser.parse_args(argv)
    stderr = args.stderr_file.read_text(errors="replace") if args.stderr_file else ""
    result = result_without_run(
        args.environment, args.release_version, args.exit_code, last_message(stderr)
    )
    # A command that stopped this early has usually written no report folder.
    report_dir = args.report_dir if args.report_dir and args.report_dir.is_dir() else None
    publish(
        result,
        os.environ if environ is None else environ,
        report_dir=report_dir,
        exit_code=args.exit_code,
    )
    return 0


def _failed_check(c: CheckResult, report_dir: Path | None, artifacts_url: str | None) -> list[str]:
    blocking = "blocking" if c.blocking else "non-blocking"
    attempts = "1 attempt" if c.attempts == 1 else f"{c.attempts} attempts"
    out = [
        f"#### {_text(c.key)}: {status_word(c.status)}",
        "",
        f"{blocking} · {attempts} · {c.duration_ms} ms",
        "",
        "| | |",
        "|---|---|",
    ]
    for name, value in (("expected", c.expected), ("actual", c.actual), ("message", c.message)):
        if value:
            out.append(f"| {name} | {_cell(value)} |")
    for ev in c.evidence:
        if not ev.path:
            continue
        href = evidence_href(ev.path, report_dir)
        shown = _cell(href)
        link = f"[{shown}]({artifacts_url}#artifacts)" if artifacts_url else shown
        out.append(f"| {_cell(evidence_label(ev))} | {link} |")
        if ev.kind == "trace":
            out.append(f"| view the trace | {_cell_md(trace_hint_for(ev.path, report_dir))} |")
    out.append("")
    for ev in c.evidence:
        if ev.excerpt:
            excerpt = ev.excerpt.rstrip()
            if len(excerpt) > MAX_EXCERPT_CHARS:
                excerpt = (
                    excerpt[:MAX_EXCERPT_CHARS] + "\n… (cut; the whole response is in evidence/)"
                )
            fence = "`" * max(3, _longest_backtick_run(excerpt) + 1)
            out += [
                f"<details><summary>{_text(evidence_label(ev))}</summary>",
                "",
                fence,
                excerpt,
                fence,
                "",
                "</details>",
                "",
            ]
    return out


def _journey_table(j: JourneyResult) -> list[str]:
    out = [
        f"**{_text(j.name)}**: {status_word(j.status)}",
        "",
        "| check | status | attempts | duration | detail |",
        "|---|---|---:|---:|---|",
    ]
    for c in j.checks:
        if c.is_problem and c.expected and c.actual:
            detail = f"expected {c.expected}, got {c.actual}"
        elif c.is_problem or c.status in (*_WARNED, Status.SKIPPED):
            detail = c.message
        else:
            detail = ""
        out.append(
            f"| {_cell(c.check)} | {status_word(c.status)} | {c.attempts} "
            f"| {c.duration_ms} ms | {_cell(detail) if detail else ''} |"
        )
    out.append("")
    return out


def _annotation_text(c: CheckResult, report_dir: Path | None) -> str:
    parts = []
    if c.expected or c.actual:
        parts.append(f"expected {c.expected or '(not recorded)'}, got {c.actual or '(nothing)'}")
    if c.message:
        parts.append(c.message)
    parts += [f"evidence: {evidence_href(ev.path, report_dir)}" for ev in c.evidence if ev.path]
    return "\n".join(parts) or "no detail recorded"


def _scrubbed(result: GateResult) -> GateResult:
    return GateResult.model_validate(scrubber.value(result.model_dump(mode="json")))


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(text)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _text(text: str) -> str:
    """Prose on one line with no HTML in it (GitHub renders HTML in a summary)."""
    return _one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    """A code span: the product's text shown literally, whatever it holds."""
    text = _one_line(text)
    ticks = "`" * (_longest_backtick_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _cell(text: str) -> str:
    """A table cell shown as code (a table needs its pipes escaped even in code)."""
    return _code(text).replace("|", "\\|")


def _cell_md(markdown: str) -> str:
    return _one_line(markdown).replace("|", "\\|")


def _longest_backtick_run(text: str) -> int:
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return longest


if __name__ == "__main__":
    sys.exit(main())
