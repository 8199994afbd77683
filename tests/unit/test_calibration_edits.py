"""The calibration set covers the issue's edit ranges, with random draws that are reproducible
and classified by the issue's rule for standard edits."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from tools.calibrate import FIXED, RANGES, _edit_kind_value, classify, is_standard, random_edits


def test_random_draws_are_reproducible_and_within_the_ranges() -> None:
    first = random_edits("cat", 40)
    assert [e.name for e in first] == [e.name for e in random_edits("cat", 40)]
    assert [e.name for e in first] != [e.name for e in random_edits("dog_1", 40)]
    assert len({e.name for e in first}) == 40
    for drawn in first:
        low, high = RANGES[drawn.kind]
        if drawn.kind == "rotate":
            assert low <= abs(drawn.value) <= high + 0.05, drawn.name
        elif drawn.kind in ("jpeg", "noise", "blur", "scale", "crop"):
            assert low - 0.005 <= drawn.value <= high + 0.005, drawn.name
    kinds = {e.kind for e in random_edits("astronaut", 200)}
    assert kinds == set(RANGES)


@pytest.mark.parametrize(
    ("name", "standard", "light"),
    [
        ("jpeg-q20", True, True),
        ("jpeg-q19", False, False),
        ("noise-10.0", True, True),
        ("noise-10.1", False, False),
        ("blur-2.00", True, True),
        ("blur-2.01", False, False),
        ("scale-0.50x", True, True),
        ("scale-0.49x", False, False),
        ("scale-2.00x", True, True),  # an enlarged copy
        ("crop-80%", True, True),
        ("crop-79%", False, False),
        ("scale-0.5x-back", True, True),
        ("scale-0.25x-back", False, False),
        ("rotate--5.0deg", False, True),
        ("logo-opaque", False, True),
        ("hflip", False, True),  # the service turns a mirror image back first
    ],
)
def test_each_edit_is_classified_by_the_issue_rule(name: str, standard: bool, light: bool) -> None:
    """Standard: blur sigma <= 2, noise sigma <= 10, JPEG quality >= 20, resize >= 0.5x, crop
    >= 80 %; a light edit is near-duplicate, a heavy one same-subject."""
    assert is_standard(name) is standard
    assert classify(*_edit_kind_value(name)) == (light, standard)


def test_the_fixed_edits_include_an_enlargement_a_logo_and_rotations() -> None:
    photo = data.coffee()
    enlarged = FIXED["scale-2.00x"].apply(photo)
    assert enlarged.shape == (800, 1200, 3)
    for name in ("logo-opaque", "logo-60%-see-through"):
        stamped = FIXED[name].apply(photo)
        changed = np.any(stamped != photo, axis=2)
        assert 0.005 < changed.mean() < 0.03, name  # a small graphic...
        rows, cols = np.nonzero(changed)
        assert min(rows.min(), 400 - rows.max()) < 20  # ...in a corner
        assert min(cols.min(), 600 - cols.max()) < 20
    assert {"rotate-+1.0deg", "rotate-+2.0deg", "rotate--5.0deg"} <= set(FIXED)
