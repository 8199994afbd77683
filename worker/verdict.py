"""Turn a raw score into a verdict, using only thresholds that were derived from data.

The thresholds live in ``calibration.json`` next to this module, written by
``tools/calibrate.py``. A CNN's entry is keyed by a fingerprint of the weight values it was
derived with, so thresholds never silently apply to other weights; a method without an entry
gets the verdict ``uncalibrated``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from shared.methods import MethodFamily
from shared.schemas import Verdict

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")

# The verdict classes each family can tell apart, most alike first. A pixel method cannot tell
# "related" from "different"; only a semantic one can.
FAMILY_CLASSES: dict[MethodFamily, tuple[Verdict, ...]] = {
    MethodFamily.STRUCTURAL: (Verdict.NEAR_DUPLICATE, Verdict.SAME_SUBJECT, Verdict.DIFFERENT),
    MethodFamily.PIXEL: (Verdict.NEAR_DUPLICATE, Verdict.SAME_SUBJECT, Verdict.DIFFERENT),
    MethodFamily.HASH: (Verdict.NEAR_DUPLICATE, Verdict.DIFFERENT),
    MethodFamily.SEMANTIC: (
        Verdict.NEAR_DUPLICATE,
        Verdict.SAME_SUBJECT,
        Verdict.RELATED,
        Verdict.DIFFERENT,
    ),
}


@dataclass(frozen=True)
class Thresholds:
    """The lowest score of each class but the last, most alike first."""

    bounds: tuple[tuple[Verdict, float], ...]
    lowest: Verdict
    limitation: str = ""
    """A near-duplicate goal the method missed on held-out pairs, for the explanation to say."""

    def describe(self) -> str:
        """E.g. 'near-duplicate from 0.926, same-subject from 0.351'."""
        return ", ".join(f"{verdict.value} from {bound:.3f}" for verdict, bound in self.bounds)


def thresholds_from_entry(entry: dict) -> Thresholds:
    """Thresholds from one method's entry in the calibration file."""
    classes = [Verdict(name) for name in entry["classes"]]
    bounds = tuple((verdict, float(entry["thresholds"][verdict.value])) for verdict in classes[:-1])
    return Thresholds(bounds=bounds, lowest=classes[-1], limitation=entry.get("limitation", ""))


@lru_cache
def load_calibration(path: Path = CALIBRATION_FILE) -> dict[str, Thresholds]:
    """Calibration key -> thresholds; empty when no calibration has been run."""
    if not path.is_file():
        return {}
    entries = json.loads(path.read_text())["methods"]
    return {key: thresholds_from_entry(entry) for key, entry in entries.items()}


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
    for verdict, bound in thresholds.bounds:
        if score >= bound:
            return verdict
    return thresholds.lowest
