"""An input shaped like an image: the aspect-preserving canvas.

A canvas of about a given area, shaped like the image (aspect clamped to 1:4..4:1), each side a
multiple of the networks' output stride, so that every feature place covers whole pixels; an
image is scaled into it without stretching and padded with the ImageNet mean colour, which is
zero after preprocessing. The service's own preparations are in ``preparation`` (its ``aspect``
kind uses ``canvas_size``); ``fit_into_canvas`` remains for the benchmarks' forward passes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

STRIDE = 32  # output stride of all three networks' last feature map
IMAGENET_MEAN_RGB = np.array([123.68, 116.779, 103.939], dtype=np.float32)


def canvas_size(width: int, height: int, area: int) -> tuple[int, int]:
    """(width, height) of the network input: shaped like the image (aspect clamped to 1:4..4:1),
    about ``area`` pixels, sides multiples of the network stride."""
    ratio = min(max(width / height, 0.25), 4.0)
    canvas_w = max(STRIDE, round(math.sqrt(area * ratio) / STRIDE) * STRIDE)
    canvas_h = max(STRIDE, round(math.sqrt(area / ratio) / STRIDE) * STRIDE)
    return canvas_w, canvas_h


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
