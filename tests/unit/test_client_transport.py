"""The client's HTTP handling against ``httpx.MockTransport``: the transport is replaced, the
client's own code (error mapping, retries, Retry-After, timeouts, form fields) runs for real.
The service's real answers are checked in tests/integration/test_client.py."""

from __future__ import annotations

import email.utils
import io
import time

import httpx
import pytest
from PIL import Image

from isc_client import (
    AsyncClient,
    Client,
    ErrorCode,
    InvalidInput,
    RequestTimedOut,
    RetryPolicy,
    ScreenshotOptions,
    ServiceUnavailable,
    ServiceUnreachable,
    TooManyRequests,
    Unauthorized,
    UnexpectedAnswer,
)
from isc_client.retry import parse_retry_after
from shared.errors import ServiceError
from shared.schemas import HealthResponse
from tests.support.coroutines import run_coroutine

HEALTH = HealthResponse(status="ok", worker="ready").model_dump_json().encode()


def _error(code: ErrorCode, message: str, retry_after: str | None = None) -> httpx.Response:
    """An answer built exactly as the service builds its errors (shared.errors.ServiceError)."""
    error = ServiceError(code, message, {"why": "test"})
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(
        error.status_code, content=error.to_response().model_dump_json(), headers=headers
    )


def _client(handler, sleeps: list[float] | None = None, **options) -> Client:
    return Client(
        "http://isc.test",
        transport=httpx.MockTransport(handler),
        sleep=(sleeps.append if sleeps is not None else time.sleep),
        **options,
    )


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (ErrorCode.CORRUPT_IMAGE, InvalidInput),
        (ErrorCode.UNKNOWN_METHOD, InvalidInput),
        (ErrorCode.FILE_TOO_LARGE, InvalidInput),
        (ErrorCode.UNAUTHORIZED, Unauthorized),
        (ErrorCode.WORKER_TIMEOUT, ServiceUnavailable),
        (ErrorCode.INTERNAL_ERROR, ServiceUnavailable),
    ],
)
def test_error_answers_become_typed_exceptions_with_code_and_message(code, kind) -> None:
    with (
        _client(lambda request: _error(code, "What went wrong.")) as client,
        pytest.raises(kind) as caught,
    ):
        client.compare(b"a", b"b")
    assert caught.value.code is code and caught.value.message == "What went wrong."
    assert caught.value.detail == {"why": "test"}
    assert caught.value.status_code == ServiceError(code, "").status_code


def test_an_unknown_code_and_a_non_json_body_still_give_an_error() -> None:
    newer = httpx.Response(422, json={"error": {"code": "from_the_future", "message": "New."}})
    with _client(lambda request: newer) as client, pytest.raises(InvalidInput) as caught:
        client.health()
    assert (caught.value.code, caught.value.message) == ("from_the_future", "New.")
    proxy = httpx.Response(502, text="<html>Bad Gateway</html>")
    with _client(lambda request: proxy) as client, pytest.raises(ServiceUnavailable) as caught:
        client.health()
    assert caught.value.code is None and "Bad Gateway" in caught.value.message


def test_429_and_503_are_retried_after_the_named_delay_then_succeed() -> None:
    answers = [
        _error(ErrorCode.TOO_MANY_REQUESTS, "Busy.", "2"),
        _error(ErrorCode.WORKER_UNAVAILABLE, "Restarting.", "0.5"),
        httpx.Response(200, content=HEALTH),
    ]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[len(seen) - 1]

    sleeps: list[float] = []
    with _client(handler, sleeps) as client:
        assert client.health().status == "ok"
    assert sleeps == [2.0, 0.5] and len(seen) == 3


def test_a_retried_upload_sends_both_images_again() -> None:
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        boundary = request.headers["Content-Type"].split("boundary=")[1].encode()
        bodies.append(request.read().replace(boundary, b"BOUNDARY"))
        if len(bodies) == 1:
            return _error(ErrorCode.TOO_MANY_REQUESTS, "Busy.", "0")
        return _error(ErrorCode.CORRUPT_IMAGE, "Not an image.")

    with _client(handler, []) as client, pytest.raises(InvalidInput):
        client.compare(b"first image", b"second image", "pixel")
    assert len(bodies) == 2 and bodies[0] == bodies[1]
    assert b"first image" in bodies[1] and b"second image" in bodies[1]


