"""Small security helpers: password hashing, random tokens, reserved test identities."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sandbox.credentials import SandboxCredentials

# A fast hash: these are development passwords, and the sandbox must start in seconds.
_PBKDF2_ROUNDS = 1_000
_RESERVED_PATTERN = re.compile(r"smoke\+[^@\s]+@sandbox\.test", re.IGNORECASE)


def hash_password(password: str) -> str:
    """``salt$hexdigest`` for ``password``."""
    salt = secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), _PBKDF2_ROUNDS)
    return f"{salt}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (constant-time comparison)."""
    salt, _, expected = stored.partition("$")
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), _PBKDF2_ROUNDS)
    return hmac.compare_digest(digest.hex(), expected)


def new_id(prefix: str) -> str:
    """A random id such as ``usr_3f9a…``."""
    return f"{prefix}_{secrets.token_hex(8)}"


def new_token() -> str:
    """An unguessable URL-safe token."""
    return secrets.token_urlsafe(24)


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time equality for a secret that may be missing."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def is_reserved_identity(email: str, credentials: SandboxCredentials) -> bool:
    """True for the test identity and ``smoke+<anything>@sandbox.test``: all cleanup may touch."""
    email = email.strip()
    return (
        email.lower() == credentials.test_email.lower()
        or _RESERVED_PATTERN.fullmatch(email) is not None
    )
