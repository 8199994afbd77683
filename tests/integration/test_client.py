"""The Python client against the real gateway and worker, on real photos: typed results equal
to the service's own JSON, the service's error codes as typed exceptions, a real 429 retried
after its Retry-After, the API key, timeouts and an address where nothing listens."""

from __future__ import annotations

import asyncio
import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from isc_client import (
    NO_RETRY,
    AsyncClient,
    Client,
    CompareAllResult,
    CompareResult,
    ErrorCode,
    InvalidInput,
    RequestTimedOut,
    ScreenshotOptions,
    ServiceUnreachable,
    TooManyRequests,
    Unauthorized,
)
from tests.support.coroutines import run_coroutine
from tests.support.paths import PHOTOS, photo, require
from tests.support.service import Service, free_port, running_service

KEY = "s3cret"


@pytest.fixture(scope="module")
def secured(log_dir: Path) -> Iterator[Service]:
    """A service with an API key and room for one comparison at a time (no CNNs: fast start)."""
    with running_service(
        log_dir, "client-secured", cnn_methods="", api_key=KEY, max_inflight="1"
    ) as running:
        yield running


def test_compare_returns_the_services_result_typed(service: Service) -> None:
    cat, cat_2 = require(PHOTOS / "cat.png"), photo("cat_2.png")
    with Client(service.base_url) as client:
        result = client.compare(cat, cat_2, "ssim", heatmap_format="none")
    with service.client() as raw:
        expected = raw.post(
            "/api/v1/compare",
            files={"image_a": ("cat.png", cat.read_bytes()), "image_b": ("b.png", cat_2)},
            data={"method": "ssim", "heatmap_format": "none"},
        ).json()
    assert isinstance(result, CompareResult)
    assert result.score == expected["score"] and result.verdict.value == expected["verdict"]
    assert result.explanation == expected["explanation"] and result.heatmap is None
    assert (result.image_a.width, result.image_a.height) == (
        expected["image_a"]["width"],
        expected["image_a"]["height"],
    )


def test_compare_all_with_a_file_object_and_a_pil_image(service: Service) -> None:
    with (
        Client(service.base_url) as client,
        (PHOTOS / "dog_1.png").open("rb") as file,
        Image.open(io.BytesIO(photo("dog_1.png"))) as picture,
    ):
        result = client.compare_all(file, picture, heatmap_format="none")
    assert isinstance(result, CompareAllResult)
    assert {r.method.value for r in result.results} >= {"ssim", "ms_ssim", "pixel", "phash"}
    # The same pixels sent once as the PNG file and once re-encoded from Pillow.
    assert all(r.verdict.value == "identical" for r in result.results), result.summary


def test_screenshot_check_through_the_client(service: Service) -> None:
    with Image.open(PHOTOS / "cat.png") as image:
        before = image.convert("RGB")
    after = before.copy()
    after.paste((230, 20, 20), (100, 50, 112, 60))
    with Client(service.base_url) as client:
        failed = client.compare(
            before, after, "pixel", screenshot=ScreenshotOptions(max_changed_pixels=0)
        )
        ignored = client.compare(
            before,
            after,
            "pixel",
            screenshot=ScreenshotOptions(ignore_regions=[(96, 46, 20, 20)], max_changed_pixels=0),
        )
    assert failed.screenshot is not None and failed.screenshot.passed is False
    assert failed.screenshot.changed_pixels == 120  # the 12x10 box
    assert ignored.screenshot is not None and ignored.screenshot.passed is True
    assert ignored.screenshot.ignored_pixels == 400


def test_methods_and_health(service: Service) -> None:
    with Client(service.base_url) as client:
        listing, health = client.methods(), client.health()
    assert [m.name.value for m in listing.methods][:4] == ["ssim", "ms_ssim", "pixel", "phash"]
    assert listing.limits is not None and listing.limits.max_upload_bytes == 3_000_000
    assert health.status == "ok" and health.worker.value == "ready"


def test_refusals_carry_the_services_code_and_message(service: Service) -> None:
    with Client(service.base_url) as client:
        with pytest.raises(InvalidInput) as corrupt:
            client.compare(photo("cat.png")[:200], photo("cat_2.png"), "ssim")
        with pytest.raises(InvalidInput) as unknown:
            client.compare(photo("cat.png"), photo("cat_2.png"), "sift")
    assert corrupt.value.code is ErrorCode.CORRUPT_IMAGE and corrupt.value.status_code == 422
    assert "image_a" in corrupt.value.message
    assert unknown.value.code is ErrorCode.UNKNOWN_METHOD and "sift" in unknown.value.message


def test_async_client_runs_comparisons_concurrently(service: Service) -> None:
    pairs = [("cat.png", "cat_2.png"), ("dog_1.png", "dog_2.png"), ("owl.jpg", "owl.jpg")]

    async def run() -> list[CompareResult]:
        async with AsyncClient(service.base_url) as client:
            return await asyncio.gather(
                *(
                    client.compare(photo(a), photo(b), "phash", heatmap_format="none")
                    for a, b in pairs
                )
            )

    results = run_coroutine(run())
    assert [r.method.value for r in results] == ["phash"] * 3
    assert results[2].verdict.value == "identical" and results[0].score < 1


def test_timeout_and_unreachable_service(service: Service) -> None:
    with Client(service.base_url, timeout=0.001) as client, pytest.raises(RequestTimedOut):
        client.compare(photo("cat.png"), photo("cat_2.png"), "ms_ssim")
    nowhere = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with Client(nowhere) as client, pytest.raises(ServiceUnreachable, match=nowhere):
        client.health()
    assert time.monotonic() - started < 2


def test_api_key(secured: Service) -> None:
    with Client(secured.base_url) as anonymous, pytest.raises(Unauthorized) as refused:
        anonymous.methods()
    assert refused.value.code is ErrorCode.UNAUTHORIZED
    with Client(secured.base_url, api_key=KEY) as client:
        assert client.compare(photo("cat.png"), photo("cat.png"), "pixel").score == 1.0


def _hold_the_only_slot(service: Service) -> socket.socket:
    """Start a comparison that declares a 30 MB body and sends a few bytes: it holds the one
    in-flight slot until the socket closes."""
    host, port = service.base_url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=10)
    connection.sendall(
        f"POST /api/v1/compare HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {KEY}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        "Content-Length: 30000000\r\n\r\n--x\r\n".encode()
    )
    deadline = time.monotonic() + 10
    while (
        "isc_gateway_inflight_comparisons 1.0" not in httpx.get(service.base_url + "/metrics").text
    ):
        assert time.monotonic() < deadline, "the slow upload never took the slot"
        time.sleep(0.05)
    return connection


def test_a_real_429_is_retried_after_its_retry_after(secured: Service) -> None:
    a, b = photo("cat.png"), photo("cat_2.png")
    with (
        _hold_the_only_slot(secured),
        Client(secured.base_url, api_key=KEY, retry=NO_RETRY) as client,
        pytest.raises(TooManyRequests) as busy,
    ):
        client.compare(a, b, "pixel")
    assert busy.value.code is ErrorCode.TOO_MANY_REQUESTS and busy.value.retry_after_s == 1.0

    slow = _hold_the_only_slot(secured)
    threading.Timer(0.5, slow.close).start()  # the slot comes back while the client waits
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    started = time.monotonic()
    with Client(secured.base_url, api_key=KEY, sleep=sleep) as client:
        result = client.compare(a, b, "pixel", heatmap_format="none")
    assert result.method.value == "pixel"
    assert waits and set(waits) == {1.0} and time.monotonic() - started >= 1.0
