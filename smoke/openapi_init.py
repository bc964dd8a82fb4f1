"""A starting contract inferred from a target's OpenAPI document (``smoke init --openapi``).

Plain Python, no Prefect: the inference reads the document's security schemes,
security requirements, paths and response schemas, and writes what it can as contract
keys and what it cannot as ``# TODO:`` comments. Every journey part it cannot infer is
switched off or set to null, so no sandbox default silently applies to another app.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from smoke.errors import ConfigError

FETCH_TIMEOUT_S = 10.0
HEALTH_PATHS = re.compile(r"(^|/)(health|healthz|__heartbeat__|__lbheartbeat__)/?$")
VERSION_PATHS = re.compile(r"(^|/)(version|__version__)/?$")
ME_PATHS = re.compile(r"(^|/)(me|users/me|user|whoami|userinfo)/?$")
SIGNUP_PATHS = re.compile(r"(signup|sign-up|register|accounts?)(/|$)")
BILLING_PATHS = re.compile(r"(stripe|billing|checkout|subscription)")
# Keys of OpenAPI 3.0 schemas that JSON Schema 2020-12 does not know.
OPENAPI_ONLY_KEYS = ("nullable", "discriminator", "xml", "externalDocs", "example")
MAX_REF_DEPTH = 8


@dataclass
class Inferred:
    """A contract (journey name to settings), the TODOs per journey, settings to export."""

    contract: dict[str, Any]
    todos: dict[str, list[str]] = field(default_factory=dict)
    settings: list[str] = field(default_factory=list)

    def todo(self, journey: str, text: str) -> None:
        """Note one thing that could not be inferred for ``journey``."""
        self.todos.setdefault(journey, []).append(text)


def load_document(source: str) -> dict[str, Any]:
    """The OpenAPI document at ``source`` (an http(s) URL or a file), parsed.

    ConfigError (exit 2) when it cannot be read, fetched or parsed, naming the source.
    """
    if source.startswith(("http://", "https://")):
        try:
            reply = httpx.get(source, timeout=FETCH_TIMEOUT_S, follow_redirects=True)
        except httpx.HTTPError as e:
            raise ConfigError(
                f"Cannot fetch the OpenAPI document {source!r}: {type(e).__name__}: {e}. "
                "Check the URL, or save the document and give its file."
            ) from e
        if reply.status_code != 200:
            raise ConfigError(
                f"Cannot fetch the OpenAPI document {source!r}: expected status 200, got "
                f"{reply.status_code}. Check the URL (FastAPI serves /openapi.json)."
            )
        text = reply.text
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise ConfigError(f"OpenAPI document {source!r} does not exist: give a file or a URL.")
        text = path.read_text()
    try:
        # Most documents are JSON, which json reads many times faster than YAML's parser.
        data = json.loads(text)
    except ValueError:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"OpenAPI document {source!r} cannot be parsed: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("paths"), dict):
        raise ConfigError(
            f"{source!r} is not an OpenAPI document: expected a mapping with `paths`, "
            f"got {type(data).__name__}."
        )
    return data


def infer_contract(doc: dict[str, Any]) -> Inferred:
    """The starting contract for the app ``doc`` describes."""
    out = Inferred(contract={})
    ops = _operations(doc)
    out.contract["preflight"] = _preflight(doc, ops, out)
    out.contract["auth"] = _auth(doc, ops, out)
    out.contract["onboarding"] = _onboarding(ops, out)
    out.contract["billing"] = _billing(ops, out)
    out.contract["dashboard"] = _dashboard(doc, ops, out)
    return out


def render_contract(inferred: Inferred, source: str) -> str:
    """The contract as YAML, each journey headed by its TODO comments."""
    # A query string may carry a token: the file names the document without it.
    lines = [
        f"# A starting contract inferred by `smoke init --openapi` from {source.split('?')[0]}.",
        "# Review every value; check it with `smoke validate --contract <this file>`.",
    ]
    lines += [f"# Set {s}" for s in inferred.settings]
    for journey, settings in inferred.contract.items():
        lines.append("")
        lines += [f"# TODO: {t}" for t in inferred.todos.get(journey, [])]
        lines.append(yaml.safe_dump({journey: settings}, sort_keys=False, width=100).rstrip())
    return "\n".join(lines) + "\n"


Operation = tuple[str, str, dict[str, Any]]  # method, path, operation object


def _operations(doc: dict[str, Any]) -> list[Operation]:
    """Every operation, its path prefixed with the document's base path."""
    found = []
    base = _base_path(doc)
    for path, item in doc["paths"].items():
        if not isinstance(item, dict):
            continue
        for method in ("get", "post", "put", "patch", "delete"):
            op = item.get(method)
            if isinstance(op, dict):
                found.append((method.upper(), base + str(path), op))
    return found


