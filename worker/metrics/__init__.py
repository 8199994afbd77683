"""Image similarity metrics as mathematics, laid out like scikit-image's ``skimage.metrics``:
one function per metric, parameters named as in its paper, the references in its docstring.

They know nothing of requests, frames or heatmaps: the comparison methods in
``worker/methods/`` bring the two images into one frame, call these, and word the result.
(The worker's Prometheus metrics are in ``worker/observability.py``.)
"""

from worker.metrics._ms_ssim import EXPONENTS as MS_SSIM_EXPONENTS
from worker.metrics._ms_ssim import MsSsimResult, ms_ssim
from worker.metrics._ms_ssim import exponents_for as ms_ssim_exponents_for
from worker.metrics._ms_ssim import min_side as ms_ssim_min_side
from worker.metrics._ms_ssim import scales_for as ms_ssim_scales_for
from worker.metrics._structural_similarity import (
    SsimResult,
    authors_downsample,
    authors_downsample_factor,
    covered_windows,
    gaussian_window_1d,
    mean_over_coverage,
    ssim_maps,
    structural_similarity,
    to_luma,
)

__all__ = [
    "MS_SSIM_EXPONENTS",
    "MsSsimResult",
    "SsimResult",
    "authors_downsample",
    "authors_downsample_factor",
    "covered_windows",
    "gaussian_window_1d",
    "mean_over_coverage",
    "ms_ssim",
    "ms_ssim_exponents_for",
    "ms_ssim_min_side",
    "ms_ssim_scales_for",
    "ssim_maps",
    "structural_similarity",
    "to_luma",
]
