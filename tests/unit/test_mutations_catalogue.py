"""The mutation catalogue stays applicable to the sandbox, and its runs are judged right."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from mutations.catalogue import CATALOGUE, JOURNEYS, KINDS, Mutation
from mutations.doc import BEGIN, END, HEADING, render_section, replace_section
from mutations.outcome import Result, judge
from sandbox.faults import FAULTS
from smoke.results import CheckResult, GateResult, JourneyResult, Status, Verdict

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("mutation", CATALOGUE, ids=lambda m: m.id)
def test_each_mutation_applies_exactly_once_and_compiles(mutation: Mutation) -> None:
    assert mutation.file.startswith("sandbox/")
    assert mutation.stale_reason(ROOT) is None
    mutated = mutation.mutated_source(ROOT)
    assert mutated != (ROOT / mutation.file).read_text()
    compile(mutated, mutation.file, "exec")


def test_the_catalogue_is_large_varied_and_distinct_from_the_named_faults() -> None:
    ids = [m.id for m in CATALOGUE]
    assert len(CATALOGUE) >= 30
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    assert set(ids).isdisjoint(FAULTS)
    assert {m.journey for m in CATALOGUE} == set(JOURNEYS)
    assert {m.kind for m in CATALOGUE} <= set(KINDS)
    assert len({m.kind for m in CATALOGUE}) >= 7
    assert all(m.effect and m.gap for m in CATALOGUE)


def test_a_stale_mutation_fails_loudly(tmp_path: Path) -> None:
    (tmp_path / "sandbox").mkdir()
    (tmp_path / "sandbox" / "x.py").write_text("a = 1\na = 1\n")
    twice = Mutation("t.twice", "auth", "dropped check", "e", "sandbox/x.py", "a = 1", "a = 2", "g")
    gone = Mutation("t.gone", "auth", "dropped check", "e", "sandbox/x.py", "b = 1", "b = 2", "g")
    assert "occurs 2 times" in (twice.stale_reason(tmp_path) or "")
    assert "occurs 0 times" in (gone.stale_reason(tmp_path) or "")
    with pytest.raises(ValueError, match=r"t\.gone is stale"):
        gone.mutated_source(tmp_path)


def _gate(verdict: Verdict, failed: list[tuple[str, str]]) -> GateResult:
    journeys = {name: JourneyResult(name=name) for name in JOURNEYS}
    for journey, check in failed:
        journeys[journey].checks.append(
            CheckResult(journey=journey, check=check, status=Status.FAILED, message="broke")
        )
    journeys["auth"].checks.append(CheckResult(journey="auth", check="ok", status=Status.PASSED))
    return GateResult(verdict=verdict, environment="sandbox", journeys=list(journeys.values()))


MUTATION = CATALOGUE[0]


def test_a_fail_in_the_owning_journey_is_caught_and_names_its_checks() -> None:
    failed = [(MUTATION.journey, "one"), ("dashboard", "other")]
    outcome = judge(MUTATION, 1, _gate(Verdict.FAIL, failed), "")
    assert outcome.result is Result.CAUGHT
    assert outcome.owning_checks == [f"{MUTATION.journey}.one"]
    assert outcome.other_checks == ["dashboard.other"]
    assert outcome.meets_target


def test_a_fail_only_elsewhere_is_misattributed_and_a_pass_survives() -> None:
    elsewhere = judge(MUTATION, 1, _gate(Verdict.FAIL, [("dashboard", "other")]), "")
    assert elsewhere.result is Result.MISATTRIBUTED
    assert not elsewhere.meets_target
    survived = judge(MUTATION, 0, _gate(Verdict.PASS, []), "")
    assert survived.result is Result.SURVIVED
    assert survived.meets_target is (not MUTATION.visible)


def test_no_result_or_an_error_verdict_is_never_a_catch() -> None:
    assert judge(MUTATION, 3, None, "").result is Result.ERROR
    assert judge(MUTATION, 3, _gate(Verdict.ERROR, []), "").result is Result.ERROR


def test_the_doc_section_is_replaced_and_the_rest_kept() -> None:
    outcomes = [
        judge(CATALOGUE[0], 1, _gate(Verdict.FAIL, [(CATALOGUE[0].journey, "x")]), "", 20.0),
        judge(CATALOGUE[1], 0, _gate(Verdict.PASS, []), "", 22.0),
    ]
    section = render_section(outcomes, date="2026-12-02", total_s=90, control_s=21)
    assert section.startswith(HEADING)
    assert BEGIN in section
    assert END in section
    assert f"`{CATALOGUE[0].journey}.x`" in section
    assert CATALOGUE[1].gap in section
    document = "# Reliability\n\nintro\n\n## Also proven\n\nkept\n"
    first = replace_section(document, section)
    assert first.startswith(document.rstrip("\n"))
    assert first.count(HEADING) == 1
    newer = section.replace("2026-12-02", "2026-12-03")
    again = replace_section(first, newer)
    assert again.count(HEADING) == 1
    assert again.count(BEGIN) == 1
    assert "2026-12-03" in again
    assert "2026-12-02" not in again
    assert "## Also proven\n\nkept" in again
    middle = replace_section(first + "\n## After\n\nstays\n", section)
    assert middle.count(HEADING) == 1
    assert middle.endswith("## After\n\nstays\n")
