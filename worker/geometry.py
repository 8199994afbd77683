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
from worker.alignment import (
    MIN_DISAGREEMENT_CUT,
    SharedRegistration,
    agreement,
    register,
    unaligned_transform,
)

MIN_ASPECT_CHANGE = 0.02
"""Aspect ratios closer than this (relative) are the same shape: nothing to unsquash."""
MIN_STRETCH_AGREEMENT = 0.8
"""A stretched B must agree with A at least this well (correlation of small grey copies), as
well as clearly better than unstretched. ``tools/relation_study.py``: 39 copies squashed by
0.6-1.6 per axis agreed at 0.986 or more once unstretched; 177 pairs of different photos of
different shapes at most 0.566; 0.8 lies in the gap."""
GREY_TOLERANCE = 3
"""Channels this close (in 8-bit levels) make a pixel grey."""

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
    stretch_agreement: float | None = None
    """For a frame of a copy whose aspect ratio changed: how well it agrees, unstretched."""

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


def prepare_pair(
    a: np.ndarray,
    b: np.ndarray,
    *,
    align: bool,
    min_side: int = 1,
    shared: SharedRegistration | None = None,
) -> CommonFrame:
    """The frame a structural method compares in: B registered onto A when asked for and
    possible, else the scale-and-crop policy. Uncovered parts of the frame are filled with A's
    own pixels (so filters see no artificial edge) and marked in ``coverage``."""
    check_min_side(a, b, min_side)
    if not align:
        return _scale_and_crop(a, b)
    a, b, colour_note = _compare_in_grey_if_one_is(a, b, shared)
    registration = shared.register(a, b) if shared is not None else register(a, b)
    info = registration.info
    stretched = _stretched(a, b, info)
    if info.applied and registration.warped_b is not None and registration.coverage is not None:
        # A squashed copy can also pass for a similarity transform; keep whichever agrees more.
        assert info.matrix is not None
        if stretched is None or agreement(a, b, np.array(info.matrix)) >= _after(stretched):
            filled = np.where(registration.coverage[..., None], registration.warped_b, a)
            height, width = a.shape[:2]
            note = f"{info.note}; only that part is compared.{colour_note}"
            return CommonFrame(
                a, filled, (height, width), (0, 0), note, registration.coverage, info
            )
    if stretched is not None:
        return replace(stretched, note=stretched.note + colour_note)
    frame = _scale_and_crop(a, b)
    prefix = "Alignment: " if info.note.startswith("already") else "Not aligned: "
    note = f"{prefix}{info.note}. {frame.note}{colour_note}"
    return replace(frame, alignment=info, note=note)


