"""The plain logic behind four checks: a redirect URI moved to a foreign host, what an
OpenID discovery document names, a URL glob for the checkout's confirmation, and what
the seeded tenant's items must hold; and the contract fields that configure them."""

from __future__ import annotations

import base64
import json
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from sandbox.seed import TEST_TENANT_ID, _records
from smoke.auth_rules import jwt_segments, oidc_endpoints, same_endpoint, with_redirect_host
from smoke.errors import ConfigError
from smoke.items import same_value, seeded_problems
from smoke.origins import url_matches
from smoke.spec import SeededItems, load_spec

AUTHORIZE = (
    "http://127.0.0.1:8123/idp/authorize?response_type=code&client_id=smoke-web"
    "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8123%2Fauth%2Fcallback%3Fnext%3D%2Fapp&state=s1"
)


def test_the_redirect_uri_moves_to_the_foreign_host_and_nothing_else_changes() -> None:
    moved = with_redirect_host(AUTHORIZE, "redirect_uri", "evil.example")
    assert moved is not None
    parts = urlsplit(moved)
    query = parse_qs(parts.query)
    assert query["redirect_uri"] == ["http://evil.example/auth/callback?next=/app"]
    assert query["client_id"] == ["smoke-web"]
    assert query["state"] == ["s1"]
    assert (parts.netloc, parts.path) == ("127.0.0.1:8123", "/idp/authorize")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/login",  # no redirect URI: not an identity provider's page
        "http://127.0.0.1/idp/authorize?redirect_uri=/auth/callback",  # a relative one
        "http://127.0.0.1/idp/authorize?redirect_uri=app%3A%2F%2Fcallback",  # no http(s)
    ],
)
def test_no_absolute_redirect_uri_means_nothing_to_move(url: str) -> None:
    assert with_redirect_host(url, "redirect_uri", "evil.example") is None


DISCOVERY = {
    "issuer": "https://id.example.com",
    "authorization_endpoint": "https://id.example.com/authorize",
    "token_endpoint": "https://id.example.com/token",
    "jwks_uri": "https://id.example.com/jwks",
    "userinfo_endpoint": "https://id.example.com/userinfo",
}


def test_a_discovery_document_names_its_endpoints() -> None:
    found, problems = oidc_endpoints(DISCOVERY)
    assert problems == []
    assert set(found) == {
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "userinfo_endpoint",
    }


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ([], "not a JSON object"),
        ({**DISCOVERY, "token_endpoint": "/token"}, 'token_endpoint is "/token", not an absolute'),
        ({**DISCOVERY, "jwks_uri": 7}, "jwks_uri is 7"),
        ({k: v for k, v in DISCOVERY.items() if k != "jwks_uri"}, "jwks_uri is missing"),
    ],
)
def test_an_unusable_discovery_document_says_why(doc: Any, problem: str) -> None:
    _, problems = oidc_endpoints(doc)
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("https://id.example.com/authorize?x=1", "https://id.example.com/authorize", True),
        ("https://ID.example.com/authorize/", "https://id.example.com/authorize", True),
        ("http://127.0.0.1:8000/idp/token", "http://127.0.0.1:8000/oauth/token", False),
        ("http://127.0.0.1:8000/idp/token", "http://127.0.0.1:8001/idp/token", False),
        ("http://id.example.com/token", "https://id.example.com/token", False),
    ],
)
def test_endpoints_are_the_same_by_scheme_host_port_and_path(a: str, b: str, same: bool) -> None:
    assert same_endpoint(a, b) is same


