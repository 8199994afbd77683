"""The API key is checked from the headers, before the gateway reads a byte of the body."""

from __future__ import annotations

from tests.support.checks import assert_error
from tests.unit.api.conftest import (
    build_gateway,
    call_asgi,
    http_scope,
    metrics_text,
    post_pair,
    run_coroutine,
)

KEY = "s3cret"
MULTIPART = "multipart/form-data; boundary=x"


def test_without_the_key_the_api_answers_401_and_the_worker_is_never_asked() -> None:
    gateway = build_gateway(api_key=KEY)
    anonymous = post_pair(gateway)
    wrong = post_pair(gateway, headers={"X-API-Key": "guess"})
    methods = gateway.client.get("/api/v1/methods", headers={"X-API-Key": KEY[:-1]})
    legacy = gateway.client.post("/compare", files={"image1": ("a", b"x"), "image2": ("b", b"x")})
    for response in (anonymous, wrong, methods, legacy):
        error = assert_error(response, 401, "unauthorized")
        assert "X-API-Key" in error["message"]
        assert response.headers["WWW-Authenticate"] == "ApiKey"
    assert gateway.worker.requests == []
    allowed = post_pair(gateway, headers={"X-API-Key": KEY})
    assert allowed.status_code == 200, allowed.text
    assert gateway.client.get("/health").status_code == 200  # stays open
    metrics = metrics_text(gateway)
    assert 'isc_gateway_rejected_total{reason="unauthorized"} 4.0' in metrics


def test_401_is_sent_before_the_body_is_read() -> None:
    """A client declaring 40 MB gets its answer while the body is still on its way."""
    gateway = build_gateway(api_key=KEY)
    headers = {"Content-Type": MULTIPART, "Content-Length": str(40 * 2**20)}
    for path in ("/api/v1/compare", "/compare"):
        answer = run_coroutine(call_asgi(gateway.app, http_scope(path, headers)))
        assert answer.status == 401 and not answer.body_read, (path, answer)
        assert b'"unauthorized"' in answer.body


def test_openapi_describes_the_key_for_swagger_authorize() -> None:
    spec = build_gateway(api_key=KEY).client.get("/openapi.json").json()
    scheme = spec["components"]["securitySchemes"]["APIKeyHeader"]
    assert scheme == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": scheme["description"],
    }
    for path, verb in (
        ("/api/v1/compare", "post"),
        ("/compare", "post"),
        ("/api/v1/methods", "get"),
    ):
        operation = spec["paths"][path][verb]
        assert {"APIKeyHeader": []} in operation["security"], path
    assert "401" in spec["paths"]["/api/v1/compare"]["post"]["responses"]
    assert "security" not in spec["paths"]["/health"]["get"]


def test_without_a_key_configured_the_document_asks_for_none() -> None:
    """An open service that declared a key would tell clients (and schemathesis) to send one."""
    spec = build_gateway().client.get("/openapi.json").json()
    assert "securitySchemes" not in spec.get("components", {})
    assert "security" not in spec["paths"]["/api/v1/compare"]["post"]
