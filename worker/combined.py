"""One verdict from every method's score: the small model ``make calibrate`` fitted.

``tools/calibrate.py`` fits a multinomial logistic regression on the standardised scores of
the calibrated methods (the same grouped cross-validation as the thresholds) and stores, for
each set of methods that can occur here (all of them; without MS-SSIM, which refuses small
images; the pixel methods alone, for when no CNN is calibrated), its means, scales,
coefficients and intercepts in ``calibration.json``. Only NumPy runs here: scikit-learn is
needed to fit, not to apply.

A pair is called near-duplicate only when that probability reaches a cut chosen on the
training pairs so that at most 1 % of pairs of different photographs reach it; otherwise it
gets the most probable other class. A model is used only when every one of its methods gave
a calibrated score for this pair, and the largest such model is chosen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from shared.schemas import CombinedVerdict, HeldOutFigures, Verdict
from worker.verdict import CALIBRATION_FILE


@dataclass(frozen=True)
class CombinedModel:
    """A fitted model over a fixed list of methods (their calibration keys, in feature order)."""

    methods: tuple[str, ...]
    classes: tuple[Verdict, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # classes x methods
    intercept: np.ndarray  # classes
    near_duplicate_cut: float
    figures: dict[str, HeldOutFigures]

    @property
    def key(self) -> str:
        """The sorted calibration keys joined by '+': how calibration.json names the model."""
        return "+".join(self.methods)

    def standardise(self, scores: dict[str, float]) -> np.ndarray:
        """The scores in feature order, as distances from the training mean in its spread."""
        values = np.array([scores[key] for key in self.methods], dtype=np.float64)
        return (values - self.mean) / self.scale

    def probabilities(self, scores: dict[str, float]) -> np.ndarray:
        """P(class | scores): the softmax of the linear scores, as scikit-learn's predict_proba
        computes it for a multinomial model."""
        logits = self.coef @ self.standardise(scores) + self.intercept
        exps = np.exp(logits - logits.max())
        return exps / exps.sum()

    def decide_index(self, probabilities: np.ndarray) -> int:
        """Near-duplicate when its probability reaches the cut, else the most probable other
        class."""
        near = self.classes.index(Verdict.NEAR_DUPLICATE)
        if probabilities[near] >= self.near_duplicate_cut:
            return near
        others = [i for i in range(len(self.classes)) if i != near]
        return max(others, key=lambda i: probabilities[i])

    def decide(self, scores: dict[str, float]) -> Verdict:
        """The combined verdict of these scores."""
        return self.classes[self.decide_index(self.probabilities(scores))]


def model_from_entry(entry: dict) -> CombinedModel:
    """A model from its stored parameters (one entry of calibration.json's 'combined', or one
    cross-validation round's model)."""
    per_verdict = entry.get("held_out", {}).get("per_verdict", {})
    return CombinedModel(
        methods=tuple(entry["methods"]),
        classes=tuple(Verdict(c) for c in entry["classes"]),
        mean=np.array(entry["mean"], dtype=np.float64),
        scale=np.array(entry["scale"], dtype=np.float64),
        coef=np.array(entry["coef"], dtype=np.float64),
        intercept=np.array(entry["intercept"], dtype=np.float64),
        near_duplicate_cut=float(entry["near_duplicate_cut"]),
        figures={
            verdict: HeldOutFigures(
                precision=figures["precision"]["value"],
                precision_ci95=figures["precision"]["ci95"],
                recall=figures["recall"]["value"],
                recall_ci95=figures["recall"]["ci95"],
            )
            for verdict, figures in per_verdict.items()
        },
    )


@lru_cache
def load_models(path: Path = CALIBRATION_FILE) -> tuple[CombinedModel, ...]:
    """The stored models, largest first; none when no calibration has been run."""
    if not path.is_file():
        return ()
    entries = json.loads(path.read_text()).get("combined", {})
    models = [model_from_entry(entry) for entry in entries.values()]
    return tuple(sorted(models, key=lambda m: (-len(m.methods), m.key)))


def choose_model(
    scores: dict[str, float], models: tuple[CombinedModel, ...]
) -> CombinedModel | None:
    """The largest model whose methods all have a calibrated score for this pair."""
    return next((m for m in models if all(key in scores for key in m.methods)), None)


def combine(
    scores: dict[str, float],
    identical_pixels: bool = False,
    models: tuple[CombinedModel, ...] | None = None,
) -> CombinedVerdict:
    """The combined verdict from the calibrated methods' scores (calibration key -> score)."""
    if identical_pixels:
        return CombinedVerdict(
            verdict=Verdict.IDENTICAL,
            calibrated=True,
            methods=sorted(key.split(":")[0] for key in scores),
            reason="The two images are identical, pixel for pixel.",
        )
    model = choose_model(scores, load_models() if models is None else models)
    if model is None:
        return CombinedVerdict(
            verdict=Verdict.UNCALIBRATED,
            calibrated=False,
            methods=sorted(key.split(":")[0] for key in scores),
            reason="No combined model was fitted for the methods that gave a calibrated "
            "score here" + (f" ({', '.join(sorted(scores))})." if scores else "."),
        )
    probabilities = model.probabilities(scores)
    chosen = model.decide_index(probabilities)
    verdict = model.classes[chosen]
    names = [key.split(":")[0] for key in model.methods]
    contributions = model.coef[chosen] * model.standardise(scores)
    return CombinedVerdict(
        verdict=verdict,
        calibrated=True,
        probabilities={
            c.value: round(float(p), 4) for c, p in zip(model.classes, probabilities, strict=True)
        },
        methods=names,
        contributions={
            name: round(float(c), 4) for name, c in zip(names, contributions, strict=True)
        },
        held_out=model.figures.get(verdict.value),
        reason=f"Logistic regression over {', '.join(names)} (fitted by make calibrate).",
    )


def drivers(combined: CombinedVerdict, most: int = 2) -> list[str]:
    """The methods that pushed most towards the chosen verdict (largest positive
    contributions; at least one)."""
    ranked = sorted(combined.contributions.items(), key=lambda item: -item[1])
    positive = [name for name, value in ranked if value > 0][:most]
    return positive or [name for name, _ in ranked[:1]]
