"""Which checks a run runs (``--check``/``--skip``), and which are on for an environment.

Both read the catalogue (``smoke/catalog.py``) and the environment's contract, which
names the onboarding steps and dashboard endpoints. A pattern is a ``fnmatch`` glob
over ``journey.check`` keys (``dashboard.*``, ``auth.tenant_isolation``); a bare
journey name means all of its checks. A pattern that matches no check is an error
naming the closest check, never a selection that silently runs nothing.

What a selected check needs comes with it (``CheckDef.needs``, plus the rules of the
journey frame below); ``--skip`` removes a check and everything that needs it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from smoke import catalog
from smoke.catalog import FRAME, REFUSALS, CheckDef
from smoke.config import SmokeConfig
from smoke.errors import ConfigError
from smoke.results import SkipKind
from smoke.spec import JOURNEYS, PREFLIGHT, DashboardSpec, OnboardingSpec, SuiteSpec

NOT_SELECTED = "not selected"


@dataclass(frozen=True)
class Check:
    """One check as this contract has it: ``step.signup`` or ``feed`` are concrete names."""

    journey: str
    name: str
    declared: CheckDef

    @property
    def key(self) -> str:
        return f"{self.journey}.{self.name}"


def checks_of(suite: SuiteSpec, journeys: Iterable[str] = (PREFLIGHT, *JOURNEYS)) -> list[Check]:
    """Every check of ``journeys`` with this contract's steps and endpoints, in run order."""
    found: list[Check] = []
    for journey in journeys:
        part = suite.journey(journey)
        steps = [s.name for s in part.steps] if isinstance(part, OnboardingSpec) else []
        endpoints = [e.name for e in part.endpoints] if isinstance(part, DashboardSpec) else []
        for declared in catalog.CATALOG:
            if declared.journey != journey:
                continue
            if declared.per == "step":
                names = [f"step.{s}" for s in steps]
            elif declared.per == "endpoint":
                names = endpoints
            else:
                names = [declared.name]
            found += [Check(journey, name, declared) for name in names]
    return found


@dataclass(frozen=True)
class Selection:
    """The checks a run runs, by key, and why each other one does not."""

    keys: frozenset[str]
    # key -> why it is not selected ("not selected", or what --skip took with it).
    left_out: dict[str, str] = field(default_factory=dict)

    def selects(self, journey: str, name: str) -> bool:
        """Whether ``journey.name`` runs."""
        return f"{journey}.{name}" in self.keys

    def touches(self, journey: str) -> bool:
        """Whether any check of ``journey`` runs."""
        return any(key.startswith(f"{journey}.") for key in self.keys)

    def why_not(self, journey: str, name: str) -> str:
        """The skip message of a check that does not run."""
        return self.left_out.get(f"{journey}.{name}", NOT_SELECTED)


def select(
    suite: SuiteSpec,
    checks: Sequence[str] = (),
    skip: Sequence[str] = (),
    journeys: Sequence[str] | None = None,
    *,
    with_preflight: bool = True,
) -> Selection | None:
    """The checks ``--check``/``--skip`` leave to run, with what they need; None: all.

    ``with_preflight``: a gate's selection of journey checks brings the whole preflight
    (the gate's first step: is the target up, is it the version); ``--skip`` may still
    remove a preflight check. ConfigError for a pattern that matches nothing, or a
    check named by ``--check`` that ``--skip`` takes away.
    """
    if not checks and not skip:
        return None
    runs = [PREFLIGHT, *(journeys or JOURNEYS)] if with_preflight else list(journeys or JOURNEYS)
    every = checks_of(suite, runs)
    by_key = {c.key: c for c in every}
    wanted = set(_matching(checks, every, "--check")) if checks else set(by_key)
    closed = _needed(wanted, every)
    if checks and with_preflight and any(by_key[k].journey != PREFLIGHT for k in closed):
        closed |= {c.key for c in every if c.journey == PREFLIGHT}
    skipped = set(_matching(skip, every, "--skip"))
    removed = _needing(skipped, every)
    left_out = {key: f"{NOT_SELECTED} (--skip)" for key in skipped}
    for key, because in removed.items():
        left_out[key] = f"{NOT_SELECTED}: needs {because}, which --skip removes"
    for pattern in checks:
        if pattern in removed:
            raise ConfigError(
                f"--check {pattern} needs {removed[pattern]}, which --skip removes: "
                "drop one of them (`smoke list` shows what each check needs)"
            )
    keys = (closed - skipped) - set(removed)
    return Selection(keys=frozenset(keys), left_out=left_out)


