"""Response contracts: JSON Schema validation that reports every violation with its path."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError

from smoke.errors import ConfigError


@dataclass(frozen=True)
class Violation:
    """One place where a response breaks its contract: the path, then the rule."""

    path: str  # JSONPath-like: $.items[0].severity
    message: str  # the rule broken and what was there: is not of type 'array' (got {...})

    def __str__(self) -> str:
        return f"{self.path} {self.message}"


def json_path(parts: object) -> str:
    """``$.items[0].severity`` from jsonschema's absolute_path deque."""
    out = "$"
    for part in parts:  # type: ignore[attr-defined]
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def check_schema(schema: Mapping[str, Any], where: str) -> None:
    """Raise ConfigError when a configured contract is not a valid JSON Schema."""
    try:
        text = json.dumps(schema, sort_keys=True)
    except (TypeError, ValueError):  # not JSON (a contract built in code): no cache key
        text = None
    try:
        if text is None:
            Draft202012Validator.check_schema(schema)
        else:
            _check_schema_text(text)
    except SchemaError as e:
        raise ConfigError(
            f"The contract for {where} is not a valid JSON Schema: {e.message}. "
            'Fix it in the journey configuration, e.g. {"type": "object", "required": ["id"]}.'
        ) from e


# Checking a schema against the metaschema takes milliseconds, and every contract load
# checks the default contract's dozens of schemas again: one found valid is remembered.
@lru_cache(maxsize=1024)
def _check_schema_text(text: str) -> None:
    Draft202012Validator.check_schema(json.loads(text))


def validate(instance: object, schema: Mapping[str, Any]) -> list[Violation]:
    """Every violation of ``schema`` by ``instance``, sorted by path; empty when valid."""
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: _path_key(e.absolute_path))
    return [Violation(json_path(e.absolute_path), _short(rule(e))) for e in errors]


def rule(error: ValidationError) -> str:
    """The rule an instance broke, leading, with the values in JSON notation.

    jsonschema's own messages start with the instance's Python repr (``{'b8be…': …} is
    not of type 'array'``), which a long body pushes past any cut; here the rule comes
    first and the instance follows, bounded.
    """
    kind, got = error.validator, error.instance
    expected: Any = error.validator_value
    seen = f" (got {as_json(got, 80)})"
    if kind == "type":
        names = expected if isinstance(expected, list) else [expected]
        return "is not of type " + " or ".join(f"'{n}'" for n in names) + seen
    if kind == "required":
        missing = [p for p in expected if isinstance(got, dict) and p not in got]
        return (
            "lacks the required propert"
            + ("y " if len(missing) == 1 else "ies ")
            + ", ".join(as_json(p) for p in missing)
        )
    if kind == "const":
        return f"must be {as_json(expected)}{seen}"
    if kind == "enum":
        return f"must be one of {as_json(expected, 120)}{seen}"
    if kind == "additionalProperties" and isinstance(got, dict):
        props = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        extra = [k for k in got if k not in props]
        if expected is False:
            return "has properties the contract does not allow: " + ", ".join(
                as_json(k) for k in extra
            )
    if kind in ("minLength", "maxLength", "minItems", "maxItems", "minimum", "maximum"):
        words = {
            "minLength": "must be at least {} characters long",
            "maxLength": "must be at most {} characters long",
            "minItems": "must have at least {} items",
            "maxItems": "must have at most {} items",
            "minimum": "must be at least {}",
            "maximum": "must be at most {}",
        }
        return words[kind].format(as_json(expected)) + seen
    message = error.message
    # Other rules: jsonschema's message without the leading Python repr of the instance.
    head = repr(got)
    if message.startswith(head):
        return message[len(head) :].strip() + seen
    return message


def as_json(value: object, limit: int = 200) -> str:
    """``value`` in JSON notation (``true``, ``"ok"``, ``null``), bounded."""
    return excerpt(value if not isinstance(value, str) else json.dumps(value), limit)


def _path_key(parts: Iterable[str | int]) -> list[tuple[int, str]]:
    # Indices sort as numbers ($.items[2] before $.items[10]) and before names.
    return [(0, f"{p:012d}") if isinstance(p, int) else (1, p) for p in parts]


def describe(violations: list[Violation], limit: int = 3) -> str:
    """A one-line summary: the first few violations (path and rule first) and a count."""
    shown = "; ".join(str(v) for v in violations[:limit])
    more = len(violations) - limit
    return shown + (f"; and {more} more" if more > 0 else "")


def _short(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"


def excerpt(body: object, limit: int = 400) -> str:
    """A compact, bounded excerpt of a response body for evidence."""
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
