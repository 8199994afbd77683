"""Derive each method's verdict thresholds from labelled image pairs, and write them down.

    make calibrate        (python tools/calibrate.py [--photos DIR] [--weights DIR] [--out FILE])

The pairs are built from real photos only: the project's sibling ``shared/eval/photos`` (18
licensed photos, several subjects photographed more than once) and scikit-image's bundled photos.
``shared/holdout`` is never read. The classes, most alike first:

* near-duplicate: a photo against a lightly altered copy: JPEG q75, noise sigma 4, blur sigma
  0.8, brightness +10, half size and back, a 90 % centre crop, a 3 % shift, a 2 degree rotation,
  80 % scale;
* same-subject: for pixel methods, a heavily altered copy (JPEG q10, blur sigma 3, noise sigma 25,
  contrast x0.5); for a CNN also a different photo of the same subject, or an overlapping crop;
* related (CNNs only): photos of different subjects of one broad kind (birds, pets, food, people);
  a middle class whose verdict would be wrong more often than right on these pairs is merged
  into the class below it, and the file says so;
* different: every other pair of different photos (for pixel methods, different photos of one
  subject too).

Each threshold is the cut between two neighbouring classes with the best balanced accuracy
(midway between the two scores it falls between), kept in order. A CNN is calibrated only with
genuine ImageNet weights, keyed by a fingerprint of the weight values. The results go to
``worker/calibration.json`` and a plot per method to ``docs/calibration/``.
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
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from shared.methods import METHOD_INFO, MethodFamily, MethodName  # noqa: E402
from shared.schemas import MethodState, Verdict, WeightsSource  # noqa: E402
from shared.settings import Settings  # noqa: E402
from worker.decode import DecodedImage, decode_image  # noqa: E402
from worker.methods.base import CompareOptions, Method  # noqa: E402
from worker.registry import build_registry  # noqa: E402
from worker.verdict import FAMILY_CLASSES, Thresholds, decide  # noqa: E402

SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")
SUBJECTS = {"cat": "cat", "chelsea": "cat", "dog": "dog", "hot_dog": "hot dog"}
KINDS = {
    "bird": "birds",
    "owl": "birds",
    "parrot": "birds",
    "cat": "pets",
    "dog": "pets",
    "pets": "pets",
    "hot dog": "food",
    "potato_chips": "food",
    "coffee": "food",
    "grace_hopper": "people",
    "astronaut": "people",
}


@dataclass(frozen=True)
class Photo:
    """A calibration photo, the subject it shows and its broad kind."""

    name: str
    subject: str
    kind: str
    pixels: np.ndarray


def subject_of(name: str) -> str:
    """cat, cat_2 and cat_3 share the subject 'cat'; a photo of its own is its own subject."""
    stem = name.rstrip("_0123456789")
    return SUBJECTS.get(stem, SUBJECTS.get(name, name))


def make_photo(name: str, pixels: np.ndarray) -> Photo:
    """A photo with its labels."""
    subject = subject_of(name)
    return Photo(name, subject, KINDS.get(subject, subject), pixels)


def load_photos(folder: Path) -> list[Photo]:
    """The shared photos plus scikit-image's, decoded as the service decodes uploads."""
    photos = [
        make_photo(path.stem, decode_image(path.read_bytes(), path.name, 10**9).pixels)
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in {".png", ".jpg", ".jpeg"}
    ]
    return photos + [make_photo(name, getattr(skdata, name)()) for name in SKIMAGE_PHOTOS]


