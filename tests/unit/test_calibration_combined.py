"""The combined verdict of method=all: its held-out figures are those of the predictions
calibration.json's cross-validation rounds make, and the service's NumPy model computes what
scikit-learn's fitted model does."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from shared.schemas import Verdict
from tools.calibrate import is_standard
from worker.combined import choose_model, combine, load_models, model_from_entry
from worker.verdict import CALIBRATION_FILE

CALIBRATION = json.loads(CALIBRATION_FILE.read_text())
COMBINED = CALIBRATION["combined"]
HELD_OUT = json.loads((CALIBRATION_FILE.parents[1] / "docs/calibration/held_out.json").read_text())


def test_a_model_is_stored_for_every_set_of_methods_that_can_occur() -> None:
    """All calibrated methods, the pixel methods alone, and each without MS-SSIM."""
    keys = sorted(CALIBRATION["methods"])
    pixel = [k for k in keys if ":" not in k]  # a CNN's key carries its weights' fingerprint
    expected = {
        "+".join(sorted(chosen))
        for base in (keys, pixel)
        for chosen in (base, [k for k in base if k != "ms_ssim"])
    }
    assert set(COMBINED) == expected
    for key, entry in COMBINED.items():
        assert entry["methods"] == key.split("+")
        cnn = any(":" in k for k in entry["methods"])
        assert len(entry["classes"]) == (4 if cnn else 3)


@pytest.mark.parametrize("key", sorted(COMBINED))
def test_reported_figures_are_those_of_the_held_out_predictions(key: str) -> None:
    entry = COMBINED[key]
    held = entry["held_out"]
    rows = HELD_OUT[f"combined:{key}"]
    assert held["pairs"] == len(rows)
    assert held["folds"] == CALIBRATION["methods"]["ssim"]["held_out"]["folds"]
    rounds = [model_from_entry(m) for m in held["fold_models"]]
    for description, _, fold, _, scores, predicted in rows:
        # Each prediction is that of its own round's model, by the service's own rule.
        decided = rounds[fold].decide(dict(zip(entry["methods"], scores, strict=True)))
        assert decided.value == predicted, description
    for verdict in entry["classes"]:
        hits = sum(1 for r in rows if r[3] == verdict and r[5] == verdict)
        called = sum(1 for r in rows if r[5] == verdict)
        actual = sum(1 for r in rows if r[3] == verdict)
        reported = held["per_verdict"][verdict]
        assert (reported["precision"]["hits"], reported["precision"]["of"]) == (hits, called)
        assert (reported["recall"]["hits"], reported["recall"]["of"]) == (hits, actual)
        low, high = reported["recall"]["ci95"]
        assert low <= hits / actual <= high
    assert held["accuracy"] == round(sum(r[3] == r[5] for r in rows) / len(rows), 4)
    confusion = Counter((r[3], r[5]) for r in rows)
    for truth, row in held["confusion"].items():
        for predicted, count in row.items():
            assert confusion[(truth, predicted)] == count
    distinct = [r[5] == "near-duplicate" for r in rows if "+" in r[1]]
    standard = [r[5] == "near-duplicate" for r in rows if "+" not in r[1] and is_standard(r[0])]
    goals = held["near_duplicate_goals"]
    on_distinct = goals["distinct_photos_called_near_duplicate"]
    on_standard = goals["standard_edits_called_near_duplicate"]
    assert (on_distinct["hits"], on_distinct["of"]) == (sum(distinct), len(distinct))
    assert (on_standard["hits"], on_standard["of"]) == (sum(standard), len(standard))
    assert goals["distinct_goal_met"] == (sum(distinct) <= 0.01 * len(distinct))
    assert goals["standard_goal_met"] == (sum(standard) >= 0.95 * len(standard))
    assert bool(entry["limitation"]) == (
        not goals["distinct_goal_met"] or not goals["standard_goal_met"]
    )


@pytest.mark.parametrize("key", sorted(COMBINED))
def test_the_numpy_model_computes_what_scikit_learn_does(key: str) -> None:
    """The stored coefficients put back into scikit-learn give the probabilities the service
    computes without it, on the held-out pairs' real scores."""
    entry = COMBINED[key]
    model = model_from_entry(entry)
    fitted = LogisticRegression()
    fitted.coef_ = np.array(entry["coef"])
    fitted.intercept_ = np.array(entry["intercept"])
    fitted.classes_ = np.arange(len(entry["classes"]))
    rows = HELD_OUT[f"combined:{key}"][::25]
    features = np.array([row[4] for row in rows])
    expected = fitted.predict_proba((features - entry["mean"]) / entry["scale"])
    ours = np.array(
        [model.probabilities(dict(zip(model.methods, f, strict=True))) for f in features]
    )
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-12)


def test_the_largest_model_whose_methods_all_scored_is_used() -> None:
    models = load_models()
    largest = max(COMBINED, key=lambda k: len(k.split("+")))
    scores = dict.fromkeys(largest.split("+"), 0.5)
    assert choose_model(scores, models).key == largest
    without_ms_ssim = {k: v for k, v in scores.items() if k != "ms_ssim"}
    assert choose_model(without_ms_ssim, models).key == "+".join(sorted(without_ms_ssim))
    # A CNN with other weights has another key: its score is not one the models were fitted on.
    other_weights = {(k.split(":")[0] + ":0000" if ":" in k else k): v for k, v in scores.items()}
    chosen = choose_model(other_weights, models)
    assert chosen is not None and all(":" not in k for k in chosen.methods)
    assert choose_model({"ssim": 0.9}, models) is None
    alone = combine({"ssim": 0.9})
    assert (alone.verdict, alone.calibrated, alone.held_out) == (Verdict.UNCALIBRATED, False, None)


@pytest.mark.parametrize("key", sorted(COMBINED))
def test_combined_verdict_from_the_stored_model(key: str) -> None:
    """On held-out pairs of each class, the verdict, probabilities and contributions the
    service reports are those of the final model's coefficients."""
    entry = COMBINED[key]
    model = model_from_entry(entry)
    rows = HELD_OUT[f"combined:{key}"]
    for label in entry["classes"]:
        scores = dict(zip(entry["methods"], next(r for r in rows if r[3] == label)[4], strict=True))
        result = combine(scores, models=(model,))
        probabilities = model.probabilities(scores)
        assert result.calibrated and result.verdict is model.decide(scores)
        assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
        chosen = model.classes.index(result.verdict)
        z = (np.array([scores[k] for k in entry["methods"]]) - entry["mean"]) / entry["scale"]
        expected = np.array(entry["coef"][chosen]) * z
        assert list(result.contributions.values()) == pytest.approx(expected, abs=1e-4)
        near = model.classes.index(Verdict.NEAR_DUPLICATE)
        assert (result.verdict is Verdict.NEAR_DUPLICATE) == (
            probabilities[near] >= entry["near_duplicate_cut"]
        )
        figures = entry["held_out"]["per_verdict"][result.verdict.value]
        assert result.held_out is not None
        assert result.held_out.precision == figures["precision"]["value"]
        assert result.held_out.recall == figures["recall"]["value"]
    identical = combine(dict.fromkeys(entry["methods"], 1.0), identical_pixels=True)
    assert identical.verdict is Verdict.IDENTICAL
