"""What the auth checks judge from an answer: a protected page's refusal, a leaked identity."""

from __future__ import annotations

import pytest

from smoke.auth_rules import mentions, page_refusal


@pytest.mark.parametrize(
    ("status", "location", "login_redirect", "refused"),
    [
        (401, "", None, True),
        (403, "", "/login*", True),
        (302, "/login", "/login*", True),
        (303, "https://app.example.com/login?next=/app", "/login*", True),
        # The page itself, or any 2xx: the visitor sees it.
        (200, "", None, False),
        (200, "", "/login*", False),
        (204, "", None, False),
        # A redirect elsewhere than the sign-in, when the sign-in is named.
        (302, "/app/welcome", "/login*", False),
        # No sign-in named: any redirect away from the page refuses...
        (302, "https://idp.example.com/authorize", None, True),
        # ...but not one back to the page itself (it renders next), nor one without a target.
        (302, "/app/", None, False),
        (307, "", None, False),
        (404, "", None, False),
    ],
)
def test_a_page_refuses_only_with_401_403_or_a_redirect_to_the_sign_in(
    status: int, location: str, login_redirect: str | None, refused: bool
) -> None:
    assert page_refusal(status, location, "/app", login_redirect) is refused


def test_mentions_finds_an_email_in_any_string_value_by_its_path() -> None:
    body = {
        "id": "acme-test",
        "members": [
            {"email": "smoke@sandbox.test"},
            {"email": "Other@Sandbox.test", "name": "Other"},
        ],
        "note": "invited by other@sandbox.test.",
        "count": 2,
    }
    assert mentions(body, "other@sandbox.test") == ["$.members[1].email", "$.note"]


@pytest.mark.parametrize(
    "text",
    [
        "smoke-other-2",
        "x.smoke-other@example.com",
        "smoke-other@example.com",
        "my-smoke-other",
        "smoke-others",
        "smoke-other.example",
    ],
)
def test_mentions_matches_whole_words_only(text: str) -> None:
    assert mentions({"v": text}, "smoke-other") == []


@pytest.mark.parametrize(
    "text", ["smoke-other", "account:smoke-other", "[smoke-other]", "smoke-other."]
)
def test_mentions_finds_the_whole_word(text: str) -> None:
    assert mentions([text], "smoke-other") == ["$[0]"]


def test_mentions_of_nothing_finds_nothing() -> None:
    assert mentions({"a": "anything"}, "") == []
    assert mentions(None, "x@y.test") == []
