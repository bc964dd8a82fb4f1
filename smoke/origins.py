"""Where a run may send requests, and so its credentials: the environment's own origins.

An origin is scheme, host and port (``https://staging.example.com``; a default port is
left out). An environment's origins are its base URL, its API URL and its Stripe API
base, plus whatever ``allowed_origins`` lists (an identity provider on a host of its
own, say). Every request the suite makes goes to one of them, so tokens, passwords,
cookies and the e2e token can reach nothing else:

- an absolute URL anywhere in the contract (any ``path``, ``start_path``,
  ``page_path``...) to another origin is a configuration error naming its key path;
- a URL that carries a user name or password (``http://user:pw@host``) is refused,
  and the error never repeats the password;
- ``tasks/http.py:send`` checks the rendered URL of every request once more, since a
  placeholder may only become an absolute URL at run time.

Pure functions over strings, ``SmokeConfig`` and ``SuiteSpec``; no network, no Prefect.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel

from smoke.errors import ConfigError

if TYPE_CHECKING:
    from smoke.config import SmokeConfig
    from smoke.spec import SuiteSpec

DEFAULT_PORTS = {"http": 80, "https": 443}
ALLOWED_ORIGINS_SETTING = "allowed_origins (SMOKE_ALLOWED_ORIGINS, a JSON list)"
# Request data, not request targets: a body may well carry a URL (a return_url) that is
# sent to the target itself, and JSON Schemas name theirs in "$schema" and "$id".
DATA_FIELDS = frozenset({"body", "params", "schema_", "inputs"})
# `scheme://...`, or protocol-relative `//host/...` (a browser resolves that to another host).
_ABSOLUTE = re.compile(r"^\s*(?:[A-Za-z][A-Za-z0-9+.-]*:)?//")


def is_absolute(url: str) -> bool:
    """True for ``https://host/...`` and protocol-relative ``//host/...`` URLs."""
    return bool(_ABSOLUTE.match(url))


def has_credentials(url: str) -> bool:
    """True when the URL carries a user name or password before its host."""
    return "@" in _netloc(url)


def _netloc(url: str) -> str:
    """The part between ``//`` and the path, even of a URL urlsplit refuses (``http://[::1``)."""
    try:
        return urlsplit(url.strip()).netloc
    except ValueError:
        return url.strip().split("//", 1)[-1].split("/", 1)[0]


def redact(url: str) -> str:
    """``url`` safe to print: user name and password replaced by ``***``."""
    netloc = _netloc(url)
    if "@" not in netloc:
        return url
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.replace(netloc, f"***@{netloc.rsplit('@', 1)[1]}", 1)
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


def origin(url: str) -> str:
    """``scheme://host[:port]`` of an absolute http(s) URL, lower-cased, default port left out.

    Raises ValueError for anything else (no scheme, no host, another scheme, a bad port).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {redact(url)!r}")
    port = parts.port  # ValueError for a port that is not a number
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def resolve(base: str, path: str) -> str:
    """The URL a request for ``path`` goes to, the way the HTTP client and browser resolve it.

    A relative path is appended to ``base``; an absolute URL stays what it is; a
    protocol-relative one takes ``base``'s scheme.
    """
    path = path.strip()
    if path.startswith("//"):
        return f"{urlsplit(base).scheme}:{path}"
    if is_absolute(path):
        return path
    return base.rstrip("/") + "/" + path.lstrip("/")


def allowed_origins(config: SmokeConfig) -> frozenset[str]:
    """The origins ``config`` may send requests and credentials to."""
    urls = [config.base_url, config.api_base, config.stripe_api_base, *config.allowed_origins]
    found = set()
    for url in urls:
        if url:
            try:
                found.add(origin(url))
            except ValueError:
                continue  # validation reports a malformed URL setting by its name
    return frozenset(found)


def may_send_credentials(url: str, origins: Iterable[str]) -> bool:
    """May a token, password, cookie or the e2e token go with a request to ``url``?"""
    if has_credentials(url):
        return False
    try:
        return origin(url) in set(origins)
    except ValueError:
        return False


def absolute_urls(spec: SuiteSpec) -> list[tuple[str, str]]:
    """Every absolute URL in the contract, with its key path (``auth.me.path``)."""
    return list(_walk(spec, ""))


def _walk(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        if is_absolute(value):
            yield where, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            if name not in DATA_FIELDS:
                yield from _walk(getattr(value, name), f"{where}.{name}" if where else name)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _walk(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{where}.{key}")


def check_url_settings(config: SmokeConfig) -> None:
    """Refuse URL settings that carry a user name or password; the message never shows it."""
    settings = {
        "base_url": config.base_url,
        "api_url": config.api_url,
        "stripe_api_base": config.stripe_api_base,
        "slack_api_url": config.slack_api_url or "",
    }
    settings |= {f"allowed_origins[{i}]": url for i, url in enumerate(config.allowed_origins)}
    for name, url in settings.items():
        if url and has_credentials(url):
            env_var = "SMOKE_" + name.split("[")[0].upper()
            raise ConfigError(
                f"The {name} of environment {config.name!r} carries a user name or password "
                f"({redact(url)}). Credentials in a URL end up in logs, reports and browser "
                f"traces: remove them from {env_var} and configure authentication through "
                "auth_method, static_token or the test identity instead."
            )
    for i, url in enumerate(config.allowed_origins):
        try:
            origin(url)
        except ValueError:
            raise ConfigError(
                f"allowed_origins[{i}] of environment {config.name!r} is {redact(url)!r}, "
                "which is not an http(s) origin. Example: "
                "SMOKE_ALLOWED_ORIGINS='[\"https://login.example.com\"]'"
            ) from None


def check_contract_origins(config: SmokeConfig, spec: SuiteSpec) -> None:
    """Refuse every absolute URL in the contract that leaves the environment's origins."""
    origins = allowed_origins(config)
    foreign = []
    for where, url in absolute_urls(spec):
        target = resolve(config.base_url, url)
        if not may_send_credentials(target, origins):
            foreign.append(f"{where} = {redact(url)}")
    if foreign:
        raise ConfigError(
            f"The contract of environment {config.name!r} sends requests outside the "
            f"environment: {'; '.join(foreign)}. Requests carry the test identity's "
            f"credentials, so they may only go to {', '.join(sorted(origins))}. Use a path "
            f"relative to base_url/api_url, or list a trusted origin in {ALLOWED_ORIGINS_SETTING}."
        )


def url_glob(pattern: str) -> re.Pattern[str]:
    """A URL glob as Playwright reads one: ``**`` any characters, ``*`` any but ``/``."""
    parts = re.split(r"(\*\*|\*)", pattern)
    regex = "".join(
        ".*" if part == "**" else "[^/]*" if part == "*" else re.escape(part) for part in parts
    )
    return re.compile(regex)


def url_matches(pattern: str, url: str) -> bool:
    """Whether ``url`` without its query and fragment matches the URL glob ``pattern``."""
    bare = url.split("#", 1)[0].split("?", 1)[0]
    return url_glob(pattern).fullmatch(bare) is not None
