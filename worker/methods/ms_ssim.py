"""Multi-scale structural similarity (MS-SSIM).

Z. Wang, E. P. Simoncelli and A. C. Bovik, "Multi-scale structural similarity for image quality
assessment", 37th Asilomar Conference on Signals, Systems and Computers, 2003, and the authors'
``msssim.m``: five scales, the published exponents (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), the
SSIM settings of Wang et al. 2004 at every scale, and a 2x2 average then every second pixel
between scales. MS-SSIM = l_M^w_M * prod_j cs_j^w_j, with the contrast-structure means of scales
1..M-1 and the full SSIM mean at scale M. Negative means are clipped to 0 before the fractional
powers (the reference code would return a complex number there).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from shared.methods import MethodName
from shared.schemas import HeatmapLegend, MethodState, WeightsSource
from worker.decode import DecodedImage
from worker.geometry import prepare_pair
from worker.methods.base import Availability, CompareOptions, Comparison
from worker.methods.ssim import (
    authors_downsample,
    covered_windows,
    gaussian_window_1d,
    ssim_maps,
    to_luma,
)

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WINDOW = 11
MIN_SIDE = WINDOW * 2 ** (len(WEIGHTS) - 1)  # 176: the coarsest scale still holds a window


@dataclass(frozen=True)
class MsSsimResult:
    """The MS-SSIM value, the per-scale means, and a per-pixel multi-scale similarity map."""

    value: float
    cs_means: list[float]
    ssim_last: float
    similarity_map: np.ndarray


def multiscale_ssim(
    image1: np.ndarray,
    image2: np.ndarray,
    *,
    weights: tuple[float, ...] = WEIGHTS,
    coverage: np.ndarray | None = None,
) -> MsSsimResult:
    """MS-SSIM of two same-sized images (RGB or grey, 0..255); ``coverage`` (bool, optional)
    limits every scale's mean to windows inside it."""
    if image1.shape[:2] != image2.shape[:2]:
        raise ValueError(f"images differ in size: {image1.shape[:2]} vs {image2.shape[:2]}")
    if min(image1.shape[:2]) < MIN_SIDE:
        raise ValueError(f"MS-SSIM needs at least {MIN_SIDE}x{MIN_SIDE} pixels")
    x, y = to_luma(image1), to_luma(image2)
    mask = None if coverage is None else coverage.astype(np.float64)
    window = gaussian_window_1d(WINDOW, 1.5)
    height, width = x.shape
    combined = np.ones((height, width), dtype=np.float64)
    cs_means: list[float] = []
    ssim_last = 1.0
    for level, weight in enumerate(weights):
        ssim_map, cs_map = ssim_maps(x, y, window, K1=0.01, K2=0.03, L=255.0)
        inside = None if mask is None else covered_windows(mask >= 0.999, 1, WINDOW)
        last = level == len(weights) - 1
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
            np.pad(np.clip(chosen, 0.0, None), WINDOW // 2, mode="edge"),
            (width, height),
            interpolation=cv2.INTER_LINEAR,
        )
        combined *= spread**weight
        if not last:
            x, y = authors_downsample(x, 2), authors_downsample(y, 2)
            if mask is not None:
                mask = authors_downsample(mask, 2)
    value = float(
        np.prod([max(m, 0.0) ** w for m, w in zip(cs_means, weights[:-1], strict=True)])
        * max(ssim_last, 0.0) ** weights[-1]
    )
    return MsSsimResult(value, cs_means, ssim_last, combined)


MS_SSIM_LEGEND = HeatmapLegend(
    low="blue: structure matches at all scales",
    high="red: structure differs (at fine or coarse scales)",
    no_counterpart="grey: this part of A has no counterpart in B (outside B, or cropped away)",
    scale="colour = 1 - the product over five scales of local similarity^weight, 0 (blue) to "
    "1 (red)",
)


class MsSsimMethod:
    """MS-SSIM as a comparison method: always available."""

    name = MethodName.MS_SSIM
    decode_side: int | None = None

    def availability(self) -> Availability:
        """MS-SSIM needs nothing but the pixels."""
        return Availability(MethodState.READY, None, WeightsSource.NONE, "ms_ssim")

    def compare(self, a: DecodedImage, b: DecodedImage, options: CompareOptions) -> Comparison:
        """MS-SSIM of B brought into A's frame."""
        align = True if options.align is None else options.align
        frame = prepare_pair(a.pixels, b.pixels, align=align, min_side=MIN_SIDE)
        result = multiscale_ssim(frame.a, frame.b, coverage=frame.coverage)
        difference = np.clip(1.0 - result.similarity_map, 0.0, 1.0).astype(np.float32)
        metrics = {f"cs_scale_{i + 1}": round(m, 6) for i, m in enumerate(result.cs_means)}
        metrics["ssim_scale_5"] = round(result.ssim_last, 6)
        return Comparison(
            score=result.value,
            difference_map=frame.place_in_a(difference),
            legend=MS_SSIM_LEGEND,
            preparation=frame.note,
            identical_pixels=bool(np.array_equal(frame.a, frame.b)),
            alignment=frame.alignment,
            metrics=metrics,
        )
