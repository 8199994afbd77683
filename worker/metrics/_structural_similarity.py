"""Structural similarity (SSIM) exactly as the authors' reference code computes it.

References
----------
Z. Wang, A. C. Bovik, H. R. Sheikh and E. P. Simoncelli, "Image quality assessment: from error
visibility to structural similarity", IEEE Transactions on Image Processing 13(4), 600-612,
2004, :DOI:`10.1109/TIP.2003.819861`, and the authors' MATLAB ``ssim.m``: grey (luma) input,
automatic downsampling by ``f = max(1, round(min(H, W) / 256))`` with an ``f x f`` averaging
filter (symmetric borders), an 11 x 11 Gaussian window with sigma 1.5 normalised to sum 1,
K1 = 0.01, K2 = 0.03, L = 255, population statistics, and the mean of the SSIM map over the
*valid* region (no padding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# ITU-R BT.601 luma, the coefficients MATLAB's rgb2gray uses.
LUMA_WEIGHTS = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])


@dataclass(frozen=True)
class SsimResult:
    """Mean SSIM, the SSIM map over the valid region, and the downsampling factor used."""

    mssim: float
    ssim_map: np.ndarray
    downsample_factor: int


def to_luma(pixels: np.ndarray) -> np.ndarray:
    """RGB (H x W x 3) or grey (H x W) to float32 luma on the 0..255 scale."""
    if pixels.ndim == 2:
        return pixels.astype(np.float32)
    # Straight from the 8-bit planes to float32 luma: no float copy of the whole RGB image.
    red, green, blue = cv2.split(np.ascontiguousarray(pixels[..., :3]))
    weight_r, weight_g, weight_b = (float(weight) for weight in LUMA_WEIGHTS)
    luma = cv2.addWeighted(red, weight_r, green, weight_g, 0.0, dtype=cv2.CV_32F)
    return cv2.addWeighted(luma, 1.0, blue, weight_b, 0.0, dtype=cv2.CV_32F)


def gaussian_window_1d(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """The 1-D factor of MATLAB's ``fspecial('gaussian', size, sigma)``, normalised to sum 1."""
    radius = (size - 1) / 2.0
    x = np.arange(size, dtype=np.float64) - radius
    window = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return window / window.sum()


def authors_downsample_factor(height: int, width: int) -> int:
    """``max(1, round(min(H, W) / 256))`` with MATLAB's round-half-away-from-zero."""
    return max(1, math.floor(min(height, width) / 256.0 + 0.5))


