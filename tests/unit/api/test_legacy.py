"""``POST /compare``: the original contract, served from the worker's result."""

from __future__ import annotations

import threading

import httpx
import pytest

import api.routes.legacy
from tests.support.checks import assert_error
from tests.unit.api.conftest import GOOD_A, GOOD_B, HEATMAP, Gateway, build_gateway, compare_result


def _legacy(gateway: Gateway, **data: str) -> httpx.Response:
    return gateway.client.post(
        "/compare", files={"image1": ("1.jpg", GOOD_A), "image2": ("2.png", GOOD_B)}, data=data
    )


def test_the_original_answer_with_a_png_heatmap_and_ssim_by_default(gateway: Gateway) -> None:
    response = _legacy(gateway)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "similarity_score": 0.75,
        "model_used": "ssim",
        "heatmap_image": HEATMAP,
    }
    (sent,) = gateway.worker.requests
    assert sent.url.params["method"] == "ssim"
    assert sent.url.params["heatmap_format"] == "png"  # the original contract promised a PNG
    assert gateway.worker.chunks == [[GOOD_A, GOOD_B]]


@pytest.mark.parametrize(("model", "method"), [("mobilenet", "mobilenet_v2"), ("VGG16", "vgg16")])
def test_legacy_names_and_any_case(gateway: Gateway, model: str, method: str) -> None:
    response = _legacy(gateway, model=model)
    assert response.status_code == 200, response.text
    assert response.json()["model_used"] == method
    assert gateway.worker.requests[0].url.params["method"] == method


def test_the_score_is_clipped_to_0_1() -> None:
    gateway = build_gateway()

    async def negative(_: httpx.Request) -> httpx.Response:
        body = compare_result("ssim", score=-0.25).model_dump_json().encode()
        return httpx.Response(200, content=body)

    gateway.worker.reply = negative
    assert _legacy(gateway).json()["similarity_score"] == 0.0


def test_an_unknown_model_is_422(gateway: Gateway) -> None:
    assert_error(_legacy(gateway, model="alexnet"), 422, "unknown_method")
    assert gateway.worker.requests == []


def test_the_answer_is_rewritten_off_the_event_loop(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parsing a worker answer of megabytes would stall every other request on the loop."""
    threads: dict[str, int] = {}
    rewrite = api.routes.legacy._legacy_json

    def recording(body: bytes) -> bytes:
        threads["rewrite"] = threading.get_ident()
        return rewrite(body)

    async def worker(_: httpx.Request) -> httpx.Response:
        threads["event_loop"] = threading.get_ident()  # the fake worker runs on the loop
        return httpx.Response(200, content=compare_result("ssim").model_dump_json().encode())

    monkeypatch.setattr(api.routes.legacy, "_legacy_json", recording)
    gateway.worker.reply = worker
    assert _legacy(gateway).status_code == 200
    assert threads["rewrite"] != threads["event_loop"]
