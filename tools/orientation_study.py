"""Choose the limits of ``worker.orientation`` from data: how many hash bits separate a photo
from its turned or mirrored copies (turned back), and from other photos in any orientation.

    python tools/orientation_study.py [--photos DIR] [--flowers DIR]

Photos: ``shared/eval/photos``, scikit-image's, and three per species of ``shared/eval/flowers-
dev``. Copies: the seven other orientations of each photo, as they are and after a standard edit
(JPEG quality 30, half size, blur sigma 1.5, brightness +15, noise sigma 10, a 95 % centre
crop). Pairs of different photos: every pair, B in each of its eight orientations. Printed: for
each candidate ``MAX_BITS``, the share of copies recognised (the right orientation found, within
the limit and the margin) and the share of pairs of different photos that some orientation other
than their own would claim; and for symmetric photos, whether the margin keeps them as they are.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data as skdata

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from worker.orientation import Orientation, orientation_distances, turn_back  # noqa: E402

SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")
ORIENTATIONS = [(turns, mirrored) for mirrored in (False, True) for turns in range(4)]


def load(folder: Path, flowers: Path | None) -> list[np.ndarray]:
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".png"})
    if flowers is not None and flowers.is_dir():
        for species in sorted(p for p in flowers.iterdir() if p.is_dir()):
            paths += sorted(species.iterdir())[:3]
    photos = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    return photos + [getattr(skdata, name)() for name in SKIMAGE_PHOTOS]


def edits(pixels: np.ndarray) -> list[np.ndarray]:
    height, width = pixels.shape[:2]
    encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 30])[1]
    half = cv2.resize(pixels, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    brighter = np.clip(pixels.astype(np.int16) + 15, 0, 255).astype(np.uint8)
    noise = np.random.default_rng(height * width).normal(0, 10, pixels.shape)
    noisy = np.clip(pixels + noise, 0, 255).astype(np.uint8)
    top, left = height // 40, width // 40  # a 95 % centre crop
    return [
        pixels,
        cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED),
        half,
        cv2.GaussianBlur(pixels, (0, 0), 1.5),
        brighter,
        noisy,
        np.ascontiguousarray(pixels[top : height - top, left : width - left]),
    ]


def orient(pixels: np.ndarray, turns: int, mirrored: bool) -> np.ndarray:
    """The copy that ``Orientation(turns, mirrored)`` turns back into ``pixels``."""
    out = np.rot90(pixels, -turns)
    return np.ascontiguousarray(out[:, ::-1] if mirrored else out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, default=REPO.parent / "shared/eval/photos")
    parser.add_argument("--flowers", type=Path, default=REPO.parent / "shared/eval/flowers-dev")
    args = parser.parse_args()
    photos = [p if p.ndim == 3 else np.dstack([p] * 3) for p in load(args.photos, args.flowers)]
    copies = []  # (distances, the right key)
    for photo in photos:
        for edited in edits(photo):
            for turns, mirrored in ORIENTATIONS[1:]:
                copy = orient(edited, turns, mirrored)
                assert np.array_equal(turn_back(copy, Orientation(turns, mirrored)), edited)
                copies.append((orientation_distances(photo, copy), (turns, mirrored)))
    strangers = [orientation_distances(a, b) for a, b in itertools.permutations(photos, 2)]
    own = [orientation_distances(p, p) for p in photos]
    print(f"{len(photos)} photos, {len(copies)} turned/mirrored copies, {len(strangers)} pairs")
    right = sorted(d[key] for d, key in copies)
    closest = sorted(min(d.values()) for d in strangers)
    print(
        f"bits between a photo and its copy turned back: median {right[len(right) // 2]}, 99th "
        f"percentile {right[int(0.99 * len(right))]}, most {right[-1]}; between different "
        f"photos in their closest orientation: fewest {closest[0]}, 1st percentile "
        f"{closest[int(0.01 * len(closest))]}"
    )
    for max_bits in (6, 8, 10, 12, 14, 16):
        for margin in (4, 6, 8):
            found = sum(_decide(d, max_bits, margin) == key for d, key in copies)
            claimed = sum(_decide(d, max_bits, margin) != (0, False) for d in strangers)
            symmetric = sum(_decide(d, max_bits, margin) != (0, False) for d in own)
            print(
                f"MAX_BITS {max_bits:2d} margin {margin}: copies recognised {found}/{len(copies)}"
                f" ({found / len(copies):.1%}); different photos turned {claimed}/"
                f"{len(strangers)} ({claimed / len(strangers):.2%}); a photo against itself "
                f"turned {symmetric}"
            )


def _decide(distances: dict[tuple[int, bool], int], max_bits: int, margin: int) -> tuple:
    as_given = distances[(0, False)]
    key, best = min(distances.items(), key=lambda item: (item[1], item[0]))
    if key != (0, False) and best <= max_bits and as_given - best >= margin:
        return key
    return (0, False)


if __name__ == "__main__":
    main()
