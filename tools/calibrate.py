"""Derive each method's verdict thresholds from labelled image pairs, and write them down.

    python tools/calibrate.py [--photos DIR] [--weights DIR] [--out worker/calibration.json]

The pairs are built from real photos only: the project's sibling ``shared/eval/photos`` (18
licensed photos, several subjects photographed more than once) and scikit-image's bundled photos.
``shared/holdout`` is never read. Each method gets three classes, in its own terms:

* near-identical: a photo against a lightly altered copy (JPEG q75, noise sigma 4, blur sigma 0.8,
  brightness +10, half-size and back);
* similar: for SSIM, a heavily altered copy (JPEG q10, blur sigma 3, noise sigma 25, contrast
  x0.5, a 3 % shift); for a CNN, a different photo of the same subject, or an overlapping crop;
* different: photos of different subjects (for SSIM, also different photos of one subject).

Each threshold is the cut between two neighbouring classes with the best balanced accuracy
(midway between the two scores it falls between). A CNN is calibrated only with genuine ImageNet
weights, and its entry is keyed by a SHA-256 fingerprint of the weight values.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from skimage import data as skdata

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from shared.methods import METHOD_INFO, MethodFamily, MethodName  # noqa: E402
from shared.schemas import MethodState, WeightsSource  # noqa: E402
from shared.settings import Settings  # noqa: E402
from worker.decode import DecodedImage, decode_image  # noqa: E402
from worker.methods.base import Method  # noqa: E402
from worker.registry import build_registry  # noqa: E402

CLASSES = ("near-identical", "similar", "different")
SUBJECT_GROUPS = {"cat": "cat", "dog": "dog", "hot_dog": "hot dog", "chelsea": "cat"}
SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")


@dataclass(frozen=True)
class Photo:
    """A calibration photo and the subject it shows."""

    name: str
    subject: str
    pixels: np.ndarray


def subject_of(name: str) -> str:
    """Photos named cat, cat_2, cat_3 share the subject 'cat'; every other photo is its own."""
    stem = name.rstrip("_0123456789")
    return SUBJECT_GROUPS.get(stem, name)


def load_photos(folder: Path) -> list[Photo]:
    """The shared photos plus scikit-image's, decoded as the service decodes uploads."""
    photos = [
        Photo(
            path.stem,
            subject_of(path.stem),
            decode_image(path.read_bytes(), path.name, 10**9).pixels,
        )
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in {".png", ".jpg", ".jpeg"}
    ]
    photos += [Photo(name, subject_of(name), getattr(skdata, name)()) for name in SKIMAGE_PHOTOS]
    return photos


