"""MS-SSIM as a comparison method: B brought into A's frame, the maths of ``worker.metrics``
(Wang, Simoncelli & Bovik 2003), a map of ``1 -`` the multi-scale similarity over A, and the
per-scale means as metrics."""

from __future__ import annotations

import numpy as np

from shared.methods import MethodName
from shared.schemas import HeatmapLegend, MethodState, WeightsSource
from worker.decode import DecodedImage
from worker.geometry import prepare_pair
from worker.methods.base import Availability, CompareOptions, Comparison
from worker.metrics import ms_ssim, ms_ssim_min_side

MIN_SIDE = ms_ssim_min_side()  # 176: the coarsest of five scales still holds a window

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
        frame = prepare_pair(a.pixels, b.pixels, align=bool(options.align), min_side=MIN_SIDE)
        result = ms_ssim(frame.a, frame.b, coverage=frame.coverage)
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