def _matching(patterns: Sequence[str], every: list[Check], option: str) -> list[str]:
    """The keys ``patterns`` name; ConfigError naming the closest check for one that names none."""
    keys = [c.key for c in every]
    found: list[str] = []
    for pattern in patterns:
        glob = f"{pattern}.*" if pattern in (PREFLIGHT, *JOURNEYS) else pattern
        matched = fnmatch.filter(keys, glob)
        if not matched:
            guess = catalog.closest(pattern, keys)
            hint = f"; did you mean {guess}?" if guess else ""
            raise ConfigError(
                f"{option} {pattern!r} matches no check of this run{hint} "
                "(`smoke list` shows every check; patterns like 'dashboard.*' match several)"
            )
        found += [k for k in matched if k not in found]
    return found


def _direct_needs(check: Check, every: list[Check]) -> set[str]:
    """What one check needs, as keys of this run's checks."""
    own = [c for c in every if c.journey == check.journey]
    names: set[str] = set()
    for need in check.declared.needs:
        names |= {c.name for c in own if c.declared.name == need}
    if check.declared.per == "step":
        # A step needs what the steps before it saved.
        steps = [c.name for c in own if c.declared.per == "step"]
        names |= set(steps[: steps.index(check.name)])
    if check.journey in JOURNEYS and check.declared.name not in FRAME:
        # journey_frame: setup before the journey's checks, teardown after them.
        names |= {c.name for c in own if c.declared.name in FRAME}
    return {f"{check.journey}.{n}" for n in names} - {check.key}


def _needed(wanted: set[str], every: list[Check]) -> set[str]:
    """``wanted`` and everything it needs; refusals bring the checks whose routes they replay."""
    by_key = {c.key: c for c in every}
    closed: set[str] = set()
    pending = set(wanted)
    while pending:
        closed |= pending
        pending = {n for k in pending for n in _direct_needs(by_key[k], every)} - closed
        if pending:
            continue
        for journey in {by_key[k].journey for k in closed}:
            own = [c for c in every if c.journey == journey]
            replays = any(c.key in closed and c.declared.name in REFUSALS for c in own)
            reaching = {c.key for c in own if c.declared.name not in (*FRAME, *REFUSALS)}
            if replays and not closed & reaching:
                # A refusal check replays what the others reached: alone it proves nothing.
                pending |= reaching
    return closed


def _needing(removed: set[str], every: list[Check]) -> dict[str, str]:
    """Every check that needs one of ``removed``, directly or not, with what it needed."""
    because: dict[str, str] = {}
    gone = set(removed)
    changed = True
    while changed:
        changed = False
        for check in every:
            if check.key in gone:
                continue
            missing = sorted(_direct_needs(check, every) & gone)
            if missing:
                first = missing[0]
                because[check.key] = because.get(first, first)
                gone.add(check.key)
                changed = True
    return because


@dataclass(frozen=True)
class Listed:
    """One row of ``smoke list``."""

    journey: str
    check: str
    promise: str
    blocking: bool
    writes: bool
    on: bool
    # Why it is off: "configuration", "not_applicable" or "not_selected".
    off_because: SkipKind | None
    reason: str
    needs: list[str]

    @property
    def key(self) -> str:
        return f"{self.journey}.{self.check}"


def listing(
    suite: SuiteSpec, config: SmokeConfig | None, selection: Selection | None = None
) -> list[Listed]:
    """Every check with its flags and whether it is on for this environment, and why not.

    ``config`` None: an environment read from a block, whose ``allow_writes`` is not known.
    """
    every = checks_of(suite)
    rows: list[Listed] = []
    for check in every:
        part = suite.journey(check.journey)
        declared = check.declared
        kind, reason = _why_off(check, suite, config)
        if kind is None and selection is not None and check.key not in selection.keys:
            kind, reason = "not_selected", selection.why_not(check.journey, check.name)
        rows.append(
            Listed(
                journey=check.journey,
                check=check.name,
                promise=declared.promise,
                blocking=part.options(check.name).blocking,
                writes=declared.writes,
                on=kind is None,
                off_because=kind,
                reason=reason,
                needs=sorted(_direct_needs(check, every)),
            )
        )
    return rows


def _why_off(
    check: Check, suite: SuiteSpec, config: SmokeConfig | None
) -> tuple[SkipKind | None, str]:
    part = suite.journey(check.journey)
    if not part.enabled:
        return "configuration", "the journey is disabled in this environment"
    if not part.options(check.name).enabled:
        return "configuration", f"checks.{check.name}.enabled is false"
    if check.declared.writes and config is not None and not config.writes_allowed:
        return "configuration", "writes data; the environment is read-only (allow_writes)"
    unset = [r for r in check.declared.requires if not getattr(part, r)]
    if unset:
        return "not_applicable", f"no {check.journey}.{unset[0]} in the contract"
    if check.declared.writes and config is None:
        return None, "on unless the block's environment is read-only"
    return None, ""