def _base_path(doc: dict[str, Any]) -> str:
    """Swagger 2's ``basePath``, or the path of OpenAPI 3's first server (``/v1``)."""
    base = doc.get("basePath")
    servers = doc.get("servers")
    if base is None and isinstance(servers, list) and servers and isinstance(servers[0], dict):
        url = str(servers[0].get("url", ""))
        base = _path_of(url) if "://" in url or url.startswith("/") else ""
    return str(base or "").rstrip("/")


def _find(ops: list[Operation], method: str, pattern: re.Pattern[str]) -> Operation | None:
    """The first ``method`` operation whose path matches, shortest path first."""
    matches = [o for o in ops if o[0] == method and pattern.search(o[1].rstrip("/") or "/")]
    return min(matches, key=lambda o: len(o[1]), default=None)


def _preflight(doc: dict[str, Any], ops: list[Operation], out: Inferred) -> dict[str, Any]:
    part: dict[str, Any] = {}
    health = _find(ops, "GET", HEALTH_PATHS)
    if health is None:
        out.todo("preflight", "no health endpoint recognised: set preflight.health.path")
        part["health"] = {"path": "/health", "expect_status": [200], "schema": None}
    else:
        schema = _response_schema(doc, health[2])
        part["health"] = {"path": health[1], "expect_status": [200], "schema": schema}
    # status_field null would leave the schema alone to judge health: only when the
    # document gives a schema with no status field, so a check is never vacuous.
    schema = part["health"]["schema"]
    if schema is not None and "status" not in schema.get("properties", {}):
        part["status_field"] = None
        out.todo("preflight", "confirm the health schema judges a healthy body (no status field)")
    else:
        part["status_field"] = "status"
        out.todo(
            "preflight",
            "confirm status_field and healthy_value (what a healthy target answers), or set "
            "status_field: null and a schema a healthy body matches, e.g. "
            "{type: object, additionalProperties: {const: true}} for per-backend booleans",
        )
    version = _find(ops, "GET", VERSION_PATHS)
    if version is not None:
        part["version"] = {"path": version[1], "schema": _response_schema(doc, version[2])}
    else:
        out.todo("preflight", "no version endpoint recognised: version_field is read from health")
    out.todo("preflight", "confirm version_field: where the deployed version is in the body")
    e2e = next((o for o in ops if o[0] == "GET" and o[1].rstrip("/").endswith("e2e/status")), None)
    if e2e is None:
        part["e2e_status"] = None
        out.todo("preflight", "no e2e status endpoint: stripe_test_mode is not applicable")
    else:
        part["e2e_status"] = {"path": e2e[1], "e2e": True, "schema": None}
    return part


def _security_scheme(doc: dict[str, Any], out: Inferred) -> tuple[str, dict[str, Any]] | None:
    """The login method: the first scheme this suite can sign in with."""
    schemes = (
        (doc.get("components") or {}).get("securitySchemes") or doc.get("securityDefinitions") or {}
    )
    for scheme in schemes.values():
        if not isinstance(scheme, dict):
            continue
        kind = scheme.get("type")
        password_flow = ((scheme.get("flows") or {}).get("password")) or {}
        if kind == "oauth2" and scheme.get("flow") == "password":  # Swagger 2
            password_flow = scheme
        if kind == "oauth2" and password_flow.get("tokenUrl"):
            out.settings.append("SMOKE_AUTH_METHOD=password (OAuth2 password grant)")
            return "password", password_flow
        if kind == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
            out.settings.append("SMOKE_AUTH_METHOD=static_token and SMOKE_TEST_TOKEN (bearer)")
            return "static_token", scheme
        if kind == "basic" or (kind == "http" and str(scheme.get("scheme", "")).lower() == "basic"):
            out.settings.append("SMOKE_AUTH_METHOD=basic (HTTP Basic with email and password)")
            return "basic", scheme
        if kind == "apiKey" and scheme.get("in") == "header":
            out.settings.append(
                f"SMOKE_AUTH_METHOD=api_key, SMOKE_API_KEY_HEADER={scheme.get('name')} "
                "and SMOKE_TEST_TOKEN"
            )
            return "api_key", scheme
    return None


