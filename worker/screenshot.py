"""Exact pixel-for-pixel comparison of screenshots: changed pixels, anti-aliasing, region boxes
and a pixelmatch-style diff image, at full resolution.

A visual-regression check (pixelmatch, odiff, jest-image-snapshot) must never let an average hide
a real change: a price that went from "$49.99" to "$59.99" changes a few hundred pixels of two
million. So nothing here is resized, smoothed or aligned: a pixel counts as changed when its
colour differs by more than the threshold in CIEDE2000 (Sharma, Wu & Dalal 2005), or its
opacity by more than ``ALPHA_JND`` levels, unless it lies in an ignored rectangle or, with
anti-aliasing detection on, it is an anti-aliased edge pixel by pixelmatch's detector (after
V. Vysniauskas, "Anti-aliased Pixel and Intensity Slope Detector", 2009), vectorised here and
checked against pixelmatch's own on the same pixels (tests/unit/test_screenshot.py).

CIEDE2000 is computed only where the two images' bytes differ: on a screenshot pair, a few
pixels of millions, which is what makes a 1920x1080 pair cost milliseconds.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import cv2
import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab

from shared.ignore_regions import Rectangle
from shared.schemas import ChangedRegion

ALPHA_JND = 2.5
"""Opacity levels (of 255) above which an alpha change counts (see ``worker.methods.pixel``)."""
REGION_CAP = 100
"""At most this many region boxes in an answer; ``region_count`` gives them all."""
LOSSLESS_FORMATS = frozenset({"PNG", "BMP", "GIF", "TIFF"})
"""Formats in which a same-size pair is taken for screenshots and compared exactly."""
FADE = 0.1
"""Opacity of A's grey in the diff image (pixelmatch's ``alpha`` default)."""
DIM = 0.7
"""Brightness factor of ignored and uncompared parts in the diff image."""

# Luma weights of pixelmatch's YIQ (Kotsarenko & Ramos), for its anti-aliasing detector.
_LUMA = np.array([0.29889531, 0.58662247, 0.11448223])
# The 8 neighbours in pixelmatch's visiting order (x outer, y inner): ties between equally dark
# or bright neighbours go to the first, as there.
_NEIGHBOURS = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if (dx, dy) != (0, 0)]


@dataclass
class ExactDifference:
    """Per-pixel outcome over the compared (common) area."""

    delta: np.ndarray
    """Float32 CIEDE2000 per pixel (0 where the bytes are equal or the pixel is ignored)."""
    changed: np.ndarray
    """Bool: counted as changed."""
    antialiased: np.ndarray
    """Bool: above the threshold but taken for anti-aliasing (not counted)."""
    ignored: np.ndarray
    """Bool: inside an ignored rectangle."""
    alpha_changed: np.ndarray
    """Bool: opacity changed by more than ``ALPHA_JND`` (included in ``changed``)."""
    colour_changed: np.ndarray
    """Bool: the colour over white changed (``changed`` less pure opacity changes)."""


def ignore_mask(shape: tuple[int, int], rectangles: tuple[Rectangle, ...]) -> np.ndarray:
    """Bool mask of the rectangles, clipped to ``shape``."""
    mask = np.zeros(shape, dtype=bool)
    for x, y, width, height in rectangles:
        mask[y : y + height, x : x + width] = True
    return mask


def _keys(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """One integer per pixel, equal exactly when colour and opacity are (pixelmatch's RGBA)."""
    key = rgb[..., 0].astype(np.int64) << 16 | rgb[..., 1].astype(np.int64) << 8 | rgb[..., 2]
    if alpha is not None:
        key |= alpha.astype(np.int64) << 24
    return key


def _many_siblings(keys: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """pixelmatch's ``hasManySiblings`` at each (y, x): 3 or more of its neighbours have exactly
    its colour, a pixel on the image's border counting one more."""
    height, width = keys.shape
    padded = np.pad(keys, 1, constant_values=-1)  # -1: no colour, never equal
    centre = keys[ys, xs]
    count = ((ys == 0) | (ys == height - 1) | (xs == 0) | (xs == width - 1)).astype(np.int32)
    for dx, dy in _NEIGHBOURS:
        count += padded[ys + 1 + dy, xs + 1 + dx] == centre
    return count > 2


def antialiased(
    luma: np.ndarray,
    keys: np.ndarray,
    other_keys: np.ndarray,
    ys: np.ndarray,
    xs: np.ndarray,
) -> np.ndarray:
    """pixelmatch's ``antialiased(img, x, y, img2)`` at each (y, x), vectorised: the pixel lies
    between a darker and a brighter neighbour, has at most two neighbours of its own brightness,
    and its darkest or brightest neighbour has 3+ equal siblings in both images."""
    height, width = luma.shape
    padded = np.pad(luma, 1, constant_values=np.nan)
    centre = luma[ys, xs]
    deltas = np.stack(
        [centre - padded[ys + 1 + dy, xs + 1 + dx] for dx, dy in _NEIGHBOURS]
    )  # 8 x n; NaN off the image
    edge = (ys == 0) | (ys == height - 1) | (xs == 0) | (xs == width - 1)
    zeroes = edge.astype(np.int32) + (deltas == 0).sum(axis=0)
    darker = np.where(deltas < 0, deltas, np.inf)
    brighter = np.where(deltas > 0, deltas, -np.inf)
    has_darker = np.isfinite(darker.min(axis=0))
    has_brighter = np.isfinite(brighter.max(axis=0))
    offsets = np.array(_NEIGHBOURS)
    lowest = offsets[darker.argmin(axis=0)]
    highest = offsets[brighter.argmax(axis=0)]
    result = (zeroes <= 2) & has_darker & has_brighter
    low_y, low_x = ys + lowest[:, 1], xs + lowest[:, 0]
    high_y, high_x = ys + highest[:, 1], xs + highest[:, 0]
    candidates = np.flatnonzero(result)
    if candidates.size == 0:
        return result
    ly, lx = low_y[candidates], low_x[candidates]
    hy, hx = high_y[candidates], high_x[candidates]
    slope = (_many_siblings(keys, ly, lx) & _many_siblings(other_keys, ly, lx)) | (
        _many_siblings(keys, hy, hx) & _many_siblings(other_keys, hy, hx)
    )
    result[candidates] = slope
    return result


def shift_explained(
    rgb_a: np.ndarray, rgb_b: np.ndarray, ys: np.ndarray, xs: np.ndarray, threshold: float
) -> np.ndarray:
    """Whether each (y, x) is explained by an edge that moved by at most one pixel, both ways:
    A's colour is found in B's 3x3 neighbourhood and B's in A's, within ``threshold`` delta E00.
    Symmetric, so that ink added on a blank background (B's new pixel has no like in A's
    neighbourhood) still counts, which a one-sided test would forgive."""

    def found(centre: np.ndarray, around: np.ndarray) -> np.ndarray:
        padded = np.pad(around, ((1, 1), (1, 1), (0, 0)), mode="edge")
        near = np.stack(
            [padded[ys + 1 + dy, xs + 1 + dx] for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
        )
        lab_near = rgb2lab(near)  # 9 x n x 3
        lab_centre = rgb2lab(centre[ys, xs][None])
        distance = deltaE_ciede2000(np.broadcast_to(lab_centre, lab_near.shape), lab_near)
        return np.asarray(distance.min(axis=0) <= threshold)

    return found(rgb_a, rgb_b) & found(rgb_b, rgb_a)


def luma_of(rgb: np.ndarray) -> np.ndarray:
    """pixelmatch's brightness (YIQ's Y) of RGB pixels composited over white."""
    return rgb.astype(np.float64) @ _LUMA


def exact_difference(
    rgb_a: np.ndarray,
    rgb_b: np.ndarray,
    alpha_a: np.ndarray | None,
    alpha_b: np.ndarray | None,
    threshold: float,
    detect_antialiasing: bool,
    rectangles: tuple[Rectangle, ...],
) -> ExactDifference:
    """Compare two same-size images (RGB over white, optional alpha) pixel for pixel."""
    shape = rgb_a.shape[:2]
    ignored = ignore_mask(shape, rectangles)
    differs = np.any(rgb_a != rgb_b, axis=2)
    alpha_changed = np.zeros(shape, dtype=bool)
    if alpha_a is not None or alpha_b is not None:
        opacity_a = alpha_a if alpha_a is not None else np.full(shape, 255, np.uint8)
        opacity_b = alpha_b if alpha_b is not None else np.full(shape, 255, np.uint8)
        alpha_delta = np.abs(opacity_a.astype(np.int16) - opacity_b.astype(np.int16))
        alpha_changed = (alpha_delta > ALPHA_JND) & ~ignored
    differs &= ~ignored
    delta = np.zeros(shape, dtype=np.float32)
    ys, xs = np.nonzero(differs)
    if ys.size:
        lab_a = rgb2lab(rgb_a[ys, xs][None])
        lab_b = rgb2lab(rgb_b[ys, xs][None])
        delta[ys, xs] = deltaE_ciede2000(lab_a, lab_b)[0]
    above = (delta > threshold) | alpha_changed
    aa = np.zeros(shape, dtype=bool)
    if detect_antialiasing:
        # An opacity change always counts: it is exact, not an edge's rendering.
        cy, cx = np.nonzero(above & ~alpha_changed)
        if cy.size:
            luma_a, luma_b = luma_of(rgb_a), luma_of(rgb_b)
            keys_a, keys_b = _keys(rgb_a, alpha_a), _keys(rgb_b, alpha_b)
            flags = antialiased(luma_a, keys_a, keys_b, cy, cx) | antialiased(
                luma_b, keys_b, keys_a, cy, cx
            )
            rest = np.flatnonzero(~flags)
            if rest.size:
                flags[rest] = shift_explained(rgb_a, rgb_b, cy[rest], cx[rest], threshold)
            aa[cy[flags], cx[flags]] = True
    return ExactDifference(
        delta=delta,
        changed=above & ~aa,
        antialiased=aa,
        ignored=ignored,
        alpha_changed=alpha_changed,
        colour_changed=(delta > threshold) & ~aa,
    )


def changed_regions(
    changed: np.ndarray, delta: np.ndarray, cap: int = REGION_CAP
) -> tuple[list[ChangedRegion], int]:
    """Boxes around the 8-connected areas of ``changed`` (OpenCV connected components), the
    largest first (ties: top to bottom, left to right), at most ``cap``; and how many there are."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        changed.astype(np.uint8), connectivity=8
    )
    if count <= 1:
        return [], 0
    ids = np.arange(1, count)
    areas = stats[1:, cv2.CC_STAT_AREA]
    order = np.lexsort((stats[1:, cv2.CC_STAT_LEFT], stats[1:, cv2.CC_STAT_TOP], -areas))
    chosen = ids[order[:cap]]
    on = labels[changed]
    values = delta[changed].astype(np.float64)
    means = np.bincount(on, weights=values, minlength=count)[chosen] / areas[chosen - 1]
    maxima = np.zeros(count)
    np.maximum.at(maxima, on, values)
    maxima = maxima[chosen]
    regions = [
        ChangedRegion(
            x=int(stats[label, cv2.CC_STAT_LEFT]),
            y=int(stats[label, cv2.CC_STAT_TOP]),
            width=int(stats[label, cv2.CC_STAT_WIDTH]),
            height=int(stats[label, cv2.CC_STAT_HEIGHT]),
            pixels=int(stats[label, cv2.CC_STAT_AREA]),
            mean_delta_e2000=round(float(mean), 3),
            max_delta_e2000=round(float(maximum), 3),
        )
        for label, mean, maximum in zip(
            chosen, np.atleast_1d(means), np.atleast_1d(maxima), strict=True
        )
    ]
    return regions, count - 1


def diff_image(rgb_a: np.ndarray, difference: ExactDifference) -> str:
    """The pixelmatch-style diff as a PNG data URL at A's full size: A's brightness faded to
    ``FADE`` over white, changed pixels red, anti-aliased yellow, ignored rectangles and any
    part of A outside the compared (common) area dimmed."""
    grey = 255.0 + (luma_of(rgb_a) - 255.0) * FADE
    height, width = difference.changed.shape
    dimmed = np.ones(rgb_a.shape[:2], dtype=bool)
    dimmed[:height, :width] = difference.ignored
    grey[dimmed] *= DIM
    out = np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    view = out[:height, :width]
    view[difference.antialiased] = (255, 255, 0)
    view[difference.changed] = (255, 0, 0)
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(out, cv2.COLOR_RGB2BGR))
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 array
        raise RuntimeError("PNG encoding of the diff image failed")
    return "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")
