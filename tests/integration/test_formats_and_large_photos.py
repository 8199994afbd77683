"""Everyday inputs through the real service: a 48 MP phone photo (decoded at reduced scale, not
refused), AVIF and HEIC files made here from real photos, and those formats cut short."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from shared.image_header import ACCEPTED_MIME_TYPES
from shared.settings import Settings
from tests.conftest import MAX_IMAGE_PIXELS, MAX_UPLOAD_BYTES
from tests.support.checks import assert_error
from tests.support.images import astronaut, coffee, encode, jpeg
from tests.support.service import Service

PHONE_SIZE = (8000, 6000)  # a 48 MP phone photo


def _compare(service: Service, a: tuple[str, bytes], b: tuple[str, bytes], method: str):
    with service.client() as client:
        return client.post(
            "/api/v1/compare", files={"image_a": a, "image_b": b}, data={"method": method}
        )


@pytest.fixture(scope="module")
def phone_photo() -> bytes:
    """A real photo upscaled to 48 MP: smooth, so it stays under the tests' upload limit."""
    big = cv2.resize(coffee(), PHONE_SIZE, interpolation=cv2.INTER_CUBIC)
    data = jpeg(big, quality=80)
    assert len(data) < MAX_UPLOAD_BYTES
    return data


def test_the_limits_offer_avif_and_heic_and_the_declared_size_limit(service: Service) -> None:
    with service.client() as client:
        limits = client.get("/api/v1/methods").json()["limits"]
    assert {"image/avif", "image/heic", "image/heif"} <= set(limits["accepted_types"])
    assert limits["accepted_types"] == list(ACCEPTED_MIME_TYPES)
    # What the gateway refuses (413) is the declared-size limit, not the decode bound.
    declared = Settings.model_fields["max_declared_pixels"].default
    assert limits["max_image_pixels"] == declared > PHONE_SIZE[0] * PHONE_SIZE[1]


def test_a_48_mp_phone_photo_is_compared_by_every_method(
    service: Service, phone_photo: bytes
) -> None:
    assert PHONE_SIZE[0] * PHONE_SIZE[1] > MAX_IMAGE_PIXELS  # over the tests' decode bound
    copy = jpeg(cv2.resize(coffee(), (800, 600), interpolation=cv2.INTER_AREA), quality=90)
    response = _compare(service, ("phone.jpg", phone_photo), ("copy.jpg", copy), "all")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["image_a"]["width"], body["image_a"]["height"]) == PHONE_SIZE
    assert body["image_a"]["format"] == "JPEG"
    ran = {result["method"]: result for result in body["results"]}
    assert {"ssim", "ms_ssim", "pixel", "phash", "vgg16", "resnet50", "mobilenet_v2"} <= set(ran)
    assert body["unavailable"] == {}
    # Decoded at half scale: 4000x3000 is within the tests' 20 MP bound, 8000x6000 is not.
    assert (body["image_a"]["decoded_width"], body["image_a"]["decoded_height"]) == (4000, 3000)
    assert body["image_b"]["decoded_width"] is None  # 800x600: decoded at full size
    for result in ran.values():
        assert (result["image_a"]["width"], result["image_a"]["height"]) == PHONE_SIZE
        assert result["image_a"]["decoded_width"] == 4000
    # The same picture at two sizes: the structural and hash methods see it.
    assert ran["ssim"]["score"] > 0.9
    assert ran["phash"]["metrics"]["phash_distance"] <= 4


@pytest.mark.parametrize("method", ["ssim", "phash", "mobilenet_v2"])
def test_a_48_mp_photo_against_itself_is_identical(
    service: Service, phone_photo: bytes, method: str
) -> None:
    """One method at a time (a method that needs few pixels decodes further reduced)."""
    response = _compare(service, ("a.jpg", phone_photo), ("b.jpg", phone_photo), method)
    assert response.status_code == 200, response.text
    assert response.json()["score"] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("fmt", ["AVIF", "HEIF"])
def test_avif_and_heic_photos_are_compared(service: Service, fmt: str) -> None:
    photo = astronaut()
    data = encode(photo, fmt, quality=85)
    response = _compare(service, ("photo." + fmt.lower(), data), ("a.jpg", jpeg(photo)), "ssim")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["image_a"]["format"] == fmt
    assert (body["image_a"]["width"], body["image_a"]["height"]) == (512, 512)
    assert body["score"] > 0.9  # the same photo, encoded twice
    other = _compare(service, ("x." + fmt.lower(), data), ("c.jpg", jpeg(coffee())), "ssim")
    assert other.status_code == 200, other.text
    assert other.json()["score"] < body["score"] - 0.3


def test_a_heic_against_an_avif_by_every_method(service: Service) -> None:
    photo = coffee()
    heic, avif = encode(photo, "HEIF", quality=85), encode(photo, "AVIF", quality=85)
    response = _compare(service, ("a.heic", heic), ("b.avif", avif), "all")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["image_a"]["format"], body["image_b"]["format"]) == ("HEIF", "AVIF")
    assert body["unavailable"] == {}
    assert {result["method"] for result in body["results"]} >= {"ssim", "pixel", "phash"}


@pytest.mark.parametrize("fmt", ["AVIF", "HEIF"])
@pytest.mark.parametrize("method", ["ssim", "mobilenet_v2"])
def test_a_truncated_avif_or_heic_is_422(service: Service, fmt: str, method: str) -> None:
    data = encode(astronaut(), fmt, quality=85)
    cut = data[: len(data) // 2]
    response = _compare(service, ("a.jpg", jpeg(astronaut())), ("b", cut), method)
    error = assert_error(response, 422, "corrupt_image")
    assert error["detail"]["field"] == "image_b"
    assert "truncated or corrupt" in error["message"]


def test_a_grey_heic_and_a_transparent_avif_decode(service: Service) -> None:
    grey = cv2.cvtColor(astronaut(), cv2.COLOR_RGB2GRAY)
    rgba = np.dstack([astronaut(), np.full((512, 512), 255, np.uint8)])
    rgba[:, :256, 3] = 0  # left half transparent: white once composited
    response = _compare(
        service, ("g.heic", encode(grey, "HEIF")), ("t.avif", encode(rgba, "AVIF")), "pixel"
    )
    assert response.status_code == 200, response.text
