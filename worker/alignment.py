"""Register image B onto image A when both show the same scene shifted, cropped, scaled or
slightly rotated, so that structural methods compare corresponding pixels.

ORB features on grey copies (long side at most ``WORK_SIDE``), ratio-tested Hamming matches, and a
RANSAC similarity transform (rotation, uniform scale, translation). The transform is used only
when it passes sanity limits; otherwise the pair is compared without alignment and the reason is
reported. The transform maps B's pixel coordinates to A's, at full resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from shared.schemas import AlignmentInfo

WORK_SIDE = 1024
ORB_FEATURES = 4000
RATIO_TEST = 0.75
RANSAC_REPROJECTION_PX = 3.0
# Sanity limits: below or beyond these a "registration" is more likely a coincidence than the
# same scene, and comparing through it would mislead.
MIN_INLIERS = 15
MIN_INLIER_RATIO = 0.25
SCALE_RANGE = (0.25, 4.0)
MAX_ROTATION_DEG = 45.0
MIN_COVERAGE = 0.2
IDENTITY_TOLERANCE_PX = 0.5


@dataclass(frozen=True)
class Registration:
    """B warped into A's frame (when applied) and what was found."""

    info: AlignmentInfo
    warped_b: np.ndarray | None
    """B resampled onto A's pixel grid; None when alignment was not applied."""
    coverage: np.ndarray | None
    """Bool mask over A: True where warped B has pixels."""


def _grey_work_copy(pixels: np.ndarray) -> tuple[np.ndarray, float]:
    grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    scale = min(1.0, WORK_SIDE / max(grey.shape))
    if scale < 1.0:
        size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return grey, scale


def _not_applied(note: str, matches: int = 0, inliers: int = 0) -> Registration:
    info = AlignmentInfo(requested=True, applied=False, matches=matches, inliers=inliers, note=note)
    return Registration(info, None, None)


def estimate_transform(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray | None, int, int]:
    """The 2x3 similarity transform from B to A (full-resolution pixels), the number of
    ratio-tested matches, and the RANSAC inliers; None when too few matches."""
    grey_a, scale_a = _grey_work_copy(a)
    grey_b, scale_b = _grey_work_copy(b)
    orb = cv2.ORB.create(nfeatures=ORB_FEATURES)
    keys_a, desc_a = orb.detectAndCompute(grey_a, None)
    keys_b, desc_b = orb.detectAndCompute(grey_b, None)
    if desc_a is None or desc_b is None or len(keys_a) < 2 or len(keys_b) < 2:
        return None, 0, 0
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(desc_b, desc_a, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO_TEST * p[1].distance]
    if len(good) < 3:
        return None, len(good), 0
    points_b = np.array([keys_b[m.queryIdx].pt for m in good], np.float32) / scale_b
    points_a = np.array([keys_a[m.trainIdx].pt for m in good], np.float32) / scale_a
    matrix, inlier_mask = cv2.estimateAffinePartial2D(
        points_b,
        points_a,
        method=cv2.RANSAC,
        ransacReprojThreshold=RANSAC_REPROJECTION_PX / min(scale_a, scale_b),
        maxIters=5000,
        confidence=0.999,
    )
    inliers = int(inlier_mask.sum()) if inlier_mask is not None else 0
    return matrix, len(good), inliers


def register(a: np.ndarray, b: np.ndarray) -> Registration:
    """Align B onto A if a trustworthy similarity transform exists."""
    matrix, matches, inliers = estimate_transform(a, b)
    if matrix is None:
        return _not_applied("too few matching features to align", matches, inliers)
    scale = math.hypot(matrix[0, 0], matrix[1, 0])
    rotation = math.degrees(math.atan2(matrix[1, 0], matrix[0, 0]))
    if inliers < MIN_INLIERS or inliers < MIN_INLIER_RATIO * matches:
        return _not_applied(
            f"the feature match is weak ({inliers} consistent of {matches} matches)",
            matches,
            inliers,
        )
    if not SCALE_RANGE[0] <= scale <= SCALE_RANGE[1] or abs(rotation) > MAX_ROTATION_DEG:
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
    warped = cv2.warpAffine(b, matrix, (width, height), flags=cv2.INTER_LINEAR)
    note = (
        f"B was registered onto A: shift {matrix[0, 2]:.1f}, {matrix[1, 2]:.1f} px, scale "
        f"{scale:.3f}, rotation {rotation:.2f} degrees ({inliers} of {matches} feature matches "
        f"agree); B covers {share:.0%} of A"
    )
    return Registration(AlignmentInfo(**info_kwargs, applied=True, note=note), warped, coverage)