def _jpeg(pixels: np.ndarray, quality: int) -> np.ndarray:
    ok, encoded = cv2.imencode(".jpg", pixels[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    assert ok and decoded is not None
    return decoded[..., ::-1].copy()


def _noise(pixels: np.ndarray, sigma: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.clip(pixels + rng.normal(0, sigma, pixels.shape), 0, 255).astype(np.uint8)


def _blur(pixels: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(pixels, (0, 0), sigma)


def _gain(pixels: np.ndarray, gain: float, offset: float) -> np.ndarray:
    return np.clip(pixels.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)


def _resize(pixels: np.ndarray, scale: float) -> np.ndarray:
    h, w = pixels.shape[:2]
    return cv2.resize(pixels, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


def _half_and_back(pixels: np.ndarray) -> np.ndarray:
    h, w = pixels.shape[:2]
    return cv2.resize(_resize(pixels, 0.5), (w, h), interpolation=cv2.INTER_LINEAR)


def _centre_crop(pixels: np.ndarray, share: float) -> np.ndarray:
    h, w = pixels.shape[:2]
    ch, cw = round(h * share), round(w * share)
    top, left = (h - ch) // 2, (w - cw) // 2
    return pixels[top : top + ch, left : left + cw]


def _shift(pixels: np.ndarray, share: float) -> np.ndarray:
    h, w = pixels.shape[:2]
    return pixels[int(h * share) :, int(w * share) :]


def _rotate(pixels: np.ndarray, degrees: float) -> np.ndarray:
    h, w = pixels.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    rotated = cv2.warpAffine(pixels, matrix, (w, h), borderMode=cv2.BORDER_REFLECT)
    return _centre_crop(rotated, 0.92)


Distortion = Callable[[np.ndarray], np.ndarray]
LIGHT: dict[str, Distortion] = {
    "jpeg-q75": lambda p: _jpeg(p, 75),
    "noise-4": lambda p: _noise(p, 4),
    "blur-0.8": lambda p: _blur(p, 0.8),
    "brightness+10": lambda p: _gain(p, 1.0, 10),
    "half-and-back": _half_and_back,
    "crop-90%": lambda p: _centre_crop(p, 0.9),
    "shift-3%": lambda p: _shift(p, 0.03),
    "rotate-2deg": lambda p: _rotate(p, 2.0),
    "scale-80%": lambda p: _resize(p, 0.8),
}
HEAVY: dict[str, Distortion] = {
    "jpeg-q10": lambda p: _jpeg(p, 10),
    "blur-3": lambda p: _blur(p, 3),
    "noise-25": lambda p: _noise(p, 25),
    "contrast-x0.5": lambda p: _gain(p, 0.5, 64),
}


def _overlapping_crops(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = pixels.shape[:2]
    return pixels[: int(h * 0.8), : int(w * 0.8)], pixels[h - int(h * 0.8) :, w - int(w * 0.8) :]


@dataclass(frozen=True)
class Pair:
    """A labelled pair."""

    label: Verdict
    a: np.ndarray
    b: np.ndarray
    description: str


def build_pairs(photos: list[Photo], family: MethodFamily) -> list[Pair]:
    """Labelled pairs for one family of methods, in the classes that family can tell apart."""
    classes = FAMILY_CLASSES[family]
    semantic = family is MethodFamily.SEMANTIC
    pairs: list[Pair] = []
    for photo in photos:
        for name, distort in LIGHT.items():
            pairs.append(Pair(Verdict.NEAR_DUPLICATE, photo.pixels, distort(photo.pixels), name))
        if Verdict.SAME_SUBJECT in classes:
            for name, distort in HEAVY.items():
                pairs.append(Pair(Verdict.SAME_SUBJECT, photo.pixels, distort(photo.pixels), name))
        if semantic:
            left, right = _overlapping_crops(photo.pixels)
            pairs.append(Pair(Verdict.SAME_SUBJECT, left, right, f"{photo.name} crops"))
    for first, second in itertools.combinations(photos, 2):
        label = Verdict.DIFFERENT
        if semantic and first.subject == second.subject:
            label = Verdict.SAME_SUBJECT
        elif semantic and first.kind == second.kind:
            label = Verdict.RELATED
        pairs.append(Pair(label, first.pixels, second.pixels, f"{first.name} vs {second.name}"))
    return pairs


def best_cut(higher: list[float], lower: list[float]) -> float:
    """The threshold that best separates two classes (balanced accuracy), midway between scores."""
    values = sorted(set(higher) | set(lower))
    candidates = [(a + b) / 2 for a, b in itertools.pairwise(values)] or values
    high, low = np.array(higher), np.array(lower)
    middle = float(np.median(values))

    def quality(cut: float) -> tuple[float, float]:
        balanced = ((high >= cut).mean() + (low < cut).mean()) / 2
        return float(balanced), -abs(cut - middle)

    return max(candidates, key=quality)


def fit_thresholds(scores: dict[Verdict, list[float]], classes: tuple[Verdict, ...]) -> list[float]:
    """One cut between each pair of neighbouring classes, kept in decreasing order."""
    cuts = [best_cut(scores[hi], scores[lo]) for hi, lo in itertools.pairwise(classes)]
    for index in range(1, len(cuts)):
        cuts[index] = min(cuts[index], cuts[index - 1])
    return cuts


def as_thresholds(classes: tuple[Verdict, ...], cuts: list[float]) -> Thresholds:
    """Fitted cuts in the form the service reads, so that they are judged by its own rule."""
    return Thresholds(bounds=tuple(zip(classes[:-1], cuts, strict=True)), lowest=classes[-1])


def score_pairs(method: Method, pairs: list[Pair]) -> list[float]:
    """The method's score on every pair, with its default options (as the service settles
    them)."""
    options = CompareOptions().for_method(method.name)
    wrap = DecodedImage.from_pixels
    return [method.compare(wrap(p.a), wrap(p.b), options).score for p in pairs]


def _predict(scores: list[float], classes: tuple[Verdict, ...], cuts: list[float]) -> list[Verdict]:
    thresholds = as_thresholds(classes, cuts)
    return [decide(score, False, thresholds) for score in scores]


def _precision(predicted: list[Verdict], labels: list[Verdict], verdict: Verdict) -> float:
    chosen = [label for p, label in zip(predicted, labels, strict=True) if p is verdict]
    return sum(label is verdict for label in chosen) / len(chosen) if chosen else 0.0


def evaluate(labels: list[Verdict], scores: list[float], family: MethodFamily) -> dict:
    """Thresholds from the scores, and the accuracy they give on these same pairs.

    A middle class is kept only while the verdict is right more often than wrong on the
    calibration pairs (precision at least 50 %); otherwise the method cannot tell it from the
    class below, and the two are merged (its pairs relabelled), so that no verdict is offered
    that the data says is mostly wrong.
    """
    classes = FAMILY_CLASSES[family]
    dropped: dict[str, str] = {}
    while True:
        by_class: dict[Verdict, list[float]] = {c: [] for c in classes}
        for label, score in zip(labels, scores, strict=True):
            by_class[label].append(score)
        cuts = fit_thresholds(by_class, classes)
        predicted = _predict(scores, classes, cuts)
        middle = classes[1:-1]
        precision = {c: _precision(predicted, labels, c) for c in middle}
        weakest = min(middle, key=lambda c: precision[c], default=None)
        if weakest is None or precision[weakest] >= 0.5:
            break
        below = classes[classes.index(weakest) + 1]
        dropped[weakest.value] = (
            f"precision {precision[weakest]:.0%} on the calibration pairs (below 50 %): "
            f"merged into '{below.value}'"
        )
        labels = [below if label is weakest else label for label in labels]
        classes = tuple(c for c in classes if c is not weakest)
    pairs_correct = [p is t for p, t in zip(predicted, labels, strict=True)]
    accuracy = {
        c.value: round(
            float(np.mean([ok for ok, t in zip(pairs_correct, labels, strict=True) if t is c])), 4
        )
        for c in classes
    }
    confusion = {
        c.value: {
            d.value: sum(1 for p, t in zip(predicted, labels, strict=True) if t is c and p is d)
            for d in classes
        }
        for c in classes
    }
    return {
        "classes": [c.value for c in classes],
        "thresholds": {c.value: round(cut, 4) for c, cut in zip(classes, cuts, strict=False)},
        "accuracy": accuracy,
        "overall_accuracy": round(sum(pairs_correct) / len(labels), 4),
        "balanced_accuracy": round(float(np.mean(list(accuracy.values()))), 4),
        "pairs": {c.value: len(by_class[c]) for c in classes},
        "confusion": confusion,
        "dropped_classes": dropped,
        "score_range": {
            c.value: [round(min(v), 4), round(max(v), 4)] for c, v in by_class.items() if v
        },
    }


def calibrate_method(method: Method, photos: list[Photo]) -> tuple[dict, list[Pair], list[float]]:
    """Build the family's pairs, score them, fit and evaluate the thresholds."""
    family = METHOD_INFO[method.name].family
    pairs = build_pairs(photos, family)
    scores = score_pairs(method, pairs)
    entry = evaluate([p.label for p in pairs], scores, family)
    return {"method": method.name.value, **entry}, pairs, scores


def plot(name: MethodName, entry: dict, pairs: list[Pair], scores: list[float], out: Path) -> None:
    """Score distribution per class, with the thresholds: docs/calibration/<method>.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = entry["classes"]
    merged = {name: reason.split("'")[-2] for name, reason in entry["dropped_classes"].items()}
    figure, axes = plt.subplots(figsize=(7, 3.6), dpi=110)
    rng = np.random.default_rng(0)
    for index, label in enumerate(classes):
        values = [
            s
            for p, s in zip(pairs, scores, strict=True)
            if merged.get(p.label.value, p.label.value) == label
        ]
        jitter = rng.uniform(-0.18, 0.18, len(values))
        axes.scatter(np.full(len(values), index) + jitter, values, s=9, alpha=0.55)
        axes.boxplot(values, positions=[index], widths=0.5, showfliers=False)
    for label, cut in entry["thresholds"].items():
        axes.axhline(cut, color="black", linestyle="--", linewidth=0.8)
        axes.text(len(classes) - 0.5, cut, f" {label} from {cut:.3f}", va="bottom", fontsize=7)
    axes.set_xticks(range(len(classes)), [f"{c}\n(n={entry['pairs'][c]})" for c in classes])
    axes.set_ylabel("score")
    axes.set_title(
        f"{METHOD_INFO[name].title}: scores by class "
        f"(accuracy on these pairs {entry['overall_accuracy']:.1%})"
    )
    axes.set_xlim(-0.6, len(classes) + 0.4)
    figure.tight_layout()
    figure.savefig(out / f"{name.value}.png")
    plt.close(figure)


def main() -> None:
    """Calibrate every method that can be calibrated here and write the thresholds file."""
    parser = argparse.ArgumentParser(description="Derive verdict thresholds from labelled pairs.")
    parser.add_argument("--photos", type=Path, default=REPO.parent / "shared" / "eval" / "photos")
    parser.add_argument("--weights", type=Path, default=REPO.parent / "shared" / "weights")
    parser.add_argument("--out", type=Path, default=REPO / "worker" / "calibration.json")
    parser.add_argument("--plots", type=Path, default=REPO / "docs" / "calibration")
    args = parser.parse_args()

    photos = load_photos(args.photos)
    registry = build_registry(Settings(weights_dir=args.weights, allow_weight_download=False))
    for cnn in registry.cnns:
        cnn.load()
    args.plots.mkdir(parents=True, exist_ok=True)
    entries: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    for name in MethodName:
        availability = registry.availability(name)
        genuine = availability.weights in (WeightsSource.NONE, WeightsSource.IMAGENET)
        if availability.state is not MethodState.READY or not availability.calibration_key:
            skipped[name.value] = "no genuine ImageNet weights were available"
            continue
        if not genuine:
            skipped[name.value] = "random weights cannot be calibrated"
            continue
        entry, pairs, scores = calibrate_method(registry.methods[name], photos)
        entries[availability.calibration_key] = entry
        plot(name, entry, pairs, scores, args.plots)
        print(
            f"{name.value:>13}: thresholds {entry['thresholds']}, accuracy {entry['accuracy']}, "
            f"overall {entry['overall_accuracy']}"
        )
    for method_name, reason in skipped.items():
        print(f"{method_name:>13}: not calibrated: {reason}")
    document = {
        "generated_by": "tools/calibrate.py (make calibrate)",
        "photos": f"{len(photos)} photos: shared/eval/photos and scikit-image "
        f"({', '.join(SKIMAGE_PHOTOS)}); shared/holdout is never used",
        "not_calibrated": skipped,
        "methods": entries,
    }
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {args.out} and plots in {args.plots}")


if __name__ == "__main__":
    main()
