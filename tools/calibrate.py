"""Derive each method's verdict thresholds from labelled image pairs, and say how well they do
on photos they were not fitted on.

    make calibrate        (python tools/calibrate.py [--photos DIR] [--flowers DIR] [--weights DIR]
                           [--out FILE] [--plots DIR])

The pairs are built from real photos only: the project's sibling ``shared/eval/photos`` (18
licensed photos, several subjects photographed more than once), scikit-image's bundled photos and
the first three photos of each of the 16 species in ``shared/eval/flowers-dev``.
``shared/holdout`` is never read. The classes, most alike first:

* near-duplicate: a photo against a lightly altered copy: the standard edits (JPEG q20 and q75,
  noise sigma 10, blur sigma 0.8 and 2, half size and back, 80 % scale, 80 % and 95 % centre
  crops), which must still read as near-duplicate, and brightness +10, gamma 0.8, a colour shift,
  a text overlay, a 3 % shift, a 2 degree rotation (flowers: five of these);
* same-subject: for pixel methods, a heavily altered copy (JPEG q10, blur sigma 3, noise sigma
  25, contrast x0.5, a 60 % crop, quarter size and back, a mirror image); for a CNN also a different
  photo of the same subject (or flower species), or an overlapping crop;
* related (CNNs only): photos of different subjects of one broad kind (birds, pets, food, people,
  flowers); a middle class whose verdict would be wrong more often than right on these pairs is
  merged into the class below it, and the file says so;
* different: every other pair of different photos (for pixel methods, different photos of one
  subject too).

Each threshold is the cut between two neighbouring classes with the best balanced accuracy
(midway between the two scores it falls between), kept in order, except that the near-duplicate
cut is lowered where it would lose more than 5 % of the standard edits, then raised where needed
until at most 1 % of the pairs of different photographs reach it (precision wins). The figures
reported are held out: 5-fold cross-validation grouped by source photo (whole subjects per
fold, so no photo is on both sides), the held-out predictions pooled, per-verdict precision and
recall with 95 % Wilson intervals. The thresholds the service uses are then fitted on all pairs.
A CNN is calibrated only with genuine ImageNet weights, keyed by a fingerprint of the weight
values. The results go to ``worker/calibration.json``, every held-out prediction to
``docs/calibration/held_out.json`` and a plot per method to ``docs/calibration/``.
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
FLOWERS_PER_SPECIES = 3
FOLDS = 5
MAX_DISTINCT_NEAR_DUPLICATE = 0.01  # at most this share of different photos near-duplicate
MIN_STANDARD_RECALL = 0.95  # at least this share of standard edits near-duplicate


@dataclass(frozen=True)
class Photo:
    """A calibration photo (its name is its source id), the subject it shows and its kind."""

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


def _decode(path: Path) -> np.ndarray:
    return decode_image(path.read_bytes(), path.name, 10**9).pixels


def load_photos(folder: Path, flowers: Path | None = None) -> list[Photo]:
    """The shared photos plus scikit-image's, decoded as the service decodes uploads; with
    ``flowers``, also the first FLOWERS_PER_SPECIES photos of each species there (subject: the
    species, kind: flowers)."""
    photos = [
        make_photo(path.stem, _decode(path))
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in {".png", ".jpg", ".jpeg"}
    ]
    photos += [make_photo(name, getattr(skdata, name)()) for name in SKIMAGE_PHOTOS]
    if flowers is not None:
        for species in sorted(p for p in flowers.iterdir() if p.is_dir()):
            for path in sorted(species.glob("*.jpg"))[:FLOWERS_PER_SPECIES]:
                name = f"{species.name}/{path.stem}"
                photos.append(Photo(name, f"flower:{species.name}", "flowers", _decode(path)))
    return photos


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


def _gamma(pixels: np.ndarray, gamma: float) -> np.ndarray:
    return (255.0 * (pixels / 255.0) ** gamma).round().astype(np.uint8)


def _colour_shift(pixels: np.ndarray) -> np.ndarray:
    """A warm white-balance change: red up, blue down."""
    return np.clip(pixels.astype(np.float32) * (1.08, 1.0, 0.9), 0, 255).astype(np.uint8)


def _overlay_text(pixels: np.ndarray) -> np.ndarray:
    """A caption-sized watermark across the lower part, as a stock site or meme adds."""
    out = pixels.copy()
    h, w = out.shape[:2]
    scale = max(w / 500, 0.4)
    thickness = max(round(2 * scale), 1)
    cv2.putText(
        out, "(c) SAMPLE", (w // 12, h * 5 // 6), cv2.FONT_HERSHEY_SIMPLEX, 1.4 * scale,
        (255, 255, 255), thickness, cv2.LINE_AA,
    )  # fmt: skip
    return out


def _resize(pixels: np.ndarray, scale: float) -> np.ndarray:
    h, w = pixels.shape[:2]
    return cv2.resize(pixels, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


def _scale_and_back(pixels: np.ndarray, scale: float) -> np.ndarray:
    h, w = pixels.shape[:2]
    return cv2.resize(_resize(pixels, scale), (w, h), interpolation=cv2.INTER_LINEAR)


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
# The "standard edits": each must still read as near-duplicate (recall goal, 95 %).
STANDARD: dict[str, Distortion] = {
    "jpeg-q20": lambda p: _jpeg(p, 20),
    "jpeg-q75": lambda p: _jpeg(p, 75),
    "noise-10": lambda p: _noise(p, 10),
    "blur-0.8": lambda p: _blur(p, 0.8),
    "blur-2": lambda p: _blur(p, 2.0),
    "half-and-back": lambda p: _scale_and_back(p, 0.5),
    "scale-80%": lambda p: _resize(p, 0.8),
    "crop-80%": lambda p: _centre_crop(p, 0.8),
    "crop-95%": lambda p: _centre_crop(p, 0.95),
}
# Other light edits, labelled near-duplicate but outside the recall goal.
OTHER_LIGHT: dict[str, Distortion] = {
    "brightness+10": lambda p: _gain(p, 1.0, 10),
    "gamma-0.8": lambda p: _gamma(p, 0.8),
    "colour-shift": _colour_shift,
    "text-overlay": _overlay_text,
    "shift-3%": lambda p: _shift(p, 0.03),
    "rotate-2deg": lambda p: _rotate(p, 2.0),
}
LIGHT: dict[str, Distortion] = {**STANDARD, **OTHER_LIGHT}
HEAVY: dict[str, Distortion] = {
    "jpeg-q10": lambda p: _jpeg(p, 10),
    "blur-3": lambda p: _blur(p, 3),
    "noise-25": lambda p: _noise(p, 25),
    "contrast-x0.5": lambda p: _gain(p, 0.5, 64),
    "crop-60%": lambda p: _centre_crop(p, 0.6),
    "quarter-and-back": lambda p: _scale_and_back(p, 0.25),
    "hflip": lambda p: p[:, ::-1].copy(),
}
# The flower photos get fewer edits, to keep `make calibrate` within a few minutes.
FLOWER_LIGHT = ("jpeg-q20", "noise-10", "blur-2", "crop-80%", "colour-shift")
FLOWER_HEAVY = ("jpeg-q10", "hflip")


def _overlapping_crops(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = pixels.shape[:2]
    return pixels[: int(h * 0.8), : int(w * 0.8)], pixels[h - int(h * 0.8) :, w - int(w * 0.8) :]


@dataclass(frozen=True)
class Pair:
    """A labelled pair and the source photo(s) it was made from (one for an edit of a photo,
    two for two different photos)."""

    label: Verdict
    a: np.ndarray
    b: np.ndarray
    description: str
    sources: tuple[str, ...] = ()
    edit: str = ""

    @property
    def distinct_photos(self) -> bool:
        """Two different photographs: none of them may be called near-duplicate."""
        return len(self.sources) == 2

    @property
    def standard_edit(self) -> bool:
        """A standard edit of one photo: it must still be called near-duplicate."""
        return self.edit in STANDARD


def assign_folds(photos: list[Photo], k: int = FOLDS) -> dict[str, int]:
    """Photo name -> fold. Whole subjects go to one fold (every photo of the cat in the same
    fold), so that pairs of two photos of one subject can be held out too; the subjects are
    shuffled with a fixed seed and dealt round-robin."""
    subjects = sorted({photo.subject for photo in photos})
    order = np.random.default_rng(0).permutation(len(subjects))
    fold_of_subject = {subjects[i]: rank % k for rank, i in enumerate(order)}
    return {photo.name: fold_of_subject[photo.subject] for photo in photos}


def split(pairs: list[Pair], folds: dict[str, int], held_out: int) -> tuple[list[int], list[int]]:
    """(training, held-out) pair indices for one round: a pair is held out when all its photos
    are in the held-out fold, used for training when none is, and unused when it straddles."""
    train, test = [], []
    for index, pair in enumerate(pairs):
        sides = {folds[source] == held_out for source in pair.sources}
        if sides == {True}:
            test.append(index)
        elif sides == {False}:
            train.append(index)
    return train, test


def build_pairs(
    photos: list[Photo], family: MethodFamily, folds: dict[str, int] | None = None
) -> list[Pair]:
    """Labelled pairs for one family of methods, in the classes that family can tell apart.

    Every two photos of the shared set and scikit-image are paired; a flower photo is paired
    with the photos in its own fold only (``folds``), since a pair straddling two folds is never
    held out and the flowers would otherwise cost most of the run for little held-out data.
    """
    classes = FAMILY_CLASSES[family]
    semantic = family is MethodFamily.SEMANTIC
    pairs: list[Pair] = []
    for photo in photos:
        flower = photo.subject.startswith("flower:")
        light = FLOWER_LIGHT if flower else tuple(LIGHT)
        heavy = FLOWER_HEAVY if flower else tuple(HEAVY)
        for name in light:
            b = LIGHT[name](photo.pixels)
            pairs.append(Pair(Verdict.NEAR_DUPLICATE, photo.pixels, b, name, (photo.name,), name))
        if Verdict.SAME_SUBJECT in classes:
            for name in heavy:
                b = HEAVY[name](photo.pixels)
                pairs.append(Pair(Verdict.SAME_SUBJECT, photo.pixels, b, name, (photo.name,), name))
        if semantic and not flower:
            left, right = _overlapping_crops(photo.pixels)
            description = f"{photo.name} crops"
            pairs.append(
                Pair(Verdict.SAME_SUBJECT, left, right, description, (photo.name,), "crops")
            )
    for first, second in itertools.combinations(photos, 2):
        flower = first.subject.startswith("flower:") or second.subject.startswith("flower:")
        if flower and (folds is None or folds[first.name] != folds[second.name]):
            continue
        label = Verdict.DIFFERENT
        if semantic and first.subject == second.subject:
            label = Verdict.SAME_SUBJECT
        elif semantic and first.kind == second.kind:
            label = Verdict.RELATED
        description = f"{first.name} vs {second.name}"
        pairs.append(
            Pair(label, first.pixels, second.pixels, description, (first.name, second.name))
        )
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


def precision_floor(distinct: list[float], share: float = MAX_DISTINCT_NEAR_DUPLICATE) -> float:
    """The lowest cut (on the 4-decimal grid the file keeps) at which at most ``share`` of these
    pairs of different photographs reach it."""
    if not distinct:
        return -np.inf
    ordered = sorted(distinct, reverse=True)
    allowed = int(np.floor(share * len(ordered)))
    if allowed >= len(ordered):
        return -np.inf
    return float((np.floor(ordered[allowed] * 1e4) + 1) / 1e4)


def recall_ceiling(standard: list[float], share: float = MIN_STANDARD_RECALL) -> float:
    """The highest cut (on the 4-decimal grid) that at least ``share`` of these standard edits
    still reach."""
    if not standard:
        return np.inf
    ordered = sorted(standard)
    return float(np.floor(ordered[int(np.floor((1 - share) * len(ordered)))] * 1e4) / 1e4)


def fit_thresholds(
    scores: dict[Verdict, list[float]],
    classes: tuple[Verdict, ...],
    distinct: list[float],
    standard: list[float],
) -> list[float]:
    """One cut between each pair of neighbouring classes, kept in decreasing order.

    The near-duplicate cut starts at the best balanced cut, is lowered where that would lose
    more than 5 % of the standard edits (``standard``), and is then raised, where needed, until
    at most 1 % of the pairs of different photographs (``distinct``) reach it: precision on
    different photographs wins when a method cannot reach both.
    """
    cuts = [best_cut(scores[hi], scores[lo]) for hi, lo in itertools.pairwise(classes)]
    cuts[0] = max(min(cuts[0], recall_ceiling(standard)), precision_floor(distinct))
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


def wilson(successes: int, total: int, z: float = 1.96) -> list[float]:
    """95 % Wilson score interval of a proportion (sound at 0 or n successes, unlike p +- 2 se)."""
    if total == 0:
        return [0.0, 1.0]
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * np.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return [round(float(max(0.0, centre - half)), 4), round(float(min(1.0, centre + half)), 4)]


def _share(hits: int, total: int) -> dict:
    return {
        "value": round(hits / total, 4) if total else None,
        "hits": hits,
        "of": total,
        "ci95": wilson(hits, total),
    }


def fit(
    labels: list[Verdict],
    scores: list[float],
    distinct: list[bool],
    standard: list[bool],
    family: MethodFamily,
) -> tuple[tuple[Verdict, ...], list[Verdict], list[float], dict[str, str]]:
    """Classes, (merged) labels, cuts and merge notes from these pairs.

    A middle class is kept only while the verdict is right more often than wrong on the pairs
    (precision at least 50 %); otherwise the method cannot tell it from the class below, and the
    two are merged (its pairs relabelled), so that no verdict is offered that the data says is
    mostly wrong.
    """
    classes = FAMILY_CLASSES[family]
    dropped: dict[str, str] = {}
    others = [s for s, d in zip(scores, distinct, strict=True) if d]
    edits = [s for s, e in zip(scores, standard, strict=True) if e]
    while True:
        by_class: dict[Verdict, list[float]] = {c: [] for c in classes}
        for label, score in zip(labels, scores, strict=True):
            by_class[label].append(score)
        cuts = fit_thresholds(by_class, classes, others, edits)
        predicted = _predict(scores, classes, cuts)
        middle = classes[1:-1]
        precision = {c: _precision(predicted, labels, c) for c in middle}
        weakest = min(middle, key=lambda c: precision[c], default=None)
        if weakest is None or precision[weakest] >= 0.5:
            return classes, labels, cuts, dropped
        below = classes[classes.index(weakest) + 1]
        dropped[weakest.value] = (
            f"precision {precision[weakest]:.0%} on the calibration pairs (below 50 %): "
            f"merged into '{below.value}'"
        )
        labels = [below if label is weakest else label for label in labels]
        classes = tuple(c for c in classes if c is not weakest)


def held_out_metrics(
    classes: tuple[Verdict, ...], labels: list[Verdict], predicted: list[Verdict], pairs: list[Pair]
) -> dict:
    """Per-verdict precision and recall (95 % Wilson intervals), the confusion matrix and the
    two near-duplicate goals, all from held-out predictions only."""
    rows = list(zip(labels, predicted, pairs, strict=True))
    per_verdict = {}
    for c in classes:
        hits = sum(1 for t, p, _ in rows if t is c and p is c)
        called = sum(1 for _, p, _ in rows if p is c)
        actual = sum(1 for t, _, _ in rows if t is c)
        per_verdict[c.value] = {"precision": _share(hits, called), "recall": _share(hits, actual)}
    near = Verdict.NEAR_DUPLICATE
    distinct = [p is near for _, p, pair in rows if pair.distinct_photos]
    standard = [p is near for _, p, pair in rows if pair.standard_edit]
    on_distinct = _share(sum(distinct), len(distinct))
    on_standard = _share(sum(standard), len(standard))
    return {
        "per_verdict": per_verdict,
        "accuracy": round(sum(t is p for t, p, _ in rows) / len(rows), 4),
        "confusion": {
            c.value: {d.value: sum(1 for t, p, _ in rows if t is c and p is d) for d in classes}
            for c in classes
        },
        "near_duplicate_goals": {
            "distinct_photos_called_near_duplicate": on_distinct,
            "distinct_goal_met": on_distinct["value"] is not None
            and on_distinct["value"] <= MAX_DISTINCT_NEAR_DUPLICATE,
            "standard_edits_called_near_duplicate": on_standard,
            "standard_goal_met": on_standard["value"] is not None
            and on_standard["value"] >= MIN_STANDARD_RECALL,
        },
    }


def limitation_of(goals: dict) -> str:
    """One sentence for the explanation when a near-duplicate goal is missed (empty if none)."""
    missed = []
    distinct = goals["distinct_photos_called_near_duplicate"]
    standard = goals["standard_edits_called_near_duplicate"]
    if not goals["distinct_goal_met"]:
        missed.append(
            f"it called {distinct['hits']} of {distinct['of']} pairs of different photographs "
            f"near-duplicate ({distinct['value']:.2%}; goal: at most 1 %)"
        )
    if not goals["standard_goal_met"]:
        missed.append(
            f"it called only {standard['hits']} of {standard['of']} standard edits (blur, "
            f"noise, JPEG, resize, crop) near-duplicate ({standard['value']:.2%}; goal: at "
            "least 95 %)"
        )
    if not missed:
        return ""
    return "Calibration caveat: on photos it was not fitted on, " + " and ".join(missed) + "."


def evaluate(
    pairs: list[Pair], scores: list[float], family: MethodFamily, folds: dict[str, int], k: int
) -> tuple[dict, list[list]]:
    """Thresholds fitted on all pairs, and metrics from group-wise cross-validation: in each of
    ``k`` rounds the thresholds are fitted on the pairs whose photos are all outside the held-out
    fold and judged on the pairs whose photos are all inside it; the held-out predictions are
    pooled. Which middle classes are merged is decided once, on all pairs."""
    distinct = [p.distinct_photos for p in pairs]
    standard = [p.standard_edit for p in pairs]
    classes, labels, cuts, dropped = fit(
        [p.label for p in pairs], scores, distinct, standard, family
    )
    held: list[int] = []
    predicted: list[Verdict] = []
    fold_cuts: list[list[float]] = []
    for fold in range(k):
        train, test = split(pairs, folds, fold)
        by_class: dict[Verdict, list[float]] = {c: [] for c in classes}
        for i in train:
            by_class[labels[i]].append(scores[i])
        others = [scores[i] for i in train if distinct[i]]
        edits = [scores[i] for i in train if standard[i]]
        fold_cuts.append(fit_thresholds(by_class, classes, others, edits))
        held += test
        predicted += _predict([scores[i] for i in test], classes, fold_cuts[-1])
    metrics = held_out_metrics(
        classes, [labels[i] for i in held], predicted, [pairs[i] for i in held]
    )
    records = [
        [
            pairs[i].description,
            "+".join(pairs[i].sources),
            folds[pairs[i].sources[0]],
            labels[i].value,
            round(scores[i], 6),
            p.value,
        ]
        for i, p in zip(held, predicted, strict=True)
    ]
    entry = {
        "classes": [c.value for c in classes],
        "thresholds": {c.value: round(cut, 4) for c, cut in zip(classes, cuts, strict=False)},
        "held_out": {
            "how": (
                f"{k}-fold cross-validation grouped by source photo (every photo of one subject "
                "in one fold): thresholds fitted on the pairs of the other folds, judged on the "
                "pairs whose photos are all in the held-out fold; pairs straddling folds unused "
                "in that round"
            ),
            "folds": k,
            "pairs": len(held),
            "fold_thresholds": [[round(c, 6) for c in cuts_] for cuts_ in fold_cuts],
            **metrics,
        },
        "limitation": limitation_of(metrics["near_duplicate_goals"]),
        "pairs": {c.value: sum(1 for t in labels if t is c) for c in classes},
        "dropped_classes": dropped,
        "score_range": {
            c.value: [round(min(v), 4), round(max(v), 4)]
            for c in classes
            if (v := [s for s, t in zip(scores, labels, strict=True) if t is c])
        },
    }
    return entry, records


def calibrate_method(
    method: Method, photos: list[Photo], folds: dict[str, int], k: int = FOLDS
) -> tuple[dict, list[list], list[Pair], list[float]]:
    """Build the family's pairs, score them, fit the thresholds and cross-validate them."""
    family = METHOD_INFO[method.name].family
    pairs = build_pairs(photos, family, folds)
    scores = score_pairs(method, pairs)
    entry, records = evaluate(pairs, scores, family, folds, k)
    return {"method": method.name.value, **entry}, records, pairs, scores


