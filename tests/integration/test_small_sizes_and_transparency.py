"""Through the real gateway and worker: MS-SSIM on small photos, transparency compared and
named, and 'identical' only for the same size, pixels and transparency (issue 23)."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.integration.test_compare_api import METHODS, _compare
from tests.support.images import jpeg, logo_rgba, png
from tests.support.paths import MOBILENET_V2_WEIGHTS, PHOTOS, photo, require
from tests.support.service import Service
from worker.methods.pixel import ALPHA_JND

BACKGROUND = "transparent areas were composited over white"


def _thumbnail(height: int) -> np.ndarray:
    """A real photo brought down to ``height`` pixels, as a thumbnailer would."""
    image = cv2.imdecode(np.frombuffer(photo("kite_and_cold.jpg"), np.uint8), cv2.IMREAD_COLOR)
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    width = round(image.shape[1] * height / image.shape[0])
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize(("height", "scales"), [(172, 5), (100, 4), (20, 1)])
def test_ms_ssim_compares_small_photos_over_the_scales_they_hold(
    service: Service, height: int, scales: int
) -> None:
    a = _thumbnail(height)
    blurred = cv2.GaussianBlur(a, (0, 0), 1.0)
    response = _compare(service, png(a), png(blurred), "ms_ssim")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["metrics"]["scales_used"] == scales
    assert 0.5 < body["score"] < 1.0
    said = f"MS-SSIM used {scales} of its 5 scales"
    assert (said in body["explanation"]) == (scales < 5)
    assert (said in body["preparation"]) == (scales < 5)


def test_ms_ssim_refuses_only_below_ssims_window(service: Service) -> None:
    tiny = png(_thumbnail(8)[:, :8])
    response = _compare(service, tiny, tiny, "ms_ssim")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "image_too_small"
    assert "8x8 pixels; this method needs at least 11x11" in error["message"]


def test_a_transparent_background_made_opaque_is_not_identical(service: Service) -> None:
    require(MOBILENET_V2_WEIGHTS)
    logo = logo_rgba()
    alpha = logo[..., 3].astype(np.float64) / 255
    over_white = np.rint(logo[..., :3] * alpha[..., None] + 255 * (1 - alpha[..., None]))
    opaque = over_white.astype(np.uint8)  # the transparent area made opaque white
    body = _compare(service, png(logo), png(opaque), "all").json()
    assert body["image_a"]["has_alpha"] is True
    assert body["image_b"]["has_alpha"] is False
    assert body["combined"]["verdict"] != "identical"
    results = {r["method"]: r for r in body["results"]}
    assert "identical" not in {r["verdict"] for r in results.values()}
    pixel = results["pixel"]
    share = float((logo[..., 3] < 255 - ALPHA_JND).mean()) * 100  # 72.7 % of the logo
    assert pixel["metrics"]["alpha_changed_percent"] == pytest.approx(share, abs=0.05)
    assert pixel["metrics"]["changed_percent"] < 0.5  # over white the colours match
    assert pixel["verdict"] == "near-duplicate"
    assert pixel["relation"]["transparency"] == "removed"
    assert "Transparency differs (only A has transparency)" in pixel["explanation"]
    for name in ("ssim", "ms_ssim", "phash", "mobilenet_v2"):
        assert f"A has transparency: {BACKGROUND}" in results[name]["explanation"], name
        assert results[name]["score"] > 0.99, name  # over white the two look the same


def test_white_images_of_different_sizes_are_not_identical(service: Service) -> None:
    small = png(np.full((50, 50, 3), 255, np.uint8))
    wide = png(np.full((50, 80, 3), 255, np.uint8))
    body = _compare(service, small, wide, "all").json()
    assert body["combined"]["verdict"] != "identical"
    assert "identical" not in body["summary"]
    results = {r["method"]: r for r in body["results"]}
    assert set(results) == set(METHODS)
    for result in results.values():
        assert result["verdict"] != "identical", result["method"]
        assert result["relation"]["sizes_differ"], result["method"]
        assert (
            result["explanation"].count(
                "The sizes differ: B is 80x50 pixels, A 50x50, so they are not identical."
            )
            == 1
        ), result["method"]
    assert results["pixel"]["score"] == 1.0
    assert results["pixel"]["verdict"] == "near-duplicate"  # equal over the common 50x50 part


@pytest.mark.parametrize(
    ("name", "data_a", "data_b"),
    [
        ("the same photo file", "cat.png", "cat.png"),
        ("a photo and the same pixels in another format", "hot_dog.jpg", "hot_dog.jpg as PNG"),
        ("a logo with transparency and the same file", "logo", "logo"),
    ],
)
def test_truly_identical_files_are_identical_for_every_method(
    service: Service, name: str, data_a: str, data_b: str
) -> None:
    def load(what: str) -> bytes:
        if what == "logo":
            return png(logo_rgba())
        if what.endswith(" as PNG"):
            with Image.open(io.BytesIO(photo(what.removesuffix(" as PNG")))) as image:
                return png(np.asarray(image.convert("RGB")))  # decoded as the worker does
        return photo(what)

    require(PHOTOS)
    body = _compare(service, load(data_a), load(data_b), "all").json()
    assert [r["verdict"] for r in body["results"]] == ["identical"] * len(METHODS), name
    assert body["combined"]["verdict"] == "identical"
    assert "The sizes differ" not in " ".join(r["explanation"] for r in body["results"])


def test_a_jpeg_copy_of_the_same_size_is_not_identical(service: Service) -> None:
    a = _thumbnail(172)
    body = _compare(service, png(a), jpeg(a, 95), "pixel").json()
    assert body["verdict"] != "identical"
    assert "The sizes differ" not in body["explanation"]
