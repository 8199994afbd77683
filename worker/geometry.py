"""Bring two images of different sizes into one frame without ever stretching either.

Policy (also stated in the README and in every structural result): when alignment is asked for,
B has moved and a registration makes the pair agree clearly better (``worker.alignment``), B is
warped onto A's pixel grid and only the part of A that B covers is compared. Otherwise (a pair
that did not move included, which is then compared exactly as with alignment off), when one
image is at least as large as the other on both sides, it is scaled down, keeping its aspect
ratio, until it just covers the smaller one, then centre-cropped to the smaller one's size.
When neither covers the other (A wider, B taller, or the reverse), both are centre-cropped,
unscaled, to their common window: scaling either down would only shrink that window. No image
is ever scaled up, on either side, so no detail is invented; parts of A without a counterpart
in B are reported as such.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from shared.errors import ErrorCode, ServiceError
from shared.schemas import AlignmentInfo
from worker.alignment import register

NO_COUNTERPART_NOTE = " Grey areas of the heatmap were cropped away and have no counterpart in B."


@dataclass(frozen=True)
class CommonFrame:
    """Both images at one size, and where that frame lies inside (scaled) image A."""

    a: np.ndarray
    b: np.ndarray
    a_scaled_size: tuple[int, int]  # (height, width) of A after scaling
    a_offset: tuple[int, int]  # (top, left) of the frame inside scaled A
    note: str
    coverage: np.ndarray | None = None
    """Bool mask over the frame: where B has pixels (None: everywhere)."""
    alignment: AlignmentInfo | None = None

    def place_in_a(self, values: np.ndarray) -> np.ndarray:
        """A per-pixel map of the frame, embedded in scaled A, NaN where A has no counterpart."""
        if self.coverage is not None:
            values = np.where(self.coverage, values, np.nan).astype(np.float32)
        height, width = self.a_scaled_size
        if (height, width) == values.shape[:2]:
            return values
        full = np.full((height, width), np.nan, dtype=np.float32)
        top, left = self.a_offset
        full[top : top + values.shape[0], left : left + values.shape[1]] = values
        return full


def shrink_to_cover(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Scale ``pixels`` down, keeping its aspect ratio, until it just covers ``height x width``.

    ``ValueError`` when that would need scaling up: the caller picks the image that covers.
    """
    src_h, src_w = pixels.shape[:2]
    if height > src_h or width > src_w:
        raise ValueError(f"{src_w}x{src_h} does not cover {width}x{height}; no upscaling")
    scale = max(height / src_h, width / src_w)
    new_w, new_h = max(width, round(src_w * scale)), max(height, round(src_h * scale))
    if (new_h, new_w) == (src_h, src_w):
        return pixels
    return cv2.resize(pixels, (new_w, new_h), interpolation=cv2.INTER_AREA)


def centre_crop(pixels: np.ndarray, height: int, width: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The central ``height x width`` window and its (top, left) offset."""
    top = (pixels.shape[0] - height) // 2
    left = (pixels.shape[1] - width) // 2
    return pixels[top : top + height, left : left + width], (top, left)


def check_min_side(a: np.ndarray, b: np.ndarray, min_side: int) -> None:
    """422 when either image is smaller than a method can handle."""
    for label, pixels in (("image_a", a), ("image_b", b)):
        if min(pixels.shape[:2]) < min_side:
            raise ServiceError(
                ErrorCode.IMAGE_TOO_SMALL,
                f"{label} is {pixels.shape[1]}x{pixels.shape[0]} pixels; this method needs at "
                f"least {min_side}x{min_side}.",
                {"field": label, "min_side": min_side},
            )


def prepare_pair(a: np.ndarray, b: np.ndarray, *, align: bool, min_side: int = 1) -> CommonFrame:
    """The frame a structural method compares in: B registered onto A when asked for and
    possible, else the scale-and-crop policy. Uncovered parts of the frame are filled with A's
    own pixels (so filters see no artificial edge) and marked in ``coverage``."""
    check_min_side(a, b, min_side)
    if not align:
        return _scale_and_crop(a, b)
    registration = register(a, b)
    info = registration.info
    if info.applied and registration.warped_b is not None and registration.coverage is not None:
        filled = np.where(registration.coverage[..., None], registration.warped_b, a)
        height, width = a.shape[:2]
        note = f"{info.note}; only that part is compared."
        return CommonFrame(a, filled, (height, width), (0, 0), note, registration.coverage, info)
    frame = _scale_and_crop(a, b)
    prefix = "Alignment: " if info.note.startswith("already") else "Not aligned: "
    return replace(frame, alignment=info, note=f"{prefix}{info.note}. {frame.note}")


def common_frame(a: np.ndarray, b: np.ndarray, *, min_side: int = 1) -> CommonFrame:
    """``a`` and ``b`` in one frame by the scale-and-crop policy (module docstring)."""
    check_min_side(a, b, min_side)
    return _scale_and_crop(a, b)


def _covers(larger: tuple[int, int], smaller: tuple[int, int]) -> bool:
    return larger[0] >= smaller[0] and larger[1] >= smaller[1]


def _scale_and_crop(a: np.ndarray, b: np.ndarray) -> CommonFrame:
    (ah, aw), (bh, bw) = a.shape[:2], b.shape[:2]
    if (ah, aw) == (bh, bw):
        return CommonFrame(a, b, (ah, aw), (0, 0), "Both images have the same size.")
    if _covers((bh, bw), (ah, aw)):
        scaled = shrink_to_cover(b, ah, aw)
        cropped, _ = centre_crop(scaled, ah, aw)
        note = f"Image B ({bw}x{bh}) was {_scaled_note(b, scaled)}centre-cropped to A's {aw}x{ah}."
        return CommonFrame(a, cropped, (ah, aw), (0, 0), note)
    if _covers((ah, aw), (bh, bw)):
        scaled = shrink_to_cover(a, bh, bw)
        cropped, offset = centre_crop(scaled, bh, bw)
        note = f"Image A ({aw}x{ah}) was {_scaled_note(a, scaled)}centre-cropped to B's {bw}x{bh}."
        if scaled.shape[:2] != (bh, bw):
            note += NO_COUNTERPART_NOTE
        return CommonFrame(cropped, b, scaled.shape[:2], offset, note)
    height, width = min(ah, bh), min(aw, bw)
    crop_a, offset = centre_crop(a, height, width)
    crop_b, _ = centre_crop(b, height, width)
    wider, taller = ("A", "B") if aw > bw else ("B", "A")
    note = (
        f"Neither image covers the other (A is {aw}x{ah}, B {bw}x{bh}: {wider} is wider, "
        f"{taller} taller), so both were centre-cropped, without scaling, to their common "
        f"{width}x{height}; the rest of either was not compared.{NO_COUNTERPART_NOTE}"
    )
    return CommonFrame(crop_a, crop_b, (ah, aw), offset, note)


def _scaled_note(original: np.ndarray, scaled: np.ndarray) -> str:
    if scaled.shape[:2] == original.shape[:2]:
        return ""
    return f"scaled to {scaled.shape[1]}x{scaled.shape[0]}, keeping its aspect ratio, and "
