"""Response contracts: JSON Schema validation that reports every violation with its path."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from smoke.errors import ConfigError


@dataclass(frozen=True)
class Violation:
    """One place where a response breaks its contract."""

    path: str  # JSONPath-like: $.items[0].severity
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def json_path(parts: object) -> str:
    """``$.items[0].severity`` from jsonschema's absolute_path deque."""
    out = "$"
    for part in parts:  # type: ignore[attr-defined]
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def check_schema(schema: Mapping[str, Any], where: str) -> None:
    """Raise ConfigError when a configured contract is not a valid JSON Schema."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as e:
        raise ConfigError(
            f"The contract for {where} is not a valid JSON Schema: {e.message}. "
            'Fix it in the journey configuration, e.g. {"type": "object", "required": ["id"]}.'
        ) from e


def validate(instance: object, schema: Mapping[str, Any]) -> list[Violation]:
    """Every violation of ``schema`` by ``instance``, sorted by path; empty when valid."""
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: _path_key(e.absolute_path))
    return [Violation(json_path(e.absolute_path), _short(e.message)) for e in errors]


def _path_key(parts: Iterable[str | int]) -> list[tuple[int, str]]:
    # Indices sort as numbers ($.items[2] before $.items[10]) and before names.
    return [(0, f"{p:012d}") if isinstance(p, int) else (1, p) for p in parts]


def describe(violations: list[Violation], limit: int = 3) -> str:
    """A one-line summary for the `actual` column: the first few violations and a count."""
    shown = "; ".join(str(v) for v in violations[:limit])
    more = len(violations) - limit
    return shown + (f"; and {more} more" if more > 0 else "")


def _short(message: str, limit: int = 160) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"


def excerpt(body: object, limit: int = 400) -> str:
    """A compact, bounded excerpt of a response body for evidence."""
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
