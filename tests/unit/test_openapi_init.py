"""``smoke init --openapi``: what it infers from small documents, and that the result validates."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli.main import main
from smoke.openapi_init import infer_contract, render_contract
from tests.support.openapi import validates, written

ROOT = Path(__file__).resolve().parents[2]

ITEM = {
    "type": "object",
    "required": ["id", "title"],
    "properties": {"id": {"type": "integer"}, "title": {"type": "string", "nullable": True}},
}
DOC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Notes", "version": "1"},
    "security": [{"oauth": []}],
    "components": {
        "securitySchemes": {
            "oauth": {"type": "oauth2", "flows": {"password": {"tokenUrl": "/oauth/token"}}}
        },
        "schemas": {
            "Note": ITEM,
            "Page": {
                "type": "object",
                "properties": {
                    "results": {"type": "array", "items": {"$ref": "#/components/schemas/Note"}}
                },
            },
        },
    },
    "paths": {
        "/healthz": {"get": {"security": [], "responses": {"200": {}}}},
        "/__version__": {"get": {"security": [], "responses": {"200": {}}}},
        "/v1/me": {"get": {"responses": {"200": {}}}},
        "/v1/notes": {"get": {"responses": {}}},
        "/v1/notes/{id}": {"get": {"responses": {"200": {}}}},
        "/v1/feed": {"get": {"responses": {"200": {}}}},
    },
}
DOC["paths"]["/v1/notes"]["get"]["responses"] = {
    "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Page"}}}}
}
DOC["paths"]["/v1/feed"]["get"]["responses"] = {
    "200": {
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Note"}}
            }
        }
    }
}


def test_oauth2_password_flow_becomes_a_form_login(tmp_path: Path) -> None:
    inferred = infer_contract(DOC)
    login = inferred.contract["auth"]["login"]["request"]
    assert (login["method"], login["path"], login["body_format"]) == (
        "POST",
        "/oauth/token",
        "form",
    )
    assert login["body"]["username"] == "{{email}}"
    assert any("SMOKE_AUTH_METHOD=password" in s for s in inferred.settings)


def test_protected_routes_come_from_security_requirements() -> None:
    # /healthz and /__version__ opt out with `security: []`; /v1/notes/{id} needs a value.
    assert infer_contract(DOC).contract["auth"]["protected_routes"] == [
        "/v1/feed",
        "/v1/me",
        "/v1/notes",
    ]


def test_list_endpoints_keep_their_response_schemas_with_refs_inlined() -> None:
    endpoints = infer_contract(DOC).contract["dashboard"]["endpoints"]
    by_path = {e["path"]: e for e in endpoints}
    assert set(by_path) == {"/v1/notes", "/v1/feed"}
    assert by_path["/v1/feed"]["items_field"] == "$"
    assert by_path["/v1/notes"]["items_field"] == "results"
    item = by_path["/v1/notes"]["schema"]["properties"]["results"]["items"]
    assert item["required"] == ["id", "title"]
    # OpenAPI 3.0's nullable becomes a JSON Schema null type.
    assert item["properties"]["title"] == {"type": ["string", "null"]}


def test_health_version_and_me_are_recognised() -> None:
    contract = infer_contract(DOC).contract
    assert contract["preflight"]["health"]["path"] == "/healthz"
    assert contract["preflight"]["version"]["path"] == "/__version__"
    assert contract["auth"]["me"]["path"] == "/v1/me"


@pytest.mark.parametrize(
    ("scheme", "setting"),
    [
        ({"type": "http", "scheme": "bearer"}, "SMOKE_AUTH_METHOD=static_token"),
        ({"type": "http", "scheme": "basic"}, "SMOKE_AUTH_METHOD=basic"),
        (
            {"type": "apiKey", "in": "header", "name": "X-Token"},
            "SMOKE_AUTH_METHOD=api_key, SMOKE_API_KEY_HEADER=X-Token",
        ),
    ],
)
def test_other_security_schemes_name_the_auth_method(scheme: dict[str, Any], setting: str) -> None:
    doc = {**DOC, "components": {"securitySchemes": {"s": scheme}}}
    inferred = infer_contract(doc)
    assert any(s.startswith(setting) for s in inferred.settings), inferred.settings
    assert "login" not in inferred.contract["auth"]


def test_what_cannot_be_inferred_is_a_todo_and_switched_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = written(tmp_path, DOC)
    text = out.read_text()
    assert "# TODO: no Stripe-like route found" in text
    assert "# TODO: no signup route found" in text
    assert "# TODO: tenant isolation" in text
    contract = yaml.safe_load(text)
    assert contract["billing"] == {"enabled": False}
    assert contract["onboarding"] == {"enabled": False}
    assert contract["auth"]["tenant_isolation"] is None
    # The sandbox's pages, sign-out and tenant name are not this app's.
    assert contract["auth"]["tenant_name"] is None
    assert contract["auth"]["protected_pages"] == []
    assert contract["auth"]["sign_out"] is None
    validates(out, monkeypatch)


def test_a_document_with_nothing_recognisable_still_validates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = written(tmp_path, {"openapi": "3.1.0", "paths": {}})
    text = out.read_text()
    assert "# TODO: no health endpoint recognised" in text
    assert "# TODO: no list endpoint" in text
    assert yaml.safe_load(text)["dashboard"]["enabled"] is False
    validates(out, monkeypatch)


def test_swagger_2_base_path_and_basic_auth() -> None:
    doc = {
        "swagger": "2.0",
        "basePath": "/v1",
        "securityDefinitions": {"basic": {"type": "basic"}},
        "paths": {
            "/__heartbeat__": {"get": {"responses": {"200": {}}}},
            "/records": {
                "get": {
                    "security": [{"basic": []}],
                    "responses": {
                        "200": {
                            "schema": {
                                "type": "object",
                                "properties": {"data": {"type": "array", "items": ITEM}},
                            }
                        }
                    },
                }
            },
        },
    }
    inferred = infer_contract(doc)
    assert inferred.contract["preflight"]["health"]["path"] == "/v1/__heartbeat__"
    assert inferred.contract["auth"]["protected_routes"] == ["/v1/records"]
    assert inferred.contract["dashboard"]["endpoints"][0]["items_field"] == "data"
    assert any(s.startswith("SMOKE_AUTH_METHOD=basic") for s in inferred.settings)


def test_swagger_2_password_flow_becomes_a_form_login() -> None:
    scheme = {"type": "oauth2", "flow": "password", "tokenUrl": "https://api.example.com/token"}
    doc = {"swagger": "2.0", "securityDefinitions": {"o": scheme}, "paths": {}}
    inferred = infer_contract(doc)
    login = inferred.contract["auth"]["login"]["request"]
    assert (login["path"], login["body_format"]) == ("/token", "form")
    assert any(
        "tokenUrl https://api.example.com/token is absolute" in t for t in inferred.todos["auth"]
    )


def test_an_existing_out_file_is_kept_unless_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "openapi.json"
    source.write_text(json.dumps(DOC))
    out = tmp_path / "contract.yaml"
    out.write_text("mine\n")
    assert main(["init", "--openapi", str(source), "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert out.read_text() == "mine\n"
    assert main(["init", "--openapi", str(source), "--out", str(out), "--force"]) == 0
    assert "preflight:" in out.read_text()


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "does not exist"), ("[1, 2", "cannot be parsed"), ("{}", "not an OpenAPI document")],
)
def test_a_bad_document_exits_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    source = tmp_path / "openapi.json"
    if content is not None:
        source.write_text(content)
    assert main(["init", "--openapi", str(source), "--out", str(tmp_path / "c.yaml")]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "c.yaml").exists()


@pytest.fixture
def served_document() -> Iterator[str]:
    """DOC at a loopback URL; any other path answers 404."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == "/openapi.json"
            body = json.dumps(DOC).encode() if found else b"{}"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_url_is_fetched(tmp_path: Path, served_document: str) -> None:
    out = tmp_path / "c.yaml"
    assert main(["init", "--openapi", f"{served_document}/openapi.json", "--out", str(out)]) == 0
    assert yaml.safe_load(out.read_text())["auth"]["me"]["path"] == "/v1/me"


def test_a_url_that_cannot_be_fetched_exits_2(
    tmp_path: Path, served_document: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "c.yaml"
    assert main(["init", "--openapi", f"{served_document}/missing", "--out", str(out)]) == 2
    assert "expected status 200, got 404" in capsys.readouterr().err
    # A closed port: refused at once, and said so.
    assert main(["init", "--openapi", "http://127.0.0.1:9/openapi.json", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Cannot fetch the OpenAPI document" in err
    assert "Traceback" not in err


def test_render_puts_each_todo_above_its_journey() -> None:
    text = render_contract(infer_contract(DOC), "openapi.json")
    billing_todo = text.index("# TODO: no Stripe-like route found")
    assert text.index("onboarding:") < billing_todo < text.index("billing:")
