"""Register image B onto image A when both show the same scene shifted, cropped, scaled or
slightly rotated, so that structural methods compare corresponding pixels, and only then.

Three steps, cheapest first:

1. **Has B moved at all?** When A and B have the same size, a quick probe on grey copies (long
   side at most ``PROBE_SIDE``) estimates the shift of each quadrant of the picture twice: by
   phase correlation (finds large shifts; a rotation or scaling moves the quadrants apart) and
   by one Lucas-Kanade step (precise for sub-pixel shifts). B has not moved when every
   estimate stays below ``STILL_PHASE_PX`` and ``STILL_GRADIENT_PX`` full-resolution pixels;
   the pair is then compared exactly as without alignment. The probe stops at the first
   quadrant whose phase estimate moved, so a moved or unrelated pair pays for one phase
   correlation, not the whole probe. Different sizes always go on to step 2.
2. **Feature search**, in two passes: ORB features, ratio-tested Hamming matches and a RANSAC
   similarity transform (rotation, uniform scale, translation). A screening pass on small grey
   copies (``SCREEN_SIDE``, ``SCREEN_FEATURES``) asks only whether the two share a scene at
   all; pairs that do not (different photographs: the common case among moved pairs) stop
   there. The others get the precise pass (``WORK_SIDE``, ``ORB_FEATURES``), whose transform is
   used only within sanity limits. A same-size pair whose transform moves no corner by
   ``IDENTITY_TOLERANCE_PX`` or more counts as already aligned.
3. **Does it help?** The normalised cross-correlation of A and B over the part they share, on
   grey copies (long side ``AGREE_SIDE``), through the transform and through the unaligned
   scale-and-crop policy of ``worker.geometry``. The registration is used only when it removes
   at least ``MIN_DISAGREEMENT_CUT`` of the unaligned disagreement (1 - correlation).

Thresholds come from measurements made once while writing this (throwaway scripts, not kept;
the cost on unmoved pairs is re-measured by ``make bench`` every run) on the 18 photos of
``shared/eval/photos``, five scikit-image photos, and six of them enlarged to 1024x768: 377
copies that did not move (blurred, sigma 0.5-3; noised, sigma 5-25; JPEG quality 10-95; gamma
0.6 and 1.6) against same-size copies shifted by 1-40 px, cropped to 60-95 % and
enlarged back, and rotated by 2-30 degrees, at probe side 512:

* phase correlation, largest quadrant shift: at most 0.96 px on the unmoved copies (blur sigma
  3 is the worst), at least 2.23 px on every moved copy but the 1-px shifts (0.91 px and up)
  -> ``STILL_PHASE_PX`` 1.5;
* gradient (Lucas-Kanade) estimate: at most 0.82 px on the unmoved copies (gamma on an
  enlarged photo is the worst), at least 1.19 px on the 1-px shifts -> ``STILL_GRADIENT_PX``
  1.0. Together they called every moved copy moved and no unmoved copy moved, so a copy
  shifted by a single pixel is still registered; sub-pixel shifts are not.
* feature search at ``WORK_SIDE`` 512 with 1500 features: on the 435 shifted, cropped and
  rotated copies (different sizes included) the corners land within 1.4 px of the truth
  (median 0.26 px), in a third of the time 4000 features at 1024 px took (12 vs 37 ms);
* screening pass (``tools/alignment_study.py``, 403 moved copies of 31 photos: shifts of
  1-40 px, zooms to 60-95 %, turns of 2-30 degrees, 80 % crops and half-size copies; 112 pairs
  of different photos): at 320 px with 500 features every moved copy passes the sanity limits
  (22 consistent matches or more, against ``MIN_INLIERS`` 15) and no pair of different
  photographs does, in 4.6 ms against the precise pass's 17.1 ms (at 256 and 288 px a 60 % zoom
  failed). A pair of different photographs, the costliest case before, now costs the probe
  and the screening pass only;
* agreement (correlation of 1-px-blurred grey copies at 512 px): registering the moved copies
  removed at least 44 % of the unaligned disagreement (all but one 1-px shift of a 1352-px
  photo, whose registration made it worse), forcing a registration on the unmoved copies at
  most 4 % -> ``MIN_DISAGREEMENT_CUT`` 0.2. Whole-picture rescaled copies are usually left
  unregistered by it: the unaligned scale-and-crop policy already matches them (correlation
  0.99 or more).

The transform maps B's pixel coordinates to A's, at full resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from shared.schemas import AlignmentInfo

PROBE_SIDE = 512
PROBE_MIN_SIDE = 32  # below this the probe's quadrants are too small to say anything
STILL_PHASE_PX = 1.5
STILL_GRADIENT_PX = 1.0
SCREEN_SIDE = 320
SCREEN_FEATURES = 500
WORK_SIDE = 512
ORB_FEATURES = 1500
RATIO_TEST = 0.75
RANSAC_REPROJECTION_PX = 3.0
RANSAC_ITERATIONS = 2000
AGREE_SIDE = 512
AGREE_BLUR = 1.0
MIN_DISAGREEMENT_CUT = 0.2
# Sanity limits: below or beyond these a "registration" is more likely a coincidence than the
# same scene, and comparing through it would mislead.
MIN_INLIERS = 15
MIN_INLIER_RATIO = 0.25
SCALE_RANGE = (0.25, 4.0)
MAX_ROTATION_DEG = 45.0
RIGHT_ANGLE_TOLERANCE_DEG = 2.0
"""A turn this close to a quarter or half turn is a turned copy, not a coincidence: on 186
turned (90, 180, 270 degrees) copies of 80 % and 60 % crops of the 31 study photos, the
transform found was within 0.15 degrees of the right angle (median 0.03)."""
MIN_COVERAGE = 0.2
IDENTITY_TOLERANCE_PX = 0.5
STILL_NOTE = "already aligned: B has not moved (no shift, scale or rotation of a pixel or more)"


@dataclass(frozen=True)
class Registration:
    """B warped into A's frame (when applied) and what was found."""

    info: AlignmentInfo
    warped_b: np.ndarray | None
    """B resampled onto A's pixel grid; None when alignment was not applied."""
    coverage: np.ndarray | None
    """Bool mask over A: True where warped B has pixels."""


