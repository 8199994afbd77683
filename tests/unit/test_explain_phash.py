"""pHash is explained by the bits that differ: a percentage of agreeing bits misleads, since two
unrelated photos agree on about half of them."""

from __future__ import annotations

import json

from shared.methods import MethodName
from shared.schemas import Verdict, WeightsSource
from tests.support.paths import REPO
from worker.explain import UNRELATED_PHOTOS_BITS, explain, hash_bits_differing
from worker.verdict import decide, load_calibration


def test_bits_are_the_primary_figure_and_the_cut_is_in_bits() -> None:
    thresholds = load_calibration()["phash"]
    score = 1 - 24 / 64
    verdict = decide(score, False, thresholds)
    text = explain(MethodName.PHASH, score, verdict, thresholds, WeightsSource.NONE, "Prep.")
    assert "24 of 64 bits of the two perceptual hashes differ (score 0.625)" in text
    assert "%" not in text.split("Calibration caveat")[0].replace("50 %", "")
    assert f"differ in about {UNRELATED_PHOTOS_BITS} of 64 bits" in text
    # The stated cut is the one decide() applies: that many bits is a near-duplicate, one
    # more is not.
    cut = int(text.split("near-duplicate at ")[1].split(" ")[0])
    assert decide(1 - cut / 64, False, thresholds) is Verdict.NEAR_DUPLICATE
    assert decide(1 - (cut + 1) / 64, False, thresholds) is Verdict.DIFFERENT


def test_other_methods_keep_score_and_percent() -> None:
    text = explain(MethodName.SSIM, 0.42, Verdict.UNCALIBRATED, None, WeightsSource.NONE, "")
    assert "These images score 0.420 (42.0%)" in text and "bits" not in text


def test_bits_come_back_exactly_from_the_score() -> None:
    assert [hash_bits_differing(1 - d / 64) for d in range(65)] == list(range(65))


def test_unrelated_photos_figure_is_the_held_out_median() -> None:
    rows = json.loads((REPO / "docs/calibration/held_out.json").read_text())["phash"]
    different = sorted(round((1 - row[4]) * 64) for row in rows if row[3] == "different")
    assert len(different) == 476
    assert different[len(different) // 2] == UNRELATED_PHOTOS_BITS
