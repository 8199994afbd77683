"""Measure the feature search of ``worker.alignment`` at several sizes and feature counts, to
choose the screening pass and the precise pass from numbers.

    python tools/alignment_study.py [--photos DIR]

Moved copies of every photo in ``shared/eval/photos``, scikit-image's photos and eight of them
enlarged to 1024x768: shifts of 1-40 px, zooms to 60/80/95 % (a centre crop enlarged back),
turns of 2-30 degrees, an 80 % crop and a half-size copy (different sizes). For each
configuration: how many copies pass the sanity limits of ``worker.alignment``, the corner error
of the transform found against the true one, the fewest consistent matches, and the median
time; then the same on a sample of pairs of different photos (same size), which should not pass.
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data as skdata

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from worker import alignment  # noqa: E402

CONFIGS = [
    (512, 1500),
    (256, 500),
    (288, 500),
    (320, 500),
    (320, 400),
    (288, 400),
    (384, 500),
    (512, 500),
    (512, 1000),
]
SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")


def load_photos(folder: Path) -> list[np.ndarray]:
    photos = [
        np.asarray(Image.open(path).convert("RGB"))
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in {".jpg", ".jpeg", ".png"}
    ]
    photos += [getattr(skdata, name)() for name in SKIMAGE_PHOTOS]
    photos = [p if p.ndim == 3 else cv2.cvtColor(p, cv2.COLOR_GRAY2RGB) for p in photos]
    enlarged = [cv2.resize(p, (1024, 768), interpolation=cv2.INTER_CUBIC) for p in photos[:8]]
    return photos + enlarged


def _warp(pixels: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    height, width = pixels.shape[:2]
    return cv2.warpAffine(
        pixels, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )


def moved_copies(pixels: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, copy, the true map from A's pixels to the copy's)."""
    height, width = pixels.shape[:2]
    copies = []
    for shift in (1, 3, 10, 40):
        matrix = np.array([[1, 0, shift], [0, 1, -shift / 2]], float)
        copies.append((f"shift {shift}px", _warp(pixels, matrix), matrix))
    for share in (0.6, 0.8, 0.95):
        zoom = 1 / share
        matrix = np.array(
            [[zoom, 0, -(zoom - 1) * width / 2], [0, zoom, -(zoom - 1) * height / 2]], float
        )
        copies.append((f"zoom to {share:.0%}", _warp(pixels, matrix), matrix))
    for degrees in (2, 5, 15, 30):
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
        copies.append((f"turn {degrees} deg", _warp(pixels, matrix), matrix))
    crop_h, crop_w = int(height * 0.8), int(width * 0.8)
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    crop = np.ascontiguousarray(pixels[top : top + crop_h, left : left + crop_w])
    copies.append(("crop 80%", crop, np.array([[1, 0, -left], [0, 1, -top]], float)))
    half = cv2.resize(pixels, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    scale = np.array([[(width // 2) / width, 0, 0], [0, (height // 2) / height, 0]], float)
    copies.append(("half size", half, scale))
    return copies


def corner_error(shape: tuple[int, ...], a_to_b: np.ndarray, b_to_a: np.ndarray) -> float:
    height, width = shape[:2]
    corners = np.array([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1]], float)
    there = np.c_[corners @ a_to_b.T, np.ones(4)]
    return float(np.abs(there @ b_to_a.T - corners[:, :2]).max())


def passes(matches: int, inliers: int) -> bool:
    return inliers >= alignment.MIN_INLIERS and inliers >= alignment.MIN_INLIER_RATIO * matches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, default=REPO.parent / "shared/eval/photos")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    photos = load_photos(args.photos)
    cases = [(photo, *copy) for photo in photos for copy in moved_copies(photo)]
    rng = np.random.default_rng(1)
    strangers = [
        (photos[i], cv2.resize(photos[j], photos[i].shape[1::-1]))
        for i, j in itertools.combinations(range(len(photos)), 2)
        if rng.random() < 0.25 and (i % 23) != (j % 23)  # not a photo and its enlargement
    ]
    print(f"{len(cases)} moved copies of {len(photos)} photos; {len(strangers)} different pairs")
    for side, features in CONFIGS:
        errors, fewest, failed, times = [], math.inf, [], []
        for photo, name, copy, truth in cases:
            started = time.perf_counter()
            matrix, matches, inliers = alignment.estimate_transform(photo, copy, side, features)
            times.append((time.perf_counter() - started) * 1000)
            fewest = min(fewest, inliers)
            if matrix is None or not passes(matches, inliers):
                failed.append(name)
                continue
            errors.append(corner_error(photo.shape, truth, matrix))
        stranger_times, stranger_passes = [], 0
        for a, b in strangers:
            started = time.perf_counter()
            matrix, matches, inliers = alignment.estimate_transform(a, b, side, features)
            stranger_times.append((time.perf_counter() - started) * 1000)
            stranger_passes += matrix is not None and passes(matches, inliers)
        print(
            f"{side:4d} px {features:5d} features: moved pass {len(cases) - len(failed)}"
            f"/{len(cases)} (failed: {', '.join(failed) or 'none'}), fewest consistent "
            f"{fewest}, corner error median {statistics.median(errors):.2f} max "
            f"{max(errors):.2f} px, {statistics.median(times):.1f} ms; different photos pass "
            f"{stranger_passes}/{len(strangers)}, {statistics.median(stranger_times):.1f} ms"
        )


if __name__ == "__main__":
    main()
