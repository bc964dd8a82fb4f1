"""Prefect-free judgements of the auth checks: a page's refusal, another identity's trace.

The checks in ``flows/auth.py`` and ``tasks/refusal.py`` send the requests; what their
answers mean is decided here, so it is tested without a server.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

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
