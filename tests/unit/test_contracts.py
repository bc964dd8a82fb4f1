from __future__ import annotations

from typing import Any

import pytest

from smoke.contracts import Violation, check_schema, describe, excerpt, json_path, validate
from smoke.errors import ConfigError
from smoke.spec import load_spec


@pytest.fixture(scope="module")
def alerts_schema() -> dict[str, Any]:
    """The default contract's alerts schema: the one the sandbox's alert faults break."""
    endpoint = next(e for e in load_spec().dashboard.endpoints if e.name == "alerts")
    assert endpoint.schema_ is not None
    return endpoint.schema_


def alert(**overrides: Any) -> dict[str, Any]:
    item = {
        "id": "al_1",
        "severity": "warning",
        "message": "disk 80% full",
        "acknowledged": False,
        "created_at": "2025-01-01T00:00:00Z",
    }
    return item | overrides


def test_a_valid_body_has_no_violations(alerts_schema: dict[str, Any]) -> None:
    body = {"items": [alert(), alert(id="al_2")], "page": 1, "per_page": 20, "total": 2}
    assert validate(body, alerts_schema) == []


def test_type_drift_is_reported_with_its_path(alerts_schema: dict[str, Any]) -> None:
    body = {"items": [alert(severity=3)], "page": 1, "per_page": 20, "total": 1}
    assert validate(body, alerts_schema) == [
        Violation("$.items[0].severity", "is not of type 'string' (got 3)"),
        Violation("$.items[0].severity", 'must be one of ["info","warning","critical"] (got 3)'),
    ]
    assert str(validate(body, alerts_schema)[0]) == (
        "$.items[0].severity is not of type 'string' (got 3)"
    )


def test_every_violation_is_reported_sorted_by_path(alerts_schema: dict[str, Any]) -> None:
    missing_ack = alert()
    del missing_ack["acknowledged"]
    body = {
        "items": [alert(), missing_ack, alert(severity="urgent")],
        "page": 1,
        "per_page": 20,
        "total": "3",
    }
    assert [str(v) for v in validate(body, alerts_schema)] == [
        '$.items[1] lacks the required property "acknowledged"',
        '$.items[2].severity must be one of ["info","warning","critical"] (got "urgent")',
        "$.total is not of type 'integer' (got \"3\")",
    ]


def test_the_rule_leads_however_long_the_body_is() -> None:
    # A keyed object where a list was promised: jsonschema's own message starts with the
    # Python repr of the whole object, and a cut hid the rule behind it.
    body = {"data": {f"b8be{i:04d}": {"title": "x" * 50} for i in range(20)}}
    [violation] = validate(body, {"properties": {"data": {"type": "array"}}})
    assert str(violation).startswith("$.data is not of type 'array' (got {\"b8be0000\"")
    assert len(violation.message) <= 200


def test_values_are_in_json_notation() -> None:
    assert [str(v) for v in validate(False, {"const": True})] == ["$ must be true (got false)"]
    assert [str(v) for v in validate(None, {"type": "boolean"})] == [
        "$ is not of type 'boolean' (got null)"
    ]
    assert [
        str(v)
        for v in validate(
            {"a": 1, "pw": "x"}, {"properties": {"a": {}}, "additionalProperties": False}
        )
    ] == ['$ has properties the contract does not allow: "pw"']
    assert [str(v) for v in validate({"n": ""}, {"properties": {"n": {"minLength": 1}}})] == [
        '$.n must be at least 1 characters long (got "")'
    ]


def test_list_indices_sort_as_numbers() -> None:
    schema = {"type": "array", "items": {"type": "string"}}
    body = ["ok"] * 2 + [1] + ["ok"] * 7 + [2]
    assert [v.path for v in validate(body, schema)] == ["$[2]", "$[10]"]


def test_a_missing_top_level_field_is_at_the_root() -> None:
    assert validate({}, {"type": "object", "required": ["items"]}) == [
        Violation("$", 'lacks the required property "items"')
    ]


def test_long_messages_are_shortened() -> None:
    [violation] = validate("x" * 400, {"type": "integer"})
    # The rule whole, the value that broke it bounded.
    assert violation.message.startswith("is not of type 'integer' (got \"xxx")
    assert violation.message.endswith("…)")
    assert len(violation.message) < 120


def test_describe_shows_the_first_few_and_counts_the_rest() -> None:
    violations = [Violation(f"$.items[{i}]", "bad") for i in range(5)]
    assert describe(violations[:1]) == "$.items[0] bad"
    assert describe(violations) == ("$.items[0] bad; $.items[1] bad; $.items[2] bad; and 2 more")
    assert describe(violations, limit=5) == "; ".join(f"$.items[{i}] bad" for i in range(5))
    assert describe([]) == ""


def test_json_path() -> None:
    assert json_path([]) == "$"
    assert json_path(["items", 0, "severity"]) == "$.items[0].severity"


def test_an_invalid_schema_is_a_config_error_naming_the_place() -> None:
    with pytest.raises(ConfigError) as info:
        check_schema({"type": "objekt"}, "dashboard.feed")
    assert str(info.value) == (
        "The contract for dashboard.feed is not a valid JSON Schema: 'objekt' is not valid "
        'under any of the given schemas. Fix it in the journey configuration, e.g. {"type": '
        '"object", "required": ["id"]}.'
    )
    assert info.value.__cause__ is not None


def test_a_valid_schema_passes_the_check() -> None:
    check_schema({"type": "object", "required": ["id"]}, "dashboard.feed")


def test_excerpt_is_compact_and_bounded() -> None:
    assert excerpt({"a": 1, "b": [1, 2]}) == '{"a":1,"b":[1,2]}'
    assert excerpt("plain text") == "plain text"
    long = excerpt("x" * 500)
    assert len(long) == 400
    assert long.endswith("x…")
    assert excerpt("abcdef", limit=4) == "abc…"
