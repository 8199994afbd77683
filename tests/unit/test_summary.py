"""The compare-all summary explains agreement and disagreement between the methods."""

from __future__ import annotations

from shared.methods import METHOD_INFO, MethodName
from shared.schemas import (
    CombinedVerdict,
    CompareResult,
    HeatmapLegend,
    ImageInfo,
    Timings,
    Verdict,
)
from worker.summary import summarize

UNCALIBRATED = CombinedVerdict(verdict=Verdict.UNCALIBRATED, calibrated=False, reason="none")


def _result(method: MethodName, verdict: Verdict, calibrated: bool = True) -> CompareResult:
    info = ImageInfo(width=10, height=10, bytes=1)
    legend = HeatmapLegend(low="", high="", no_counterpart="", scale="")
    return CompareResult(
        method=method,
        family=METHOD_INFO[method].family,
        score=0.5,
        similarity_percent=50,
        verdict=verdict,
        verdict_label=verdict.value,
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
        UNCALIBRATED,
    )
    assert text.startswith("Combined verdict: uncalibrated (no combined model")
    text = text.split(". ", 1)[1]  # after the combined verdict: the methods' reading
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
        CombinedVerdict(
            verdict=Verdict.NEAR_DUPLICATE,
            calibrated=True,
            probabilities={"near-duplicate": 0.91, "same-subject": 0.06, "different": 0.03},
            methods=["ms_ssim", "phash", "ssim"],
            contributions={"ms_ssim": 1.5, "phash": -0.4, "ssim": 2.5},
            reason="made up",
        ),
    )
    first, rest = text.split(". ", 1)
    # The two methods that pushed towards the verdict, the larger push first; not pHash.
    assert first == (
        "Combined verdict: near-duplicate, probability 91%, driven most by SSIM and MS-SSIM"
    )
    assert rest.startswith("The same picture")
    assert "Perceptual hash says 'different'" in text


def test_different_everywhere() -> None:
    text = summarize(
        [
            _result(MethodName.SSIM, Verdict.DIFFERENT),
            _result(MethodName.MOBILENET_V2, Verdict.DIFFERENT),
        ],
        {},
        UNCALIBRATED,
    )
    assert text.split(". ", 1)[1].startswith(
        "Different images: neither the pixels nor the content match."
    )


def test_identical() -> None:
    text = summarize([_result(MethodName.SSIM, Verdict.IDENTICAL)], {}, UNCALIBRATED)
    assert "identical" in text
