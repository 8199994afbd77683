"""Transparency beside the colour: the pixel method counts changes of opacity, the other methods
say on which background they compared, and the alpha follows the colour through the geometry."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.support.images import encode, logo_rgba, png
from worker.decode import DecodedImage, decode_image
from worker.geometry import prepare_pair
from worker.methods.base import CompareOptions
from worker.methods.ms_ssim import MsSsimMethod
from worker.methods.phash import PerceptualHashMethod
from worker.methods.pixel import ALPHA_JND, PixelDifferenceMethod
from worker.methods.ssim import SsimMethod
from worker.orientation import oriented
from worker.transparency import with_alpha

LIMIT = 40_000_000
BACKGROUND = "transparent areas were composited over white"


def _decoded(data: bytes) -> DecodedImage:
    return decode_image(data, "image", LIMIT)


@pytest.fixture(scope="module")
def logo() -> DecodedImage:
    return _decoded(png(logo_rgba()))


@pytest.fixture(scope="module")
def opaque_logo(logo: DecodedImage) -> DecodedImage:
    """The same logo with its transparent area made opaque white (as many editors save it)."""
    return _decoded(encode(logo.pixels, "PNG"))


def test_a_background_made_opaque_is_counted_apart_from_the_colour(
    logo: DecodedImage, opaque_logo: DecodedImage
) -> None:
    assert logo.alpha is not None and opaque_logo.alpha is None
    expected = float((logo.alpha < 255 - ALPHA_JND).mean()) * 100  # 72.7 % of the logo
    for align in (True, False):
        result = PixelDifferenceMethod().compare(logo, opaque_logo, CompareOptions(align=align))
        assert result.metrics["alpha_changed_percent"] == pytest.approx(expected, abs=0.05)
        assert result.metrics["changed_percent"] < 0.5  # colour over white: the same
        assert result.score > 0.995
        assert "Transparency differs (only A has transparency)" in result.preparation
        changed = np.nan_to_num(result.difference_map) > 0
        assert changed.mean() * 100 == pytest.approx(expected, abs=0.05)


def test_the_same_transparency_is_no_change(logo: DecodedImage) -> None:
    result = PixelDifferenceMethod().compare(logo, logo, CompareOptions(align=True))
    assert result.score == 1.0
    assert result.metrics["alpha_changed_percent"] == 0.0
    assert "Transparency is the same" in result.preparation


@pytest.mark.parametrize("method", [SsimMethod(), MsSsimMethod(), PerceptualHashMethod()])
def test_colour_methods_say_on_which_background_they_compared(
    method: SsimMethod | MsSsimMethod | PerceptualHashMethod,
    logo: DecodedImage,
    opaque_logo: DecodedImage,
) -> None:
    options = CompareOptions(align=False)
    result = method.compare(logo, opaque_logo, options)
    assert result.score == pytest.approx(1.0)  # over white the two look the same
    assert f"A has transparency: {BACKGROUND}" in result.preparation
    plain = method.compare(opaque_logo, opaque_logo, options)
    assert "transparen" not in plain.preparation


@pytest.mark.parametrize(
    "edit",
    ["same size", "crop", "larger B", "squashed", "neither covers"],
)
def test_the_alpha_follows_the_colour_through_the_geometry(edit: str) -> None:
    """The pixel method sends colour and alpha through ``prepare_pair`` as one RGBA image: the
    colour must come out exactly as on its own, and an alpha made from the colour must still
    match it (a guard for any change to the geometry that would treat a fourth channel apart)."""
    photo = _decoded(encode(logo_rgba()[..., :3], "PNG")).pixels
    photo = cv2.resize(photo, (1084, 260), interpolation=cv2.INTER_AREA)
    b = {
        "same size": photo.copy(),
        "crop": np.ascontiguousarray(photo[20:240, 60:900]),
        "larger B": cv2.resize(photo, (1300, 312), interpolation=cv2.INTER_AREA),
        "squashed": cv2.resize(photo, (700, 260), interpolation=cv2.INTER_AREA),
        "neither covers": np.ascontiguousarray(photo[:200, :]),
    }[edit]
    a = photo if edit != "neither covers" else np.ascontiguousarray(photo[:, :900])

    def grey(pixels: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY)

    for align in (True, False):
        colour = prepare_pair(a, b, align=align)
        both = prepare_pair(
            with_alpha(DecodedImage.from_pixels(a, grey(a))),
            with_alpha(DecodedImage.from_pixels(b, grey(b))),
            align=align,
        )
        assert np.array_equal(both.a[..., :3], colour.a)
        assert np.array_equal(both.b[..., :3], colour.b)
        assert both.note == colour.note
        inside = both.coverage if both.coverage is not None else np.ones(both.b.shape[:2], bool)
        drift = np.abs(both.b[..., 3].astype(int) - grey(both.b[..., :3]).astype(int))
        assert drift[inside].max() <= 1


def test_a_turned_copy_is_turned_back_with_its_alpha(logo: DecodedImage) -> None:
    turned_file = _decoded(png(np.ascontiguousarray(np.rot90(logo_rgba()))))
    back, orientation = oriented(logo, turned_file)
    assert orientation.changed
    assert back.alpha is not None and logo.alpha is not None
    assert np.array_equal(back.alpha, logo.alpha)
    assert np.array_equal(back.pixels, logo.pixels)
