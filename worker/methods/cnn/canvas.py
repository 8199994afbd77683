"""Where an image sits in the network's input, and how feature places map back onto it.

The input (the canvas) is shaped like image A, about ``cnn_canvas_pixels`` in area, each side a
multiple of the networks' output stride, so that every feature place covers whole pixels. Each
image is scaled into it without stretching and padded with the ImageNet mean colour, which is
zero after preprocessing; a ``Placement`` records which feature places the image itself covers,
so that padding stays out of the embedding and the maps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from worker.heatmap import resize_masked

STRIDE = 32  # output stride of all three networks' last feature map
IMAGENET_MEAN_RGB = np.array([123.68, 116.779, 103.939], dtype=np.float32)


def canvas_size(width: int, height: int, area: int) -> tuple[int, int]:
    """(width, height) of the network input: shaped like the image (aspect clamped to 1:4..4:1),
    about ``area`` pixels, sides multiples of the network stride."""
    ratio = min(max(width / height, 0.25), 4.0)
    canvas_w = max(STRIDE, round(math.sqrt(area * ratio) / STRIDE) * STRIDE)
    canvas_h = max(STRIDE, round(math.sqrt(area / ratio) / STRIDE) * STRIDE)
    return canvas_w, canvas_h


def widest_side(area: int) -> int:
    """The longest canvas side ``area`` can give (aspect 4:1), plus one stride of rounding."""
    return math.ceil(math.sqrt(area * 4)) + STRIDE


@dataclass(frozen=True)
class Placement:
    """An image fitted into the canvas: where it sits, and which feature cells it covers."""

    top: int
    left: int
    height: int
    width: int
    cells: np.ndarray  # bool (canvas_h / STRIDE, canvas_w / STRIDE)


def fit_into_canvas(
    pixels: np.ndarray, canvas_w: int, canvas_h: int
) -> tuple[np.ndarray, Placement]:
    """Scale ``pixels`` keeping aspect ratio to fit the canvas, centre it, pad with the ImageNet
    mean colour (zero after preprocessing), and mark the feature cells it mostly covers."""
    src_h, src_w = pixels.shape[:2]
    scale = min(canvas_w / src_w, canvas_h / src_h)
    width, height = max(1, round(src_w * scale)), max(1, round(src_h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(pixels, (width, height), interpolation=interpolation)
    canvas = np.empty((canvas_h, canvas_w, 3), dtype=np.float32)
    canvas[...] = IMAGENET_MEAN_RGB
    top, left = (canvas_h - height) // 2, (canvas_w - width) // 2
    canvas[top : top + height, left : left + width] = resized
    covered = np.zeros((canvas_h, canvas_w), dtype=np.float32)
    covered[top : top + height, left : left + width] = 1.0
    coverage = cv2.resize(
        covered, (canvas_w // STRIDE, canvas_h // STRIDE), interpolation=cv2.INTER_AREA
    )
    cells = coverage >= 0.5
    if not cells.any():
        cells = coverage >= coverage.max()
    return canvas, Placement(top, left, height, width, cells)


def over_image_a(cells: np.ndarray, place_a: Placement) -> np.ndarray:
    """A per-place map, smoothed to canvas pixels and cut to where image A lies."""
    canvas_h, canvas_w = cells.shape[0] * STRIDE, cells.shape[1] * STRIDE
    upsampled = resize_masked(cells, canvas_h, canvas_w)
    return upsampled[
        place_a.top : place_a.top + place_a.height,
        place_a.left : place_a.left + place_a.width,
    ]


def cell_coverage(coverage: np.ndarray, place_a: Placement, grid: tuple[int, int]) -> np.ndarray:
    """Which feature cells of A's canvas are mostly covered by the warped B."""
    canvas = np.zeros((grid[0] * STRIDE, grid[1] * STRIDE), dtype=np.float32)
    fitted = cv2.resize(
        coverage.astype(np.float32), (place_a.width, place_a.height), interpolation=cv2.INTER_AREA
    )
    canvas[
        place_a.top : place_a.top + place_a.height, place_a.left : place_a.left + place_a.width
    ] = fitted
    return cv2.resize(canvas, (grid[1], grid[0]), interpolation=cv2.INTER_AREA) >= 0.5
