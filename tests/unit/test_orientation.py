"""Turned and mirrored copies are recognised from their hashes and turned back exactly;
symmetric pictures and different photos are left as they came."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.images import astronaut, coffee
from tests.support.paths import PHOTOS, require
from worker.decode import decode_image
from worker.orientation import Orientation, find_orientation, turn_back

ALL = [(turns, mirrored) for mirrored in (False, True) for turns in range(4)]


def _turned(pixels: np.ndarray, turns: int, mirrored: bool) -> np.ndarray:
    """The copy that ``Orientation(turns, mirrored)`` turns back into ``pixels``."""
    out = np.rot90(pixels, -turns)
    return np.ascontiguousarray(out[:, ::-1] if mirrored else out)


@pytest.mark.parametrize(("turns", "mirrored"), ALL)
def test_every_orientation_of_a_photo_is_found_and_undone_exactly(
    turns: int, mirrored: bool
) -> None:
    a = coffee()
    found = find_orientation(a, _turned(a, turns, mirrored))
    assert (found.quarter_turns, found.mirrored) == (turns, mirrored)
    assert np.array_equal(turn_back(_turned(a, turns, mirrored), found), a)


def test_a_compressed_and_resized_turned_copy_is_still_found() -> None:
    import cv2

    a = astronaut()
    small = cv2.resize(a, (256, 256), interpolation=cv2.INTER_AREA)
    encoded = cv2.imencode(".jpg", _turned(small, 1, True), [cv2.IMWRITE_JPEG_QUALITY, 30])[1]
    found = find_orientation(a, cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED))
    assert (found.quarter_turns, found.mirrored) == (1, True)
    assert found.bits is not None and found.bits_as_given is not None
    assert found.bits <= 10 < found.bits_as_given


def test_a_symmetric_picture_keeps_its_orientation() -> None:
    half = astronaut()[:, :256]
    symmetric = np.ascontiguousarray(np.hstack([half, half[:, ::-1]]))
    assert not find_orientation(symmetric, symmetric[:, ::-1]).changed


def test_different_photos_are_never_turned() -> None:
    require(PHOTOS)
    photos = [
        decode_image(path.read_bytes(), path.name, 10**8).pixels
        for path in sorted(PHOTOS.iterdir())
        if path.suffix.lower() in {".png", ".jpg"}
    ]
    for i, a in enumerate(photos):
        for b in photos[i + 1 :]:
            assert find_orientation(a, b) == Orientation(
                0, False, *[find_orientation(a, b).bits] * 2
            )


def test_orientation_words_and_angles() -> None:
    assert Orientation(1, False).rotation_deg == -90  # B was turned clockwise
    assert Orientation(3, False).rotation_deg == 90
    assert Orientation(2, True).describe() == (
        "B is A turned upside down (half a turn) and mirrored left to right"
    )