def plot(name: MethodName, entry: dict, pairs: list[Pair], scores: list[float], out: Path) -> None:
    """Score distribution per class, with the thresholds and the held-out precision and recall:
    docs/calibration/<method>.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = entry["classes"]
    merged = {name: reason.split("'")[-2] for name, reason in entry["dropped_classes"].items()}
    per_verdict = entry["held_out"]["per_verdict"]
    figure, axes = plt.subplots(figsize=(7.5, 4.0), dpi=110)
    rng = np.random.default_rng(0)
    for index, label in enumerate(classes):
        values = [
            s
            for p, s in zip(pairs, scores, strict=True)
            if merged.get(p.label.value, p.label.value) == label
        ]
        jitter = rng.uniform(-0.18, 0.18, len(values))
        axes.scatter(np.full(len(values), index) + jitter, values, s=6, alpha=0.45)
        axes.boxplot(values, positions=[index], widths=0.5, showfliers=False)
    for label, cut in entry["thresholds"].items():
        axes.axhline(cut, color="black", linestyle="--", linewidth=0.8)
        axes.text(len(classes) - 0.5, cut, f" {label} from {cut:.3f}", va="bottom", fontsize=7)

    def tick(c: str) -> str:
        p, r = per_verdict[c]["precision"], per_verdict[c]["recall"]
        shown = f"{p['value']:.0%}" if p["value"] is not None else "n/a"
        return f"{c}\n(n={entry['pairs'][c]})\nP {shown} R {r['value']:.0%}"

    axes.set_xticks(range(len(classes)), [tick(c) for c in classes], fontsize=8)
    axes.set_ylabel("score")
    held = entry["held_out"]
    axes.set_title(
        f"{METHOD_INFO[name].title}: scores by class; held-out ({held['folds']}-fold by photo) "
        f"accuracy {held['accuracy']:.1%}",
        fontsize=9,
    )
    axes.set_xlim(-0.6, len(classes) + 0.4)
    figure.tight_layout()
    figure.savefig(out / f"{name.value}.png")
    plt.close(figure)


def write_records(path: Path, records: dict[str, list[list]]) -> None:
    """Every held-out prediction, one per line: [pair, sources, fold, label, score, predicted]."""
    lines = ["{"]
    for n, (key, rows) in enumerate(records.items()):
        lines.append(f"  {json.dumps(key)}: [")
        lines += [f"    {json.dumps(row)}," for row in rows]
        if rows:
            lines[-1] = lines[-1].rstrip(",")
        lines.append("  ]" + ("," if n < len(records) - 1 else ""))
    path.write_text("\n".join([*lines, "}"]) + "\n")


def main() -> None:
    """Calibrate every method that can be calibrated here and write the thresholds file."""
    parser = argparse.ArgumentParser(description="Derive verdict thresholds from labelled pairs.")
    shared = REPO.parent / "shared"
    parser.add_argument("--photos", type=Path, default=shared / "eval" / "photos")
    parser.add_argument("--flowers", type=Path, default=shared / "eval" / "flowers-dev")
    parser.add_argument("--weights", type=Path, default=shared / "weights")
    parser.add_argument("--out", type=Path, default=REPO / "worker" / "calibration.json")
    parser.add_argument("--plots", type=Path, default=REPO / "docs" / "calibration")
    args = parser.parse_args()

    photos = load_photos(args.photos, args.flowers)
    folds = assign_folds(photos)
    registry = build_registry(Settings(weights_dir=args.weights, allow_weight_download=False))
    for cnn in registry.cnns:
        cnn.load()
    args.plots.mkdir(parents=True, exist_ok=True)
    entries: dict[str, dict] = {}
    records: dict[str, list[list]] = {}
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
        entry, rows, pairs, scores = calibrate_method(registry.methods[name], photos, folds)
        entries[availability.calibration_key] = entry
        records[availability.calibration_key] = rows
        plot(name, entry, pairs, scores, args.plots)
        held = entry["held_out"]
        print(
            f"{name.value:>13}: thresholds {entry['thresholds']}, held-out accuracy "
            f"{held['accuracy']} on {held['pairs']} pairs, goals {held['near_duplicate_goals']}"
        )
    for method_name, reason in skipped.items():
        print(f"{method_name:>13}: not calibrated: {reason}")
    flowers = sum(p.subject.startswith("flower:") for p in photos)
    document = {
        "generated_by": "tools/calibrate.py (make calibrate)",
        "photos": f"{len(photos)} photos: shared/eval/photos, scikit-image "
        f"({', '.join(SKIMAGE_PHOTOS)}) and {flowers} of shared/eval/flowers-dev "
        f"({FLOWERS_PER_SPECIES} per species); shared/holdout is never used",
        "metrics": (
            "every precision, recall, accuracy and confusion count under 'held_out' is measured "
            f"on pairs the thresholds were not fitted on: {FOLDS}-fold cross-validation grouped "
            "by source photo, held-out predictions pooled (each one is in "
            "docs/calibration/held_out.json); 'thresholds' are then fitted on all pairs"
        ),
        "goals": {
            "distinct_photos_called_near_duplicate_at_most": MAX_DISTINCT_NEAR_DUPLICATE,
            "standard_edits_called_near_duplicate_at_least": MIN_STANDARD_RECALL,
            "standard_edits": sorted(STANDARD),
        },
        "not_calibrated": skipped,
        "methods": entries,
    }
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    write_records(args.plots / "held_out.json", records)
    print(f"wrote {args.out}, held-out predictions and plots in {args.plots}")


if __name__ == "__main__":
    main()
