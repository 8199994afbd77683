"""MS-SSIM: 1 for identical images, lower with more blur, symmetric, and size-checked."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.support.images import astronaut
from worker.methods.ms_ssim import MIN_SIDE
from worker.metrics import MS_SSIM_EXPONENTS, ms_ssim, structural_similarity


def test_exponents_are_the_published_ones() -> None:
    assert MS_SSIM_EXPONENTS == (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
    assert sum(MS_SSIM_EXPONENTS) == pytest.approx(1.0, abs=1e-4)


def test_identical_images_score_one() -> None:
    image = astronaut()
    assert ms_ssim(image, image.copy()).value == pytest.approx(1.0, abs=1e-12)


def test_decreases_with_blur() -> None:
    image = astronaut()
    scores = [ms_ssim(image, cv2.GaussianBlur(image, (0, 0), s)).value for s in (1, 2, 4)]
    assert 1.0 > scores[0] > scores[1] > scores[2] > 0.5


def test_is_symmetric_and_forgives_noise_more_than_ssim() -> None:
    image = astronaut()
    noisy = np.clip(image + np.random.default_rng(0).normal(0, 15, image.shape), 0, 255)
    noisy = noisy.astype(np.uint8)
    forward = ms_ssim(image, noisy).value
    assert forward == pytest.approx(ms_ssim(noisy, image).value, abs=1e-12)
    assert forward > structural_similarity(image, noisy).mssim


def test_refuses_images_too_small_for_five_scales() -> None:
    small = np.zeros((MIN_SIDE - 1, 400, 3), np.uint8)
    with pytest.raises(ValueError, match="176"):
        ms_ssim(small, small)
