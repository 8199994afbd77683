"""The screenshot check's maths: anti-aliasing detection against pixelmatch's own, changed
pixels against pixelmatch's on anti-aliasing-free images, region boxes, the diff image, and the
``ignore_regions`` field."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image
from pixelmatch import pixelmatch
from pixelmatch.utils import antialiased as pixelmatch_antialiased

from shared.ignore_regions import format_ignore_regions, parse_ignore_regions
from tests.support.images import png
from worker.decode import DecodedImage, decode_image
from worker.methods.base import CompareOptions
from worker.methods.pixel import PixelDifferenceMethod
from worker.screenshot import (
    DIM,
    FADE,
    Picture,
    antialiased,
    changed_regions,
    diff_image,
    exact_difference,
    luma_of,
)


def _blocks(seed: int, height: int = 120, width: int = 160) -> np.ndarray:
    """Flat rectangles of saturated colours on white: no anti-aliasing anywhere."""
    rng = np.random.default_rng(seed)
    image = np.full((height, width, 3), 255, np.uint8)
    palette = np.array([[200, 30, 30], [30, 30, 200], [20, 160, 40], [0, 0, 0], [240, 200, 0]])
    for _ in range(12):
        y, x = rng.integers(0, height - 10), rng.integers(0, width - 10)
        image[y : y + rng.integers(3, 30), x : x + rng.integers(3, 40)] = palette[
            rng.integers(len(palette))
        ]
    return image


def _pixelmatch_mask(a: np.ndarray, b: np.ndarray, include_aa: bool) -> tuple[int, np.ndarray]:
    """pixelmatch's count and its red (changed) pixels."""
    height, width = a.shape[:2]
    rgba_a = np.dstack([a, np.full(a.shape[:2], 255, np.uint8)]).tobytes()
    rgba_b = np.dstack([b, np.full(b.shape[:2], 255, np.uint8)]).tobytes()
    output = bytearray(len(rgba_a))
    count = pixelmatch(rgba_a, rgba_b, width, height, output, includeAA=include_aa)
    drawn = np.frombuffer(bytes(output), np.uint8).reshape(height, width, 4)
    red = (drawn[..., 0] == 255) & (drawn[..., 1] == 0) & (drawn[..., 2] == 0)
    return count, red


def test_the_same_changed_pixels_as_pixelmatch_without_anti_aliasing() -> None:
    a = _blocks(1)
    b = a.copy()
    b[10:30, 20:50] = (30, 30, 200)  # a block recoloured
    b[60, 80] = (0, 0, 0)  # one pixel
    b[100:104, 5:9] = 255 - b[100:104, 5:9]  # inverted
    b[40:50, 100:120] = np.clip(b[40:50, 100:120].astype(int) + 1, 0, 255)  # invisible to both
    count, red = _pixelmatch_mask(a, b, include_aa=True)
    ours = exact_difference(a, b, None, None, 2.3, False, ())
    assert count > 600
    assert int(ours.changed.sum()) == count
    assert np.array_equal(ours.changed, red)


def _rendered_pair() -> tuple[np.ndarray, np.ndarray]:
    """Text drawn anti-aliased by FreeType (PIL), then with one digit changed."""
    from PIL import ImageDraw, ImageFont

    def draw(text: str) -> np.ndarray:
        image = Image.new("RGB", (150, 40), "white")
        font = ImageFont.load_default(size=22)
        ImageDraw.Draw(image).text((6, 6), text, fill=(30, 30, 30), font=font)
        return np.asarray(image)

    return draw("$49.99 x"), draw("$59.99 x")


def test_anti_aliasing_detection_agrees_with_pixelmatch_pixel_by_pixel() -> None:
    a, b = _rendered_pair()
    height, width = a.shape[:2]
    ys, xs = np.nonzero(np.any(a != b, axis=2))
    assert ys.size > 50
    ours = antialiased(Picture(a), Picture(b), ys, xs)
    rgba_a = np.dstack([a, np.full((height, width), 255, np.uint8)]).ravel().tolist()
    rgba_b = np.dstack([b, np.full((height, width), 255, np.uint8)]).ravel().tolist()
    theirs = [
        pixelmatch_antialiased(rgba_a, int(x), int(y), width, height, rgba_b)
        for y, x in zip(ys, xs, strict=True)
    ]
    assert ours.tolist() == theirs
    assert 0 < sum(theirs) < len(theirs)  # both kinds present