def _segment(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def test_a_jwt_is_read_without_verifying_and_other_tokens_are_not_jwts() -> None:
    token = f"{_segment({'alg': 'RS256', 'kid': 'k1'})}.{_segment({'iss': 'me'})}.signature"
    assert jwt_segments(token) == ({"alg": "RS256", "kid": "k1"}, {"iss": "me"})
    assert jwt_segments("opaque-token") is None
    assert jwt_segments("a.b.c") is None
    assert jwt_segments(f"{_segment([1])}.{_segment({})}.x") is None


@pytest.mark.parametrize(
    ("pattern", "url", "matches"),
    [
        ("**/api/billing/checkout/*/confirm", "http://h:1/api/billing/checkout/cs_1/confirm", True),
        (
            "**/api/billing/checkout/*/confirm",
            "http://h/api/billing/checkout/cs_1/confirm?x=1",
            True,
        ),
        ("**/api/billing/checkout/*/confirm", "http://h/api/billing/checkout/a/b/confirm", False),
        ("**/api/billing/checkout/*/confirm", "http://h/api/billing/checkout", False),
        ("https://pay.example.com/confirm", "https://pay.example.com/confirm", True),
        ("https://pay.example.com/confirm", "https://pay.example.com/confirmX", False),
    ],
)
def test_the_confirmation_is_found_by_a_url_glob(pattern: str, url: str, matches: bool) -> None:
    assert url_matches(pattern, url) is matches


@pytest.mark.parametrize(
    ("found", "wanted", "same"),
    [(True, True, True), (1, True, False), ("1", 1, False), ("true", True, False), (2, 2, True)],
)
def test_values_compare_as_json_means_them(found: Any, wanted: Any, same: bool) -> None:
    assert same_value(found, wanted) is same


ALERTS = [{"id": str(i), "acknowledged": i >= 3, "state": {"open": i < 3}} for i in range(10)]


def test_seeded_items_are_counted_exactly_or_at_least() -> None:
    seeded = [
        SeededItems(where={"acknowledged": True}, count=7),
        SeededItems(where={"state.open": True}, at_least=1),
    ]
    assert seeded_problems(ALERTS, seeded) == []
    all_open = [{**a, "acknowledged": False} for a in ALERTS]
    assert seeded_problems(all_open, seeded) == [
        "0 of 10 items have acknowledged = true, the seed has 7"
    ]
    as_integers = [{**a, "acknowledged": int(a["acknowledged"])} for a in ALERTS]
    assert seeded_problems(as_integers, seeded[:1]) == [
        "0 of 10 items have acknowledged = true, the seed has 7"
    ]
    assert seeded_problems([], seeded[1:]) == [
        "0 of 0 items have state.open = true, the seed has at least 1"
    ]


def test_the_sandbox_contract_counts_the_alerts_the_seed_makes() -> None:
    alerts = load_spec().dashboard.endpoints[1]
    assert alerts.name == "alerts"
    records = _records("smoke", TEST_TENANT_ID, "Acme Test", date(2026, 12, 4))
    rows = [row for table, row in records if table == "alerts"]
    acknowledged = sum(1 for row in rows if row[4])  # the row's acknowledged flag
    assert [(s.where, s.count) for s in alerts.seeded] == [
        ({"acknowledged": True}, acknowledged),
        ({"acknowledged": False}, len(rows) - acknowledged),
    ]


def test_the_sandbox_contract_configures_the_new_parts() -> None:
    spec = load_spec()
    assert spec.auth.foreign_redirect is not None
    assert spec.auth.foreign_redirect.foreign_host == "evil.example"
    assert spec.auth.discovery is not None
    assert spec.auth.discovery.request.path == "/.well-known/openid-configuration"
    assert spec.billing.confirm_again is not None
    assert spec.billing.confirm_again.expect_status == [409]


@pytest.mark.parametrize(
    ("inline", "message"),
    [
        ({"auth": {"foreign_redirect": {"expect_status": [200, 400]}}}, r"a refusal answers 4xx"),
        ({"auth": {"foreign_redirect": {"foreign_host": "https://evil.example/cb"}}}, r"bare host"),
        ({"billing": {"confirm_again": {"expect_status": []}}}, r"expect_status is empty"),
        (
            {
                "dashboard": {
                    "endpoints": [
                        {"name": "a", "path": "/a", "seeded": [{"where": {"x": 1}}]},
                    ]
                }
            },
            r"exactly one of count or at_least",
        ),
        (
            {
                "dashboard": {
                    "endpoints": [
                        {"name": "a", "path": "/a", "seeded": [{"where": {}, "count": 1}]}
                    ]
                }
            },
            r"seeded.0.where",
        ),
    ],
)
def test_bad_settings_are_config_errors(inline: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_spec(inline=inline)
