"""The compare-all summary explains agreement and disagreement between the methods."""

from __future__ import annotations

from shared.methods import METHOD_INFO, MethodName
from shared.schemas import CompareResult, HeatmapLegend, ImageInfo, Timings, Verdict
from worker.summary import summarize


def _result(method: MethodName, verdict: Verdict, calibrated: bool = True) -> CompareResult:
    info = ImageInfo(width=10, height=10, bytes=1)
    legend = HeatmapLegend(low="", high="", no_counterpart="", scale="")
    return CompareResult(
        method=method,
        family=METHOD_INFO[method].family,
        score=0.5,
        similarity_percent=50,
        verdict=verdict,
        calibrated=calibrated,
        explanation="",
        heatmap="",
        heatmap_legend=legend,
        image_a=info,
        image_b=info,
        preparation="",
        timings=Timings(decode_ms=1, compute_ms=1, heatmap_ms=1, worker_ms=1),
    )


def test_structurally_different_but_the_same_subject() -> None:
    text = summarize(
        [
            _result(MethodName.SSIM, Verdict.DIFFERENT),
            _result(MethodName.MS_SSIM, Verdict.DIFFERENT),
            _result(MethodName.MOBILENET_V2, Verdict.SAME_SUBJECT),
            _result(MethodName.VGG16, Verdict.UNCALIBRATED, calibrated=False),
        ],
        {"resnet50": "weights missing"},
    )
    assert text.startswith("Structurally different but semantically the same subject")
    assert "likely two photos of one scene" in text
    assert "Without a calibrated verdict: VGG16." in text
    assert "Not run: resnet50." in text


def test_near_duplicate_with_a_dissenting_method() -> None:
    text = summarize(
        [
            _result(MethodName.SSIM, Verdict.NEAR_DUPLICATE),
            _result(MethodName.MS_SSIM, Verdict.NEAR_DUPLICATE),
            _result(MethodName.PHASH, Verdict.DIFFERENT),
            _result(MethodName.MOBILENET_V2, Verdict.NEAR_DUPLICATE),
        ],
        {},
    )
    assert text.startswith("The same picture")
    assert "Perceptual hash says 'different'" in text


def test_different_everywhere() -> None:
    text = summarize(
        [
            _result(MethodName.SSIM, Verdict.DIFFERENT),
            _result(MethodName.MOBILENET_V2, Verdict.DIFFERENT),
        ],
        {},
    )
    assert text.startswith("Different images: neither the pixels nor the content match.")


def test_identical() -> None:
    text = summarize([_result(MethodName.SSIM, Verdict.IDENTICAL)], {})
    assert "identical" in text
