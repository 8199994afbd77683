"""Plain-language explanations: what the method measures, what it is blind to, the verdict and
why, and whether B was aligned first."""

from __future__ import annotations

from shared.methods import METHOD_INFO, MethodFamily, MethodName
from shared.schemas import AlignmentInfo, Verdict, WeightsSource
from worker.verdict import Thresholds

HASH_BITS = 64
UNRELATED_PHOTOS_BITS = 30
"""Median count of differing pHash bits over the 476 held-out pairs of different photographs
in docs/calibration/held_out.json (90 % of them between 24 and 36): what "unrelated" looks like,
which a percentage near 50 % hides."""

MEANING: dict[tuple[MethodFamily, Verdict], str] = {
    (MethodFamily.STRUCTURAL, Verdict.NEAR_DUPLICATE): (
        "B is the same picture as A with at most slight changes (compression, noise, a little "
        "blur, brightness, a small crop or shift)"
    ),
    (MethodFamily.STRUCTURAL, Verdict.SAME_SUBJECT): (
        "B is recognisably the same picture or scene as A but visibly altered (strong blur, "
        "heavy compression, noise or other edits)"
    ),
    (MethodFamily.STRUCTURAL, Verdict.DIFFERENT): (
        "B is not the same picture as A at the pixel level; they may still show the same "
        "subject, which the CNN methods can tell"
    ),
    (MethodFamily.PIXEL, Verdict.NEAR_DUPLICATE): (
        "almost no pixel changed visibly: B is the same picture as A"
    ),
    (MethodFamily.PIXEL, Verdict.SAME_SUBJECT): (
        "many pixels changed visibly, yet B is still recognisably A, edited or degraded"
    ),
    (MethodFamily.PIXEL, Verdict.DIFFERENT): "most pixels differ: B is not the same picture",
    (MethodFamily.HASH, Verdict.NEAR_DUPLICATE): (
        "the coarse pattern matches: B is a near-duplicate of A (resized, re-encoded or "
        "slightly edited)"
    ),
    (MethodFamily.HASH, Verdict.DIFFERENT): (
        "the coarse pattern differs: not a near-duplicate (or a crop or rotation of one, which "
        "a hash cannot see through)"
    ),
    (MethodFamily.SEMANTIC, Verdict.NEAR_DUPLICATE): (
        "the network sees essentially the same picture in both"
    ),
    (MethodFamily.SEMANTIC, Verdict.SAME_SUBJECT): (
        "the images show the same kind of subject or scene, though they may be different photos"
    ),
    (MethodFamily.SEMANTIC, Verdict.RELATED): (
        "the images show related things (the same broad kind, e.g. two animals or two foods), "
        "not the same subject"
    ),
    (MethodFamily.SEMANTIC, Verdict.DIFFERENT): "the images show different kinds of things",
}


PIXEL_LABELS = {
    Verdict.NEAR_DUPLICATE: "same picture",
    Verdict.SAME_SUBJECT: "same picture, visibly altered",
    Verdict.DIFFERENT: "different pictures",
}
LABELS: dict[MethodFamily, dict[Verdict, str]] = {
    MethodFamily.STRUCTURAL: PIXEL_LABELS,
    MethodFamily.PIXEL: PIXEL_LABELS,
    MethodFamily.HASH: {
        Verdict.NEAR_DUPLICATE: "same picture",
        Verdict.DIFFERENT: "not the same picture",
    },
    MethodFamily.SEMANTIC: {
        Verdict.NEAR_DUPLICATE: "same picture",
        Verdict.SAME_SUBJECT: "same kind of subject",
        Verdict.RELATED: "related content",
        Verdict.DIFFERENT: "different content",
    },
}
"""What each family's verdicts mean, in its own words: a pixel method's middle class is an
altered copy of one picture, a CNN's is another photo of the same kind of thing."""


def verdict_label(family: MethodFamily, verdict: Verdict) -> str:
    """The verdict in the words of the method's family."""
    if verdict is Verdict.IDENTICAL:
        return "identical"
    if verdict is Verdict.UNCALIBRATED:
        return "no calibrated verdict"
    return LABELS[family][verdict]


def explain(
    method: MethodName,
    score: float,
    verdict: Verdict,
    thresholds: Thresholds | None,
    weights: WeightsSource,
    preparation: str,
    alignment: AlignmentInfo | None = None,
) -> str:
    """A few sentences a non-expert can act on."""
    info = METHOD_INFO[method]
    parts = [info.measures]
    figure = _figure(method, score)
    if verdict is Verdict.IDENTICAL:
        parts.append(f"{figure}: they are identical, pixel for pixel.")
    elif verdict is Verdict.UNCALIBRATED:
        why = (
            "it runs with random test weights, so the value says nothing about content"
            if weights is WeightsSource.RANDOM_INIT
            else "no thresholds have been derived from data for these weights yet"
        )
        parts.append(
            f"{figure}. No verdict is given because {why}; compare the value only with other "
            f"pairs scored by {info.title}: higher means more alike."
        )
    else:
        bounds = f" (calibrated: {_bounds(method, thresholds)})" if thresholds is not None else ""
        parts.append(
            f"{figure}, which reads as '{verdict.value}' "
            f"({verdict_label(info.family, verdict)}){bounds}: "
            f"{MEANING[(info.family, verdict)]}."
        )
        if thresholds is not None and thresholds.limitation:
            parts.append(thresholds.limitation)
    if method is MethodName.PHASH and verdict is not Verdict.IDENTICAL:
        parts.append(
            f"Two unrelated photos differ in about {UNRELATED_PHOTOS_BITS} of {HASH_BITS} bits, "
            "so a pHash percentage near 50 % means unrelated, not half alike."
        )
    if alignment is not None and alignment.applied:
        parts.append(
            "B was first aligned onto A (shifted, scaled or rotated to match), so the score "
            "reflects content rather than framing."
        )
    parts.append(preparation)
    parts.append("On the heatmap, red marks where they differ and blue where they agree.")
    return " ".join(part.strip() for part in parts if part.strip())


def hash_bits_differing(score: float) -> int:
    """pHash's Hamming distance back from its score (``1 - distance / 64``, exact)."""
    return round((1.0 - score) * HASH_BITS)


def _figure(method: MethodName, score: float) -> str:
    """The primary figure: pHash counts differing bits (a percentage of agreeing bits reads as
    a similarity, yet unrelated photos agree on about half); the rest give score and percent."""
    if method is MethodName.PHASH:
        return (
            f"{hash_bits_differing(score)} of {HASH_BITS} bits of the two perceptual hashes "
            f"differ (score {score:.3f})"
        )
    percent = max(0.0, min(1.0, score)) * 100
    return f"These images score {score:.3f} ({percent:.1f}%)"


def _bounds(method: MethodName, thresholds: Thresholds) -> str:
    """The calibrated cuts, in bits for pHash (a score of s is (1 - s) * 64 differing bits)."""
    if method is not MethodName.PHASH:
        return thresholds.describe()
    return ", ".join(
        f"{verdict.value} at {int((1.0 - bound) * HASH_BITS + 1e-9)} or fewer differing bits"
        for verdict, bound in thresholds.bounds
    )
