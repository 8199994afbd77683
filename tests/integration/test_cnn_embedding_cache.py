"""Through the real gateway and worker: an image has one MobileNetV2 embedding, whatever it is
compared with, so the embedding cache answers it in a pair with another partner."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from tests.support.images import png
from tests.support.paths import photo
from tests.support.service import Service


def _unique(name: str, salt: int) -> bytes:
    """A shared photo with one corner pixel changed: bytes no other test has sent (the caches
    start cold for it), the content unchanged for the network."""
    pixels = np.array(Image.open(io.BytesIO(photo(name))).convert("RGB"))
    pixels[0, 0] = (salt * 37 % 256, salt * 91 % 256, 7)
    return png(pixels)


def _compare(service: Service, a: bytes, b: bytes) -> dict:
    with service.client() as client:
        response = client.post(
            "/api/v1/compare",
            files={"image_a": ("a.png", a), "image_b": ("b.png", b)},
            data={"method": "mobilenet_v2", "align": "false"},
        )
    assert response.status_code == 200, response.text
    return response.json()


def test_an_image_seen_with_another_partner_comes_from_the_cache(service: Service) -> None:
    x = _unique("cat.png", 1)  # 512x341
    y = _unique("dog_1.png", 2)  # 512x341
    z = _unique("parrot.jpg", 3)  # 512x929: another shape, so no shared input shape either
    first = _compare(service, x, y)
    assert first["weights"] == "imagenet"
    assert first["timings"]["cache_hits"] == 0
    assert "the same whatever it is compared with" in first["preparation"]
    # X is now image B, beside a partner of another shape: its embedding is not recomputed.
    second = _compare(service, z, x)
    assert second["timings"]["cache_hits"] == 1
    # Swapped roles: both from the cache, and the same score (the cosine of the same vectors).
    swapped = _compare(service, y, x)
    assert swapped["timings"]["cache_hits"] == 2
    assert not swapped["timings"]["result_cache_hit"]
    assert swapped["score"] == first["score"]
