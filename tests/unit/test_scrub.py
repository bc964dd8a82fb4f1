from __future__ import annotations

import json
import zipfile
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from smoke.scrub import MASK, Scrubber, luhn_valid, scrub, scrubber

SECRET = "pa ss/w+rd&42"  # spaces, slash, plus and ampersand: every encoding differs


@pytest.fixture
def s() -> Scrubber:
    fresh = Scrubber()
    fresh.register(SECRET)
    return fresh


def test_registered_value_is_masked(s: Scrubber) -> None:
    assert s.text(f"login with {SECRET} failed") == "login with *** failed"


@pytest.mark.parametrize(
    "encoded",
    [quote(SECRET, safe=""), quote_plus(SECRET)],
    ids=["quote", "quote_plus"],
)
def test_encoded_forms_of_a_registered_value_are_masked(s: Scrubber, encoded: str) -> None:
    assert encoded != SECRET
    assert s.text(f"GET /cb?password={encoded}&next=/") == "GET /cb?password=***&next=/"
    assert s.text(f"x {encoded} y") == "x *** y"


def test_json_escaped_value_is_masked_in_a_json_file() -> None:
    fresh = Scrubber()
    fresh.register('quote"and\\slash')
    text = json.dumps({"note": 'the value quote"and\\slash leaked'})
    assert json.loads(fresh.text(text)) == {"note": "the value *** leaked"}


def test_short_values_are_not_registered() -> None:
    fresh = Scrubber()
    fresh.register("abc", "", None, "abcdef")
    assert fresh.known() == ["abcdef"]
    assert fresh.text("abc abcdef") == "abc ***"


def test_longer_values_are_replaced_first() -> None:
    fresh = Scrubber()
    fresh.register("secret", "secret-and-more")
    assert fresh.known()[0] == "secret-and-more"
    assert fresh.text("x secret-and-more y") == "x *** y"


def test_clear_forgets_registered_values(s: Scrubber) -> None:
    s.clear()
    assert s.known() == []
    assert s.text(f"{SECRET}") == SECRET


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.DEF-123_456", "Authorization: Bearer ***"),
        ("authorization: bearer xyz", "authorization: bearer ***"),
        (
            "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzbW9rZSJ9.c2lnbmF0dXJl here",
            "token *** here",
        ),
        ("key sk_live_51HxYzAbCdEf0123", "key ***"),
        ("key sk_test_4eC39HqLyjWDarjtT1zdp7dc", "key ***"),
        ("key rk_test_abc123DEF", "key ***"),
        ("publishable pk_test_abc123", "publishable ***"),
        ("webhook whsec_abcDEF123456", "webhook ***"),
        ("slack xoxb-1234-5678-abcdEFGH", "slack ***"),
        ("posting to https://hooks.slack.com/services/T000/B000/XXXX now", "posting to *** now"),
        ("Cookie: session=abc.def123; theme=dark", "Cookie: session=***; theme=dark"),
        ('Set-Cookie: session="abc.def123"', 'Set-Cookie: session="***"'),
        # A cookie-style value runs to the next ';' or space: over-masking a query string
        # is the safe side.
        (
            "/auth/callback?code=x&oauth_state=s3cr3t&y=1 next",
            "/auth/callback?code=x&oauth_state=*** next",
        ),
        ("password=hunter22&user=a", "password=***&user=a"),
        ('{"password": "hunter22", "user": "a"}', '{"password": "***", "user": "a"}'),
        (
            '{"access_token": "tok123", "token_type": "bearer"}',
            '{"access_token": "***", "token_type": "bearer"}',
        ),
        ("client_secret: abc123", "client_secret: ***"),
    ],
)
def test_secret_shapes_are_masked_whatever_their_value(text: str, expected: str) -> None:
    assert Scrubber().text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("paid with 4242424242424242 today", "paid with *** today"),
        ("card 4242 4242 4242 4242 declined", "card *** declined"),
        ("declined card 4000000000000002", "declined card ***"),
        ("3DS card 4000002500003155", "3DS card ***"),
    ],
)
def test_card_numbers_are_masked(text: str, expected: str) -> None:
    assert Scrubber().text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "id 3f2b8c1e-9a4d-4e7b-8c2a-1d5e6f708192",
        "created_at 2025-11-21T12:01:00.123456+00:00",
        "epoch ms 1732190400000",
        "order 1234567812345678",  # 16 digits that fail the Luhn check
        "plain text with 42 and 2025",
        # A float's fraction that happens to pass the Luhn check: not a card.
        '{"duration_s": 16.00210605335111}',
    ],
)
def test_ids_and_timestamps_are_kept(text: str) -> None:
    assert Scrubber().text(text) == text


