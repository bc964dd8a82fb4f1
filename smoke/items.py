"""What a list endpoint's items must satisfy, and how a page must show them: plain Python.

The dashboard checks (``flows/dashboard.py``) read pages of items and render pages in
a browser; these functions judge what they read. Each returns a problem (words a
person can act on) or None, so a test can call them without a target.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from smoke.spec import SeededItems, field_value

# Words a page shows when its script rendered a value that is not there.
UNRENDERED = re.compile(r"\bundefined\b|\bNaN\b|\[object Object\]")


def without_query_keys(path: str, keys: Sequence[str]) -> str:
    """``path`` with the query parameters named ``keys`` removed, the rest kept verbatim."""
    base, sep, query = path.partition("?")
    if not sep:
        return path
    kept = [part for part in query.split("&") if part and part.split("=", 1)[0] not in keys]
    return f"{base}?{'&'.join(kept)}" if kept else base


def query_value(path: str, params: dict[str, Any] | None, key: str) -> str | None:
    """The value of query parameter ``key`` in ``params``, else in the path's query."""
    if params and key in params:
        return str(params[key])
    _, _, query = path.partition("?")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name == key:
            return value
    return None


def as_count(value: Any) -> int | None:
    """A page size or total as an integer (``"20"`` counts too); None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def last_page(total: int, page_size: int) -> int:
    """The last 1-based page that holds items when ``total`` items come ``page_size`` a page."""
    return max(1, math.ceil(total / page_size))


def expected_on_page(total: int, page_size: int, page: int) -> int:
    """How many items page ``page`` holds when ``total`` items come ``page_size`` a page."""
    return max(0, min(page_size, total - (page - 1) * page_size))


def _sortable(values: list[Any]) -> list[Any] | None:
    """The values in a form that compares as the API means them; None when they do not."""
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return values
    if all(isinstance(v, str) for v in values):
        try:
            moments = [datetime.fromisoformat(v) for v in values]
        except ValueError:
            return values
        if len({m.tzinfo is None for m in moments}) == 1:
            return moments
        return values
    return None


def order_problem(items: list[Any], field: str, descending: bool) -> str | None:
    """Why ``items`` are not ordered by ``field`` (ties allowed), or None when they are.

    ISO timestamps compare as moments, numbers as numbers, other text as text.
    """
    values: list[Any] = []
    for i, item in enumerate(items):
        try:
            values.append(field_value(item, field))
        except (KeyError, IndexError, ValueError, TypeError):
            return f"item {i} has no {field!r} to order by"
    sortable = _sortable(values)
    if sortable is None:
        kinds = sorted({type(v).__name__ for v in values})
        return f"{field!r} mixes {', '.join(kinds)}: the items cannot be ordered by it"
    for i in range(1, len(sortable)):
        before, after = sortable[i - 1], sortable[i]
        if (after > before) if descending else (after < before):
            word, order = ("greater", "desc") if descending else ("smaller", "asc")
            return (
                f"item {i} has {field} {values[i]!r}, {word} than item {i - 1}'s "
                f"{values[i - 1]!r}: {field} {order} puts it first"
            )
    return None


def ids_of(items: list[Any], id_field: str) -> list[str]:
    """Every item's id as text; KeyError naming the item that has none."""
    found = []
    for i, item in enumerate(items):
        try:
            found.append(str(field_value(item, id_field)))
        except (KeyError, IndexError, ValueError, TypeError):
            raise KeyError(f"item {i} has no {id_field!r}") from None
    return found


def shown(value: Any) -> str:
    """A JSON value as a page's script shows it (``true``, ``2500``, ``12.5``, text as is)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def row_problems(rows: list[str], items: list[Any], fields: list[str]) -> list[str]:
    """The rows that show no item: each row must show every one of ``fields`` of one item."""
    wanted: list[list[str]] = []
    for item in items:
        try:
            wanted.append([shown(field_value(item, f)) for f in fields])
        except (KeyError, IndexError, ValueError, TypeError):
            continue
    problems = []
    for i, row in enumerate(rows):
        if not any(all(value in row for value in values) for values in wanted):
            problems.append(f"row {i} {row!r} shows no item's {'/'.join(fields)}")
    return problems


def text_problems(selector: str, texts: list[str], expected: str | None) -> list[str]:
    """What is wrong with the texts of the elements ``selector`` matched.

    Each must show ``expected`` exactly (whitespace trimmed) when it is set, and none may
    show what a script renders for a missing value (``undefined``, ``NaN``).
    """
    problems = []
    for i, text in enumerate(texts):
        where = selector if len(texts) == 1 else f"{selector} #{i}"
        text = text.strip()
        if expected is not None and text != expected:
            problems.append(f"{where} shows {text!r}, not {expected!r}")
        elif UNRENDERED.search(text):
            problems.append(f"{where} shows {text!r}: a value that is not there")
    return problems


def same_value(found: Any, wanted: Any) -> bool:
    """``found == wanted`` as JSON means it: ``1`` is not ``true``, ``"1"`` not ``1``."""
    if isinstance(found, bool) or isinstance(wanted, bool):
        return isinstance(found, bool) and isinstance(wanted, bool) and found == wanted
    if isinstance(found, str) != isinstance(wanted, str):
        return False
    return bool(found == wanted)


def _matches(item: Any, where: dict[str, Any]) -> bool:
    for dotted, wanted in where.items():
        try:
            found = field_value(item, dotted)
        except (KeyError, IndexError, ValueError, TypeError):
            return False
        if not same_value(found, wanted):
            return False
    return True


def describe_where(where: dict[str, Any]) -> str:
    """``{acknowledged: true}`` in words: ``acknowledged = true``."""
    return " and ".join(f"{field} = {shown(value)}" for field, value in where.items())


def seeded_problems(items: list[Any], seeded: Sequence[SeededItems]) -> list[str]:
    """How ``items`` (every item of the seeded tenant) differ from what the seed holds."""
    problems = []
    for expectation in seeded:
        found = sum(1 for item in items if _matches(item, expectation.where))
        what = describe_where(expectation.where)
        if expectation.count is not None and found != expectation.count:
            problems.append(
                f"{found} of {len(items)} items have {what}, the seed has {expectation.count}"
            )
        if expectation.at_least is not None and found < expectation.at_least:
            problems.append(
                f"{found} of {len(items)} items have {what}, the seed has at least "
                f"{expectation.at_least}"
            )
    return problems