def _is_protected(doc: dict[str, Any], op: dict[str, Any]) -> bool:
    """A security requirement applies, and no empty entry makes it optional."""
    requirement = op.get("security", doc.get("security")) or []
    return bool(requirement) and {} not in requirement


def _auth(doc: dict[str, Any], ops: list[Operation], out: Inferred) -> dict[str, Any]:
    part: dict[str, Any] = {}
    method = _security_scheme(doc, out)
    if method is not None and method[0] == "password":
        token_url = str(method[1]["tokenUrl"])
        if "://" in token_url:
            out.todo(
                "auth",
                f"tokenUrl {token_url} is absolute: the login path assumes the API's origin "
                "(another origin goes in allowed_origins)",
            )
        part["login"] = {
            "request": {
                "method": "POST",
                "path": _path_of(token_url),
                "body_format": "form",
                "body": {
                    "grant_type": "password",
                    "username": "{{email}}",
                    "password": "{{password}}",
                },
                "expect_status": [200],
                "schema": {
                    "type": "object",
                    "required": ["access_token"],
                    "properties": {"access_token": {"type": "string"}},
                },
            },
            "token_field": "access_token",
        }
    elif method is None:
        out.todo(
            "auth",
            "no security scheme this suite can sign in with: set SMOKE_AUTH_METHOD and, "
            "for password or cookie_session, auth.login",
        )
    # Only routes a GET can prove with no path parameter to fill.
    part["protected_routes"] = sorted(
        {p for m, p, op in ops if m == "GET" and "{" not in p and _is_protected(doc, op)}
    )
    if not part["protected_routes"]:
        out.todo("auth", "no protected GET route found in security requirements")
    me = _find(ops, "GET", ME_PATHS)
    if me is None:
        out.todo("auth", "no identity endpoint (/me) recognised: set auth.me.path")
    else:
        part["me"] = {"path": me[1], "schema": _response_schema(doc, me[2])}
    out.todo("auth", "confirm identity_field (the test identity's email in the /me body)")
    part["own_tenant"] = None
    part["tenant_name"] = None
    part["tenant_isolation"] = None
    out.todo("auth", "tenant isolation: set own_tenant, tenant_isolation and tenant_field")
    part["protected_pages"] = []
    part["browser_login"] = None
    part["sign_out"] = None
    part["forged_state"] = None
    part["foreign_redirect"] = None
    part["passkey"] = None
    out.todo(
        "auth",
        "protected_pages, browser_login, sign_out, forged_state, foreign_redirect and "
        "passkey need the UI's pages and selectors",
    )
    part["discovery"] = None
    out.todo("auth", "discovery: the OpenID discovery document's path, if the app has one")
    return part


def _onboarding(ops: list[Operation], out: Inferred) -> dict[str, Any]:
    signup = _find(ops, "POST", SIGNUP_PATHS) or _find(ops, "PUT", SIGNUP_PATHS)
    if signup is None:
        out.todo("onboarding", "no signup route found: describe the chain and enable it")
    else:
        out.todo(
            "onboarding",
            f"a signup route is {signup[0]} {signup[1]}: write the steps, inputs, "
            "cleanup and preview, then enable the journey",
        )
    return {"enabled": False}


def _billing(ops: list[Operation], out: Inferred) -> dict[str, Any]:
    routes = sorted({p for _, p, _ in ops if BILLING_PATHS.search(p)})
    if not routes:
        out.todo("billing", "no Stripe-like route found: billing stays off")
    else:
        out.todo(
            "billing",
            f"Stripe-like routes: {', '.join(routes[:6])}: configure checkout, card_form, "
            "subscription and the webhook, then enable the journey",
        )
    return {"enabled": False}


