"""How well copies that changed shape, colour or size are recognised and compared, against
pairs of different photos (issue: "Copies that changed shape, colour or size").

    python tools/relation_study.py [--photos DIR] [--flowers DIR] [--pairs N]

Photos: ``shared/eval/photos``, scikit-image's, and one per species of ``shared/eval/flowers-
dev``. Edits of each photo, drawn at random (seeded): the aspect ratio changed (each axis scaled
by 0.6-1.6, at least 10 % apart), greyscale, a wider canvas (the photo pasted on a white canvas
10-40 % larger on each side), a centre crop of 50-95 %, a 90-degree turn, and transparency
removed (the photo as a cut-out whose outer 15 % is transparent, against the same flattened over
white). Each copy goes through the worker's comparison service (SSIM, MS-SSIM, pixel, pHash; no
CNN) with default options. Printed per edit: how often the result's ``relation`` names what was
done, and how often each pixel method then calls the copy near-duplicate; and for pairs of
different photos (B resized to A's size, and B at its own shape), how often each method calls
them near-duplicate and how often a relation is claimed. Also the stretch agreement of squashed
copies against different photos of another shape, which sets ``MIN_STRETCH_AGREEMENT`` in
``worker.geometry``. ``--markdown`` prints the README table.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data as skdata

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from shared.settings import Settings  # noqa: E402
from worker.geometry import stretch_agreement  # noqa: E402
from worker.methods.base import CompareOptions  # noqa: E402
from worker.registry import build_registry  # noqa: E402
from worker.service import ComparisonService  # noqa: E402

SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")
METHODS = ("ssim", "ms_ssim", "pixel", "phash")


def load(folder: Path, flowers: Path) -> list[np.ndarray]:
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".png"})
    if flowers.is_dir():
        paths += [sorted(s.iterdir())[0] for s in sorted(flowers.iterdir()) if s.is_dir()]
    photos = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    return photos + [
        np.asarray(Image.fromarray(getattr(skdata, n)()).convert("RGB")) for n in SKIMAGE_PHOTOS
    ]


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG")
    return buffer.getvalue()


def edits(photo: np.ndarray, rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    height, width = photo.shape[:2]
    while True:
        sx, sy = rng.uniform(0.6, 1.6, 2)
        if abs(sx / sy - 1) >= 0.1:
            break
    size = (max(16, round(width * sx)), max(16, round(height * sy)))
    squashed = cv2.resize(
        photo, size, interpolation=cv2.INTER_AREA if sx * sy < 1 else cv2.INTER_CUBIC
    )
    grey = np.repeat(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    grow = rng.uniform(1.1, 1.4)
    canvas = np.full((round(height * grow), round(width * grow), 3), 255, np.uint8)
    top, left = (canvas.shape[0] - height) // 2, (canvas.shape[1] - width) // 2
    canvas[top : top + height, left : left + width] = photo
    share = rng.uniform(0.5, 0.95)
    ch, cw = round(height * share), round(width * share)
    ct, cl = (height - ch) // 2, (width - cw) // 2
    return [
        ("aspect", squashed),
        ("greyscale", grey),
        ("canvas", canvas),
        ("crop", photo[ct : ct + ch, cl : cl + cw]),
        ("turn", np.rot90(photo)),
    ]


def with_transparent_margin(photo: np.ndarray) -> np.ndarray:
    """The photo as RGBA whose outer 15 % is transparent, fading over 8 pixels: a cut-out."""
    height, width = photo.shape[:2]
    alpha = np.zeros((height, width), np.uint8)
    top, left = int(height * 0.15), int(width * 0.15)
    alpha[top : height - top, left : width - left] = 255
    alpha = cv2.GaussianBlur(alpha, (0, 0), 4)
    return np.dstack([photo, alpha])


def flattened(rgba: np.ndarray) -> np.ndarray:
    """What an editor saves when it drops the transparency: the colour over white."""
    alpha = rgba[..., 3:].astype(np.float64) / 255
    return np.rint(rgba[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)


def recognised(kind: str, relation: dict | None, result: dict) -> bool:
    """Whether the result's relation names the edit."""
    if kind == "transparency":
        return bool(relation and relation.get("transparency") == "removed")
    if kind == "greyscale":
        return bool(relation and relation.get("greyscale"))
    if relation is None:
        return False
    if kind == "aspect":
        return relation.get("scale_xy") is not None
    if kind in ("canvas", "crop"):
        return "registration" in relation["found_by"]
    if kind == "turn":
        return abs(abs(relation["rotation_deg"]) - 90) < 1
    raise ValueError(kind)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=Path, default=REPO.parent / "shared/eval/photos")
    parser.add_argument("--flowers", type=Path, default=REPO.parent / "shared/eval/flowers-dev")
    parser.add_argument("--pairs", type=int, default=300, help="pairs of different photos")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    settings = Settings(cnn_methods="", result_cache_bytes=0)
    service = ComparisonService(build_registry(settings), settings)
    photos = load(args.photos, args.flowers)
    rng = np.random.default_rng(23)
    seen: dict[str, Counter] = defaultdict(Counter)
    squashed_agreement: list[float] = []
    for photo in photos:
        cut_out = with_transparent_margin(photo)
        for kind, copy in [*edits(photo, rng), ("transparency", flattened(cut_out))]:
            original = cut_out if kind == "transparency" else photo
            if kind == "aspect":
                found = stretch_agreement(photo, copy)
                if found is not None:
                    squashed_agreement.append(found[1])
            seen[kind]["copies"] += 1
            for method in METHODS:
                result = service.compare(method, png(original), png(copy), CompareOptions())
                relation = result.relation.model_dump() if result.relation else None
                if method == "ssim":
                    seen[kind]["recognised"] += recognised(kind, relation, result.model_dump())
                seen[kind][method] += result.verdict.value == "near-duplicate"
    strangers: list[float] = []
    for _ in range(args.pairs):
        i, j = rng.choice(len(photos), 2, replace=False)
        a, b = photos[i], photos[j]
        found = stretch_agreement(a, b)
        if found is not None:
            strangers.append(found[1])
        seen["different photos"]["copies"] += 1
        for method in METHODS:
            result = service.compare(method, png(a), png(b), CompareOptions())
            seen["different photos"][method] += result.verdict.value == "near-duplicate"
            if method == "ssim":  # a claimed change, not just the sizes that differ
                claimed = result.relation is not None and (
                    result.relation.found_by
                    or result.relation.scale_xy
                    or result.relation.greyscale
                )
                seen["different photos"]["recognised"] += bool(claimed)
    squashed_agreement.sort()
    strangers.sort()
    print(
        f"stretch agreement: squashed copies {len(squashed_agreement)}, lowest "
        f"{squashed_agreement[0]:.3f}, 5th percentile "
        f"{squashed_agreement[len(squashed_agreement) // 20]:.3f}; different photos of another "
        f"shape {len(strangers)}, highest {strangers[-1]:.3f}, 99th percentile "
        f"{strangers[int(0.99 * len(strangers))]:.3f}"
    )
    header = "| edit | pairs | relation recognised | " + " | ".join(
        f"`{m}` near-duplicate" for m in METHODS
    )
    print(header + " |")
    print("|---" * (3 + len(METHODS)) + "|")
    for kind, counts in seen.items():
        total = counts["copies"]
        cells = [f"{counts[m]} ({counts[m] / total:.0%})" for m in METHODS]
        claimed = "relation claimed" if kind == "different photos" else "recognised"
        print(
            f"| {kind} | {total} | {counts['recognised']} ({counts['recognised'] / total:.0%}"
            f"{', ' + claimed if kind == 'different photos' else ''}) | " + " | ".join(cells) + " |"
        )


if __name__ == "__main__":
    main()
