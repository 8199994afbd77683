"""The pixel method marks exactly the edited region; the hash sees through re-encoding."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from shared.methods import MethodName
from tests.support.images import astronaut, coffee, encode
from worker.decode import DecodedImage, decode_image
from worker.methods.base import CompareOptions
from worker.methods.phash import PerceptualHashMethod
from worker.methods.pixel import PixelDifferenceMethod

_decoded = DecodedImage.from_pixels
PIXEL_DEFAULTS = CompareOptions().for_method(MethodName.PIXEL)  # as the service passes them


def test_pixel_marks_exactly_the_edited_region() -> None:
    a = coffee()  # 600 x 400
    b = a.copy()
    b[100:180, 250:370] = (255, 40, 40)  # a red box painted over the photo
    result = PixelDifferenceMethod().compare(_decoded(a), _decoded(b), PIXEL_DEFAULTS)
    changed = result.difference_map > 0
    edited = np.zeros(a.shape[:2], dtype=bool)
    edited[100:180, 250:370] = True
    intersection = (changed & edited).sum()
    union = (changed | edited).sum()
    assert intersection / union > 0.97
    assert result.metrics["changed_percent"] == pytest.approx(100 * 80 * 120 / 240_000, rel=0.05)
    assert result.score == pytest.approx(1 - 80 * 120 / 240_000, abs=0.003)


def test_pixel_ignores_re_encoding_and_one_pixel_edge_shifts() -> None:
    a = astronaut()
    b = decode_image(encode(a, "JPEG", quality=95, subsampling=0), "b", 10**8).pixels
    jpeg_result = PixelDifferenceMethod().compare(_decoded(a), _decoded(b), PIXEL_DEFAULTS)
    assert jpeg_result.metrics["changed_percent"] < 0.5
    shifted = np.roll(a, 1, axis=1)
    shift_result = PixelDifferenceMethod().compare(
        _decoded(a), _decoded(shifted), CompareOptions(align=False)
    )
    assert shift_result.metrics["changed_percent"] < 0.5  # anti-aliasing tolerance


def test_pixel_reports_alignment_and_no_counterpart() -> None:
    a = coffee()
    b = np.ascontiguousarray(a[40:, 60:])
    result = PixelDifferenceMethod().compare(_decoded(a), _decoded(b), PIXEL_DEFAULTS)
    assert result.alignment is not None and result.alignment.applied
    assert np.isnan(result.difference_map[:30, :50]).all()  # A's corner that B lacks
    assert result.metrics["changed_percent"] < 1.0


def test_phash_sees_through_resizing_but_not_a_different_photo() -> None:
    a = astronaut()
    smaller = cv2.resize(a, (200, 200), interpolation=cv2.INTER_AREA)
    method = PerceptualHashMethod()
    same = method.compare(_decoded(a), _decoded(smaller), CompareOptions())
    other = method.compare(_decoded(a), _decoded(coffee()), CompareOptions())
    assert same.metrics["phash_distance"] <= 4
    assert other.metrics["phash_distance"] >= 20
    assert same.score > other.score