def test_luhn() -> None:
    assert luhn_valid("4242424242424242")
    assert luhn_valid("79927398713")
    assert not luhn_valid("4242424242424241")


@pytest.mark.parametrize(
    "message",
    [
        'cookie session="abc123xyz"',
        'he said password=\\"hunter22\\"',
        'token: "abc12345"',
        '{"token": "abc12345"}',
    ],
)
def test_scrubbing_json_text_keeps_it_valid(message: str) -> None:
    # scrubber.tree() scrubs result.json and JSON evidence as text; it must not break them.
    text = json.dumps({"message": message, "next": 1}, indent=2)
    cleaned = json.loads(Scrubber().text(text))
    assert cleaned["next"] == 1
    assert "abc123xyz" not in cleaned["message"]
    assert "abc12345" not in cleaned["message"]


def test_value_scrubs_every_string_in_a_structure(s: Scrubber) -> None:
    data = {"a": [SECRET, 1, None, {"b": f"x{SECRET}"}], "n": 3.5, "t": (SECRET,)}
    assert s.value(data) == {"a": [MASK, 1, None, {"b": "x***"}], "n": 3.5, "t": [MASK]}


def test_empty_text_is_returned_as_is(s: Scrubber) -> None:
    assert s.text("") == ""


def test_file_scrubs_text_in_place(s: Scrubber, tmp_path: Path) -> None:
    path = tmp_path / "response.txt"
    path.write_text(f"body {SECRET} and Bearer abcdef\n")
    s.file(path)
    assert path.read_text() == "body *** and Bearer ***\n"


def test_file_scrubs_known_values_in_binary(s: Scrubber, tmp_path: Path) -> None:
    path = tmp_path / "shot.png"
    path.write_bytes(b"\x89PNG\xff\xfe" + SECRET.encode() + b"\x00\xff")
    s.file(path)
    assert path.read_bytes() == b"\x89PNG\xff\xfe***\x00\xff"


def test_file_leaves_a_clean_file_untouched(s: Scrubber, tmp_path: Path) -> None:
    path = tmp_path / "clean.txt"
    path.write_text("nothing here")
    before = path.stat().st_mtime_ns
    s.file(path)
    assert path.read_text() == "nothing here"
    assert path.stat().st_mtime_ns == before


def test_zip_members_are_scrubbed_in_place(s: Scrubber, tmp_path: Path) -> None:
    trace = tmp_path / "trace.zip"
    with zipfile.ZipFile(trace, "w") as z:
        z.writestr(
            "trace.trace", f'{{"type":"request","headers":"Bearer tok123","body":"{SECRET}"}}\n'
        )
        z.writestr("resources/page.html", f"<input value='{SECRET}'>")
        z.writestr("resources/shot.jpeg", b"\xff\xd8" + SECRET.encode())
    s.file(trace)
    with zipfile.ZipFile(trace) as z:
        assert z.namelist() == ["trace.trace", "resources/page.html", "resources/shot.jpeg"]
        assert z.read("trace.trace").decode() == (
            '{"type":"request","headers":"Bearer ***","body":"***"}\n'
        )
        assert z.read("resources/page.html").decode() == "<input value='***'>"
        assert z.read("resources/shot.jpeg") == b"\xff\xd8***"


def test_tree_scrubs_every_file_below_a_folder(s: Scrubber, tmp_path: Path) -> None:
    (tmp_path / "evidence" / "deep").mkdir(parents=True)
    files = [tmp_path / "report.md", tmp_path / "evidence" / "a.txt", tmp_path / "evidence/deep/b"]
    for f in files:
        f.write_text(f"see {SECRET}")
    s.tree(tmp_path)
    assert [f.read_text() for f in files] == ["see ***"] * 3


def test_the_global_scrubber_and_its_shorthand() -> None:
    scrubber.register("global-secret-1")
    assert scrub("x global-secret-1 y") == "x *** y"
