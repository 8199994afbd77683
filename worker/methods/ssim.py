"""SSIM as a comparison method: B brought into A's frame, the maths of ``worker.metrics``, a
map of ``1 - local SSIM`` over A, and a note on how the pair was prepared."""

from __future__ import annotations

import cv2
import numpy as np

from shared.methods import MethodName
from shared.schemas import HeatmapLegend, MethodState, WeightsSource
from worker.decode import DecodedImage
from worker.geometry import CommonFrame, prepare_pair
from worker.methods.base import Availability, CompareOptions, Comparison
from worker.metrics import mean_over_coverage, structural_similarity
from worker.transparency import background_note

SSIM_LEGEND = HeatmapLegend(
    low="blue: the local structure of B matches A",
    high="red: the local structure differs (brightness, contrast or edges)",
    no_counterpart="grey: this part of A has no counterpart in B (outside B, or cropped away)",
    scale="colour = 1 - local SSIM (11x11 Gaussian window), from 0 (blue) to 1 or more (red)",
)

MIN_SIDE = 11  # the side of SSIM's Gaussian window


class SsimMethod:
    """SSIM as a comparison method: always available, needs no model."""

    name = MethodName.SSIM
    decode_side: int | None = None

    def availability(self) -> Availability:
        """SSIM needs nothing but the pixels."""
        return Availability(MethodState.READY, None, WeightsSource.NONE, "ssim")

    def compare(self, a: DecodedImage, b: DecodedImage, options: CompareOptions) -> Comparison:
        """SSIM of B brought into A's frame; the map is ``1 - local SSIM`` over A."""
        frame = prepare_pair(
            a.pixels,
            b.pixels,
            align=bool(options.align),
            min_side=MIN_SIDE,
            shared=options.registration,
        )
        result = structural_similarity(frame.a, frame.b)
        difference = spread_to_frame(result.ssim_map, frame)
        return Comparison(
            score=mean_over_coverage(result, frame.coverage),
            difference_map=frame.place_in_a(difference),
            legend=SSIM_LEGEND,
            preparation=frame.note
            + _downsample_note(result.downsample_factor, frame.a.shape[1], frame.a.shape[0])
            + background_note(a, b),
            alignment=frame.alignment,
        )


def _downsample_note(factor: int, width: int, height: int) -> str:
    if factor == 1:
        return ""
    return (
        f" As in the authors' reference code, both were averaged down by {factor} "
        f"(to about {width // factor}x{height // factor}) before SSIM."
    )


def spread_to_frame(ssim_map: np.ndarray, frame: CommonFrame) -> np.ndarray:
    """``1 - SSIM`` of the valid (and possibly downsampled) map, spread over the whole frame."""
    padded = np.pad(ssim_map, MIN_SIDE // 2, mode="edge")
    height, width = frame.a.shape[:2]
    difference = np.clip(1.0 - padded, 0.0, 1.0).astype(np.float32)
    return cv2.resize(difference, (width, height), interpolation=cv2.INTER_LINEAR)
