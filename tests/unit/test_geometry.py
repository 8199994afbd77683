"""Different sizes meet in one frame without stretching."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from shared.errors import ServiceError
from tests.support.images import astronaut
from worker.geometry import common_frame, prepare_pair


def test_larger_b_is_scaled_and_cropped_to_a() -> None:
    photo = astronaut()  # 512 x 512
    a = photo[128:384]  # its centre band, 512 x 256
    b = cv2.resize(photo, (1024, 1024), interpolation=cv2.INTER_CUBIC)  # all of it, twice as big
    frame = common_frame(a, b)
    assert frame.a.shape == frame.b.shape == (256, 512, 3)
    assert "scaled to 512x512" in frame.note
    # Halved (not squeezed into A's shape) and centre-cropped, B shows A's own pixels.
    assert np.abs(frame.b.astype(int) - a).mean() < 3


def test_larger_a_is_cropped_and_its_margins_have_no_counterpart() -> None:
    a = cv2.resize(astronaut(), (400, 400), interpolation=cv2.INTER_AREA)
    b = cv2.resize(a[100:300], (200, 100), interpolation=cv2.INTER_AREA)  # A's centre band, halved
    frame = common_frame(a, b)
    assert frame.a.shape == frame.b.shape == (100, 200, 3)
    assert np.abs(frame.a.astype(int) - b).mean() < 3  # A halved and centre-cropped: B's pixels
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


@pytest.mark.parametrize(
    ("a_size", "b_size"),
    [
        ((200, 1000), (500, 500)),  # A wide, B tall: neither covers the other
        ((500, 500), (200, 1000)),
        ((343, 512), (500, 500)),  # two calibration photos: bird against potato chips
        ((100, 200), (400, 400)),  # B covers A
        ((400, 400), (100, 200)),  # A covers B
        ((300, 300), (300, 200)),  # equal on one side
    ],
)
def test_no_image_is_ever_scaled_up(a_size: tuple[int, int], b_size: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (*a_size, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (*b_size, 3), dtype=np.uint8)
    frame = prepare_pair(a, b, align=False)
    assert frame.a.shape == frame.b.shape
    height, width = frame.a.shape[:2]
    for source in (a, b):
        assert height <= source.shape[0] and width <= source.shape[1]
    assert frame.a_scaled_size[0] <= a_size[0] and frame.a_scaled_size[1] <= a_size[1]
    top, left = frame.a_offset
    assert top + height <= frame.a_scaled_size[0] and left + width <= frame.a_scaled_size[1]


def test_when_neither_covers_the_other_both_are_cropped_unscaled_to_the_common_window() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (200, 1000, 3), dtype=np.uint8)  # 1000x200
    b = rng.integers(0, 256, (500, 500, 3), dtype=np.uint8)  # 500x500
    frame = prepare_pair(a, b, align=False)
    assert frame.a.shape == frame.b.shape == (200, 500, 3)
    assert np.array_equal(frame.a, a[:, 250:750]) and np.array_equal(frame.b, b[150:350])
    assert frame.a_scaled_size == (200, 1000) and frame.a_offset == (0, 250)
    assert "Neither image covers the other" in frame.note and "without scaling" in frame.note
    placed = frame.place_in_a(np.zeros((200, 500), dtype=np.float32))
    assert placed.shape == (200, 1000)
    assert np.isnan(placed[:, :250]).all() and not np.isnan(placed[:, 250:750]).any()
