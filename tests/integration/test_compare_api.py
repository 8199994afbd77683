"""Every method end to end through the real gateway and worker, with real photos."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.support.checks import decode_data_url
from tests.support.images import astronaut, coffee, jpeg, png
from tests.support.paths import EINSTEIN, MOBILENET_V2_WEIGHTS, photo, require
from tests.support.service import Service

METHODS = ["ssim", "ms_ssim", "pixel", "phash", "vgg16", "resnet50", "mobilenet_v2"]
PIXEL_METHODS = {"ssim": "structural", "ms_ssim": "structural", "pixel": "pixel", "phash": "hash"}


def _compare(service: Service, a: bytes, b: bytes, method: str, **fields: str):
    with service.client() as client:
        return client.post(
            "/api/v1/compare",
            files={"image_a": ("a.jpg", a), "image_b": ("b.jpg", b)},
            data={"method": method, **fields},
        )


@pytest.mark.parametrize("method", METHODS)
def test_every_method_returns_a_complete_result(service: Service, method: str) -> None:
    a = astronaut()
    noisy = np.clip(a + np.random.default_rng(0).normal(0, 12, a.shape), 0, 255).astype(np.uint8)
    response = _compare(service, jpeg(a), jpeg(noisy[:, 64:448]), method)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["method"] == method
    assert body["family"] == PIXEL_METHODS.get(method, "semantic")
    assert -1.0 <= body["score"] <= 1.0
    assert body["similarity_percent"] == pytest.approx(
        max(0, min(1, body["score"])) * 100, abs=0.01
    )
    assert body["verdict"] in {
        "identical",
        "near-duplicate",
        "same-subject",
        "related",
        "different",
        "uncalibrated",
    }
    assert len(body["explanation"]) > 100
    described = ("width", "height", "format", "mode", "bytes", "decoded_width")
    assert {key: body["image_a"][key] for key in described} == {
        "width": 512,
        "height": 512,
        "format": "JPEG",
        "mode": "RGB",
        "bytes": len(jpeg(a)),
        "decoded_width": None,  # decoded at full size
    }
    assert (body["image_b"]["width"], body["image_b"]["height"]) == (384, 512)
    heatmap = decode_data_url(body["heatmap"])
    assert heatmap.width == heatmap.height  # image A is square
    assert set(body["heatmap_legend"]) == {"low", "high", "no_counterpart", "scale"}
    timings = body["timings"]
    for key in ("decode_ms", "compute_ms", "heatmap_ms", "worker_ms", "total_ms"):
        assert timings[key] > 0
    assert timings["total_ms"] >= timings["worker_ms"]
    assert response.headers["Server-Timing"] == (
        f'gateway;dur={timings["total_ms"]:.3f};desc="receipt to answer", '
        f'worker;dur={timings["worker_ms"]:.3f};desc="inside the worker"'
    )
    if method in PIXEL_METHODS:
        assert body["weights"] == "none"
    elif method == "mobilenet_v2" and MOBILENET_V2_WEIGHTS.exists():
        assert body["weights"] == "imagenet"
    else:
        assert body["weights"] == "random-init"
        assert body["verdict"] == "uncalibrated"
        assert any("random weights" in warning for warning in body["warnings"])


def test_ssim_over_http_reproduces_the_published_value(service: Service) -> None:
    original = require(EINSTEIN / "einstein.gif").read_bytes()
    blurred = require(EINSTEIN / "blur.gif").read_bytes()
    body = _compare(service, original, blurred, "ssim").json()
    assert body["score"] == pytest.approx(0.694, abs=0.001)
    assert body["image_a"]["format"] == "GIF"


@pytest.mark.parametrize("method", METHODS)
def test_identical_images_are_identical(service: Service, method: str) -> None:
    data = png(coffee())
    body = _compare(service, data, data, method).json()
    assert body["score"] == pytest.approx(1.0, abs=1e-5)
    assert body["verdict"] == "identical"


def test_ssim_and_the_cnn_disagree_on_two_photos_of_one_subject(service: Service) -> None:
    """The point of the product: SSIM calls two cat photos different, the CNN calls them alike."""
    require(MOBILENET_V2_WEIGHTS)
    cat, cat_2, hot_dog = photo("cat.png"), photo("cat_2.png"), photo("hot_dog.jpg")
    ssim_same = _compare(service, cat, cat_2, "ssim").json()["score"]
    cnn_same = _compare(service, cat, cat_2, "mobilenet_v2").json()["score"]
    cnn_other = _compare(service, cat, hot_dog, "mobilenet_v2").json()["score"]
    assert ssim_same < 0.4  # structurally different pictures
    assert cnn_same > cnn_other + 0.15  # but the same kind of subject
    assert cnn_same > ssim_same


def test_a_wider_b_is_cropped_not_stretched_and_the_heatmap_keeps_as_shape(
    service: Service,
) -> None:
    a = coffee()  # 600 x 400
    b = np.concatenate(
        [np.zeros((400, 150, 3), np.uint8), a, np.zeros((400, 150, 3), np.uint8)], axis=1
    )
    body = _compare(service, png(a), png(b), "ssim", align="false").json()
    assert body["score"] > 0.99  # B's centre crop is A itself
    assert "centre-cropped" in body["preparation"]
    assert body["alignment"] is None
    heatmap = decode_data_url(body["heatmap"])
    assert heatmap.width / heatmap.height == pytest.approx(600 / 400, rel=0.01)


def test_png_heatmaps_on_request_are_lossless_and_kept_apart_from_jpeg_ones(
    service: Service,
) -> None:
    a, b = png(coffee()), png(coffee()[:, ::-1])
    first = _compare(service, a, b, "ssim").json()
    lossless = _compare(service, a, b, "ssim", heatmap_format="png").json()
    again = _compare(service, a, b, "ssim").json()
    jpeg_map = np.asarray(decode_data_url(first["heatmap"], "jpeg"), dtype=np.int16)
    png_map = np.asarray(decode_data_url(lossless["heatmap"], "png"), dtype=np.int16)
    assert jpeg_map.shape == png_map.shape
    # The same picture: JPEG at quality 90 with colour subsampled 4:2:0 moves colours by a
    # few levels on average (3.2 on this pair, whose mirrored halves differ in fine detail).
    assert np.abs(jpeg_map - png_map).mean() < 4
    assert len(lossless["heatmap"]) > 3 * len(first["heatmap"])
    assert lossless["score"] == first["score"]
    assert again["timings"]["result_cache_hit"] and again["heatmap"] == first["heatmap"]
    refused = _compare(service, a, b, "ssim", heatmap_format="gif")
    assert refused.status_code == 422


def test_legacy_endpoint_keeps_the_original_contract(service: Service) -> None:
    a = jpeg(astronaut())
    with service.client() as client:
        default = client.post("/compare", files={"image1": ("1.jpg", a), "image2": ("2.jpg", a)})
        alias = client.post(
            "/compare",
            files={"image1": ("1.jpg", a), "image2": ("2.png", png(coffee()))},
            data={"model": "mobilenet"},
        )
    assert default.status_code == 200, default.text
    assert set(default.json()) == {"similarity_score", "model_used", "heatmap_image"}
    assert default.json()["model_used"] == "ssim"
    assert default.json()["similarity_score"] == pytest.approx(1.0)
    decode_data_url(default.json()["heatmap_image"], "png")
    assert alias.status_code == 200, alias.text
    assert alias.json()["model_used"] == "mobilenet_v2"
    assert 0.0 <= alias.json()["similarity_score"] <= 1.0


def test_methods_lists_all_four_with_availability(service: Service) -> None:
    with service.client() as client:
        methods = client.get("/api/v1/methods").json()["methods"]
    assert [m["name"] for m in methods] == METHODS
    for entry in methods:
        assert entry["available"] is True
        assert entry["state"] == "ready"
        assert len(entry["description"]) > 20


def test_health_reports_gateway_worker_and_models(service: Service) -> None:
    health = service.health()
    assert health["status"] == "ok"
    assert health["gateway"] == "ready"
    assert health["worker"] == "ready"
    assert health["worker_pid"] > 0
    assert set(health["models_loaded"]) == {"vgg16", "resnet50", "mobilenet_v2"}
    assert health["models_unavailable"] == {}


def test_openapi_documents_every_result_field(service: Service) -> None:
    with service.client() as client:
        spec = client.get("/openapi.json").json()
        docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert {"/api/v1/compare", "/compare", "/api/v1/methods", "/health"} <= set(spec["paths"])
    compare = spec["paths"]["/api/v1/compare"]["post"]
    assert {"413", "415", "422", "503", "504"} <= set(compare["responses"])
    result = spec["components"]["schemas"]["CompareResult"]
    for name in (
        "method",
        "score",
        "similarity_percent",
        "verdict",
        "explanation",
        "heatmap",
        "timings",
    ):
        assert name in result["properties"]
    schemas = spec["components"]["schemas"]
    for model in ("CompareResult", "Timings", "ImageInfo", "HeatmapLegend", "LegacyCompareResult"):
        for name, field in schemas[model]["properties"].items():
            assert field.get("description"), f"{model}.{name} has no description"
            nested = "$ref" in json.dumps(field)
            assert nested or "examples" in field, f"{model}.{name} has no example"


@pytest.mark.parametrize(
    ("method", "a", "b", "verdict"),
    [
        ("ssim", "einstein.gif", "meanshift.gif", "near-duplicate"),
        ("ssim", "einstein.gif", "jpg.gif", "same-subject"),
        ("ssim", "cat.png", "hot_dog.jpg", "different"),
        ("ssim", "cat.png", "cat_2.png", "different"),
        ("ms_ssim", "einstein.gif", "meanshift.gif", "near-duplicate"),
        ("phash", "cat.png", "hot_dog.jpg", "different"),
        ("mobilenet_v2", "cat.png", "cat_2.png", "same-subject"),
        ("mobilenet_v2", "cat.png", "potato_chips.png", "different"),
    ],
)
def test_calibrated_verdicts(service: Service, method: str, a: str, b: str, verdict: str) -> None:
    if method == "mobilenet_v2":
        require(MOBILENET_V2_WEIGHTS)

    def load(name: str) -> bytes:
        return require(EINSTEIN / name).read_bytes() if name.endswith(".gif") else photo(name)

    body = _compare(service, load(a), load(b), method).json()
    assert body["calibrated"] is True
    assert body["verdict"] == verdict
    assert f"'{verdict}'" in body["explanation"]
