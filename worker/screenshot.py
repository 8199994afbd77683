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
from collections.abc import Callable
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
REGION_GAP = 2
"""Changed pixels at most this many unchanged pixels apart belong to one region."""
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


@dataclass(frozen=True)
class Picture:
    """One image as pixelmatch reads it: RGB over white and, when it has one, its alpha."""

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    maps: tuple[np.ndarray, np.ndarray] | None = None
    """Brightness and colour key of every pixel, computed once when most of them are read."""

    def with_maps(self) -> Picture:
        """This picture with its whole brightness and key maps: for many changed pixels."""
        height, width = self.rgb.shape[:2]
        ys, xs = np.indices((height, width)).reshape(2, -1)
        luma, key = self.at(ys, xs)
        return Picture(
            self.rgb, self.alpha, (luma.reshape(height, width), key.reshape(height, width))
        )

    def at(self, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Brightness (YIQ's Y) and an exact colour key (RGBA as one integer) at each point:
        gathered, not computed over the whole image, whose few changed pixels are usually all
        that is looked at."""
        if self.maps is not None:
            return self.maps[0][ys, xs], self.maps[1][ys, xs]
        rgb = self.rgb[ys, xs]
        key = rgb[:, 0].astype(np.int64) << 16 | rgb[:, 1].astype(np.int64) << 8 | rgb[:, 2]
        if self.alpha is not None:
            key |= self.alpha[ys, xs].astype(np.int64) << 24
        return luma_of(rgb), key


def _neighbour(
    shape: tuple[int, ...], ys: np.ndarray, xs: np.ndarray, dx: int, dy: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The neighbour's coordinates (clipped to the image) and whether it is on the image."""
    y, x = ys + dy, xs + dx
    inside = (y >= 0) & (y < shape[0]) & (x >= 0) & (x < shape[1])
    return np.clip(y, 0, shape[0] - 1), np.clip(x, 0, shape[1] - 1), inside


def _on_border(shape: tuple[int, ...], ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    return (ys == 0) | (ys == shape[0] - 1) | (xs == 0) | (xs == shape[1] - 1)


def _many_siblings(picture: Picture, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """pixelmatch's ``hasManySiblings`` at each (y, x): 3 or more of its neighbours have exactly
    its colour, a pixel on the image's border counting one more."""
    shape = picture.rgb.shape
    _, centre = picture.at(ys, xs)
    count = _on_border(shape, ys, xs).astype(np.int32)
    for dx, dy in _NEIGHBOURS:
        ny, nx, inside = _neighbour(shape, ys, xs, dx, dy)
        count += inside & (picture.at(ny, nx)[1] == centre)
    return count > 2


def antialiased(picture: Picture, other: Picture, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """pixelmatch's ``antialiased(img, x, y, img2)`` at each (y, x), vectorised: the pixel lies
    between a darker and a brighter neighbour, has at most two neighbours of its own brightness,
    and its darkest or brightest neighbour has 3+ equal siblings in both images."""
    shape = picture.rgb.shape
    centre, _ = picture.at(ys, xs)
    rows = []
    for dx, dy in _NEIGHBOURS:
        ny, nx, inside = _neighbour(shape, ys, xs, dx, dy)
        rows.append(np.where(inside, centre - picture.at(ny, nx)[0], np.nan))
    deltas = np.stack(rows)  # 8 x n; NaN off the image
    zeroes = _on_border(shape, ys, xs).astype(np.int32) + (deltas == 0).sum(axis=0)
    darker = np.where(deltas < 0, deltas, np.inf)
    brighter = np.where(deltas > 0, deltas, -np.inf)
    has_darker = np.isfinite(darker.min(axis=0))
    has_brighter = np.isfinite(brighter.max(axis=0))
    offsets = np.array(_NEIGHBOURS)
    lowest = offsets[darker.argmin(axis=0)]
    highest = offsets[brighter.argmax(axis=0)]
    result = (zeroes <= 2) & has_darker & has_brighter
    candidates = np.flatnonzero(result)
    if candidates.size == 0:
        return result
    ly, lx = ys[candidates] + lowest[candidates, 1], xs[candidates] + lowest[candidates, 0]
    hy, hx = ys[candidates] + highest[candidates, 1], xs[candidates] + highest[candidates, 0]
    slope = (_many_siblings(picture, ly, lx) & _many_siblings(other, ly, lx)) | (
        _many_siblings(picture, hy, hx) & _many_siblings(other, hy, hx)
    )
    result[candidates] = slope
    return result


def shift_explained(
    rgb_a: np.ndarray, rgb_b: np.ndarray, ys: np.ndarray, xs: np.ndarray, threshold: float
) -> np.ndarray:
    """Whether each (y, x) is explained by an edge that moved by at most one pixel, both ways:
    A's colour is found in B's 3x3 neighbourhood and B's in A's, within ``threshold``.
    Symmetric, so that ink added on a blank background (B's new pixel has no like in A's
    neighbourhood) still counts, which a one-sided test would forgive. The distance is CIE76
    (Euclidean in CIELAB), as in the smoothed comparison's tolerance: cheaper than CIEDE2000
    and, for the same colours, mostly larger, so it forgives no more."""
    shape = rgb_a.shape
    many = ys.size * 9 > shape[0] * shape[1] // 2

    def lab_at(rgb: np.ndarray) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        if many:  # most of the image is looked at anyway: convert it once
            whole = rgb2lab(rgb).astype(np.float32)
            return lambda y, x: whole[y, x]
        return lambda y, x: rgb2lab(rgb[y, x][None])[0].astype(np.float32)

    lab_a, lab_b = lab_at(rgb_a), lab_at(rgb_b)
    centre_a, centre_b = lab_a(ys, xs), lab_b(ys, xs)
    limit = threshold * threshold
    best_a = np.full(ys.size, np.inf, np.float32)  # A's colour against B's neighbourhood
    best_b = np.full(ys.size, np.inf, np.float32)  # B's colour against A's neighbourhood
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            ny, nx, _ = _neighbour(shape, ys, xs, dx, dy)  # clipped: the edge repeats
            np.minimum(best_a, ((centre_a - lab_b(ny, nx)) ** 2).sum(axis=1), out=best_a)
            np.minimum(best_b, ((centre_b - lab_a(ny, nx)) ** 2).sum(axis=1), out=best_b)
    return np.asarray((best_a <= limit) & (best_b <= limit))


def luma_of(rgb: np.ndarray) -> np.ndarray:
    """pixelmatch's brightness (YIQ's Y) of RGB pixels composited over white."""
    return np.asarray(rgb.astype(np.float64) @ _LUMA)


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
            picture_a, picture_b = Picture(rgb_a, alpha_a), Picture(rgb_b, alpha_b)
            if cy.size > shape[0] * shape[1] // 16:  # many points: whole maps, once
                picture_a, picture_b = picture_a.with_maps(), picture_b.with_maps()
            flags = antialiased(picture_a, picture_b, cy, cx) | antialiased(
                picture_b, picture_a, cy, cx
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
    changed: np.ndarray, delta: np.ndarray, cap: int = REGION_CAP, gap: int = REGION_GAP
) -> tuple[list[ChangedRegion], int]:
    """Boxes around the connected areas of ``changed``, the largest first (ties: top to bottom,
    left to right), at most ``cap``; and how many there are.

    Areas are OpenCV's 8-connected components of ``changed`` dilated by ``(gap + 1) // 2``
    pixels, so that changed pixels at most ``gap`` unchanged pixels apart form one area (one
    changed glyph, not the five pieces the anti-aliasing tolerance leaves of it); each box,
    count and colour difference is that of the changed pixels themselves, not the dilation."""
    radius = (gap + 1) // 2
    joined: np.ndarray = changed.astype(np.uint8)
    if radius:
        kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
        joined = cv2.dilate(joined, kernel)
    count, labels = cv2.connectedComponents(joined, connectivity=8)
    if count <= 1:
        return [], 0
    ys, xs = np.nonzero(changed)
    on = labels[ys, xs]
    values = delta[ys, xs].astype(np.float64)
    order = np.argsort(on, kind="stable")
    on, ys, xs, values = on[order], ys[order], xs[order], values[order]
    starts = np.flatnonzero(np.r_[True, on[1:] != on[:-1]])
    ids = on[starts]  # every label holds changed pixels: dilation only grows them
    areas = np.diff(np.r_[starts, on.size])
    left, right = np.minimum.reduceat(xs, starts), np.maximum.reduceat(xs, starts)
    top, bottom = np.minimum.reduceat(ys, starts), np.maximum.reduceat(ys, starts)
    means = np.add.reduceat(values, starts) / areas
    maxima = np.maximum.reduceat(values, starts)
    ranked = np.lexsort((left, top, -areas))[:cap]
    regions = [
        ChangedRegion(
            x=int(left[index]),
            y=int(top[index]),
            width=int(right[index] - left[index] + 1),
            height=int(bottom[index] - top[index] + 1),
            pixels=int(areas[index]),
            mean_delta_e2000=round(float(means[index]), 3),
            max_delta_e2000=round(float(maxima[index]), 3),
        )
        for index in ranked
    ]
    return regions, int(ids.size)


def diff_image(rgb_a: np.ndarray, difference: ExactDifference) -> str:
    """The pixelmatch-style diff as a PNG data URL at A's full size: A's brightness faded to
    ``FADE`` over white, changed pixels red, anti-aliased yellow, ignored rectangles and any
    part of A outside the compared (common) area dimmed. The grey is OpenCV's BT.601 luma
    (pixelmatch's YIQ weights to three decimals) through a lookup table: a full-HD image in a
    few milliseconds."""
    levels = np.arange(256, dtype=np.float64)
    faded = 255.0 + (levels - 255.0) * FADE
    fade = np.round(faded).astype(np.uint8)
    fade_dim = np.round(faded * DIM).astype(np.uint8)
    grey = cv2.cvtColor(np.ascontiguousarray(rgb_a), cv2.COLOR_RGB2GRAY)
    height, width = difference.changed.shape
    dimmed = np.ones(grey.shape, dtype=bool)
    dimmed[:height, :width] = difference.ignored
    drawn = np.where(dimmed, fade_dim[grey], fade[grey])
    out = cv2.cvtColor(drawn, cv2.COLOR_GRAY2BGR)
    view = out[:height, :width]
    view[difference.antialiased] = (0, 255, 255)  # BGR: yellow
    view[difference.changed] = (0, 0, 255)  # BGR: red
    ok, encoded = cv2.imencode(".png", out)
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 array
        raise RuntimeError("PNG encoding of the diff image failed")
    return "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")