def _reduce(grey: np.ndarray, side: int) -> np.ndarray:
    """``grey`` with its long side at most ``side``."""
    if max(grey.shape) <= side:
        return grey
    scale = side / max(grey.shape)
    size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA)


class GreyCopies:
    """Grey copies of one image at the sizes the steps use, each made once: the probe, the two
    feature passes and the agreement check share them (smaller ones come from larger ones)."""

    def __init__(self, pixels: np.ndarray) -> None:
        self.shape = pixels.shape
        self._pixels = pixels
        self._copies: dict[int, np.ndarray] = {}

    def at(self, side: int) -> tuple[np.ndarray, float]:
        """The copy with its long side at most ``side`` and the scale it was reduced by."""
        if side not in self._copies:
            larger = [known for known in self._copies if known >= side]
            if larger:
                source = self._copies[min(larger)]
            else:
                source = cv2.cvtColor(self._pixels, cv2.COLOR_RGB2GRAY)
            self._copies[side] = _reduce(source, side)
        grey = self._copies[side]
        return grey, grey.shape[1] / self.shape[1]


def _grey(pixels: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """A grey copy with its long side at most ``side`` and the scale it was reduced by."""
    return GreyCopies(pixels).at(side)


def _copies(image: np.ndarray | GreyCopies) -> GreyCopies:
    return image if isinstance(image, GreyCopies) else GreyCopies(image)


def _shrink(full: tuple[int, ...], small: tuple[int, ...]) -> np.ndarray:
    """The 3x3 map from full-resolution pixel coordinates to a reduced copy's, per axis (the
    rounded size makes the two axes' factors differ slightly) and about pixel centres."""
    sx, sy = small[1] / full[1], small[0] / full[0]
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])


def _not_applied(note: str, matches: int = 0, inliers: int = 0) -> Registration:
    info = AlignmentInfo(requested=True, applied=False, matches=matches, inliers=inliers, note=note)
    return Registration(info, None, None)


