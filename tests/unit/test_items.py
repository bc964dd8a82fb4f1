"""What a list endpoint's items must satisfy and how a page must show them (smoke/items.py),
and the contract fields that configure it (smoke/spec.py)."""

from __future__ import annotations

from typing import Any

import pytest

from smoke.errors import ConfigError
from smoke.items import (
    as_count,
    expected_on_page,
    ids_of,
    last_page,
    order_problem,
    query_value,
    row_problems,
    shown,
    text_problems,
    without_query_keys,
)
from smoke.spec import load_spec


def test_query_keys_are_removed_and_the_rest_kept_verbatim() -> None:
    path = "/api/feed?page=1&per_page=20&team={{saved.team}}"
    assert without_query_keys(path, ["page", "per_page"]) == "/api/feed?team={{saved.team}}"
    assert without_query_keys("/api/feed?page=1", ["page"]) == "/api/feed"
    assert without_query_keys("/api/feed", ["page"]) == "/api/feed"
    # A key is matched whole: per_page is not page.
    assert without_query_keys("/a?per_page=3", ["page"]) == "/a?per_page=3"


def test_a_query_value_comes_from_params_before_the_path() -> None:
    assert query_value("/a?per_page=20", None, "per_page") == "20"
    assert query_value("/a?per_page=20", {"per_page": 7}, "per_page") == "7"
    assert query_value("/a", {}, "per_page") is None


def test_counts() -> None:
    assert [as_count(v) for v in (3, "20", True, "x", 2.5, None)] == [3, 20, None, None, None, None]


@pytest.mark.parametrize(
    ("total", "size", "last", "per_page"),
    [
        (30, 5, 6, [5, 5, 5, 5, 5, 5, 0]),
        (12, 5, 3, [5, 5, 2, 0]),
        (3, 5, 1, [3, 0]),
        (0, 5, 1, [0]),
    ],
)
def test_page_arithmetic(total: int, size: int, last: int, per_page: list[int]) -> None:
    assert last_page(total, size) == last
    assert [expected_on_page(total, size, p) for p in range(1, len(per_page) + 1)] == per_page


def test_order_of_timestamps_numbers_and_text() -> None:
    newest_first = [{"at": "2026-12-04T12:00:00Z"}, {"at": "2026-12-04T11:00:00+00:00"}]
    assert order_problem(newest_first, "at", descending=True) is None
    problem = order_problem(list(reversed(newest_first)), "at", descending=True)
    assert problem is not None
    assert problem == (
        "item 1 has at '2026-12-04T12:00:00Z', greater than item 0's "
        "'2026-12-04T11:00:00+00:00': at desc puts it first"
    ), problem
    assert order_problem([{"n": 1}, {"n": 1}, {"n": 2.5}], "n", descending=False) is None
    assert order_problem([{"n": 2}, {"n": 10}], "n", descending=True) is not None
    assert order_problem([{"d": "2026-12-01"}, {"d": "2026-11-30"}], "d", descending=True) is None
    assert order_problem([{"s": "b"}, {"s": "a"}], "s", descending=False) is not None
    assert order_problem([{"x": 1}, {}], "x", descending=True) == "item 1 has no 'x' to order by"
    mixed = order_problem([{"x": 1}, {"x": "1"}], "x", descending=True)
    assert mixed == "'x' mixes int, str: the items cannot be ordered by it"


def test_ids() -> None:
    assert ids_of([{"id": 1}, {"id": "b"}], "id") == ["1", "b"]
    assert ids_of([{"meta": {"key": "k"}}], "meta.key") == ["k"]
    with pytest.raises(KeyError, match="item 1 has no 'id'"):
        ids_of([{"id": 1}, {"name": "x"}], "id")


def test_values_read_as_a_page_script_shows_them() -> None:
    assert [shown(v) for v in (True, None, 2500.0, 12.5, 7, "x")] == [
        "true",
        "null",
        "2500",
        "12.5",
        "7",
        "x",
    ]


ALERTS: list[dict[str, Any]] = [
    {"severity": "warning", "message": "Warning: check #10"},
    {"severity": "info", "message": "Info: check #9"},
]