def _jpeg(pixels: np.ndarray, quality: int) -> np.ndarray:
    ok, encoded = cv2.imencode(".jpg", pixels[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1].copy()


def _noise(pixels: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(pixels + rng.normal(0, sigma, pixels.shape), 0, 255).astype(np.uint8)


def _blur(pixels: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(pixels, (0, 0), sigma)


def _gain(pixels: np.ndarray, gain: float, offset: float) -> np.ndarray:
    return np.clip(pixels.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)


def _half_and_back(pixels: np.ndarray) -> np.ndarray:
    h, w = pixels.shape[:2]
    small = cv2.resize(pixels, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _shift(pixels: np.ndarray, share: float) -> np.ndarray:
    h, w = pixels.shape[:2]
    dy, dx = int(h * share), int(w * share)
    return pixels[dy:, dx:]


Distortion = Callable[[np.ndarray], np.ndarray]
LIGHT: dict[str, Distortion] = {
    "jpeg-q75": lambda p: _jpeg(p, 75),
    "noise-4": lambda p: _noise(p, 4),
    "blur-0.8": lambda p: _blur(p, 0.8),
    "brightness+10": lambda p: _gain(p, 1.0, 10),
    "half-and-back": _half_and_back,
}
HEAVY: dict[str, Distortion] = {
    "jpeg-q10": lambda p: _jpeg(p, 10),
    "blur-3": lambda p: _blur(p, 3),
    "noise-25": lambda p: _noise(p, 25),
    "contrast-x0.5": lambda p: _gain(p, 0.5, 64),
    "shift-3%": lambda p: _shift(p, 0.03),
}


def _crops(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = pixels.shape[:2]
    return pixels[: int(h * 0.8), : int(w * 0.8)], pixels[h - int(h * 0.8) :, w - int(w * 0.8) :]


Pair = tuple[str, np.ndarray, np.ndarray, str]  # (class, a, b, description)


def build_pairs(photos: list[Photo], family: MethodFamily) -> list[Pair]:
    """Labelled pairs for one family of methods."""
    pairs: list[Pair] = []
    for photo in photos:
        for label, distort in LIGHT.items():
            pairs.append(
                ("near-identical", photo.pixels, distort(photo.pixels), f"{photo.name} {label}")
            )
        if family is MethodFamily.STRUCTURAL:
            for label, distort in HEAVY.items():
                pairs.append(
                    ("similar", photo.pixels, distort(photo.pixels), f"{photo.name} {label}")
                )
        else:
            left, right = _crops(photo.pixels)
            pairs.append(("similar", left, right, f"{photo.name} overlapping crops"))
    for first, second in itertools.combinations(photos, 2):
        same_subject = first.subject == second.subject
        label = "similar" if same_subject and family is MethodFamily.SEMANTIC else "different"
        pairs.append((label, first.pixels, second.pixels, f"{first.name} vs {second.name}"))
    return pairs


def best_cut(higher: list[float], lower: list[float]) -> float:
    """The threshold that best separates two classes (balanced accuracy), midway between scores."""
    values = sorted(set(higher) | set(lower))
    candidates = [(a + b) / 2 for a, b in itertools.pairwise(values)] or values
    high, low = np.array(higher), np.array(lower)

    def balanced_accuracy(cut: float) -> float:
        return ((high >= cut).mean() + (low < cut).mean()) / 2

    return max(candidates, key=lambda cut: (balanced_accuracy(cut), -abs(cut - np.median(values))))


def verdict_of(score: float, near: float, similar: float) -> str:
    """The class a score falls in."""
    return "near-identical" if score >= near else "similar" if score >= similar else "different"


def as_decoded(pixels: np.ndarray) -> DecodedImage:
    """Wrap pixels the way the worker's decoder would hand them to a method."""
    from shared.schemas import ImageInfo

    info = ImageInfo(width=pixels.shape[1], height=pixels.shape[0], bytes=0)
    return DecodedImage(np.ascontiguousarray(pixels), info)


def calibrate(method: Method, pairs: list[Pair]) -> dict:
    """Scores per class, the thresholds, and the accuracy they give on these pairs."""
    scores: dict[str, list[float]] = {name: [] for name in CLASSES}
    for label, a, b, _ in pairs:
        scores[label].append(method.compare(as_decoded(a), as_decoded(b)).score)
    near = best_cut(scores["near-identical"], scores["similar"])
    similar = best_cut(scores["similar"], scores["different"])
    similar = min(similar, near)
    accuracy = {
        name: float(np.mean([verdict_of(s, near, similar) == name for s in values]))
        for name, values in scores.items()
    }
    total = sum(len(values) for values in scores.values())
    overall = sum(accuracy[name] * len(scores[name]) for name in CLASSES) / total
    return {
        "thresholds": {"near-identical": round(near, 4), "similar": round(similar, 4)},
        "accuracy": {name: round(value, 4) for name, value in accuracy.items()},
        "overall_accuracy": round(overall, 4),
        "balanced_accuracy": round(float(np.mean(list(accuracy.values()))), 4),
        "pairs": {name: len(values) for name, values in scores.items()},
        "score_range": {
            name: [round(min(values), 4), round(max(values), 4)] for name, values in scores.items()
        },
    }


def main() -> None:
    """Calibrate every method that can be calibrated here and write the thresholds file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=Path, default=REPO.parent / "shared" / "eval" / "photos")
    parser.add_argument("--weights", type=Path, default=REPO.parent / "shared" / "weights")
    parser.add_argument("--out", type=Path, default=REPO / "worker" / "calibration.json")
    args = parser.parse_args()

    photos = load_photos(args.photos)
    settings = Settings(weights_dir=args.weights, allow_weight_download=False)
    registry = build_registry(settings)
    for cnn in registry.cnns:
        cnn.load()
    entries: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    for name in MethodName:
        availability = registry.availability(name)
        if availability.state is not MethodState.READY or availability.calibration_key is None:
            skipped[name.value] = "no genuine ImageNet weights were available"
            continue
        if availability.weights is WeightsSource.RANDOM_INIT:
            skipped[name.value] = "random weights cannot be calibrated"
            continue
        pairs = build_pairs(photos, METHOD_INFO[name].family)
        entry = calibrate(registry.methods[name], pairs)
        entries[availability.calibration_key] = {"method": name.value, **entry}
        print(f"{name.value:>13}: {json.dumps(entry)}")
    for name, reason in skipped.items():
        print(f"{name:>13}: not calibrated: {reason}")
    document = {
        "generated_by": "tools/calibrate.py (make calibrate)",
        "photos": f"{len(photos)} photos: shared/eval/photos and scikit-image "
        f"({', '.join(SKIMAGE_PHOTOS)}); shared/holdout is never used",
        "not_calibrated": skipped,
        "methods": entries,
    }
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