def _dashboard(doc: dict[str, Any], ops: list[Operation], out: Inferred) -> dict[str, Any]:
    endpoints: list[dict[str, Any]] = []
    names: set[str] = set()
    for method, path, op in ops:
        if method != "GET" or "{" in path:
            continue
        schema = _response_schema(doc, op)
        items_field = _items_field(schema)
        if schema is None or items_field is None:
            continue
        name = _endpoint_name(path, names)
        endpoints.append({"name": name, "path": path, "items_field": items_field, "schema": schema})
    if not endpoints:
        out.todo("dashboard", "no list endpoint (an array of objects) found: describe one")
        return {"enabled": False, "endpoints": [], "ui": None}
    out.todo("dashboard", "keep the lists the seeded test identity sees non-empty; drop others")
    out.todo("dashboard", "ui: the dashboard page's path and key elements")
    return {"endpoints": endpoints, "ui": None}


def _items_field(schema: dict[str, Any] | None) -> str | None:
    """Where the list is: ``$`` for an array body, else an array-of-objects property."""
    if not schema:
        return None
    if _is_object_array(schema):
        return "$"
    for name, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, dict) and _is_object_array(prop):
            return str(name)
    return None


def _is_object_array(schema: dict[str, Any]) -> bool:
    items = schema.get("items")
    return (
        schema.get("type") == "array" and isinstance(items, dict) and items.get("type") == "object"
    )


def _endpoint_name(path: str, taken: set[str]) -> str:
    words = [w for w in re.split(r"[^A-Za-z0-9]+", path) if w and w not in ("api", "v1", "v2")]
    base = "_".join(words[-2:]).lower() or "root"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def _path_of(url: str) -> str:
    """A tokenUrl as a path on the target (absolute URLs keep only their path)."""
    if "://" in url:
        return "/" + url.split("://", 1)[1].partition("/")[2]
    return url if url.startswith("/") else "/" + url


def _response_schema(doc: dict[str, Any], op: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON Schema of the 200 answer, refs inlined; None when it says nothing."""
    responses = op.get("responses") or {}
    reply = responses.get("200") or responses.get(200) or {}
    content = (reply.get("content") or {}).get("application/json") or {}
    schema = content.get("schema", reply.get("schema"))  # Swagger 2 has no content
    if not isinstance(schema, dict):
        return None
    resolved: dict[str, Any] = _to_json_schema(_inline(doc, schema, 0))
    meaningful = {k: v for k, v in resolved.items() if k not in ("title", "description")}
    # A body documented only as "some object" says nothing a check could hold it to.
    if not meaningful or (
        meaningful.get("type") == "object"
        and set(meaningful) <= {"type", "additionalProperties"}
        and meaningful.get("additionalProperties") in (None, True, {})
    ):
        return None
    return resolved


def _inline(doc: dict[str, Any], schema: Any, depth: int) -> Any:
    """``schema`` with local ``$ref`` replaced by what they name (recursion cut to ``{}``)."""
    if isinstance(schema, list):
        return [_inline(doc, s, depth) for s in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        if depth >= MAX_REF_DEPTH:
            return {}
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return _inline(doc, copy.deepcopy(target), depth + 1)
    return {k: _inline(doc, v, depth) for k, v in schema.items()}


def _to_json_schema(schema: Any) -> Any:
    """OpenAPI 3.0 schema keys as JSON Schema 2020-12 (``nullable`` to a null type)."""
    if isinstance(schema, list):
        return [_to_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        k: (_to_json_schema(v) if k not in ("enum", "const", "default", "required") else v)
        for k, v in schema.items()
        if k not in OPENAPI_ONLY_KEYS and k != "examples"
    }
    if schema.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def init_contract(source: str, out_file: Path, *, force: bool = False) -> Inferred:
    """Read ``source``, infer its contract and write it to ``out_file``."""
    if out_file.exists() and not force:
        raise ConfigError(f"{out_file} exists: give another --out, or --force to overwrite it.")
    inferred = infer_contract(load_document(source))
    out_file.write_text(render_contract(inferred, source))
    return inferred


__all__ = ["Inferred", "infer_contract", "init_contract", "load_document", "render_contract"]
