"""Upload checks and the hop to the worker: sizes, bytes sniffed, any-case method names, a
multipart body required, and both files streamed to the worker A then B, never joined."""

from __future__ import annotations

import pytest

from tests.support.checks import assert_error
from tests.unit.api.conftest import (
    GOOD_A,
    GOOD_B,
    MAX_UPLOAD_BYTES,
    Gateway,
    call_asgi,
    http_scope,
    post_pair,
    run_coroutine,
)


def test_both_files_are_streamed_to_the_worker_a_then_b(gateway: Gateway) -> None:
    response = post_pair(gateway, "ssim", data={"align": "false", "heatmap_format": "png"})
    assert response.status_code == 200, response.text
    (sent,) = gateway.worker.requests
    assert sent.url.path == "/v1/compare"
    assert dict(sent.url.params) == {
        "method": "ssim",
        "image_a_bytes": str(len(GOOD_A)),
        "align": "false",
        "heatmap_format": "png",
    }
    assert gateway.worker.bodies == [GOOD_A + GOOD_B]
    assert sent.headers["content-length"] == str(len(GOOD_A) + len(GOOD_B))
    assert "transfer-encoding" not in sent.headers
    assert sent.headers["x-request-id"] == response.headers["x-request-id"]
    # The two uploads as they were, one after the other: never joined (a copy of up to 40 MB).
    assert gateway.worker.chunks == [[GOOD_A, GOOD_B]]


@pytest.mark.parametrize("spelling", ["SSIM", "Ssim", " ssim ", "ALL", "Mobilenet_V2"])
def test_the_method_is_matched_in_any_case(gateway: Gateway, spelling: str) -> None:
    response = post_pair(gateway, spelling)
    assert response.status_code == 200, response.text
    assert gateway.worker.requests[0].url.params["method"] == spelling.strip().lower()


def test_an_unknown_method_is_still_422(gateway: Gateway) -> None:
    error = assert_error(post_pair(gateway, "SIFT"), 422, "unknown_method")
    assert "'SIFT'" in error["message"] and "mobilenet_v2" in error["message"]
    assert gateway.worker.requests == []


@pytest.mark.parametrize("path", ["/api/v1/compare", "/compare"])
def test_a_json_body_is_400_malformed_request_before_it_is_read(
    gateway: Gateway, path: str
) -> None:
    response = gateway.client.post(path, json={"image_a": "x", "image_b": "y", "method": "ssim"})
    error = assert_error(response, 400, "malformed_request")
    assert "multipart/form-data" in error["message"]
    assert error["detail"] == {"content_type": "application/json"}
    headers = {"Content-Type": "application/json", "Content-Length": "100"}
    answer = run_coroutine(call_asgi(gateway.app, http_scope(path, headers)))
    assert answer.status == 400 and not answer.body_read
    assert gateway.worker.requests == []


def test_a_file_over_the_limit_is_413_and_not_forwarded(gateway: Gateway) -> None:
    big = GOOD_B + b"\0" * MAX_UPLOAD_BYTES
    error = assert_error(post_pair(gateway, b=big), 413, "file_too_large")
    assert error["detail"] == {"field": "image_b", "limit_bytes": MAX_UPLOAD_BYTES}
    assert gateway.worker.requests == []


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"", 422, "empty_file"),
        (b"%PDF-1.4 not a picture" * 10, 415, "unsupported_media_type"),
    ],
)
def test_bad_files_are_refused_by_their_bytes(
    gateway: Gateway, data: bytes, status: int, code: str
) -> None:
    error = assert_error(post_pair(gateway, a=data), status, code)
    assert error["detail"]["field"] == "image_a"
    assert gateway.worker.requests == []


def test_a_missing_file_is_422(gateway: Gateway) -> None:
    response = gateway.client.post(
        "/api/v1/compare", files={"image_a": ("a", GOOD_A)}, data={"method": "ssim"}
    )
    error = assert_error(response, 422, "validation_error")
    assert "image_b" in error["message"]
