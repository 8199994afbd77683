"""The calibrated verdicts put the calibration pairs in the right classes at the accuracy the
calibration file (and the README) reports: recomputed here from the photos, not read back."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shared.methods import METHOD_INFO, MethodFamily, MethodName
from shared.schemas import MethodState, Verdict
from shared.settings import Settings
from tests.support.paths import MOBILENET_V2_WEIGHTS, PHOTOS, WEIGHTS, require
from tools.calibrate import build_pairs, evaluate, load_photos, score_pairs
from worker.registry import build_registry
from worker.verdict import CALIBRATION_FILE, decide, thresholds_for, thresholds_from_entry

CALIBRATION = json.loads(CALIBRATION_FILE.read_text())


@pytest.fixture(scope="module")
def photos():
    return load_photos(require(PHOTOS))


@pytest.fixture(scope="module")
def registry():
    built = build_registry(
        Settings(weights_dir=WEIGHTS, allow_weight_download=False, cnn_methods="mobilenet_v2")
    )
    for cnn in built.cnns:
        cnn.load()
    return built


@pytest.mark.parametrize(
    "method",
    [
        MethodName.SSIM,
        MethodName.MS_SSIM,
        MethodName.PIXEL,
        MethodName.PHASH,
        MethodName.MOBILENET_V2,
    ],
)
def test_verdicts_reach_the_reported_accuracy(method: MethodName, photos, registry) -> None:
    if method is MethodName.MOBILENET_V2:
        require(MOBILENET_V2_WEIGHTS)  # without the shared weights: a skip, or a failure in CI
    availability = registry.availability(method)
    # With its weights there, a method that did not load is a failure, not a reason to skip.
    assert availability.state is MethodState.READY, availability.reason
    entry = CALIBRATION["methods"].get(availability.calibration_key)
    assert entry is not None, f"{method} has no calibration for these weights"
    thresholds = thresholds_for(availability.calibration_key)
    pairs = build_pairs(photos, METHOD_INFO[method].family)
    scores = score_pairs(registry.methods[method], pairs)
    merged = {name: reason.split("'")[-2] for name, reason in entry["dropped_classes"].items()}
    for label in entry["classes"]:
        truth = [
            score
            for pair, score in zip(pairs, scores, strict=True)
            if merged.get(pair.label.value, pair.label.value) == label
        ]
        assert len(truth) == entry["pairs"][label]
        right = sum(decide(score, False, thresholds).value == label for score in truth)
        assert right / len(truth) == pytest.approx(entry["accuracy"][label], abs=0.01), label


def test_the_tool_counts_right_what_the_service_will_decide() -> None:
    """The accuracy written down is that of the service's own rule on the written thresholds."""
    rng = np.random.default_rng(0)
    centres = {Verdict.NEAR_DUPLICATE: 0.9, Verdict.SAME_SUBJECT: 0.6, Verdict.DIFFERENT: 0.3}
    labels = [label for label in centres for _ in range(40)]
    scores = [float(centres[label] + rng.normal(0, 0.1)) for label in labels]
    entry = evaluate(labels, scores, MethodFamily.STRUCTURAL)
    thresholds = thresholds_from_entry(entry)
    decided = [decide(score, False, thresholds) for score in scores]
    right = [d is label for d, label in zip(decided, labels, strict=True)]
    assert 0.5 < entry["overall_accuracy"] < 1.0  # overlapping classes: some pairs are wrong
    assert entry["overall_accuracy"] == pytest.approx(sum(right) / len(right), abs=1e-4)
