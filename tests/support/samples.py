"""Sample settings shared by test folders: a staging environment, a form-login contract."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from smoke.config import SmokeConfig

# A login page with a CSRF token, then a form post that sets the session cookie.
COOKIE_LOGIN: dict[str, Any] = {
    "auth": {
        "login": {
            "page": {"path": "/login"},
            "csrf_pattern": 'name="csrf" value="([^"]+)"',
            "request": {
                "method": "POST",
                "path": "/login",
                "body_format": "form",
                "body": {"username": "{{email}}", "password": "{{password}}", "csrf": "{{csrf}}"},
                "expect_status": [302],
                "schema": None,
            },
            "session_cookie": "sessionid",
        }
    }
}


def config(**kw: object) -> SmokeConfig:
    """A staging environment with a test and an other identity; ``kw`` overrides."""
    values: dict[str, object] = {
        "name": "staging",
        "base_url": "https://staging.example.com",
        "test_email": "smoke@sandbox.test",
        "test_password": SecretStr("correct-horse"),
        "other_email": "ops@globex.test",
    }
    return SmokeConfig.model_validate(values | kw)
