"""report.html: the smoke report as one self-contained page that opens offline.

Everything is inline: the style sheet, and each screenshot as a ``data:`` URI, so the
file can be mailed, attached to a ticket or opened from a CI artifact with nothing
beside it. A Content-Security-Policy forbids the page any request but its own data.
Failed checks come first, each with expected vs actual, its response excerpt, its
screenshot and how to open its Playwright trace.

Every value is scrubbed, then HTML-escaped; the whole page is scrubbed once more before
the screenshots go in (a text scrub must never read base64 as text).
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from urllib.parse import quote, urlsplit

from smoke.report import (
    evidence_href,
    evidence_label,
    next_steps,
    status_word,
    trace_hint_for,
)
from smoke.results import CheckResult, Evidence, GateResult, JourneyResult, Status, Verdict
from smoke.scrub import scrubber

# A screenshot larger than this is linked, not embedded: the page must stay openable.
MAX_EMBEDDED_BYTES = 5_000_000
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
HEADLINES = {
    0: "PASS",
    1: "FAIL: the product is broken",
    2: "ERROR: configuration error",
    3: "ERROR: the smoke system failed",
}
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
# Passed, with a warning: they get a section of their own after the failures.
_NOTED = (Status.FLAKY, Status.DEGRADED)
# Stands for the n-th screenshot until the scrubbed page gets its data: URIs.
_IMAGE_TOKEN = "\x00image-{}\x00"

_STYLE = """
:root { --fail: #b42318; --warn: #b54708; --pass: #067647; --muted: #667085; --line: #eaecf0; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #101828;
       margin: 0 auto; max-width: 72rem; padding: 1.5rem; }