def test_one_pixel_change_is_counted_at_full_resolution() -> None:
    """A 1920x1080 pair differing in one pixel: the smoothed, reduced comparison would lose it."""
    a = np.full((1080, 1920, 3), 250, np.uint8)
    a[500:600, 900:1100] = (40, 90, 160)
    b = a.copy()
    b[300, 1500] = (200, 0, 0)
    image_a = decode_image(png(a), "a", 10**8)
    image_b = decode_image(png(b), "b", 10**8)
    for antialiasing in (True, False):
        result = PixelDifferenceMethod().compare(
            image_a, image_b, CompareOptions(antialiasing=antialiasing, max_changed_pixels=0)
        )
        check = result.screenshot
        assert check is not None
        assert (check.changed_pixels, check.region_count, check.passed) == (1, 1, False)
        region = check.regions[0]
        assert (region.x, region.y, region.width, region.height) == (1500, 300, 1, 1)
        assert check.summary.startswith("1 region changed (1 pixels")
        assert result.score < 1.0


def test_same_size_pngs_are_checked_without_options_and_jpegs_are_not() -> None:
    a = _blocks(2)
    b = a.copy()
    b[5, 5] = (0, 0, 0)
    pngs = [decode_image(png(image), "x", 10**8) for image in (a, b)]
    result = PixelDifferenceMethod().compare(*pngs, CompareOptions())
    assert result.screenshot is not None and result.screenshot.passed is None
    wrapped = [DecodedImage.from_pixels(image) for image in (a, b)]  # no format: photos path
    assert PixelDifferenceMethod().compare(*wrapped, CompareOptions()).screenshot is None


def test_regions_are_boxed_largest_first_with_their_colour_differences() -> None:
    changed = np.zeros((50, 60), bool)
    delta = np.zeros((50, 60), np.float32)
    changed[2:4, 3:6] = True  # 6 px
    delta[2:4, 3:6] = 10.0
    changed[20:30, 40:45] = True  # 50 px
    delta[20:30, 40:45] = 4.0
    delta[25, 42] = 30.0
    changed[45, 1] = True  # 1 px
    delta[45, 1] = 3.0
    regions, total = changed_regions(changed, delta, gap=0)
    assert total == 3
    assert [(r.x, r.y, r.width, r.height, r.pixels) for r in regions] == [
        (40, 20, 5, 10, 50),
        (3, 2, 3, 2, 6),
        (1, 45, 1, 1, 1),
    ]
    assert regions[0].max_delta_e2000 == 30.0
    assert regions[0].mean_delta_e2000 == pytest.approx((49 * 4 + 30) / 50, abs=1e-3)
    capped, total = changed_regions(changed, delta, cap=2)
    assert (len(capped), total) == (2, 3)
    # Pieces of one glyph 2 pixels apart are one region; 3 apart stay two.
    pieces = np.zeros((20, 20), bool)
    pieces[5, 2:5] = pieces[5, 7:9] = pieces[5, 12] = True
    joined, total = changed_regions(pieces, pieces.astype(np.float32) * 5, gap=2)
    assert total == 2
    assert [(r.x, r.y, r.width, r.height, r.pixels) for r in joined] == [
        (2, 5, 7, 1, 5),
        (12, 5, 1, 1, 1),
    ]


def test_ignored_regions_are_not_compared_and_the_diff_image_shows_everything() -> None:
    a = _blocks(3)
    b = a.copy()
    b[10:20, 10:20] = (255, 0, 255)
    b[100:110, 100:110] = (0, 255, 255)
    difference = exact_difference(a, b, None, None, 2.3, True, ((95, 95, 30, 30),))
    assert difference.changed[10:20, 10:20].all()
    assert not difference.changed[95:125, 95:125].any()
    assert difference.ignored.sum() == 25 * 30  # clipped at the bottom edge (120 rows)
    url = diff_image(a, difference)
    assert url.startswith("data:image/png;base64,")
    drawn = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    assert drawn.shape == a.shape
    assert tuple(drawn[15, 15]) == (255, 0, 0)
    faded = 255 + (luma_of(a) - 255) * FADE  # pixelmatch's grey, A at 10 % over white
    assert np.abs(drawn[0:5, 60:90, 0] - faded[0:5, 60:90]).max() <= 1
    assert np.abs(drawn[100:110, 100:110, 0] - faded[100:110, 100:110] * DIM).max() <= 1
    assert (drawn[100:110, 100:110, 0] == drawn[100:110, 100:110, 2]).all()  # grey, dimmed


def test_ignore_regions_field() -> None:
    assert parse_ignore_regions(None) == ()
    assert parse_ignore_regions(" 0,0,10,20 ; 5, 6, 7, 8;") == ((0, 0, 10, 20), (5, 6, 7, 8))
    assert format_ignore_regions(((0, 0, 10, 20), (5, 6, 7, 8))) == "0,0,10,20;5,6,7,8"
    for bad, words in [
        ("1,2,3", "four integers"),
        ("a,b,c,d", "whole numbers"),
        ("0,0,0,5", "above 0"),
        ("-1,0,5,5", "x, y >= 0"),
        (";".join(["0,0,1,1"] * 101), "at most 100"),
    ]:
        with pytest.raises(ValueError, match=words):
            parse_ignore_regions(bad)
