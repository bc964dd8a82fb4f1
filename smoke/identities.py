"""Who the suite may write as: the reserved test identities, and nobody else.

``reserved_identities`` lists glob patterns (``smoke+*@example.com``): ``*`` stands for
any run of characters other than ``@`` and white space, ``?`` for one such character;
everything else is literal and the match ignores case. Before any request:

- the test identity (``test_email``) must match a pattern;
- when onboarding may write, its ``inputs.email`` (the identity it signs up and cleans)
  must match one;
- no request of a writing check (cleanup, the onboarding steps and their negative cases,
  checkout, cancelling) may name an address outside them, nor the second tenant's
  ``other_email``, which is a read-only identity for the isolation check even when it
  matches a pattern;
- the second onboarding identity, when a negative case needs it, matches one too and is
  not the first; the cleanup refusal's address matches none and is nobody known.

Right before a cleanup request is sent, its rendered path, query and body are checked
once more (``check_cleanup``; for the refusal, ``check_cleanup_refusal``: only this run's
made-up address may be unreserved). Pure functions; no network, no Prefect.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from smoke.errors import ConfigError

if TYPE_CHECKING:
    from smoke.config import SmokeConfig
    from smoke.spec import Request, SuiteSpec

# The sandbox's reserved identities (sandbox/README.md).
DEFAULT_RESERVED = ("smoke@sandbox.test", "smoke+*@sandbox.test")
SETTING = "reserved_identities (SMOKE_RESERVED_IDENTITIES, a JSON list of patterns)"

_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    parts = []
    for ch in pattern.strip():
        if ch == "*":
            parts.append(r"[^@\s]*")
        elif ch == "?":
            parts.append(r"[^@\s]")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.IGNORECASE)


def is_reserved(email: str, patterns: Iterable[str]) -> bool:
    """Does ``email`` match one of the reserved-identity patterns?"""
    email = email.strip()
    return bool(email) and any(_compiled(p).fullmatch(email) for p in patterns)


def emails_in(value: Any, variables: dict[str, Any] | None = None) -> list[str]:
    """Every e-mail address in a request part (strings, lists, mappings, keys included).

    Known ``{{placeholders}}`` are filled in first; unknown ones (a value a step saves at
    run time) are left as they are.
    """
    found: list[str] = []
    for text in _strings(value):
        found.extend(_EMAIL.findall(_fill(text, variables or {})))
    return list(dict.fromkeys(found))


def _fill(text: str, variables: dict[str, Any]) -> str:
    """``text`` with the known placeholders filled, the others left as written."""
    return _PLACEHOLDER.sub(
        lambda m: str(variables[m.group(1)]) if m.group(1) in variables else m.group(0), text
    )


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _patterns(patterns: Sequence[str]) -> str:
    return ", ".join(patterns) if patterns else "(none)"


def _refuse(what: str, email: str, patterns: Sequence[str]) -> ConfigError:
    return ConfigError(
        f"{what} is {email!r}, which is not a reserved test identity. Writes and cleanup "
        f"only ever act as a reserved identity; {SETTING} is [{_patterns(patterns)}]. "
        "Use a reserved address, or add a pattern that covers only test accounts."
    )


def request_parts(request: Request) -> list[Any]:
    """What of a request can name an identity: its path, query and body."""
    return [request.path, request.params, request.body]


def writing_requests(spec: SuiteSpec) -> list[tuple[str, Request]]:
    """The requests of writing checks, with their key paths."""
    found: list[tuple[str, Request]] = []
    onboarding, billing = spec.onboarding, spec.billing
    if onboarding.cleanup is not None:
        found.append(("onboarding.cleanup", onboarding.cleanup))
    for i, step in enumerate(onboarding.steps):
        found.append((f"onboarding.steps[{i}]", step))
        found += [
            (f"onboarding.steps[{i}].negative_cases[{j}]", step.negative_request(case))
            for j, case in enumerate(step.negative_cases)
        ]
    if billing.cleanup is not None:
        found.append(("billing.cleanup", billing.cleanup))
    found += [
        ("billing.checkout", billing.checkout),
        ("billing.cancel_subscription", billing.cancel_subscription),
    ]
    return found


def check_identities(config: SmokeConfig, spec: SuiteSpec) -> None:
    """Refuse a configuration that would write, or clean up, as anyone but a reserved identity."""
    patterns = config.reserved_identities
    if config.test_email and not is_reserved(config.test_email, patterns):
        raise _refuse(
            "The test identity (test_email, SMOKE_TEST_EMAIL)", config.test_email, patterns
        )
    if not (spec.onboarding.enabled and config.writes_allowed):
        return
    variables: dict[str, Any] = {
        "test_email": config.test_email,
        "other_email": config.other_email,
    }
    inputs = {
        k: _fill(v, variables) if isinstance(v, str) else v
        for k, v in spec.onboarding.inputs.items()
    }
    email = inputs.get("email")
    if isinstance(email, str) and not is_reserved(email, patterns):
        raise _refuse("The onboarding input onboarding.inputs.email", email, patterns)
    variables |= {k: v for k, v in inputs.items() if isinstance(v, str | int | float)}
    for where, request in writing_requests(spec):
        for part in request_parts(request):
            _check_addresses(where, part, variables, config, patterns)
    _check_second_identity(spec, inputs, variables, config)
    _check_cleanup_refusal_address(spec, config)


def _check_second_identity(
    spec: SuiteSpec, inputs: dict[str, Any], variables: dict[str, Any], config: SmokeConfig
) -> None:
    """The second onboarding identity, when a negative case needs it, follows the same
    rules as the first: it signs up and is cleaned, so it must be reserved."""
    patterns = config.reserved_identities
    second = spec.onboarding.second_identity
    walk = spec.onboarding.second_steps()
    if second is None or not walk:
        return
    ours = {
        k: _fill(v, variables) if isinstance(v, str) else v
        for k, v in second.inputs_over(inputs).items()
    }
    email = ours.get("email")
    if not isinstance(email, str) or email.strip().lower() == str(inputs.get("email")).lower():
        raise ConfigError(
            "The second onboarding identity (second_identity.inputs.email) needs an "
            "address of its own, not the first identity's: give it one, e.g. "
            "smoke+onboarding-second@example.com, or leave email out to derive it."
        )
    if not is_reserved(email, patterns):
        raise _refuse(
            "The second onboarding identity second_identity.inputs.email", email, patterns
        )
    theirs = variables | {k: v for k, v in ours.items() if isinstance(v, str | int | float)}
    requests: list[tuple[str, Request]] = [
        (f"onboarding.second_identity: step {s.name}", s) for s in walk
    ]
    if spec.onboarding.cleanup is not None:
        requests.append(("onboarding.cleanup", spec.onboarding.cleanup))
    for where, request in requests:
        for part in request_parts(request):
            _check_addresses(where, part, theirs, config, patterns)


def _check_cleanup_refusal_address(spec: SuiteSpec, config: SmokeConfig) -> None:
    """The address the cleanup refusal offers is nobody reserved or known."""
    patterns = config.reserved_identities
    refusal = spec.onboarding.cleanup_refusal
    if refusal is None or spec.onboarding.cleanup is None:
        return
    sample = _PLACEHOLDER.sub("0", refusal.email)
    if is_reserved(sample, patterns) or sample.lower() in {
        config.test_email.strip().lower(),
        config.other_email.strip().lower(),
    }:
        raise ConfigError(
            f"onboarding.cleanup_refusal.email {refusal.email!r} is a reserved or known "
            f"identity ({SETTING} is [{_patterns(patterns)}]): a refusal of it would "
            "prove nothing, and accepting it could delete real test data. Use an "
            "address outside them, e.g. smoke-unreserved-{{run_id}}@example.invalid."
        )


def check_cleanup(
    where: str, request: Request, variables: dict[str, Any], config: SmokeConfig
) -> None:
    """Right before a cleanup is sent: every address it names is reserved, none is other_email."""
    for part in request_parts(request):
        _check_addresses(where, part, variables, config, config.reserved_identities)


def check_cleanup_refusal(
    request: Request, variables: dict[str, Any], unreserved: str, config: SmokeConfig
) -> None:
    """Right before the cleanup is offered an unreserved address: that address is new this
    run (it holds the run id), outside the reserved identities and nobody known, and every
    other address the request names is reserved."""
    patterns = config.reserved_identities
    run_id = str(variables.get("run_id", ""))
    known = {config.test_email.strip().lower(), config.other_email.strip().lower()}
    if not run_id or run_id not in unreserved or is_reserved(unreserved, patterns):
        raise ConfigError(
            f"The cleanup refusal would offer {unreserved!r}, which is reserved or not new "
            "this run: only an address made up for this run may be offered."
        )
    if unreserved.strip().lower() in known:
        raise ConfigError(f"The cleanup refusal would offer a known identity, {unreserved!r}.")
    for part in request_parts(request):
        for email in emails_in(part, variables):
            if email.lower() != unreserved.strip().lower():
                _check_addresses("onboarding.cleanup_refusal", email, variables, config, patterns)


def _check_addresses(
    where: str,
    part: Any,
    variables: dict[str, Any],
    config: SmokeConfig,
    patterns: Sequence[str],
) -> None:
    other = config.other_email.strip().lower()
    for email in emails_in(part, variables):
        if other and email.lower() == other:
            raise ConfigError(
                f"The writing request {where} would act as {email!r}, the second tenant's "
                "identity (other_email). other_email is read-only (the tenant-isolation "
                "check): write only as the test identity or the onboarding identity."
            )
        if not is_reserved(email, patterns):
            raise _refuse(f"An address in the writing request {where}", email, patterns)