header { border-left: 0.5rem solid var(--muted); padding: 0.5rem 1rem; margin-bottom: 1.5rem;
         background: #f9fafb; }
header.PASS { border-color: var(--pass); } header.FAIL { border-color: var(--fail); }
header.ERROR { border-color: var(--warn); }
h1 { margin: 0 0 0.25rem; font-size: 1.5rem; } h2 { border-bottom: 1px solid var(--line); }
.meta { color: var(--muted); margin: 0.25rem 0; }
code, pre { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; }
pre { background: #f2f4f7; padding: 0.75rem; overflow-x: auto; white-space: pre-wrap;
      word-break: break-word; margin: 0.25rem 0 0.75rem; }
article { border: 1px solid var(--line); border-radius: 0.5rem; padding: 0 1rem 0.5rem;
          margin-bottom: 1rem; }
article.failed, article.error { border-left: 0.35rem solid var(--fail); }
article.flaky, article.degraded { border-left: 0.35rem solid var(--warn); }
.badge { display: inline-block; padding: 0 0.5rem; border-radius: 1rem; font-size: 0.8rem;
         font-weight: 600; color: #fff; background: var(--muted); vertical-align: middle; }
.badge.passed { background: var(--pass); } .badge.failed, .badge.error { background: var(--fail); }
.badge.flaky, .badge.degraded { background: var(--warn); }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1rem; }
th, td { text-align: left; vertical-align: top; padding: 0.3rem 0.6rem;
         border-bottom: 1px solid var(--line); }
td.num { text-align: right; white-space: nowrap; }
.versus th { width: 7rem; color: var(--muted); font-weight: 600; }
figure { margin: 0.5rem 0 1rem; } figcaption { color: var(--muted); font-size: 0.9rem; }
figure img { max-width: 100%; border: 1px solid var(--line); }
footer { color: var(--muted); font-size: 0.85rem; margin-top: 2rem; }
"""


def render_html(
    result: GateResult, *, report_dir: Path | None = None, exit_code: int | None = None
) -> str:
    """The report page. Screenshots are read from their paths (relative to ``report_dir``).

    ``exit_code`` defaults to the result's own; a caller that saw the process end
    otherwise passes what it saw.
    """
    r = GateResult.model_validate(scrubber.value(result.model_dump(mode="json")))
    code = result.exit_code if exit_code is None else exit_code
    images: list[str] = []
    title = f"Smoke {r.verdict.value}: {r.environment}, version {_version(r)}"
    body = [_header(r, code)]
    if r.verdict is not Verdict.PASS and r.reasons:
        body.append(_list_section("Why", r.reasons))
    problems = sorted(r.problems(), key=lambda c: not c.blocking)
    if problems:
        body.append(f'<section id="failed"><h2>Failed checks ({len(problems)})</h2>')
        body += [_check_article(c, report_dir, images) for c in problems]
        body.append("</section>")
    noted = [c for c in r.all_checks() if c.status in _NOTED]
    if noted or r.warnings:
        body.append('<section id="warnings"><h2>Warnings</h2>')
        if r.warnings:
            body.append(_ul(r.warnings))
        body += [_check_article(c, report_dir, images) for c in noted]
        body.append("</section>")
    body.append('<section id="journeys"><h2>Journeys</h2>')
    body += [_journey_table(j) for j in r.journeys] or ["<p>No journey ran.</p>"]
    body.append("</section>")
    body.append(_list_section("What to do next", next_steps(r)))
    body.append(
        "<footer>Written by smoke flows. One file: the styles and screenshots are inside it, "
        "and it makes no network request. Evidence links point into the report folder.</footer>"
    )
    page = "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
            f"<title>{_e(title)}</title>",
            f"<style>{_STYLE}</style>",
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )
    page = scrubber.text(page)
    for n, uri in enumerate(images):
        page = page.replace(_IMAGE_TOKEN.format(n), uri)
    return page


def _header(r: GateResult, code: int) -> str:
    headline = HEADLINES.get(code, f"{r.verdict.value}: the smoke command exited {code}")
    facts = [
        f"environment <code>{_e(r.environment)}</code>",
        f"version <code>{_e(_version(r))}</code>",
        f"mode {_e(r.mode)}",
        f"{r.duration_s:.1f} s",
        f"exit code {code}",
        f"flow run: {_flow_run(r)}",
    ]
    return (
        f'<header class="{r.verdict.value}"><h1>Smoke {_e(headline)}</h1>'
        f'<p class="meta">{" · ".join(facts)}</p></header>'
    )


def _check_article(c: CheckResult, report_dir: Path | None, images: list[str]) -> str:
    attempts = "1 attempt" if c.attempts == 1 else f"{c.attempts} attempts"
    blocking = "blocking" if c.blocking else "non-blocking: does not fail the gate"
    out = [
        f'<article class="{c.status.value}" id="{_e(_anchor(c))}">',
        f'<h3><span class="badge {c.status.value}">{status_word(c.status)}</span> {_e(c.key)}</h3>',
        f'<p class="meta">{_e(blocking)} · {attempts} · {c.duration_ms} ms</p>',
    ]
    rows = [("expected", c.expected), ("actual", c.actual)]
    if c.expected or c.actual:
        out.append('<table class="versus">')
        out += [f"<tr><th>{name}</th><td><pre>{_e(value)}</pre></td></tr>" for name, value in rows]
        out.append("</table>")
    if c.message:
        out.append(f"<p>{_e(c.message)}</p>")
    out += [_evidence(ev, report_dir, images) for ev in c.evidence]
    out.append("</article>")
    return "\n".join(out)


def _evidence(ev: Evidence, report_dir: Path | None, images: list[str]) -> str:
    label = _e(evidence_label(ev))
    link = ""
    if ev.path:
        href = evidence_href(ev.path, report_dir)
        link = f'<a href="{_e(quote(href, safe="/:"))}">{_e(href)}</a>'
    parts: list[str] = []
    if ev.path and _is_image(ev):
        uri = _data_uri(ev.path, report_dir)
        if uri is None:
            parts.append(f"<p>{label}: {link} (not embedded: missing, unreadable or too large)</p>")
        else:
            images.append(uri)
            token = _IMAGE_TOKEN.format(len(images) - 1)
            parts.append(
                f'<figure><img src="{token}" alt="{label}">'
                f"<figcaption>{label} · {link}</figcaption></figure>"
            )
    elif ev.kind == "trace" and ev.path:
        hint = _code_spans(_e(trace_hint_for(ev.path, report_dir)))
        parts.append(f"<p>{label}: {link}<br>view the trace: {hint}</p>")
    elif link:
        parts.append(f"<p>{label}: {link}</p>")
    if ev.stored_url:
        # The copy in the evidence storage outlives this folder (a CI workspace, a worker).
        stored = _e(ev.stored_url)
        parts.append(f'<p class="meta">stored copy: <a href="{stored}">{stored}</a></p>')
    if ev.excerpt:
        if not parts:
            parts.append(f"<p>{label}:</p>")
        parts.append(f"<pre>{_e(ev.excerpt.rstrip())}</pre>")
    return "\n".join(parts)


def _journey_table(j: JourneyResult) -> str:
    rows = [
        f"<tr><td>{_check_cell(c)}</td>"
        f'<td><span class="badge {c.status.value}">{status_word(c.status)}</span></td>'
        f"<td>{'yes' if c.blocking else 'no'}</td>"
        f'<td class="num">{c.attempts}</td><td class="num">{c.duration_ms} ms</td>'
        f"<td>{_e(_detail(c))}</td></tr>"
        for c in j.checks
    ]
    return "\n".join(
        [
            f'<h3>{_e(j.name)} <span class="badge {j.status.value}">'
            f"{status_word(j.status)}</span></h3>",
            "<table><thead><tr><th>check</th><th>status</th><th>blocking</th>"
            "<th>attempts</th><th>duration</th><th>detail</th></tr></thead><tbody>",
            *rows,
            "</tbody></table>",
        ]
    )


def _check_cell(c: CheckResult) -> str:
    """The check's name, linked to its section above when it has one."""
    if c.is_problem or c.status in _NOTED:
        return f'<a href="#{_e(_anchor(c))}">{_e(c.check)}</a>'
    return _e(c.check)


def _detail(c: CheckResult) -> str:
    if c.is_problem and c.expected and c.actual:
        return f"expected {c.expected}, got {c.actual}"
    return c.message


def _list_section(title: str, items: list[str]) -> str:
    return f"<section><h2>{_e(title)}</h2>{_ul(items)}</section>"


def _ul(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{_code_spans(_e(item))}</li>" for item in items) + "</ul>"


def _code_spans(escaped: str) -> str:
    """Markdown-style `code` in already escaped text as <code> (next_steps and trace_hint use it)."""
    parts = escaped.split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick: leave the text as it is
        return escaped
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _is_image(ev: Evidence) -> bool:
    return Path(ev.path or "").suffix.lower() in IMAGE_TYPES


def _data_uri(path: str, report_dir: Path | None) -> str | None:
    p = Path(path)
    if not p.is_absolute() and report_dir is not None:
        p = report_dir / p
    try:
        if p.stat().st_size > MAX_EMBEDDED_BYTES:
            return None
        data = p.read_bytes()
    except OSError:
        return None
    mime = IMAGE_TYPES[p.suffix.lower()]
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _flow_run(r: GateResult) -> str:
    if r.flow_run_url and urlsplit(r.flow_run_url).scheme in ("http", "https"):
        return f'<a href="{_e(r.flow_run_url)}">{_e(r.flow_run_id or r.flow_run_url)}</a>'
    return f"<code>{_e(r.flow_run_id)}</code>" if r.flow_run_id else "not recorded"


def _anchor(c: CheckResult) -> str:
    return f"check-{c.key}"


def _version(r: GateResult) -> str:
    return r.version or "not given"


def _e(text: str) -> str:
    return html.escape(text, quote=True)
