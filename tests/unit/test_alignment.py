"""Alignment recovers known shifts, crops, scalings and rotations of a real photo."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.support.images import astronaut, coffee
from worker.alignment import register
from worker.geometry import prepare_pair
from worker.metrics import mean_over_coverage, structural_similarity


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def _corner_error(found: list[list[float]], truth: np.ndarray, width: int, height: int) -> float:
    """Largest distance, over B's corners, between where the found and the true transform put
    them in A."""
    corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], dtype=float)
    return float(np.abs(_apply(np.array(found), corners) - _apply(truth, corners)).max())


def test_recovers_a_crop_and_shift_within_two_pixels() -> None:
    a = coffee()  # 600 x 400
    top, left = 37, 61
    b = a[top : top + 300, left : left + 450]
    registration = register(a, b)
    assert registration.info.applied
    truth = np.array([[1.0, 0.0, left], [0.0, 1.0, top]])
    assert _corner_error(registration.info.matrix, truth, 450, 300) <= 2.0
    assert registration.info.coverage_percent == pytest.approx(100 * 300 * 450 / 240_000, abs=3)


@pytest.mark.parametrize(("angle", "scale"), [(5.0, 1.0), (-12.0, 1.0), (0.0, 0.7), (8.0, 1.25)])
def test_recovers_rotation_and_scale_within_two_pixels(angle: float, scale: float) -> None:
    a = astronaut()
    height, width = a.shape[:2]
    # B = A rotated and scaled about its centre; the true B->A map is the inverse.
    forward = cv2.getRotationMatrix2D((width / 2, height / 2), angle, scale)
    b = cv2.warpAffine(a, forward, (width, height), borderMode=cv2.BORDER_REFLECT)
    truth = cv2.invertAffineTransform(forward)
    registration = register(a, b)
    assert registration.info.applied
    assert _corner_error(registration.info.matrix, truth, width, height) <= 2.0
    assert registration.info.rotation_deg == pytest.approx(angle, abs=0.5)  # B turned by angle


def test_alignment_raises_ssim_above_the_unaligned_comparison() -> None:
    a = coffee()
    b = np.ascontiguousarray(a[12:, 20:])  # the same scene, shifted
    aligned = prepare_pair(a, b, align=True, min_side=11)
    plain = prepare_pair(a, b, align=False, min_side=11)
    assert aligned.alignment is not None and aligned.alignment.applied
    aligned_score = mean_over_coverage(
        structural_similarity(aligned.a, aligned.b), aligned.coverage
    )
    plain_score = structural_similarity(plain.a, plain.b).mssim
    assert aligned_score > 0.95
    assert plain_score < 0.6
    assert "registered onto A" in aligned.note


def test_does_not_align_different_photos() -> None:
    registration = register(astronaut(), coffee())
    assert not registration.info.applied
    assert registration.warped_b is None
    assert "weak" in registration.info.note or "few" in registration.info.note


def test_identical_images_need_no_alignment() -> None:
    a = coffee()
    registration = register(a, a.copy())
    assert not registration.info.applied
    assert registration.info.note.startswith("already aligned")
