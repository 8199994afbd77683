"""Plain-language explanations: what the method measures, and what this value means here."""

from __future__ import annotations

from shared.methods import METHOD_INFO, MethodFamily, MethodName
from shared.schemas import Verdict, WeightsSource
from worker.verdict import Thresholds

WHAT_IT_MEASURES = {
    MethodFamily.STRUCTURAL: (
        "{title} compares the two pictures pixel by pixel: local brightness, contrast and "
        "structure (Wang et al. 2004). It is high only when B is the same picture as A, perhaps "
        "re-encoded, resized, slightly blurred or noisy; two different photos of the same "
        "subject score low."
    ),
    MethodFamily.SEMANTIC: (
        "{title} is a neural network trained on ImageNet; here it describes each image by what "
        "it shows, and the score is the cosine similarity of the two descriptions. It is high "
        "when the images show the same kind of thing, even in different photos, and does not "
        "care about exact pixels, colours or framing."
    ),
}

MEANING = {
    (MethodFamily.STRUCTURAL, Verdict.IDENTICAL): "the two images are identical, pixel for pixel",
    (MethodFamily.STRUCTURAL, Verdict.NEAR_IDENTICAL): (
        "B is the same picture as A with at most slight changes (compression, noise, a little "
        "blur or brightness)"
    ),
    (MethodFamily.STRUCTURAL, Verdict.SIMILAR): (
        "B is recognisably the same picture as A but visibly altered (strong blur, heavy "
        "compression, noise or other edits)"
    ),
    (MethodFamily.STRUCTURAL, Verdict.DIFFERENT): (
        "B is not the same picture as A at the pixel level; they may still show the same "
        "subject, which the CNN methods can tell"
    ),
    (MethodFamily.SEMANTIC, Verdict.IDENTICAL): "the two images are identical, pixel for pixel",
    (MethodFamily.SEMANTIC, Verdict.NEAR_IDENTICAL): (
        "the network sees essentially the same picture in both"
    ),
    (MethodFamily.SEMANTIC, Verdict.SIMILAR): (
        "the images likely show the same kind of subject, though they may be different photos"
    ),
    (MethodFamily.SEMANTIC, Verdict.DIFFERENT): "the images show different kinds of things",
}


def explain(
    method: MethodName,
    score: float,
    verdict: Verdict,
    thresholds: Thresholds | None,
    weights: WeightsSource,
    preparation: str,
) -> str:
    """Two to four sentences a non-expert can act on."""
    info = METHOD_INFO[method]
    parts = [WHAT_IT_MEASURES[info.family].format(title=info.title)]
    percent = max(0.0, min(1.0, score)) * 100
    if verdict is Verdict.UNCALIBRATED:
        why = (
            "it runs with random test weights, so the value says nothing about content"
            if weights is WeightsSource.RANDOM_INIT
            else "no thresholds have been derived from data for these weights yet"
        )
        parts.append(
            f"These images score {score:.3f} ({percent:.1f}%). No verdict is given because "
            f"{why}; compare the value only with other pairs scored by {info.title}: higher "
            f"means more alike."
        )
    else:
        bounds = ""
        if thresholds is not None and verdict is not Verdict.IDENTICAL:
            bounds = (
                f" (calibrated: near-identical from {thresholds.near_identical:.3f}, "
                f"similar from {thresholds.similar:.3f})"
            )
        parts.append(
            f"These images score {score:.3f} ({percent:.1f}%), which reads as "
            f"'{verdict.value}'{bounds}: {MEANING[(info.family, verdict)]}."
        )
    parts.append(preparation)
    parts.append("On the heatmap, red marks where they differ and blue where they agree.")
    return " ".join(part.strip() for part in parts if part.strip())
