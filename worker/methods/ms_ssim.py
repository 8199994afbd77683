"""MS-SSIM as a comparison method: B brought into A's frame, the maths of ``worker.metrics``
(Wang, Simoncelli & Bovik 2003), a map of ``1 -`` the multi-scale similarity over A, and the
per-scale means as metrics.

A frame too small for five scales is compared over as many as it holds (the coarsest still one
11x11 window), with the published exponents renormalised over them; only a frame smaller than
SSIM's own window is refused."""

from __future__ import annotations

import numpy as np

from shared.methods import MethodName
from shared.schemas import HeatmapLegend, MethodState, WeightsSource
from worker.decode import DecodedImage
from worker.geometry import prepare_pair
from worker.methods.base import Availability, CompareOptions, Comparison
from worker.metrics import (
    MS_SSIM_EXPONENTS,
    ms_ssim,
    ms_ssim_exponents_for,
    ms_ssim_min_side,
    ms_ssim_scales_for,
)
from worker.transparency import background_note

MIN_SIDE = ms_ssim_min_side(scales=1)  # 11: SSIM's window at a single scale
FULL_SCALES = len(MS_SSIM_EXPONENTS)
NUMBERS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}


def ms_ssim_legend(scales: int = FULL_SCALES) -> HeatmapLegend:
    """The legend of a map computed over ``scales`` scales."""
    return HeatmapLegend(
        low="blue: structure matches at all scales",
        high="red: structure differs (at fine or coarse scales)",
        no_counterpart="grey: this part of A has no counterpart in B (outside B, or cropped away)",
        scale=f"colour = 1 - the product over {NUMBERS[scales]} scale"
        f"{'s' if scales > 1 else ''} of local similarity^weight, 0 (blue) to 1 (red)",
    )


MS_SSIM_LEGEND = ms_ssim_legend()


class MsSsimMethod:
    """MS-SSIM as a comparison method: always available."""

    name = MethodName.MS_SSIM
    decode_side: int | None = None

    def availability(self) -> Availability:
        """MS-SSIM needs nothing but the pixels."""
        return Availability(MethodState.READY, None, WeightsSource.NONE, "ms_ssim")

    def compare(self, a: DecodedImage, b: DecodedImage, options: CompareOptions) -> Comparison:
        """MS-SSIM of B brought into A's frame, over as many scales as the frame holds."""
        frame = prepare_pair(
            a.pixels,
            b.pixels,
            align=bool(options.align),
            min_side=MIN_SIDE,
            shared=options.registration,
        )
        scales = ms_ssim_scales_for(*frame.a.shape[:2])
        exponents = ms_ssim_exponents_for(scales)
        result = ms_ssim(frame.a, frame.b, exponents=exponents, coverage=frame.coverage)
        difference = np.clip(1.0 - result.similarity_map, 0.0, 1.0).astype(np.float32)
        metrics = {f"cs_scale_{i + 1}": round(m, 6) for i, m in enumerate(result.cs_means)}
        metrics[f"ssim_scale_{scales}"] = round(result.ssim_last, 6)
        metrics["scales_used"] = float(scales)
        return Comparison(
            score=result.value,
            difference_map=frame.place_in_a(difference),
            legend=ms_ssim_legend(scales),
            preparation=frame.note + _scales_note(scales, frame.a.shape) + background_note(a, b),
            alignment=frame.alignment,
            metrics=metrics,
        )


def _scales_note(scales: int, shape: tuple[int, ...]) -> str:
    """Nothing for the usual five scales; otherwise how many, and why."""
    if scales == FULL_SCALES:
        return ""
    height, width = shape[:2]
    weights = ", ".join(f"{e:.4f}" for e in ms_ssim_exponents_for(scales))
    return (
        f" MS-SSIM used {scales} of its {FULL_SCALES} scales: the compared {width}x{height} "
        f"pixels are too small for more (the coarsest scale must hold an 11x11 window; five "
        f"need {ms_ssim_min_side()} pixels a side), with the published weights of those "
        f"scales renormalised ({weights})."
    )
