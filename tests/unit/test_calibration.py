"""The calibrated verdicts put the calibration pairs in the right classes at the accuracy the
calibration file (and the README) reports: recomputed here from the photos, not read back."""

from __future__ import annotations

import json

import pytest

from shared.methods import METHOD_INFO, MethodName
from shared.schemas import MethodState
from shared.settings import Settings
from tests.support.paths import PHOTOS, WEIGHTS, require
from tools.calibrate import build_pairs, load_photos, score_pairs
from worker.registry import build_registry
from worker.verdict import CALIBRATION_FILE, decide, thresholds_for

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
    availability = registry.availability(method)
    if availability.state is not MethodState.READY:
        pytest.skip(f"{method} is not available here: {availability.reason}")
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