def stretch_matrix(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> np.ndarray:
    """The B->A map of "B is all of A, resized to another shape": one scale per axis."""
    (ah, aw), (bh, bw) = a_shape[:2], b_shape[:2]
    return np.array([[aw / bw, 0.0, 0.0], [0.0, ah / bh, 0.0]], np.float64)


def stretch_agreement(a: np.ndarray, b: np.ndarray) -> tuple[float, float] | None:
    """Correlation of A with B unstretched (the scale-and-crop policy) and stretched over all
    of A; None when the two have the same shape (nothing to unstretch)."""
    (ah, aw), (bh, bw) = a.shape[:2], b.shape[:2]
    if abs((aw / ah) / (bw / bh) - 1.0) < MIN_ASPECT_CHANGE:
        return None
    before = agreement(a, b, unaligned_transform(a.shape, b.shape))
    return before, agreement(a, b, stretch_matrix(a.shape, b.shape))


def is_stretched_copy(a: np.ndarray, b: np.ndarray) -> tuple[float, float] | None:
    """(before, after) when B is A resized to another aspect ratio: stretched, B agrees well
    with A and clearly better than unstretched (the registration's rule); else None."""
    found = stretch_agreement(a, b)
    if found is None:
        return None
    before, after = found
    clearly = (1 - after) <= (1 - MIN_DISAGREEMENT_CUT) * (1 - before)
    return found if after >= MIN_STRETCH_AGREEMENT and clearly else None


def _stretched(a: np.ndarray, b: np.ndarray, info: AlignmentInfo) -> CommonFrame | None:
    """Both images resized, each axis down only, to a common frame covering all of each: the
    comparison of a copy whose aspect ratio changed (a thumbnailer's squashed copy)."""
    found = is_stretched_copy(a, b)
    if found is None:
        return None
    before, after = found
    (ah, aw), (bh, bw) = a.shape[:2], b.shape[:2]
    height, width = min(ah, bh), min(aw, bw)
    frame_a = a if (ah, aw) == (height, width) else _resize(a, width, height)
    frame_b = b if (bh, bw) == (height, width) else _resize(b, width, height)
    sx, sy = bw / aw, bh / ah
    note = (
        f"B is A resized to {bw}x{bh}, its aspect ratio changed (width x{sx:.2f}, height "
        f"x{sy:.2f}): both were resized to {width}x{height} and compared whole (correlation "
        f"{before:.2f} cropped, {after:.2f} unstretched)."
    )
    stretch = AlignmentInfo(
        requested=True,
        applied=True,
        note=note,
        matches=info.matches,
        inliers=info.inliers,
        matrix=[[round(float(v), 6) for v in row] for row in stretch_matrix(a.shape, b.shape)],
        scale_xy=[round(sx, 4), round(sy, 4)],
        coverage_percent=100.0,
    )
    return CommonFrame(frame_a, frame_b, (height, width), (0, 0), note, None, stretch, after)


def _after(frame: CommonFrame) -> float:
    """The stretched frame's agreement, kept in its alignment info."""
    return frame.stretch_agreement if frame.stretch_agreement is not None else 0.0


def is_grey(pixels: np.ndarray) -> bool:
    """Whether an RGB image is grey (all channels equal, give or take ``GREY_TOLERANCE``, on
    99 % of a sample of its pixels)."""
    if pixels.ndim == 2:
        return True
    # Every n-th pixel, about 64 x 64 of them: a grey image is grey everywhere, so a sample
    # tells as much as an averaged thumbnail, at a fraction of the cost (no pass over it all).
    step = max(1, min(pixels.shape[:2]) // 64)
    small = pixels[::step, ::step, :3].astype(np.int16)
    spread = small.max(axis=2) - small.min(axis=2)
    return bool((spread <= GREY_TOLERANCE).mean() >= 0.99)


def greyscale_side(
    a: np.ndarray, b: np.ndarray, shared: SharedRegistration | None = None
) -> str | None:
    """'a' or 'b' when exactly that image is grey (a colour photo against its greyscale copy);
    with ``shared``, found once per request (keyed by the sizes, as its registration)."""
    key = (a.shape[:2], b.shape[:2])
    if shared is not None and key in shared.greyscale_sides:
        return shared.greyscale_sides[key]
    grey_a, grey_b = is_grey(a), is_grey(b)
    side = None if grey_a == grey_b else ("a" if grey_a else "b")
    if shared is not None:
        shared.greyscale_sides[key] = side
    return side


def _compare_in_grey_if_one_is(
    a: np.ndarray, b: np.ndarray, shared: SharedRegistration | None
) -> tuple[np.ndarray, np.ndarray, str]:
    """Both in grey when exactly one is: colour cannot be compared then, only the picture."""
    side = greyscale_side(a, b, shared)
    if side is None:
        return a, b, ""

    def grey(pixels: np.ndarray) -> np.ndarray:
        """The colour channels in grey; any further channel (the pixel method's alpha) kept."""
        luma = cv2.cvtColor(np.ascontiguousarray(pixels[..., :3]), cv2.COLOR_RGB2GRAY)
        greyed = cv2.cvtColor(luma, cv2.COLOR_GRAY2RGB)
        return np.dstack([greyed, pixels[..., 3:]]) if pixels.shape[2] > 3 else greyed

    which = "B" if side == "b" else "A"
    note = f" {which} is in greyscale, so both were compared in grey: colour was not compared."
    return (grey(a), b, note) if side == "b" else (a, grey(b), note)


def _resize(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    return cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA)


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
