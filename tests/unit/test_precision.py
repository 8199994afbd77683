"""Per-network precision chosen by measuring the real network on this machine: the decision
follows the measured figures, is reported, used by the results, kept for the next start, and
an explicit setting overrides it. (How much faster bfloat16 is, is measured by bench/.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shared.methods import MethodName
from shared.schemas import Verdict
from shared.settings import Settings
from tests.support.paths import WEIGHTS, photo, require
from worker.cache import ByteBoundedLRU
from worker.decode import decode_image
from worker.methods.base import CompareOptions
from worker.methods.cnn import CNN_SPECS, CnnMethod
from worker.methods.cnn.precision import (
    MIN_COSINE,
    MIN_SPEEDUP,
    Measurement,
    TuningStore,
    agreement,
    best_batch,
    choose,
    reduced_precision_for,
)
from worker.verdict import Thresholds


def _mobilenet(tmp_path: Path, **overrides) -> CnnMethod:
    require(WEIGHTS / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5")
    values = dict(
        weights_dir=WEIGHTS,
        allow_weight_download=False,
        cnn_methods="mobilenet_v2",
        cnn_tuning_file=tmp_path / "tuning.json",
    )
    values.update(overrides)
    method = CnnMethod(
        CNN_SPECS[MethodName.MOBILENET_V2], Settings(**values), ByteBoundedLRU(0, lambda _: 0)
    )
    method.load()
    return method


def _pair():
    a = decode_image(photo("dog_1.png"), "a", 10**8)
    b = decode_image(photo("dog_2.png"), "b", 10**8)
    return a, b


def test_auto_measures_both_precisions_and_follows_the_figures(tmp_path: Path) -> None:
    method = _mobilenet(tmp_path)
    before = method.precision_report
    assert before is not None and before.chosen_by == "pending"
    assert before.precision == "float32"
    method.tune(TuningStore(tmp_path / "tuning.json"))
    report = method.precision_report
    assert report is not None and report.chosen_by == "measurement" and not report.reused

    (stored,) = json.loads((tmp_path / "tuning.json").read_text()).values()
    measured = Measurement(**stored)
    assert set(measured.forward_ms) == {"float32", "bfloat16"}
    assert all(ms > 0 for by_size in measured.forward_ms.values() for ms in by_size.values())
    assert measured.images == 16 and measured.pairs == 120
    # The decision is the rule applied to what was measured.
    agrees = measured.min_cosine >= MIN_COSINE and measured.verdicts_unchanged
    faster = (
        best_batch(measured.forward_ms["bfloat16"])[1]
        >= MIN_SPEEDUP * best_batch(measured.forward_ms["float32"])[1]
    )
    assert report.precision == ("bfloat16" if agrees and faster else "float32")
    assert report.min_cosine == measured.min_cosine
    assert report.batch_size == best_batch(measured.forward_ms[report.precision])[0]
    assert method.batcher is not None and method.batcher.max_batch == report.batch_size
    assert method.compute_dtype == report.precision
    assert method.compare(*_pair(), CompareOptions()).precision == report.precision
    assert report.device == "CPU"  # no GPU here

    # A restart on the same machine reuses the measurement and makes the same choice.
    again = _mobilenet(tmp_path)
    again.tune(TuningStore(tmp_path / "tuning.json"))
    assert again.precision_report is not None and again.precision_report.reused
    assert again.precision_report.precision == report.precision
    assert again.precision_report.batch_size == report.batch_size


def test_an_explicit_setting_per_model_wins_and_nothing_is_stored(tmp_path: Path) -> None:
    method = _mobilenet(
        tmp_path, cnn_precision_per_model={"mobilenet_v2": "bfloat16"}, batch_max_size=4
    )
    method.tune(TuningStore(tmp_path / "tuning.json"))
    report = method.precision_report
    assert report is not None
    assert (report.precision, report.chosen_by, report.batch_size) == ("bfloat16", "setting", 4)
    assert not (tmp_path / "tuning.json").exists()
    assert method.compare(*_pair(), CompareOptions()).precision == "bfloat16"


def test_the_per_model_setting_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ISC_CNN_PRECISION", "float32")
    monkeypatch.setenv("ISC_CNN_PRECISION_PER_MODEL", '{"vgg16": "bfloat16"}')
    monkeypatch.setenv("ISC_CNN_TUNING_FILE", "")
    settings = Settings()
    assert settings.precision_for("vgg16") == "bfloat16"
    assert settings.precision_for("resnet50") == "float32"
    assert settings.cnn_tuning_file is None


def test_disagreement_keeps_float32_however_fast_bfloat16_is() -> None:
    """The rule on figures: agreement first, then speed, then the batch size."""
    fast = {"float32": {"1": 40.0, "4": 100.0}, "bfloat16": {"1": 10.0, "4": 20.0}}
    agreeing = Measurement(fast, 0.9995, 0.001, True, 16, 120)
    assert choose(agreeing, "auto", False).precision == "bfloat16"
    assert choose(agreeing, "auto", False).batch_size == 4  # 200 images/s against 100
    assert choose(agreeing, "auto", False).speedup == 5.0
    for disagreeing in (
        Measurement(fast, 0.98, 0.02, True, 16, 120),  # embeddings moved
        Measurement(fast, 0.9995, 0.001, False, 16, 120),  # a verdict changed
    ):
        assert choose(disagreeing, "auto", False).precision == "float32"
    slow = {"float32": {"1": 40.0}, "bfloat16": {"1": 39.0}}  # within noise: float32 stays
    assert choose(Measurement(slow, 1.0, 0.0, True, 16, 120), "auto", False).precision == (
        "float32"
    )


def test_agreement_sees_a_pair_crossing_a_threshold() -> None:
    """Scores that move a little are fine, unless one crosses a verdict bound."""
    thresholds = Thresholds(
        bounds=((Verdict.NEAR_DUPLICATE, 0.9), (Verdict.SAME_SUBJECT, 0.5)),
        lowest=Verdict.DIFFERENT,
    )

    def unit_pair(cosine: float) -> np.ndarray:
        return np.array([[1.0, 0.0], [cosine, np.sqrt(1 - cosine**2)]])

    _, shift, same, pairs = agreement(unit_pair(0.95), unit_pair(0.949), thresholds)
    assert pairs == 1 and shift == pytest.approx(0.001) and same
    _, _, same, _ = agreement(unit_pair(0.901), unit_pair(0.899), thresholds)
    assert not same


def test_on_a_gpu_auto_weighs_float16_instead_of_bfloat16() -> None:
    """The rule with a GPU's figures (none here to measure: the README says so)."""
    fast = {"float32": {"8": 40.0}, "float16": {"8": 12.0}}
    report = choose(
        Measurement(fast, 0.9999, 0.0004, True, 16, 120), "auto", False, None, "GPU (/device:GPU:0)"
    )
    assert (report.precision, report.device, report.speedup) == (
        "float16",
        "GPU (/device:GPU:0)",
        3.33,
    )
    assert "on this GPU" in report.note
    assert reduced_precision_for("GPU (/device:GPU:0)") == "float16"
    assert reduced_precision_for("CPU") == "bfloat16"


def test_float16_can_be_set_and_every_result_says_where_it_ran(tmp_path: Path) -> None:
    method = _mobilenet(tmp_path, cnn_precision_per_model={"mobilenet_v2": "float16"})
    result = method.compare(*_pair(), CompareOptions())
    assert (result.precision, result.device) == ("float16", "CPU")
    report = method.precision_report
    assert report is not None and (report.precision, report.device) == ("float16", "CPU")
