"""Structural similarity (SSIM) exactly as the authors' reference code computes it.

Z. Wang, A. C. Bovik, H. R. Sheikh and E. P. Simoncelli, "Image quality assessment: from error
visibility to structural similarity", IEEE Transactions on Image Processing 13(4), 2004, and the
authors' MATLAB ``ssim.m``: grey (luma) input, automatic downsampling by
``f = max(1, round(min(H, W) / 256))`` with an ``f x f`` averaging filter (symmetric borders),
an 11 x 11 Gaussian window with sigma 1.5 normalised to sum 1, K1 = 0.01, K2 = 0.03, L = 255,
population statistics, and the mean of the SSIM map over the *valid* region (no padding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from shared.methods import MethodName
from shared.schemas import HeatmapLegend, MethodState, WeightsSource
from worker.decode import DecodedImage
from worker.geometry import CommonFrame, common_frame
from worker.methods.base import Availability, Comparison

# ITU-R BT.601 luma, the coefficients MATLAB's rgb2gray uses.
LUMA_WEIGHTS = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])


@dataclass(frozen=True)
class SsimResult:
    """Mean SSIM, the SSIM map over the valid region, and the downsampling factor used."""

    mssim: float
    ssim_map: np.ndarray
    downsample_factor: int


def to_luma(pixels: np.ndarray) -> np.ndarray:
    """RGB (H x W x 3) or grey (H x W) to float64 luma on the 0..255 scale."""
    if pixels.ndim == 2:
        return pixels.astype(np.float64)
    return pixels[..., :3].astype(np.float64) @ LUMA_WEIGHTS


def gaussian_window_1d(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """The 1-D factor of MATLAB's ``fspecial('gaussian', size, sigma)``, normalised to sum 1."""
    radius = (size - 1) / 2.0
    x = np.arange(size, dtype=np.float64) - radius
    window = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return window / window.sum()


def authors_downsample_factor(height: int, width: int) -> int:
    """``max(1, round(min(H, W) / 256))`` with MATLAB's round-half-away-from-zero."""
    return max(1, math.floor(min(height, width) / 256.0 + 0.5))


def _downsample(image: np.ndarray, factor: int) -> np.ndarray:
    """``imfilter(img, ones(f)/f^2, 'symmetric', 'same')`` then every ``f``-th pixel."""
    box = np.full(factor, 1.0 / factor)
    anchor = (factor + 1) // 2 - 1  # MATLAB's centre of an even kernel is floor((f + 1) / 2)
    filtered = cv2.sepFilter2D(
        image, cv2.CV_64F, box, box, anchor=(anchor, anchor), borderType=cv2.BORDER_REFLECT
    )
    return filtered[::factor, ::factor]


def _filter_valid(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """``filter2(window, image, 'valid')`` for a separable, symmetric window."""
    radius = len(window) // 2
    filtered = cv2.sepFilter2D(image, cv2.CV_64F, window, window, borderType=cv2.BORDER_REFLECT)
    return filtered[radius:-radius, radius:-radius]


def structural_similarity(
    image1: np.ndarray,
    image2: np.ndarray,
    *,
    K1: float = 0.01,
    K2: float = 0.03,
    L: float = 255.0,
    window_size: int = 11,
    sigma: float = 1.5,
    downsample: bool = True,
) -> SsimResult:
    """Mean SSIM of two same-sized images (RGB or grey, 0..255), per Wang et al. 2004.

    Raises ``ValueError`` when the images differ in size or are smaller than the window after
    the authors' downsampling.
    """
    if image1.shape[:2] != image2.shape[:2]:
        raise ValueError(f"images differ in size: {image1.shape[:2]} vs {image2.shape[:2]}")
    x, y = to_luma(image1), to_luma(image2)
    factor = authors_downsample_factor(*x.shape) if downsample else 1
    if factor > 1:
        x, y = _downsample(x, factor), _downsample(y, factor)
    if min(x.shape) < window_size:
        raise ValueError(
            f"images are {x.shape[1]}x{x.shape[0]} after downsampling; SSIM needs at least "
            f"{window_size}x{window_size}"
        )
    window = gaussian_window_1d(window_size, sigma)
    C1, C2 = (K1 * L) ** 2, (K2 * L) ** 2
    mu1, mu2 = _filter_valid(x, window), _filter_valid(y, window)
    mu1_sq, mu2_sq, mu1_mu2 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    sigma1_sq = _filter_valid(x * x, window) - mu1_sq
    sigma2_sq = _filter_valid(y * y, window) - mu2_sq
    sigma12 = _filter_valid(x * y, window) - mu1_mu2
    ssim_map = ((2 * mu1_mu2 + C1) * (2 * sigma12 + C2)) / (
        (mu1_sq + mu2_sq + C1) * (sigma1_sq + sigma2_sq + C2)
    )
    return SsimResult(float(ssim_map.mean()), ssim_map, factor)


SSIM_LEGEND = HeatmapLegend(
    low="blue: the local structure of B matches A",
    high="red: the local structure differs (brightness, contrast or edges)",
    no_counterpart="grey: this part of A has no counterpart in B (cropped away)",
    scale="colour = 1 - local SSIM (11x11 Gaussian window), from 0 (blue) to 1 or more (red)",
)

MIN_SIDE = 11


class SsimMethod:
    """SSIM as a comparison method: always available, needs no model."""

    name = MethodName.SSIM

    def availability(self) -> Availability:
        """SSIM needs nothing but the pixels."""
        return Availability(MethodState.READY, None, WeightsSource.NONE, "ssim")

    def compare(self, a: DecodedImage, b: DecodedImage) -> Comparison:
        """SSIM of B brought into A's frame; the map is ``1 - local SSIM`` over A."""
        frame = common_frame(a.pixels, b.pixels, min_side=MIN_SIDE)
        result = structural_similarity(frame.a, frame.b)
        difference = _map_to_frame(result, frame)
        return Comparison(
            score=result.mssim,
            difference_map=difference,
            legend=SSIM_LEGEND,
            preparation=frame.note
            + _downsample_note(result.downsample_factor, frame.a.shape[1], frame.a.shape[0]),
            identical_pixels=bool(np.array_equal(frame.a, frame.b)),
        )


def _downsample_note(factor: int, width: int, height: int) -> str:
    if factor == 1:
        return ""
    return (
        f" As in the authors' reference code, both were averaged down by {factor} "
        f"(to about {width // factor}x{height // factor}) before SSIM."
    )


def _map_to_frame(result: SsimResult, frame: CommonFrame) -> np.ndarray:
    """Spread the valid-region map over the compared frame, then place that frame in A."""
    radius = MIN_SIDE // 2
    padded = np.pad(result.ssim_map, radius, mode="edge")
    height, width = frame.a.shape[:2]
    difference = np.clip(1.0 - padded, 0.0, 1.0).astype(np.float32)
    difference = cv2.resize(difference, (width, height), interpolation=cv2.INTER_LINEAR)
    return frame.place_in_a(difference)