def authors_downsample(image: np.ndarray, factor: int) -> np.ndarray:
    """``imfilter(img, ones(f)/f^2, 'symmetric', 'same')`` then every ``f``-th pixel.

    Computed only where it is sampled: the averaging window of output pixel ``i`` covers input
    rows ``i*f - a .. i*f - a + f - 1`` (``a`` = MATLAB's kernel centre for an ``f``-wide box),
    so after padding symmetrically by ``a`` in front, the windows are exactly the ``f x f``
    blocks of the padded image.
    """
    anchor = (factor + 1) // 2 - 1  # MATLAB's centre of an even kernel is floor((f + 1) / 2)
    height, width = image.shape
    rows, cols = -(-height // factor), -(-width // factor)
    pad_bottom = max(0, rows * factor - height - anchor)  # the last window must fit
    pad_right = max(0, cols * factor - width - anchor)
    padded = cv2.copyMakeBorder(image, anchor, pad_bottom, anchor, pad_right, cv2.BORDER_REFLECT)
    blocks = np.ascontiguousarray(padded[: rows * factor, : cols * factor])
    # Area interpolation by a whole factor is exactly the mean of each block: ten times faster
    # than a NumPy reshape-and-mean, and within 3e-5 grey levels of it in float32.
    return cv2.resize(blocks, (cols, rows), interpolation=cv2.INTER_AREA)


def ssim_maps(
    x: np.ndarray, y: np.ndarray, window: np.ndarray, *, K1: float, K2: float, L: float
) -> tuple[np.ndarray, np.ndarray]:
    """The SSIM map and the contrast-structure map over the valid region of two luma images
    (MATLAB's ``filter2(..., 'valid')``).

    On large images memory traffic, not arithmetic, is the cost, so: float32 throughout; whole,
    contiguous arrays until the final crop (OpenCV is several times slower on cropped views);
    five buffers reused in place instead of a new array per step; and one filtering of
    x^2 + y^2, since only sigma1^2 + sigma2^2 enters the formula. Squares are summed as separate
    products (no fused multiply-add), so that swapping the images gives exactly the same score.
    """
    x = x.astype(np.float32, copy=False)
    y = y.astype(np.float32, copy=False)
    C1, C2 = (K1 * L) ** 2, (K2 * L) ** 2
    kernel = window.astype(np.float32)

    def blur(image: np.ndarray, dst: np.ndarray | None = None) -> np.ndarray:
        return cv2.sepFilter2D(
            image, cv2.CV_32F, kernel, kernel, dst=dst, borderType=cv2.BORDER_REFLECT
        )

    buffer_a, buffer_b = blur(x), blur(y)  # mu1, mu2
    mu1_mu2: np.ndarray = cv2.multiply(buffer_a, buffer_b)
    mu_sq_sum: np.ndarray = cv2.multiply(buffer_a, buffer_a)
    cv2.add(mu_sq_sum, cv2.multiply(buffer_b, buffer_b, dst=buffer_a), dst=mu_sq_sum)
    # cs = (2 sigma12 + C2) / (sigma1^2 + sigma2^2 + C2), sigma12 = blur(xy) - mu1 mu2
    cs_num = blur(cv2.multiply(x, y, dst=buffer_a), dst=buffer_b)
    cv2.subtract(cs_num, mu1_mu2, dst=cs_num)
    cs_num *= 2.0
    cs_num += C2
    y_sq = cv2.multiply(y, y)
    cv2.add(cv2.multiply(x, x, dst=buffer_a), y_sq, dst=buffer_a)
    cs_den = blur(buffer_a, dst=y_sq)
    cv2.subtract(cs_den, mu_sq_sum, dst=cs_den)
    cs_den += C2
    cs_map = cv2.divide(cs_num, cs_den, dst=buffer_a)
    # l = (2 mu1 mu2 + C1) / (mu1^2 + mu2^2 + C1); SSIM = l cs
    mu1_mu2 *= 2.0
    mu1_mu2 += C1
    mu_sq_sum += C1
    ssim_map = cv2.divide(mu1_mu2, mu_sq_sum, dst=mu1_mu2)
    cv2.multiply(ssim_map, cs_map, dst=ssim_map)
    radius = len(window) // 2
    valid = (slice(radius, -radius), slice(radius, -radius))
    return ssim_map[valid], cs_map[valid]


def structural_similarity(
    x: np.ndarray,
    y: np.ndarray,
    *,
    K1: float = 0.01,
    K2: float = 0.03,
    L: float = 255.0,
    window_size: int = 11,
    sigma: float = 1.5,
    downsample: bool = True,
) -> SsimResult:
    """Mean SSIM of two same-sized images ``x`` and ``y`` (RGB or grey, 0..255).

    SSIM(x, y) = ((2 mu_x mu_y + C1)(2 sigma_xy + C2)) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 +
    sigma_y^2 + C2)), C1 = (K1 L)^2, C2 = (K2 L)^2, over a ``window_size`` Gaussian window of
    standard deviation ``sigma``: Wang et al. 2004, eq. 13, with the settings of its section III.
    ``downsample``: the authors' ``ssim.m`` averaging down first (``authors_downsample``).

    Raises ``ValueError`` when the images differ in size or are smaller than the window after
    the downsampling.
    """
    if x.shape[:2] != y.shape[:2]:
        raise ValueError(f"images differ in size: {x.shape[:2]} vs {y.shape[:2]}")
    x, y = to_luma(x), to_luma(y)
    factor = authors_downsample_factor(*x.shape) if downsample else 1
    if factor > 1:
        x, y = authors_downsample(x, factor), authors_downsample(y, factor)
    if min(x.shape) < window_size:
        raise ValueError(
            f"images are {x.shape[1]}x{x.shape[0]} after downsampling; SSIM needs at least "
            f"{window_size}x{window_size}"
        )
    ssim_map, _ = ssim_maps(x, y, gaussian_window_1d(window_size, sigma), K1=K1, K2=K2, L=L)
    return SsimResult(float(cv2.mean(ssim_map)[0]), ssim_map, factor)


def covered_windows(coverage: np.ndarray, factor: int, window_size: int = 11) -> np.ndarray:
    """Bool mask over the valid SSIM map: windows that lie wholly inside ``coverage`` (after the
    same downsampling the images had), so that no uncovered pixel counts towards the score."""
    mask = coverage.astype(np.float64)
    if factor > 1:
        mask = authors_downsample(mask, factor)
    radius = window_size // 2
    kernel = np.ones((window_size, window_size), np.uint8)
    inside = cv2.erode((mask >= 0.999).astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT)
    return inside[radius:-radius, radius:-radius] > 0


def mean_over_coverage(result: SsimResult, coverage: np.ndarray | None) -> float:
    """The mean SSIM over covered windows only (all windows when everything is covered)."""
    if coverage is None:
        return result.mssim
    inside = covered_windows(coverage, result.downsample_factor)
    return float(result.ssim_map[inside].mean()) if inside.any() else result.mssim