def _quadrants(height: int, width: int) -> list[tuple[slice, slice]]:
    """A shift moves every quadrant alike; a turn or a zoom moves them apart."""
    rows = (slice(0, height // 2), slice(height // 2, height))
    cols = (slice(0, width // 2), slice(width // 2, width))
    return [(r, c) for r in rows for c in cols]


def _gradient_shift(a: np.ndarray, b: np.ndarray) -> float:
    """One Lucas-Kanade step: the shift that best explains B - A by A's gradients, after
    matching B's brightness and contrast to A's. Blur, noise and compression change pixels
    symmetrically and leave it near zero; a shift does not."""
    b = (b - b.mean()) * (a.std() / max(float(b.std()), 1e-6)) + a.mean()
    mean = (a + b) / 2
    inner = (slice(2, -2), slice(2, -2))
    dx = np.ascontiguousarray((cv2.Sobel(mean, cv2.CV_32F, 1, 0, ksize=3) / 8)[inner]).ravel()
    dy = np.ascontiguousarray((cv2.Sobel(mean, cv2.CV_32F, 0, 1, ksize=3) / 8)[inner]).ravel()
    dt = np.ascontiguousarray((b - a)[inner]).ravel()
    xx, xy, yy = float(dx @ dx), float(dx @ dy), float(dy @ dy)
    system = np.array([[xx, xy], [xy, yy]])
    if abs(np.linalg.det(system)) < 1e-9:
        return math.inf
    shift = np.linalg.solve(system, -np.array([float(dx @ dt), float(dy @ dt)]))
    return float(np.hypot(*shift))


def has_not_moved(a: np.ndarray | GreyCopies, b: np.ndarray | GreyCopies) -> bool:
    """Whether B is A's own framing (same size, no shift, scale or turn of a pixel or more):
    the phase-correlation and the gradient shift estimates, in A's full-resolution pixels, stay
    below ``STILL_PHASE_PX`` and ``STILL_GRADIENT_PX`` over every quadrant. A pair of different
    sizes, or too small, is not probed (False).

    It stops at the first quadrant that moved, and the gradient test (with its smoothing) runs
    only once every phase estimate is still: a moved or unrelated pair, the common case that
    goes on to the feature search, pays for one phase correlation instead of the whole probe.
    """
    if a.shape[:2] != b.shape[:2]:
        return False
    grey_a, scale = _copies(a).at(PROBE_SIDE)
    grey_b, _ = _copies(b).at(PROBE_SIDE)
    if min(grey_a.shape) < PROBE_MIN_SIDE:
        return False
    flat_a, flat_b = grey_a.astype(np.float32), grey_b.astype(np.float32)
    quadrants = _quadrants(*grey_a.shape)
    for rows, cols in quadrants:
        tile_a = np.ascontiguousarray(flat_a[rows, cols])
        tile_b = np.ascontiguousarray(flat_b[rows, cols])
        window = cv2.createHanningWindow(tile_a.shape[::-1], cv2.CV_32F)
        (dx, dy), _ = cv2.phaseCorrelate(tile_a, tile_b, window)
        if math.hypot(dx, dy) / scale >= STILL_PHASE_PX:
            return False
    smooth_a = cv2.GaussianBlur(flat_a, (0, 0), 1.0)
    smooth_b = cv2.GaussianBlur(flat_b, (0, 0), 1.0)
    return all(
        _gradient_shift(
            np.ascontiguousarray(smooth_a[rows, cols]), np.ascontiguousarray(smooth_b[rows, cols])
        )
        / scale
        < STILL_GRADIENT_PX
        for rows, cols in quadrants
    )


def estimate_transform(
    a: np.ndarray | GreyCopies,
    b: np.ndarray | GreyCopies,
    side: int = WORK_SIDE,
    features: int = ORB_FEATURES,
) -> tuple[np.ndarray | None, int, int]:
    """The 2x3 similarity transform from B to A (full-resolution pixels), the number of
    ratio-tested matches, and the RANSAC inliers; None when too few matches."""
    grey_a, scale_a = _copies(a).at(side)
    grey_b, scale_b = _copies(b).at(side)
    orb = cv2.ORB.create(nfeatures=features)
    keys_a, desc_a = orb.detectAndCompute(grey_a, None)
    keys_b, desc_b = orb.detectAndCompute(grey_b, None)
    if desc_a is None or desc_b is None or len(keys_a) < 2 or len(keys_b) < 2:
        return None, 0, 0
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(desc_b, desc_a, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO_TEST * p[1].distance]
    if len(good) < 3:
        return None, len(good), 0
    to_b = np.linalg.inv(_shrink(b.shape, grey_b.shape))[:2]
    to_a = np.linalg.inv(_shrink(a.shape, grey_a.shape))[:2]
    points_b = cv2.transform(np.array([[keys_b[m.queryIdx].pt for m in good]], np.float32), to_b)[0]
    points_a = cv2.transform(np.array([[keys_a[m.trainIdx].pt for m in good]], np.float32), to_a)[0]
    matrix, inlier_mask = cv2.estimateAffinePartial2D(
        points_b,
        points_a,
        method=cv2.RANSAC,
        ransacReprojThreshold=RANSAC_REPROJECTION_PX / min(scale_a, scale_b),
        maxIters=RANSAC_ITERATIONS,
        confidence=0.999,
    )
    inliers = int(inlier_mask.sum()) if inlier_mask is not None else 0
    return matrix, len(good), inliers


def unaligned_transform(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> np.ndarray:
    """The B->A map that ``worker.geometry``'s scale-and-crop policy amounts to: B scaled
    down to cover A and centred, A scaled down to cover B and centred, or both centred."""
    (ah, aw), (bh, bw) = a_shape[:2], b_shape[:2]
    if bh >= ah and bw >= aw:
        scale = max(ah / bh, aw / bw)
    elif ah >= bh and aw >= bw:
        scale = 1 / max(bh / ah, bw / aw)
    else:
        scale = 1.0
    return np.array(
        [[scale, 0.0, (aw - scale * bw) / 2], [0.0, scale, (ah - scale * bh) / 2]], np.float64
    )


def agreement(a: np.ndarray | GreyCopies, b: np.ndarray | GreyCopies, matrix: np.ndarray) -> float:
    """Normalised cross-correlation of A and B mapped through ``matrix`` (B->A, full
    resolution), over the part of A that B covers, on small grey copies."""
    grey_a, _ = _copies(a).at(AGREE_SIDE)
    grey_b, _ = _copies(b).at(AGREE_SIDE)
    grey_a = cv2.GaussianBlur(grey_a.astype(np.float32), (0, 0), AGREE_BLUR)
    grey_b = cv2.GaussianBlur(grey_b.astype(np.float32), (0, 0), AGREE_BLUR)
    full = np.vstack([matrix.astype(np.float64), [0.0, 0.0, 1.0]])
    small = (_shrink(a.shape, grey_a.shape) @ full @ np.linalg.inv(_shrink(b.shape, grey_b.shape)))[
        :2
    ]
    size = (grey_a.shape[1], grey_a.shape[0])
    warped = cv2.warpAffine(grey_b, small, size, flags=cv2.INTER_LINEAR)
    inside = cv2.warpAffine(np.ones(grey_b.shape, np.uint8), small, size, flags=cv2.INTER_NEAREST)
    covered = cv2.erode(inside, np.ones((3, 3), np.uint8)) > 0
    if covered.sum() < 16:
        return 0.0
    x = grey_a.astype(np.float64)[covered]
    y = warped.astype(np.float64)[covered]
    x, y = x - x.mean(), y - y.mean()
    norm = math.sqrt(float((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / norm) if norm > 0 else 0.0


def _plausible_turn(rotation_deg: float) -> bool:
    """Small turns, and turned copies: within a few degrees of a quarter or half turn."""
    from_right_angle = abs((rotation_deg + 45.0) % 90.0 - 45.0)
    return abs(rotation_deg) <= MAX_ROTATION_DEG or from_right_angle <= RIGHT_ANGLE_TOLERANCE_DEG


def _feature_pass(
    copies_a: GreyCopies, copies_b: GreyCopies, side: int, features: int
) -> tuple[np.ndarray, int, int] | Registration:
    """One feature search's transform, matches and inliers, or why it cannot be trusted."""
    matrix, matches, inliers = estimate_transform(copies_a, copies_b, side, features)
    if matrix is None:
        return _not_applied("too few matching features to align", matches, inliers)
    if inliers < MIN_INLIERS or inliers < MIN_INLIER_RATIO * matches:
        return _not_applied(
            f"the feature match is weak ({inliers} consistent of {matches} matches)",
            matches,
            inliers,
        )
    return matrix, matches, inliers


def _trusted_transform(
    copies_a: GreyCopies, copies_b: GreyCopies
) -> tuple[np.ndarray, int, int] | Registration:
    """The precise pass's transform, or why there is none: the screening pass turns away
    pairs that share no scene before the precise pass is paid for."""
    screened = _feature_pass(copies_a, copies_b, SCREEN_SIDE, SCREEN_FEATURES)
    if isinstance(screened, Registration):
        return screened
    return _feature_pass(copies_a, copies_b, WORK_SIDE, ORB_FEATURES)


def register(a: np.ndarray, b: np.ndarray) -> Registration:
    """Align B onto A if B has moved, a trustworthy similarity transform exists, and it makes
    the two agree better than the unaligned comparison does."""
    copies_a, copies_b = GreyCopies(a), GreyCopies(b)
    if has_not_moved(copies_a, copies_b):
        return _not_applied(STILL_NOTE)
    found = _trusted_transform(copies_a, copies_b)
    if isinstance(found, Registration):
        return found
    matrix, matches, inliers = found
    scale = math.hypot(matrix[0, 0], matrix[1, 0])
    rotation = math.degrees(math.atan2(matrix[1, 0], matrix[0, 0]))
    if not SCALE_RANGE[0] <= scale <= SCALE_RANGE[1] or not _plausible_turn(rotation):
        return _not_applied(
            f"the transform found (scale {scale:.2f}, rotation {rotation:.1f} degrees) is beyond "
            f"the sanity limits",
            matches,
            inliers,
        )
    height, width = a.shape[:2]
    covered = cv2.warpAffine(
        np.full(b.shape[:2], 255, np.uint8), matrix, (width, height), flags=cv2.INTER_NEAREST
    )
    coverage = cv2.erode(covered, np.ones((5, 5), np.uint8)) > 0
    share = float(coverage.mean())
    info_kwargs = dict(
        requested=True,
        matches=matches,
        inliers=inliers,
        matrix=[[round(float(v), 6) for v in row] for row in matrix],
        scale=round(scale, 6),
        rotation_deg=round(rotation, 4),
        translation_px=[round(float(matrix[0, 2]), 3), round(float(matrix[1, 2]), 3)],
        coverage_percent=round(share * 100, 2),
    )
    if share < MIN_COVERAGE:
        return _not_applied(
            f"B would cover only {share:.0%} of A after alignment", matches, inliers
        )
    identity = np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float64)
    corners = np.array([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1]], float)
    drift = np.abs(corners @ (matrix - identity).T).max()
    if b.shape[:2] == a.shape[:2] and drift < IDENTITY_TOLERANCE_PX:
        info = AlignmentInfo(
            **info_kwargs,
            applied=False,
            note=f"already aligned (corners move less than {IDENTITY_TOLERANCE_PX} px)",
        )
        return Registration(info, None, None)
    before = agreement(copies_a, copies_b, unaligned_transform(a.shape, b.shape))
    after = agreement(copies_a, copies_b, matrix)
    if (1 - after) > (1 - MIN_DISAGREEMENT_CUT) * (1 - before):
        info = AlignmentInfo(
            **info_kwargs,
            applied=False,
            note=f"registration rejected: it did not make the images agree clearly better "
            f"(correlation {before:.2f} unaligned, {after:.2f} registered)",
        )
        return Registration(info, None, None)
    warped = cv2.warpAffine(b, matrix, (width, height), flags=cv2.INTER_LINEAR)
    note = (
        f"B was registered onto A, raising their agreement (correlation) from {before:.2f} to "
        f"{after:.2f}: shift {matrix[0, 2]:.1f}, {matrix[1, 2]:.1f} px, scale {scale:.3f}, "
        f"rotation {rotation:.2f} degrees ({inliers} of {matches} feature matches agree); B "
        f"covers {share:.0%} of A"
    )
    return Registration(AlignmentInfo(**info_kwargs, applied=True, note=note), warped, coverage)


class SharedRegistration:
    """One request's registration of B onto A, found once and shared by every method that
    aligns (SSIM, MS-SSIM, pixel, the CNNs' same-place map): they see the same two images, so
    the same transform, and only the resampling of their own B (RGB or RGB with alpha) is
    their own. Keyed by the images' sizes, which one request's images keep."""

    def __init__(self) -> None:
        self._found: dict[tuple[tuple[int, ...], tuple[int, ...]], Registration] = {}
        self.searches = 0
        """How many registrations were searched for (tests read it: one per request)."""
        self.greyscale_sides: dict[tuple[tuple[int, ...], tuple[int, ...]], str | None] = {}
        """Which image is grey, when exactly one is (``geometry.greyscale_side``): asked by
        the preparation and by the relation, found once."""

    def register(self, a: np.ndarray, b: np.ndarray) -> Registration:
        """``register(a, b)``, searched for once per pair of image sizes."""
        key = (a.shape[:2], b.shape[:2])
        found = self._found.get(key)
        if found is None:
            self.searches += 1
            found = self._found[key] = register(a, b)
            return found
        if found.warped_b is None or found.warped_b.shape[2:] == b.shape[2:]:
            return found
        # The same transform, for this method's B (e.g. with its alpha channel as well).
        assert found.info.matrix is not None  # applied registrations carry their matrix
        height, width = a.shape[:2]
        matrix = np.array(found.info.matrix, dtype=np.float64)
        warped = cv2.warpAffine(b, matrix, (width, height), flags=cv2.INTER_LINEAR)
        return Registration(found.info, warped, found.coverage)
