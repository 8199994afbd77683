"""Different sizes meet in one frame without stretching."""

from __future__ import annotations

import numpy as np
import pytest

from shared.errors import ServiceError
from tests.support.images import astronaut
from worker.geometry import common_frame


def test_larger_b_is_scaled_and_cropped_to_a() -> None:
    a = np.zeros((100, 200, 3), dtype=np.uint8)
    b = np.zeros((400, 400, 3), dtype=np.uint8)
    frame = common_frame(a, b)
    assert frame.a.shape == frame.b.shape == (100, 200, 3)
    assert "scaled to 200x200" in frame.note


def test_larger_a_is_cropped_and_its_margins_have_no_counterpart() -> None:
    a = np.zeros((400, 400, 3), dtype=np.uint8)
    b = np.zeros((100, 200, 3), dtype=np.uint8)
    frame = common_frame(a, b)
    assert frame.a.shape == frame.b.shape == (100, 200, 3)
    placed = frame.place_in_a(np.zeros((100, 200), dtype=np.float32))
    assert placed.shape == (200, 200)
    assert np.isnan(placed[:50]).all() and np.isnan(placed[150:]).all()
    assert not np.isnan(placed[50:150]).any()


def test_aspect_ratio_is_preserved_not_stretched() -> None:
    photo = astronaut()  # 512 x 512
    wide = photo[128:384]  # 512 x 256 centre band
    frame = common_frame(wide, photo)
    # B covers A's 512x256 frame at scale 1 and its centre crop is exactly A's pixels.
    assert np.array_equal(frame.b, wide)


def test_too_small_for_the_method_is_422() -> None:
    with pytest.raises(ServiceError) as caught:
        common_frame(np.zeros((5, 50, 3), np.uint8), np.zeros((50, 50, 3), np.uint8), min_side=11)
    assert caught.value.status_code == 422
    assert "11x11" in caught.value.message