def test_each_row_must_show_one_items_fields() -> None:
    rows = ["[warning] Warning: check #10", "[info] Info: check #9"]
    assert row_problems(rows, ALERTS, ["severity", "message"]) == []
    # The rows of another list, or values that are not there, show no item.
    wrong = row_problems(["[undefined] undefined", "2026-12-04 Deploy #30"], ALERTS, ["message"])
    assert wrong == [
        "row 0 '[undefined] undefined' shows no item's message",
        "row 1 '2026-12-04 Deploy #30' shows no item's message",
    ]
    # Every field must come from the same item.
    assert row_problems(["[info] Warning: check #10"], ALERTS, ["severity", "message"]) != []


def test_element_texts() -> None:
    assert text_problems("#email", [" smoke@example.com\n"], "smoke@example.com") == []
    assert text_problems("#email", ["undefined"], "smoke@example.com") == [
        "#email shows 'undefined', not 'smoke@example.com'"
    ]
    assert text_problems("li", ["ok", "NaN users"], None) == [
        "li #1 shows 'NaN users': a value that is not there"
    ]
    assert text_problems("li", ["[object Object]"], None) != []
    # Words that merely contain the markers are fine.
    assert text_problems("li", ["undefinedness is a word", "NaNa"], None) == []
    assert text_problems("li", ["Nana", "indefinite"], None) == []


def test_the_default_contract_configures_order_paging_tenants_and_rendered_text() -> None:
    dashboard = load_spec().dashboard
    keys = {e.name: e.sort_key() for e in dashboard.endpoints}
    assert keys == {
        "feed": ("created_at", True),
        "alerts": ("created_at", True),
        "history": ("date", True),
    }
    assert [e.name for e in dashboard.tenant_scoped] == ["feed", "alerts", "history"]
    assert all(e.pagination and e.pagination.page_size == 5 for e in dashboard.endpoints)
    assert dashboard.ui is not None
    elements = {e.selector: e for e in dashboard.ui.elements}
    assert elements['[data-testid="user-email"]'].text == "{{test_email}}"
    rows_of = {e.rows_of: e.fields for e in elements.values() if e.rows_of}
    assert rows_of == {
        "feed": ["title"],
        "alerts": ["severity", "message"],
        "history": ["date", "metric"],
    }


def test_another_apps_endpoints_have_none_of_it_unless_configured() -> None:
    plain = {"name": "tasks", "path": "/v1/tasks"}
    dashboard = load_spec(inline={"dashboard": {"endpoints": [plain], "ui": None}}).dashboard
    [tasks] = dashboard.endpoints
    assert (tasks.pagination, tasks.sort_key(), tasks.tenant_scoped) == (None, None, False)
    assert dashboard.tenant_scoped == []


def test_a_bare_selector_is_still_a_key_element() -> None:
    ui = {"path": "/app", "elements": ["#one", {"selector": "#two", "text": "hi"}]}
    spec = load_spec(inline={"dashboard": {"ui": ui}}).dashboard.ui
    assert spec is not None
    assert [(e.selector, e.text) for e in spec.elements] == [("#one", None), ("#two", "hi")]


def _endpoint(**extra: Any) -> dict[str, Any]:
    return {"dashboard": {"endpoints": [{"name": "tasks", "path": "/v1/tasks", **extra}]}}


@pytest.mark.parametrize(
    ("inline", "message"),
    [
        (
            _endpoint(order_by="created_at sideways"),
            r"order_by must be an item field and a direction",
        ),
        (_endpoint(pagination={"page_size": 0}), r"dashboard.endpoints.0.pagination.page_size"),
        (
            _endpoint(pagination={"per_pag": "n"}),
            r"unknown key .*per_pag.*did you mean 'per_page_param'",
        ),
        (_endpoint(tenant_scoped=True, auth="other"), r"must be read as the test identity"),
        (
            {
                "dashboard": {
                    "ui": {"path": "/app", "elements": [{"selector": "li", "rows_of": "feed"}]}
                }
            },
            r"rows_of needs fields",
        ),
    ],
)
def test_bad_list_settings_are_config_errors_naming_the_place(
    inline: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_spec(inline=inline)
