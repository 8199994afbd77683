"""Multi-scale structural similarity (MS-SSIM).

References
----------
Z. Wang, E. P. Simoncelli and A. C. Bovik, "Multi-scale structural similarity for image quality
assessment", 37th Asilomar Conference on Signals, Systems and Computers, 2003, vol. 2,
1398-1402, :DOI:`10.1109/ACSSC.2003.1292216`, and the authors' ``msssim.m``: M = 5 scales, the
published exponents beta_j = gamma_j = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333) with
alpha_M = beta_M, the SSIM settings of Wang et al. 2004 at every scale, and a 2x2 average then
every second pixel between scales. MS-SSIM = l_M^alpha_M * prod_j (c_j s_j)^beta_j (eq. 7),
with the contrast-structure means of scales 1..M-1 and the full SSIM mean at scale M. Negative
means are clipped to 0 before the fractional powers (the reference code would return a complex
number there).

An image too small for five scales (the coarsest must still hold one 11x11 window) is compared
over as many scales as it holds, with the first M published exponents divided by their sum
(``exponents_for``), instead of being refused: a 100-pixel photo then gets four scales. Five
scales use the published values as they are (they sum to 1.0001), so those results are
unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from worker.metrics._structural_similarity import (
    authors_downsample,
    covered_windows,
    gaussian_window_1d,
    ssim_maps,
    to_luma,
)

EXPONENTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
"""beta_1 .. beta_M as published (summing to 1.0001, by their rounding); alpha_M = beta_M."""


def min_side(window_size: int = 11, scales: int = len(EXPONENTS)) -> int:
    """The smallest side whose coarsest scale still holds one window: each scale is the one
    before halved and rounded up (the 2x2 average pads an odd side), so
    ``(window - 1) * 2^(M-1) + 1``: 161 for five scales of an 11-pixel window (TensorFlow's
    ``ssim_multiscale`` takes 161 and refuses 160 alike), 11 for one."""
    return (window_size - 1) * 2 ** (scales - 1) + 1


def scales_for(height: int, width: int, window_size: int = 11, most: int = len(EXPONENTS)) -> int:
    """How many scales (at most ``most``) an image of this size holds: 0 when not even one
    window fits."""
    side = min(height, width)
    return sum(1 for scales in range(1, most + 1) if side >= min_side(window_size, scales))


def exponents_for(scales: int) -> tuple[float, ...]:
    """The exponents for ``scales`` scales: the published five as they are, or the first
    ``scales`` of them renormalised to sum 1, so that fewer scales weigh each other as the
    paper does and a perfect match still scores 1."""
    if not 1 <= scales <= len(EXPONENTS):
        raise ValueError(f"MS-SSIM has 1 to {len(EXPONENTS)} scales, not {scales}")
    if scales == len(EXPONENTS):
        return EXPONENTS
    used = EXPONENTS[:scales]
    total = sum(used)
    return tuple(exponent / total for exponent in used)


@dataclass(frozen=True)
class MsSsimResult:
    """The MS-SSIM value, the per-scale means, and a per-pixel multi-scale similarity map."""

    value: float
    cs_means: list[float]
    """Mean c_j s_j of scales 1..M-1, finest first."""
    ssim_last: float
    """Mean SSIM (l_M c_M s_M) of the coarsest scale."""
    similarity_map: np.ndarray
    """Per pixel of the input: the product over scales of the local terms to their exponents."""

    @property
    def scales(self) -> int:
        """How many scales were used."""
        return len(self.cs_means) + 1


def ms_ssim(
    x: np.ndarray,
    y: np.ndarray,
    *,
    exponents: tuple[float, ...] = EXPONENTS,
    K1: float = 0.01,
    K2: float = 0.03,
    L: float = 255.0,
    window_size: int = 11,
    sigma: float = 1.5,
    coverage: np.ndarray | None = None,
) -> MsSsimResult:
    """MS-SSIM of two same-sized images ``x`` and ``y`` (RGB or grey, 0..255), over
    ``M = len(exponents)`` scales; ``coverage`` (bool, optional) limits every scale's mean to
    windows inside it.

    Raises ``ValueError`` when the images differ in size or are too small for M scales.
    """
    if x.shape[:2] != y.shape[:2]:
        raise ValueError(f"images differ in size: {x.shape[:2]} vs {y.shape[:2]}")
    smallest = min_side(window_size, len(exponents))
    if min(x.shape[:2]) < smallest:
        raise ValueError(
            f"MS-SSIM over {len(exponents)} scales needs at least {smallest}x{smallest} pixels"
        )
    x, y = to_luma(x), to_luma(y)
    mask = None if coverage is None else coverage.astype(np.float64)
    window = gaussian_window_1d(window_size, sigma)
    height, width = x.shape
    combined = np.ones((height, width), dtype=np.float64)
    cs_means: list[float] = []
    ssim_last = 1.0
    for level, exponent in enumerate(exponents):
        ssim_map, cs_map = ssim_maps(x, y, window, K1=K1, K2=K2, L=L)
        inside = None if mask is None else covered_windows(mask >= 0.999, 1, window_size)
        last = level == len(exponents) - 1
        chosen = ssim_map if last else cs_map
        mean = (
            float(chosen[inside].mean())
            if inside is not None and inside.any()
            else float(chosen.mean())
        )
        if last:
            ssim_last = mean
        else:
            cs_means.append(mean)
        spread = cv2.resize(
            np.pad(np.clip(chosen, 0.0, None), window_size // 2, mode="edge"),
            (width, height),
            interpolation=cv2.INTER_LINEAR,
        )
        combined *= spread**exponent
        if not last:
            x, y = authors_downsample(x, 2), authors_downsample(y, 2)
            if mask is not None:
                mask = authors_downsample(mask, 2)
    value = float(
        np.prod([max(m, 0.0) ** e for m, e in zip(cs_means, exponents[:-1], strict=True)])
        * max(ssim_last, 0.0) ** exponents[-1]
    )
    return MsSsimResult(value, cs_means, ssim_last, combined)
