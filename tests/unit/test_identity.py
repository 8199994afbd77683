"""'identical' means the same size, the same pixels and the same transparency, whatever a
method's frame looked like: checked over a corpus of edits of real images, each decoded from
real files as the service decodes them."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.images import astronaut, encode, logo_rgba, png
from worker.decode import DecodedImage, decode_image
from worker.identity import identical, size_note

LIMIT = 40_000_000


def _decoded(data: bytes) -> DecodedImage:
    return decode_image(data, "image", LIMIT)


def _edits() -> dict[str, tuple[bytes, bytes, bool]]:
    """Name -> (file A, file B, identical?)."""
    photo = astronaut()[:200, :300]
    logo = logo_rgba()
    one_pixel = photo.copy()
    one_pixel[100, 150, 1] ^= 1
    one_alpha = logo.copy()
    one_alpha[60, 200, 3] = 200 if one_alpha[60, 200, 3] != 200 else 201
    opaque_logo = _decoded(png(logo)).pixels  # the logo's transparent area made opaque white
    white = np.full((50, 50, 3), 255, np.uint8)
    return {
        "same file": (png(photo), png(photo), True),
        "same pixels, other encoder settings": (
            png(photo),
            encode(photo, "PNG", compress_level=0),
            True,
        ),
        "same pixels, PNG and BMP": (png(photo), encode(photo, "BMP"), True),
        "same logo with its transparency": (png(logo), encode(logo, "PNG", optimize=True), True),
        "one pixel changed by one level": (png(photo), png(one_pixel), False),
        "one pixel's opacity changed": (png(logo), png(one_alpha), False),
        "transparent area made opaque white": (png(logo), png(opaque_logo), False),
        "a 1-pixel crop": (png(photo), png(photo[:, 1:]), False),
        "white 50x50 and 80x50": (png(white), png(np.full((50, 80, 3), 255, np.uint8)), False),
        "JPEG copy": (png(photo), encode(photo, "JPEG", quality=100), False),
    }


EDITS = _edits()


@pytest.mark.parametrize("name", EDITS)
def test_identical_only_when_size_pixels_and_alpha_agree(name: str) -> None:
    data_a, data_b, expected = EDITS[name]
    a, b = _decoded(data_a), _decoded(data_b)
    assert identical(a, b) is expected
    assert identical(b, a) is expected


def test_different_sizes_are_said() -> None:
    a = _decoded(png(np.full((50, 50, 3), 255, np.uint8)))
    b = _decoded(png(np.full((50, 80, 3), 255, np.uint8)))
    assert size_note(a, b) == (
        "The sizes differ: B is 80x50 pixels, A 50x50, so they are not identical."
    )
    assert size_note(a, a) == ""
    # B turned back by a quarter turn is compared at its turned size.
    assert size_note(_decoded(png(np.zeros((80, 50, 3), np.uint8))), b, quarter_turns=1) == ""
