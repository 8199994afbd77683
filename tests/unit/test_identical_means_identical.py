"""'identical' means the same size, pixels and transparency: over a corpus of small edits of a
real photo, no method of the worker's service ever says 'identical', and the photo against a
byte-different file with the same pixels always does."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from shared.settings import Settings
from tests.support.images import encode, png
from tests.support.paths import photo
from worker.decode import decode_image
from worker.methods.base import CompareOptions
from worker.registry import build_registry
from worker.service import ComparisonService


@pytest.fixture(scope="module")
def service() -> ComparisonService:
    settings = Settings(cnn_methods="", result_cache_bytes=0)
    return ComparisonService(build_registry(settings), settings)


def _edits(pixels: np.ndarray) -> dict[str, np.ndarray]:
    height, width = pixels.shape[:2]
    one_pixel = pixels.copy()
    one_pixel[height // 2, width // 2] = 255 - one_pixel[height // 2, width // 2]
    grey = cv2.cvtColor(cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    return {
        "one pixel inverted": one_pixel,
        "brighter by one level": np.clip(pixels.astype(np.int16) + 1, 0, 255).astype(np.uint8),
        "shifted by one pixel": np.roll(pixels, 1, axis=1),
        "one column cropped": pixels[:, 1:],
        "mirrored": pixels[:, ::-1],
        "turned": np.rot90(pixels),
        "greyscale": grey,
        "half size": cv2.resize(pixels, (width // 2, height // 2), interpolation=cv2.INTER_AREA),
        "on a larger canvas": cv2.copyMakeBorder(pixels, 4, 4, 4, 4, cv2.BORDER_CONSTANT),
    }


def test_no_edit_is_ever_identical_and_the_same_pixels_always_are(
    service: ComparisonService,
) -> None:
    pixels = decode_image(photo("parrot.jpg"), "a", 10**8).pixels
    original = png(pixels)
    for name, edited in _edits(pixels).items():
        result = service.compare(
            "all", original, png(np.ascontiguousarray(edited)), CompareOptions()
        )
        verdicts = {r.method.value: r.verdict.value for r in result.results}
        assert "identical" not in verdicts.values(), (name, verdicts)
        assert result.combined.verdict.value != "identical", name
    same = service.compare("all", original, encode(pixels, "BMP"), CompareOptions())
    assert {r.verdict.value for r in same.results} == {"identical"}
