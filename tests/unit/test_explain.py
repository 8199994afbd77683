"""Verdicts come only from calibrated thresholds; explanations say what the method measures."""

from __future__ import annotations

import pytest

from shared.methods import MethodName
from shared.schemas import Verdict, WeightsSource
from worker.explain import explain
from worker.verdict import Thresholds, decide

THRESHOLDS = Thresholds(near_identical=0.9, similar=0.5)


@pytest.mark.parametrize(
    ("score", "identical", "thresholds", "expected"),
    [
        (1.0, True, None, Verdict.IDENTICAL),
        (0.95, False, THRESHOLDS, Verdict.NEAR_IDENTICAL),
        (0.7, False, THRESHOLDS, Verdict.SIMILAR),
        (0.2, False, THRESHOLDS, Verdict.DIFFERENT),
        (0.99, False, None, Verdict.UNCALIBRATED),
    ],
)
def test_decide(score: float, identical: bool, thresholds, expected: Verdict) -> None:
    assert decide(score, identical, thresholds) is expected


def test_ssim_explanation_names_what_it_measures_and_the_verdict() -> None:
    text = explain(
        MethodName.SSIM, 0.42, Verdict.DIFFERENT, THRESHOLDS, WeightsSource.NONE, "Same size."
    )
    assert "pixel by pixel" in text
    assert "0.420" in text and "42.0%" in text
    assert "'different'" in text
    assert "same subject" in text
    assert "Same size." in text


@pytest.mark.parametrize("method", [MethodName.VGG16, MethodName.RESNET50, MethodName.MOBILENET_V2])
def test_cnn_explanation_is_about_content(method: MethodName) -> None:
    text = explain(method, 0.8, Verdict.SIMILAR, THRESHOLDS, WeightsSource.IMAGENET, "")
    assert "ImageNet" in text
    assert "same kind of thing" in text
    assert "'similar'" in text
    assert "calibrated" in text


def test_uncalibrated_cnn_says_why_there_is_no_verdict() -> None:
    text = explain(MethodName.VGG16, 0.8, Verdict.UNCALIBRATED, None, WeightsSource.IMAGENET, "")
    assert "No verdict" in text
    assert "no thresholds have been derived" in text


def test_random_init_is_called_out() -> None:
    text = explain(
        MethodName.RESNET50, 0.99, Verdict.UNCALIBRATED, None, WeightsSource.RANDOM_INIT, ""
    )
    assert "random test weights" in text
