"""Bring two images of different sizes into one frame without ever stretching either.

Policy (also stated in the README and in every structural result): when alignment is asked for
and succeeds, B is warped onto A's pixel grid and only the part of A that B covers is compared.
Otherwise the larger image (by area) is scaled down, keeping its aspect ratio, until it just
covers the smaller one, then centre-cropped to the smaller one's size. Upscaling never happens,
so no detail is invented; parts of A without a counterpart in B are reported as such.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from shared.errors import ErrorCode, ServiceError
from shared.schemas import AlignmentInfo
from worker.alignment import register


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


def resize_to_cover(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Scale ``pixels`` keeping aspect ratio so that it covers ``height x width``."""
    src_h, src_w = pixels.shape[:2]
    scale = max(height / src_h, width / src_w)
    new_w, new_h = max(width, round(src_w * scale)), max(height, round(src_h * scale))
    if (new_h, new_w) == (src_h, src_w):
        return pixels
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(pixels, (new_w, new_h), interpolation=interpolation)


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
    """Scale and crop the larger of ``a`` and ``b`` onto the smaller one's size."""
    check_min_side(a, b, min_side)
    return _scale_and_crop(a, b)


def _scale_and_crop(a: np.ndarray, b: np.ndarray) -> CommonFrame:
    (ah, aw), (bh, bw) = a.shape[:2], b.shape[:2]
    if (ah, aw) == (bh, bw):
        return CommonFrame(a, b, (ah, aw), (0, 0), "Both images have the same size.")
    if ah * aw <= bh * bw:
        scaled = resize_to_cover(b, ah, aw)
        cropped, _ = centre_crop(scaled, ah, aw)
        note = f"Image B ({bw}x{bh}) was {_scaled_note(b, scaled)}centre-cropped to A's {aw}x{ah}."
        return CommonFrame(a, cropped, (ah, aw), (0, 0), note)
    scaled = resize_to_cover(a, bh, bw)
    cropped, offset = centre_crop(scaled, bh, bw)
    note = f"Image A ({aw}x{ah}) was {_scaled_note(a, scaled)}centre-cropped to B's {bw}x{bh}."
    if scaled.shape[:2] != (bh, bw):
        note += " Grey areas of the heatmap were cropped away and have no counterpart in B."
    return CommonFrame(cropped, b, scaled.shape[:2], offset, note)


def _scaled_note(original: np.ndarray, scaled: np.ndarray) -> str:
    if scaled.shape[:2] == original.shape[:2]:
        return ""
    return f"scaled to {scaled.shape[1]}x{scaled.shape[0]}, keeping its aspect ratio, and "
