"""The one place that removes secrets from anything that leaves the process.

Known secret values (registered when configuration loads) are replaced exactly; shapes
that are secret whatever their value (bearer tokens, JWTs, Stripe and Slack keys, card
numbers, cookies) are replaced by pattern, so values learned at run time (a session
cookie, an access token) are covered too.
"""

from __future__ import annotations

import json
import re
import threading
import zipfile
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote, quote_plus

MASK = "***"

# Names whose value is a secret: `password=...`, `"access_token": "..."`, `client_secret: ...`.
_KEY = r"(?:password|secret|token|api_key)"
# A value runs to white space, a quote, `&`, `,` or `}`; an escaped quote (\") inside a
# JSON string ends it too, so scrubbing a JSON file keeps it valid.
_VALUE = r"(?:[^\s\"&,}\\]|\\(?!\"))+"
_OPEN_QUOTE = r"(?:\\?\")"

# Each pattern masks a value, never the words around it: prose such as "a bearer token"
# or "without the token: anyone can seed" names a secret without holding one.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # An Authorization header, whatever its scheme and however short its credential.
    (
        re.compile(r"(?i)(authorization\\?\"?\s*[:=]\s*\\?\"?\s*[A-Za-z]+\s+)[A-Za-z0-9._~+/=-]+"),
        r"\1" + MASK,
    ),
    # `Bearer <credential>` as HTTP spells it; lower-case "bearer" only before a value
    # shaped like a token (a digit or punctuation in it), not before a word.
    (re.compile(r"(\bBearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1" + MASK),
    (
        re.compile(r"(?i)(\bbearer\s+)(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{6,}"),
        r"\1" + MASK,
    ),
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), MASK),
    (re.compile(r"\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9]+"), MASK),
    (re.compile(r"\bwhsec_[A-Za-z0-9]+"), MASK),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]+"), MASK),
    (re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/]+"), MASK),
    (
        re.compile(
            r"(?i)((?:session|oauth_state|passkey_challenge)=(?:\\?\")?)(?:[^;\s\"',\\]|\\(?!\"))+"
        ),
        r"\1" + MASK,
    ),
    # A quoted name (JSON, a Python repr): `"password": "..."`.
    (re.compile(rf"(?i)({_KEY}\\?\"\s*:\s*{_OPEN_QUOTE}?){_VALUE}"), r"\1" + MASK),
    # An assignment (a form body, a query string, a .env line): `password=...`.
    (re.compile(rf"(?i)({_KEY}\s*=\s*{_OPEN_QUOTE}?){_VALUE}"), r"\1" + MASK),
    # A name and a colon (YAML, a log line): a quoted value always; an unquoted one only
    # when it is shaped like a secret (six characters or more, a digit among them).
    (re.compile(rf"(?i)({_KEY}\s*:\s*{_OPEN_QUOTE}){_VALUE}"), r"\1" + MASK),
    (re.compile(rf"(?i)({_KEY}\s*:\s*)(?=[^\s\"&,}}\\]*\d)[^\s\"&,}}\\]{{6,}}"), r"\1" + MASK),
]

# Card numbers: 13-19 digits, optionally grouped by single spaces, that pass the Luhn
# check (so ids and timestamps mostly survive). Digits after a decimal point are a
# number's fraction (a duration in a JSON result), never a card.
_CARD = re.compile(r"(?<!\.)\b\d(?: ?\d){12,18}\b")


def luhn_valid(digits: str) -> bool:
    """The card-number checksum."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = match.group(0).replace(" ", "")
    return MASK if luhn_valid(digits) else match.group(0)


# Short values would mask innocent text (and are not real secrets); below this length a
# registered value is ignored.
MIN_SECRET_LENGTH = 6


class Scrubber:
    """Holds the known secret values and removes them, and secret shapes, from text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()

    def register(self, *values: str | None) -> None:
        """Remember secret values, with their URL-encoded forms."""
        with self._lock:
            for value in values:
                if value and len(value) >= MIN_SECRET_LENGTH:
                    # As written, URL-encoded, and escaped inside a JSON string.
                    forms = {
                        value,
                        quote(value, safe=""),
                        quote_plus(value),
                        json.dumps(value)[1:-1],
                    }
                    self._values.update(forms)

    def clear(self) -> None:
        """Forget every registered value (tests start from a clean scrubber)."""
        with self._lock:
            self._values.clear()

    def known(self) -> list[str]:
        """Registered values, longest first (so a value containing another goes first)."""
        with self._lock:
            return sorted(self._values, key=len, reverse=True)

    def text(self, text: str) -> str:
        """``text`` with every known value and secret shape masked."""
        if not text:
            return text
        for value in self.known():
            text = text.replace(value, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return _CARD.sub(_mask_card, text)

    def value(self, obj: object) -> object:
        """A JSON-like structure with every string scrubbed."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, dict):
            return {k: self.value(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.value(v) for v in obj]
        return obj

    def file(self, path: Path) -> None:
        """Scrub a text file, or every member of a zip (a Playwright trace), in place."""
        if zipfile.is_zipfile(path):
            self._zip(path)
        else:
            data = path.read_bytes()
            cleaned = self._bytes(data)
            if cleaned != data:
                path.write_bytes(cleaned)

    def tree(self, root: Path) -> None:
        """Scrub every file under ``root``."""
        for path in _files(root.rglob("*")):
            self.file(path)

    def _bytes(self, data: bytes) -> bytes:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            # Binary (images): only exact known values can be found in it.
            for value in self.known():
                data = data.replace(value.encode(), MASK.encode())
            return data
        return self.text(text).encode("utf-8")

    def _zip(self, path: Path) -> None:
        with zipfile.ZipFile(path) as src:
            members = [(info, src.read(info)) for info in src.infolist()]
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as dst:
            for info, data in members:
                dst.writestr(info, self._bytes(data))


def _files(paths: Iterable[Path]) -> Iterable[Path]:
    return (p for p in paths if p.is_file())


#: The process-wide scrubber every output channel goes through.
scrubber = Scrubber()


def scrub(text: str) -> str:
    """Shorthand for ``scrubber.text``."""
    return scrubber.text(text)
