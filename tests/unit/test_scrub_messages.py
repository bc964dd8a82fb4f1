"""The scrubber masks values, never the project's own words.

Every message the project shows a person (errors, check results, skips, summaries and
reports) goes through the scrubber. This collects the literal text of each one from
the source with ``ast`` (f-string holes filled with harmless sample values), renders
the sample reports, and asserts that scrubbing leaves all of it as it was.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from smoke.report import next_steps, progress_line, render_markdown, render_summary
from smoke.scrub import MASK, Scrubber

from .report_samples import crashed_result, error_result, fail_result, pass_result

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("smoke", "tasks", "flows", "blocks", "cli", "deployments")
# Calls whose text arguments reach a person: exceptions, check outcomes, skips, results.
MESSAGE_CALLS = frozenset(
    {
        "ConfigError",
        "LiveStripeKeyError",
        "SmokeSystemError",
        "CheckFailed",
        "CheckSkipped",
        "TransientError",
        "Passed",
        "CheckResult",
        "result",
        "skip_rest",
        "skipped_journey",
        "Cancelled",
        "Failed",
        "Completed",
        "say",
        "_refuse",
    }
)
MESSAGE_KEYWORDS = frozenset({"message", "expected", "actual", "why", "reason"})
# What an f-string hole becomes: the kind of value these messages carry (names, paths,
# statuses, counts), never a secret.
SAMPLE = "sample-7"


def _text(node: ast.expr) -> str | None:
    """The literal text of a message argument, holes filled; None when not literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) else SAMPLE for part in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        if left is not None or right is not None:
            return (left or SAMPLE) + (right or SAMPLE)
    return None


def _name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def project_messages() -> Iterator[tuple[str, str]]:
    """(where, text) for every literal message in the project's code."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or _name(node) not in MESSAGE_CALLS:
                    continue
                args = [*node.args, *(k.value for k in node.keywords if k.arg in MESSAGE_KEYWORDS)]
                for arg in args:
                    text = _text(arg)
                    if text and text.strip():
                        yield f"{path.relative_to(ROOT)}:{arg.lineno}", text


MESSAGES = sorted(set(project_messages()))


def test_the_collection_finds_the_projects_messages() -> None:
    texts = [text for _, text in MESSAGES]
    assert len(texts) > 150
    # The one the scrubber used to garble, and a few of each kind.
    assert any("token: anyone can seed" in t for t in texts)
    assert any(t.startswith("Refusing to run: the configured Stripe key") for t in texts)
    assert any("is not a reserved test identity" in t for t in texts)


@pytest.mark.parametrize(("where", "text"), MESSAGES, ids=[w for w, _ in MESSAGES])
def test_scrubbing_leaves_a_project_message_as_it_was(where: str, text: str) -> None:
    assert Scrubber().text(text) == text


@pytest.mark.parametrize(
    "sample",
    [
        pass_result,
        lambda: fail_result(Path("/reports/run-1/evidence")),
        error_result,
        crashed_result,
    ],
    ids=["pass", "fail", "error", "crashed"],
)
def test_scrubbing_leaves_the_rendered_reports_as_they_were(sample: object) -> None:
    result = sample()  # type: ignore[operator]
    rendered = [render_markdown(result), render_summary(result), *next_steps(result)]
    rendered += [progress_line(c) for c in result.all_checks()]
    for text in rendered:
        assert Scrubber().text(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the token: anyone can seed", "the token: anyone can seed"),
        ("needs a bearer token for the API", "needs a bearer token for the API"),
        ("the password: see the runbook", "the password: see the runbook"),
        ("token: abc12345x", f"token: {MASK}"),
        ("X-Auth-Token: s3cr3t-value", f"X-Auth-Token: {MASK}"),
        ("authorization: Basic dXNlcjpwYXNz", f"authorization: Basic {MASK}"),
        ("authorization=Token short", f"authorization=Token {MASK}"),
        ("sent bearer tok-123456", f"sent bearer {MASK}"),
        ("password = hunter2", f"password = {MASK}"),
    ],
)
def test_words_stay_and_values_go(text: str, expected: str) -> None:
    assert Scrubber().text(text) == expected
