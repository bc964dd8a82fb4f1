"""Prefect-free judgements of the auth checks: a page's refusal, another identity's trace,
a redirect URI moved to another host, what an OpenID discovery document names.

The checks in ``flows/auth.py`` and ``tasks/refusal.py`` send the requests; what their
answers mean is decided here, so it is tested without a server.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REFUSED = (401, 403)


def page_refusal(status: int, location: str, page_path: str, login_redirect: str | None) -> bool:
    """Whether a protected page's answer to a visitor without a valid session refuses them.

    401/403 refuse; so does a redirect (3xx) to the sign-in: a Location whose path
    matches ``login_redirect`` (a glob), or, with no glob, any path but the page's own
    (a redirect to the page itself would render it next). Anything else, a 200 above
    all, shows the page.
    """
    if status in REFUSED:
        return True
    if not 300 <= status < 400 or not location:
        return False
    target = urlsplit(location).path or "/"
    if login_redirect is not None:
        return fnmatchcase(target, login_redirect)
    return target.rstrip("/") != urlsplit(page_path).path.rstrip("/")


def mentions(body: Any, word: str, at: str = "$") -> list[str]:
    """Where a string value of ``body`` holds ``word`` as a whole (case-insensitive).

    A whole word only: ``smoke-other`` is not found in ``smoke-other-2`` nor in
    ``x.smoke-other@example.com``. Returns the JSON paths of the values, ``$`` first.
    """
    if isinstance(body, dict):
        return [p for k, v in body.items() for p in mentions(v, word, f"{at}.{k}")]
    if isinstance(body, list):
        return [p for i, v in enumerate(body) for p in mentions(v, word, f"{at}[{i}]")]
    if isinstance(body, str) and word:
        whole = re.compile(rf"(?<![\w.+@-]){re.escape(word)}(?![\w+@-]|\.\w)", re.IGNORECASE)
        return [at] if whole.search(body) else []
    return []


def with_redirect_host(url: str, param: str, host: str) -> str | None:
    """``url`` with the redirect URI in query parameter ``param`` moved to ``host``.

    The redirect URI keeps its scheme, port-less, and its path and query: only the host
    is another one. None when ``url`` has no absolute http(s) URI in ``param``.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    own = next((v for k, v in query if k == param), None)
    if own is None:
        return None
    target = urlsplit(own)
    if target.scheme not in ("http", "https") or not target.hostname:
        return None
    moved = urlunsplit(target._replace(netloc=host))
    query = [(k, moved if k == param else v) for k, v in query]
    return urlunsplit(parts._replace(query=urlencode(query)))


# What an OpenID provider's discovery document names (OpenID Connect Discovery 1.0, 3).
DISCOVERY_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint")


def oidc_endpoints(doc: Any) -> tuple[dict[str, str], list[str]]:
    """The endpoints a discovery document names, and what is wrong with any of them.

    Each present endpoint must be an absolute http(s) URL; ``token_endpoint`` and
    ``jwks_uri`` are required, as for any provider that issues signed tokens.
    """
    found: dict[str, str] = {}
    problems: list[str] = []
    if not isinstance(doc, dict):
        return found, ["the discovery document is not a JSON object"]
    for name in DISCOVERY_ENDPOINTS:
        value = doc.get(name)
        if value is None:
            continue
        parts = urlsplit(value) if isinstance(value, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(f"{name} is {json.dumps(value)}, not an absolute http(s) URL")
            continue
        found[name] = value
    for name in ("token_endpoint", "jwks_uri"):
        if name not in found and not any(name in p for p in problems):
            problems.append(f"{name} is missing")
    return found, problems


def same_endpoint(a: str, b: str) -> bool:
    """Whether two URLs name the same endpoint: scheme, host, port and path (no query)."""
    pa, pb = urlsplit(a), urlsplit(b)
    return (
        pa.scheme.lower() == pb.scheme.lower()
        and (pa.hostname or "") == (pb.hostname or "")
        and pa.port == pb.port
        and (pa.path.rstrip("/") or "/") == (pb.path.rstrip("/") or "/")
    )


def jwt_segments(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """A JWT's header and claims, read without verifying anything; None for another token."""
    pieces = token.split(".")
    if len(pieces) != 3:
        return None
    decoded: list[dict[str, Any]] = []
    for piece in pieces[:2]:
        try:
            value = json.loads(base64.urlsafe_b64decode(piece + "=" * (-len(piece) % 4)))
        except (ValueError, binascii.Error):
            return None
        if not isinstance(value, dict):
            return None
        decoded.append(value)
    return decoded[0], decoded[1]
