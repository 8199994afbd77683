"""Turn a raw score into a verdict, using only thresholds that were derived from data.

The thresholds live in ``calibration.json`` next to this module, written by
``tools/calibrate.py``. A CNN's entry is keyed by a fingerprint of the weight values it was derived
with, so thresholds never silently apply to other weights; a method without an entry gets the
verdict ``uncalibrated``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from shared.schemas import Verdict

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")


@dataclass(frozen=True)
class Thresholds:
    """Lowest score of each verdict class, highest class first."""

    near_identical: float
    similar: float


@lru_cache
def load_calibration(path: Path = CALIBRATION_FILE) -> dict[str, Thresholds]:
    """Calibration key -> thresholds; empty when no calibration has been run."""
    if not path.is_file():
        return {}
    entries = json.loads(path.read_text())["methods"]
    return {
        key: Thresholds(entry["thresholds"]["near-identical"], entry["thresholds"]["similar"])
        for key, entry in entries.items()
    }


def thresholds_for(calibration_key: str | None) -> Thresholds | None:
    """The thresholds for a method and its weights, if they were calibrated."""
    if calibration_key is None:
        return None
    return load_calibration().get(calibration_key)


def decide(score: float, identical_pixels: bool, thresholds: Thresholds | None) -> Verdict:
    """The verdict class of ``score``."""
    if identical_pixels:
        return Verdict.IDENTICAL
    if thresholds is None:
        return Verdict.UNCALIBRATED
    if score >= thresholds.near_identical:
        return Verdict.NEAR_IDENTICAL
    if score >= thresholds.similar:
        return Verdict.SIMILAR
    return Verdict.DIFFERENT