def test_retries_are_bounded_by_attempts_and_by_total_wait() -> None:
    calls = 0

    def busy(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return _error(ErrorCode.TOO_MANY_REQUESTS, "Busy.", "1")

    sleeps: list[float] = []
    with (
        _client(busy, sleeps, retry=RetryPolicy(attempts=3)) as client,
        pytest.raises(TooManyRequests) as caught,
    ):
        client.health()
    assert calls == 3 and sleeps == [1.0, 1.0] and caught.value.retry_after_s == 1.0
    # A Retry-After longer than the wait budget ends the call at once instead of waiting.
    calls, sleeps = 0, []
    with (
        _client(busy, sleeps, retry=RetryPolicy(attempts=5, max_total_wait_s=0.5)) as client,
        pytest.raises(TooManyRequests),
    ):
        client.health()
    assert calls == 1 and sleeps == []


def test_other_errors_are_not_retried() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return _error(ErrorCode.WORKER_TIMEOUT, "Too slow.", "1")

    with _client(handler, []) as client, pytest.raises(ServiceUnavailable):
        client.health()
    assert calls == 1


def test_the_default_sleep_really_waits_the_retry_after() -> None:
    answers = iter([_error(ErrorCode.TOO_MANY_REQUESTS, "Busy.", "0.3")])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, httpx.Response(200, content=HEALTH))

    started = time.monotonic()
    with _client(handler) as client:
        client.health()
    assert 0.3 <= time.monotonic() - started < 2


def test_retry_after_as_seconds_or_http_date() -> None:
    now = time.time()
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(email.utils.formatdate(now + 10, usegmt=True), now) == pytest.approx(
        10, abs=1
    )
    assert parse_retry_after(email.utils.formatdate(now - 10, usegmt=True), now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_timeouts_and_connection_failures_are_named() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with _client(slow, timeout=0.5) as client, pytest.raises(RequestTimedOut, match=r"0\.5 s"):
        client.health()

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    with _client(refused) as client, pytest.raises(ServiceUnreachable, match=r"isc\.test"):
        client.health()


def test_form_fields_key_and_every_kind_of_image_input(tmp_path) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        sent.append(request)
        return _error(ErrorCode.CORRUPT_IMAGE, "stop here")

    path = tmp_path / "photo a.jpg"
    path.write_bytes(b"from a path")
    picture = Image.new("RGB", (4, 3), (200, 10, 10))
    with _client(handler, api_key="s3cret") as client:
        for a, b in [(path, b"raw"), (str(path), io.BytesIO(b"file object")), (picture, b"x")]:
            with pytest.raises(InvalidInput):
                client.compare(a, b, "Pixel", align=False, heatmap_format="none")
    body = sent[0].content
    assert sent[0].headers["X-API-Key"] == "s3cret"
    assert b'filename="photo a.jpg"' in body and b"from a path" in body and b"raw" in body
    for field, value in [("method", b"Pixel"), ("align", b"false"), ("heatmap_format", b"none")]:
        assert f'name="{field}"\r\n\r\n'.encode() + value in body
    assert b"file object" in sent[1].content
    assert b"\x89PNG" in sent[2].content  # a Pillow image goes as lossless PNG
    with pytest.raises(ValueError, match="compare_all"), _client(handler) as client:
        client.compare(b"a", b"b", "all")


def test_async_client_maps_errors_and_retries_the_same_way() -> None:
    answers = iter([_error(ErrorCode.WORKER_UNAVAILABLE, "Restarting.", "0.25")])

    async def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, _error(ErrorCode.UNKNOWN_METHOD, "No such method."))

    sleeps: list[float] = []

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    async def run() -> None:
        async with AsyncClient(
            "http://isc.test", transport=httpx.MockTransport(handler), sleep=record
        ) as client:
            with pytest.raises(InvalidInput) as caught:
                await client.compare(b"a", b"b", "nope")
            assert caught.value.code is ErrorCode.UNKNOWN_METHOD

    run_coroutine(run())
    assert sleeps == [0.25]


def test_a_success_that_is_not_the_services_answer_is_named() -> None:
    page = httpx.Response(
        200, text="<html>Welcome to nginx</html>", headers={"Content-Type": "text/html"}
    )
    with (
        _client(lambda request: page) as client,
        pytest.raises(UnexpectedAnswer, match="HealthResponse"),
    ):
        client.health()


def test_screenshot_options_are_sent_as_the_services_form_fields() -> None:
    sent: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.read())
        return _error(ErrorCode.CORRUPT_IMAGE, "stop here")

    check = ScreenshotOptions(
        threshold=0,
        antialiasing=False,
        ignore_regions=[(0, 0, 1920, 64), (1700, 900, 200, 150)],
        max_changed_pixels=0,
        max_changed_percent=0.5,
        diff_image=True,
    )
    with _client(handler) as client, pytest.raises(InvalidInput):
        client.compare(b"a", b"b", "pixel", screenshot=check)
    expected = {
        "threshold": b"0.0",
        "antialiasing": b"false",
        "ignore_regions": b"0,0,1920,64;1700,900,200,150",
        "max_changed_pixels": b"0",
        "max_changed_percent": b"0.5",
        "diff_image": b"true",
    }
    for field, value in expected.items():
        assert f'name="{field}"\r\n\r\n'.encode() + value + b"\r\n" in sent[0], field
    assert ScreenshotOptions().form_fields() == {}
