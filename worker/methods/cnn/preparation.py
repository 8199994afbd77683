"""How one image becomes a network input, on its own: never shaped by the image it is compared with.

A ``Preparation`` is pure geometry: which part of the image is shown (``image_box``), where in
the input it lands (``canvas_box``), and what fills the rest (the ImageNet mean colour, zero
after preprocessing). The same geometry carries a mask (where an aligned image has content) to
the feature grid, and carries a per-place map back onto the image, so that the heatmaps always
lie over the image as the user sees it.

The four kinds are the candidates of ``tools/embedding_study.py``; the service uses the one that
study chose (``CANONICAL_KIND`` in ``embedding``):

* ``plain``: resize to ``side`` x ``side`` ignoring the aspect ratio (the original app's recipe);
* ``fit``: keep the aspect ratio, fit into ``side`` x ``side``, pad, padding masked out;
* ``crop``: resize the short side to ``side``, keep the centre square;
* ``aspect``: an input shaped like the image itself, about ``side``\u00b2 pixels, sides multiples of
  the stride (almost no padding; inputs of different shapes cannot share a forward pass).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal, get_args

import cv2
import numpy as np

from worker.heatmap import output_size, resize_masked
from worker.methods.cnn.canvas import IMAGENET_MEAN_RGB, STRIDE, canvas_size

PreparationKind = Literal["plain", "fit", "crop", "aspect"]
PREPARATION_KINDS: tuple[PreparationKind, ...] = get_args(PreparationKind)

Box = tuple[int, int, int, int]
"""(top, left, height, width) in pixels."""


@dataclass(frozen=True)
class Placement:
    """Where an image lies in its network input, and which feature places it covers."""

    canvas_box: Box
    """The part of the input that shows the image."""
    image_box: Box
    """The part of the image shown there (all of it, except for ``crop``)."""
    image_size: tuple[int, int]
    """(height, width) of the image."""
    cells: np.ndarray
    """bool (rows, cols): feature places mostly covered by the image, not by padding."""


def square_side(area: int) -> int:
    """The side of a square input of about ``area`` pixels, a multiple of the stride."""
    return max(STRIDE, round(math.sqrt(area) / STRIDE) * STRIDE)


@dataclass(frozen=True)
class Preparation:
    """One way to turn an image into a network input; depends on that image only."""

    kind: PreparationKind
    side: int = 224

    @property
    def label(self) -> str:
        """Short name for tables and logs, e.g. ``plain-224``."""
        return f"{self.kind}-{self.side}"

    def widest_input_side(self) -> int:
        """Pixels the longest side of a decoded image needs so that nothing is upsampled."""
        if self.kind == "crop":
            # The short side becomes ``side``: enough up to 2:1; wider images lose a little
            # resolution (not content), and JPEGs need not be decoded larger for the rare ones.
            return 2 * self.side
        if self.kind == "aspect":
            return math.ceil(math.sqrt(self.side * self.side * 4)) + STRIDE
        return self.side

    def geometry(self, height: int, width: int) -> tuple[tuple[int, int], Box, Box]:
        """((canvas_h, canvas_w), canvas_box, image_box) for an image of this size."""
        full: Box = (0, 0, height, width)
        side = self.side
        if self.kind == "plain":
            return (side, side), (0, 0, side, side), full
        if self.kind == "crop":
            short = min(height, width)
            box = ((height - short) // 2, (width - short) // 2, short, short)
            return (side, side), (0, 0, side, side), box
        if self.kind == "fit":
            canvas_h, canvas_w = side, side
        else:
            canvas_w, canvas_h = canvas_size(width, height, side * side)
        scale = min(canvas_w / width, canvas_h / height)
        fitted_w, fitted_h = max(1, round(width * scale)), max(1, round(height * scale))
        top, left = (canvas_h - fitted_h) // 2, (canvas_w - fitted_w) // 2
        return (canvas_h, canvas_w), (top, left, fitted_h, fitted_w), full

    def _render(self, values: np.ndarray, fill: np.ndarray | float) -> np.ndarray:
        """``values`` (H, W[, C]) laid out in the input, the rest set to ``fill``."""
        (canvas_h, canvas_w), (c_top, c_left, c_h, c_w), (i_top, i_left, i_h, i_w) = self.geometry(
            values.shape[0], values.shape[1]
        )
        shown = values[i_top : i_top + i_h, i_left : i_left + i_w]
        shrinking = c_w < i_w or c_h < i_h
        resized = cv2.resize(
            shown.astype(np.float32),
            (c_w, c_h),
            interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR,
        )
        canvas = np.empty((canvas_h, canvas_w, *values.shape[2:]), dtype=np.float32)
        canvas[...] = fill
        canvas[c_top : c_top + c_h, c_left : c_left + c_w] = resized.reshape(
            c_h, c_w, *values.shape[2:]
        )
        return canvas

    def prepare(self, pixels: np.ndarray) -> tuple[np.ndarray, Placement]:
        """The network input for ``pixels`` (RGB, H x W x 3) and where the image lies in it."""
        height, width = pixels.shape[:2]
        _, canvas_box, image_box = self.geometry(height, width)
        canvas = self._render(pixels, IMAGENET_MEAN_RGB)
        return canvas, Placement(
            canvas_box, image_box, (height, width), _image_cells(self, height, width)
        )

    def coverage(self, mask: np.ndarray) -> np.ndarray:
        """The share of each feature place that ``mask`` (H x W over the image) covers."""
        canvas = self._render(mask, 0.0)
        grid = (canvas.shape[1] // STRIDE, canvas.shape[0] // STRIDE)
        return cv2.resize(canvas, grid, interpolation=cv2.INTER_AREA)

    def project(self, mask: np.ndarray) -> np.ndarray:
        """Feature places mostly covered by ``mask`` (H x W over the image, 1 = content)."""
        return self.coverage(mask) >= 0.5

    def over_image(self, cells: np.ndarray, placement: Placement) -> np.ndarray:
        """A per-place map (NaN where invalid) smoothed and laid over the image: shaped like the
        image (longest side that of the input), NaN where the network did not see it."""
        rows, cols = cells.shape
        upsampled = resize_masked(cells, rows * STRIDE, cols * STRIDE)
        c_top, c_left, c_h, c_w = placement.canvas_box
        shown = upsampled[c_top : c_top + c_h, c_left : c_left + c_w]
        height, width = placement.image_size
        out_h, out_w = output_size(height, width, max(rows, cols) * STRIDE)
        scale_y, scale_x = out_h / height, out_w / width
        i_top, i_left, i_h, i_w = placement.image_box
        top, left = round(i_top * scale_y), round(i_left * scale_x)
        box_h = max(1, min(out_h - top, round(i_h * scale_y)))
        box_w = max(1, min(out_w - left, round(i_w * scale_x)))
        out = np.full((out_h, out_w), np.nan, dtype=np.float32)
        out[top : top + box_h, left : left + box_w] = resize_masked(shown, box_h, box_w)
        return out


@functools.lru_cache(maxsize=256)
def _image_cells(preparation: Preparation, height: int, width: int) -> np.ndarray:
    """The feature places an image of this size covers (at least the most covered ones): a
    function of the size alone, so worked out once per size, not by rendering a mask of the
    whole image for every image (a millisecond each for a 1024x768 photo). Read-only: shared."""
    whole = np.ones((height, width), dtype=np.float32)
    cells = preparation.project(whole)
    if not cells.any():
        coverage = preparation.coverage(whole)
        cells = coverage >= coverage.max()
    cells.setflags(write=False)
    return cells
