"""SSIM against the authors' published values, scikit-image, and a direct re-implementation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.metrics import structural_similarity as skimage_ssim

from tests.support.images import astronaut, coffee
from tests.support.paths import EINSTEIN, require
from worker.decode import decode_image
from worker.metrics import (
    authors_downsample_factor,
    gaussian_window_1d,
    structural_similarity,
    to_luma,
)

PUBLISHED = {
    "meanshift": 0.988,
    "contrast": 0.913,
    "impulse": 0.840,
    "blur": 0.694,
    "jpg": 0.662,
}


def _load(name: str) -> np.ndarray:
    path = require(EINSTEIN / f"{name}.gif")
    return decode_image(path.read_bytes(), name, 10**8).pixels


@pytest.mark.parametrize(("name", "published"), PUBLISHED.items())
def test_reproduces_the_authors_published_einstein_values(name: str, published: float) -> None:
    result = structural_similarity(_load("einstein"), _load(name))
    assert result.mssim == pytest.approx(published, abs=0.001)
    assert result.downsample_factor == 1


def test_identical_images_score_one() -> None:
    image = astronaut()
    assert structural_similarity(image, image.copy()).mssim == pytest.approx(
        1.0, abs=1e-6
    )  # float32


def test_is_symmetric() -> None:
    a = astronaut()
    b = np.clip(a.astype(int) + np.random.default_rng(0).normal(0, 20, a.shape), 0, 255)
    forward = structural_similarity(a, b.astype(np.uint8)).mssim
    backward = structural_similarity(b.astype(np.uint8), a).mssim
    assert forward == pytest.approx(backward, abs=1e-6)  # float32 summation order
    assert forward < 0.9


def test_matches_scikit_image_with_the_same_settings_when_no_downsampling() -> None:
    a = to_luma(coffee())
    b = to_luma(np.roll(coffee(), 3, axis=1))
    ours = structural_similarity(a, b, downsample=False).mssim
    theirs = skimage_ssim(
        a,
        b,
        data_range=255,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        win_size=11,
    )
    assert ours == pytest.approx(theirs, abs=1e-6)


def _reference_ssim_with_downsampling(x: np.ndarray, y: np.ndarray) -> float:
    """A direct transcription of the authors' ssim.m with SciPy (independent of OpenCV)."""
    f = max(1, int(np.floor(min(x.shape) / 256 + 0.5)))
    if f > 1:
        lpf = np.ones((f, f)) / (f * f)
        origin = (f + 1) // 2 - 1 - f // 2  # MATLAB's kernel centre for imfilter
        x = ndimage.correlate(x, lpf, mode="reflect", origin=origin)[::f, ::f]
        y = ndimage.correlate(y, lpf, mode="reflect", origin=origin)[::f, ::f]
    g = gaussian_window_1d()
    window = np.outer(g, g)

    def valid(img: np.ndarray) -> np.ndarray:
        return ndimage.correlate(img, window, mode="reflect")[5:-5, 5:-5]

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu1, mu2 = valid(x), valid(y)
    s1 = valid(x * x) - mu1**2
    s2 = valid(y * y) - mu2**2
    s12 = valid(x * y) - mu1 * mu2
    ssim_map = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s1 + s2 + c2))
    return float(ssim_map.mean())


@pytest.mark.parametrize("size", [(512, 512), (600, 800), (1024, 700)])
def test_downsampling_follows_the_authors_code(size: tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    base = np.resize(to_luma(astronaut()), size)
    noisy = np.clip(base + rng.normal(0, 15, size), 0, 255)
    result = structural_similarity(base, noisy)
    assert result.downsample_factor == authors_downsample_factor(*size) > 1
    assert result.mssim == pytest.approx(
        _reference_ssim_with_downsampling(base, noisy), abs=1e-5
    )  # float32 fast path vs float64 reference


def test_downsample_factor_rounds_half_away_from_zero() -> None:
    assert authors_downsample_factor(383, 1000) == 1
    assert authors_downsample_factor(384, 1000) == 2
    assert authors_downsample_factor(640, 640) == 3


def test_refuses_images_smaller_than_the_window() -> None:
    tiny = np.zeros((10, 40), dtype=np.uint8)
    with pytest.raises(ValueError, match="at least 11x11"):
        structural_similarity(tiny, tiny)


def test_luma_uses_bt601_weights() -> None:
    pixel = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]], dtype=np.uint8)
    assert to_luma(pixel)[0] == pytest.approx([76.2287, 149.696, 29.0753], abs=1e-3)
