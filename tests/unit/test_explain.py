"""Verdicts come only from calibrated thresholds; explanations say what the method measures,
what it is blind to, the verdict and why, and whether B was aligned."""

from __future__ import annotations

import pytest

from shared.methods import MethodName
from shared.schemas import AlignmentInfo, Verdict, WeightsSource
from worker.explain import explain
from worker.verdict import Thresholds, decide, load_calibration

STRUCTURAL = Thresholds(
    bounds=((Verdict.NEAR_DUPLICATE, 0.9), (Verdict.SAME_SUBJECT, 0.5)), lowest=Verdict.DIFFERENT
)
SEMANTIC = Thresholds(
    bounds=(
        (Verdict.NEAR_DUPLICATE, 0.9),
        (Verdict.SAME_SUBJECT, 0.5),
        (Verdict.RELATED, 0.3),
    ),
    lowest=Verdict.DIFFERENT,
)


@pytest.mark.parametrize(
    ("score", "identical", "thresholds", "expected"),
    [
        (1.0, True, None, Verdict.IDENTICAL),
        (0.95, False, STRUCTURAL, Verdict.NEAR_DUPLICATE),
        (0.7, False, STRUCTURAL, Verdict.SAME_SUBJECT),
        (0.2, False, STRUCTURAL, Verdict.DIFFERENT),
        (0.4, False, SEMANTIC, Verdict.RELATED),
        (0.1, False, SEMANTIC, Verdict.DIFFERENT),
        (0.99, False, None, Verdict.UNCALIBRATED),
    ],
)
def test_decide(score: float, identical: bool, thresholds, expected: Verdict) -> None:
    assert decide(score, identical, thresholds) is expected


def test_the_calibration_file_has_ordered_thresholds() -> None:
    calibration = load_calibration()
    assert "ssim" in calibration and "ms_ssim" in calibration and "pixel" in calibration
    for thresholds in calibration.values():
        bounds = [bound for _, bound in thresholds.bounds]
        assert bounds == sorted(bounds, reverse=True)


def test_ssim_explanation_names_what_it_measures_what_it_is_blind_to_and_the_verdict() -> None:
    text = explain(
        MethodName.SSIM, 0.42, Verdict.DIFFERENT, STRUCTURAL, WeightsSource.NONE, "Same size."
    )
    assert "pixel by pixel" in text
    assert "blind to what the picture shows" in text
    assert "0.420" in text and "42.0%" in text
    assert "'different'" in text
    assert "near-duplicate from 0.900, same-subject from 0.500" in text
    assert "Same size." in text


@pytest.mark.parametrize("method", [MethodName.VGG16, MethodName.RESNET50, MethodName.MOBILENET_V2])
def test_cnn_explanation_is_about_content(method: MethodName) -> None:
    text = explain(method, 0.4, Verdict.RELATED, SEMANTIC, WeightsSource.IMAGENET, "")
    assert "ImageNet" in text
    assert "blind to exact pixels" in text
    assert "'related'" in text
    assert "same broad kind" in text


def test_alignment_is_mentioned_when_applied_and_only_then() -> None:
    def text_with(alignment: AlignmentInfo | None) -> str:
        return explain(
            MethodName.PIXEL,
            0.99,
            Verdict.NEAR_DUPLICATE,
            STRUCTURAL,
            WeightsSource.NONE,
            "",
            alignment,
        )

    applied = AlignmentInfo(requested=True, applied=True, note="B was registered onto A")
    assert "aligned onto A" in text_with(applied)
    # Asked for but not found (different photos), or not asked for: nothing was aligned.
    failed = AlignmentInfo(requested=True, applied=False, note="too few matches")
    assert "aligned" not in text_with(failed)
    assert "aligned" not in text_with(None)


def test_uncalibrated_cnn_says_why_there_is_no_verdict() -> None:
    text = explain(MethodName.VGG16, 0.8, Verdict.UNCALIBRATED, None, WeightsSource.IMAGENET, "")
    assert "No verdict" in text
    assert "no thresholds have been derived" in text


def test_random_init_is_called_out() -> None:
    text = explain(
        MethodName.RESNET50, 0.99, Verdict.UNCALIBRATED, None, WeightsSource.RANDOM_INIT, ""
    )
    assert "random test weights" in text
