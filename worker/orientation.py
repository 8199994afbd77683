"""Is B image A turned by a right angle or mirrored? Then every method compares A with B turned
back, exactly (right-angle turns and mirrors move pixels without resampling).

The test is cheap and whole-image: the perceptual hash (the 8x8 lowest DCT frequencies of a
32x32 grey thumbnail, thresholded at their median) of A against those of the eight orientations
of B (four quarter turns, each also mirrored), computed from one thumbnail of B turned and
flipped (a square thumbnail turns exactly). B is turned back only when one orientation other
than B's own is close to A (at most ``MAX_BITS`` of 64 bits differ) and clearly closer than B as
it came (by at least ``MIN_MARGIN_BITS``), so that symmetric pictures, whose mirror image is as
close as themselves, are left alone.

Both limits come from ``tools/orientation_study.py``: 71 photos of ``shared/eval`` and scikit-
image, each in its seven other orientations as it is and after an edit (JPEG quality 30, half
size, blur sigma 1.5, brightness +15, noise sigma 10, a 95 % crop): 3,479 copies, whose right
orientation is at most 12 bits from the photo (median 0, 99th percentile 10); and 4,970 ordered
pairs of different photos, never closer than 12 bits in any orientation (1st percentile 18). At
10 bits with a margin of 6, 99.4 % of the copies are turned back and none of the pairs of
different photos is; at 12, every copy, but also 2 of the pairs (0.04 %); so 10, which is also
the usual near-duplicate distance of dedup libraries. No photo against itself is ever turned. A
turned copy that is also cropped or strongly edited can escape the hash; the feature
registration of ``worker.alignment`` still finds a turned and cropped copy (it accepts turns
within ``RIGHT_ANGLE_TOLERANCE_DEG`` of a right angle), not a mirrored and cropped one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from worker.decode import DecodedImage

THUMBNAIL = 32
LOW = 8
MAX_BITS = 10
MIN_MARGIN_BITS = 6


@dataclass(frozen=True)
class Orientation:
    """Quarter turns (counter-clockwise, after mirroring) that bring B to A's orientation."""

    quarter_turns: int = 0
    mirrored: bool = False
    bits: int | None = None
    """Hash bits that differ between A and B turned back (None: not tested)."""
    bits_as_given: int | None = None
    """Hash bits that differ between A and B as it came."""

    @property
    def changed(self) -> bool:
        """Whether B is to be turned or mirrored."""
        return self.quarter_turns != 0 or self.mirrored

    @property
    def rotation_deg(self) -> int:
        """How far B is turned relative to A, degrees, counter-clockwise positive (as
        ``AlignmentInfo.rotation_deg``): -90, 0, 90 or 180."""
        ccw = (-90 * self.quarter_turns) % 360
        return ccw - 360 if ccw > 180 else ccw

    def describe(self) -> str:
        """E.g. 'B is A turned a quarter turn clockwise and mirrored left to right'."""
        turns = {
            1: "turned a quarter turn clockwise",
            2: "turned upside down (half a turn)",
            3: "turned a quarter turn counter-clockwise",
        }
        parts = [turns[self.quarter_turns]] if self.quarter_turns else []
        if self.mirrored:
            parts.append("mirrored left to right")
        return "B is A " + " and ".join(parts) if parts else "B has A's orientation"


def turn_back(pixels: np.ndarray, orientation: Orientation) -> np.ndarray:
    """``pixels`` (B) in A's orientation: mirrored back first, then turned back."""
    out = pixels[:, ::-1] if orientation.mirrored else pixels
    return np.ascontiguousarray(np.rot90(out, orientation.quarter_turns))


def _hash(thumbnail: np.ndarray) -> np.ndarray:
    """pHash bits of a 32x32 float thumbnail (as ImageHash computes them)."""
    frequencies = cv2.dct(thumbnail)[:LOW, :LOW]  # orthonormal 2-D DCT-II
    return (frequencies > np.median(frequencies)).ravel()


def _thumbnail(pixels: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY) if pixels.ndim == 3 else pixels
    return cv2.resize(grey, (THUMBNAIL, THUMBNAIL), interpolation=cv2.INTER_AREA).astype(np.float64)


def orientation_distances(a: np.ndarray, b: np.ndarray) -> dict[tuple[int, bool], int]:
    """Differing hash bits between A and each orientation of B turned back, keyed by
    (quarter turns, mirrored)."""
    hash_a = _hash(_thumbnail(a))
    thumb_b = _thumbnail(b)
    distances = {}
    for mirrored in (False, True):
        for turns in range(4):
            turned = turn_back(thumb_b, Orientation(turns, mirrored))
            distances[(turns, mirrored)] = int(np.count_nonzero(_hash(turned) != hash_a))
    return distances


def find_orientation(a: np.ndarray, b: np.ndarray) -> Orientation:
    """The orientation that brings B to A, or B's own when no other is clearly it."""
    distances = orientation_distances(a, b)
    as_given = distances[(0, False)]
    (turns, mirrored), best = min(distances.items(), key=lambda item: (item[1], item[0]))
    if (turns, mirrored) != (0, False) and best <= MAX_BITS and as_given - best >= MIN_MARGIN_BITS:
        return Orientation(turns, mirrored, best, as_given)
    return Orientation(0, False, as_given, as_given)


def oriented(image_a: DecodedImage, image_b: DecodedImage) -> tuple[DecodedImage, Orientation]:
    """B turned or mirrored back to A's orientation when it is A turned or mirrored, with the
    orientation found; a turned B gets its own cache key, since its pixels changed."""
    orientation = find_orientation(image_a.pixels, image_b.pixels)
    if not orientation.changed:
        return image_b, orientation
    digest = image_b.digest
    if digest is not None:
        digest = f"{digest}@{orientation.quarter_turns}{'m' if orientation.mirrored else ''}"
    alpha = None if image_b.alpha is None else turn_back(image_b.alpha, orientation)
    pixels = turn_back(image_b.pixels, orientation)
    turned = replace(image_b, pixels=pixels, alpha=alpha, digest=digest)
    return turned, orientation
