"""Every failure of the hop to the worker becomes an error a client can act on."""

from __future__ import annotations

import httpx
import pytest

from shared.errors import ErrorCode, ServiceError
from tests.support.checks import assert_error
from tests.unit.api.conftest import Gateway, post_pair


def _worker_answers(gateway: Gateway, response: httpx.Response) -> None:
    async def reply(_: httpx.Request) -> httpx.Response:
        return response

    gateway.worker.reply = reply


def _worker_raises(gateway: Gateway, error: Exception) -> None:
    async def reply(_: httpx.Request) -> httpx.Response:
        raise error

    gateway.worker.reply = reply


def test_the_workers_own_error_is_passed_on(gateway: Gateway) -> None:
    error = ServiceError(ErrorCode.IMAGE_TOO_SMALL, "image_b is smaller than 11x11.", {"x": 1})
    _worker_answers(
        gateway,
        httpx.Response(error.status_code, content=error.to_response().model_dump_json().encode()),
    )
    body = assert_error(post_pair(gateway), 422, "image_too_small")
    assert body["message"] == "image_b is smaller than 11x11." and body["detail"] == {"x": 1}


def test_a_busy_workers_retry_after_is_passed_on(gateway: Gateway) -> None:
    error = ServiceError(ErrorCode.METHOD_UNAVAILABLE, "MobileNetV2 is still loading.")
    _worker_answers(
        gateway,
        httpx.Response(
            503,
            content=error.to_response().model_dump_json().encode(),
            headers={"Retry-After": "7"},
        ),
    )
    response = post_pair(gateway, "mobilenet_v2")
    assert_error(response, 503, "method_unavailable")
    assert response.headers["Retry-After"] == "7"


def test_an_answer_without_our_error_shape_is_503(gateway: Gateway) -> None:
    _worker_answers(gateway, httpx.Response(500, text="Internal Server Error"))
    error = assert_error(post_pair(gateway), 503, "worker_unavailable")
    assert "500 without an explanation" in error["message"]


@pytest.mark.parametrize(
    ("failure", "status", "code", "words"),
    [
        (httpx.ConnectError("refused"), 503, "worker_unavailable", "ConnectError"),
        (httpx.ConnectTimeout("slow"), 503, "worker_unavailable", "timed out"),
        (httpx.RemoteProtocolError("hung up"), 503, "worker_unavailable", "RemoteProtocol"),
        (httpx.ReadTimeout("slow"), 504, "worker_timeout", "did not answer within"),
    ],
)
def test_transport_failures_map_to_503_or_504(
    gateway: Gateway, failure: Exception, status: int, code: str, words: str
) -> None:
    _worker_raises(gateway, failure)
    response = post_pair(gateway)
    error = assert_error(response, status, code)
    assert words in error["message"]
    if status == 503:
        assert response.headers["Retry-After"] == "1"


def test_a_worker_that_is_not_there_is_not_called(gateway: Gateway) -> None:
    gateway.locator.reachable = False
    gateway.locator.state = "restarting"
    gateway.locator.error = "the worker process exited with code -9"
    response = post_pair(gateway)
    error = assert_error(response, 503, "worker_unavailable")
    assert "restarting" in error["message"] and "code -9" in error["message"]
    assert error["detail"] == {"worker_state": "restarting"}
    assert gateway.worker.requests == []
    assert gateway.app.state.admission.inflight == 0
