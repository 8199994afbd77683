"""Where the test data lives: the sibling ``shared/`` folder (override: ISC_SHARED_DIR).

The data is not in the repository, so a clone on its own lacks it. Outside CI a test that needs
it is skipped with a reason that says where to put it; in CI (``CI`` set, as every CI service
does) missing data fails the run, because a suite that skipped the published-SSIM checks would
look green while checking little.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("ISC_SHARED_DIR", REPO.parent / "shared"))
EINSTEIN = SHARED / "eval" / "ssim-einstein"
PHOTOS = SHARED / "eval" / "photos"
WEIGHTS = SHARED / "weights"
MOBILENET_V2_WEIGHTS = WEIGHTS / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"

# What the suite needs, checked once at the start of a CI run (tests/conftest.py).
REQUIRED_DATA = (EINSTEIN, PHOTOS, MOBILENET_V2_WEIGHTS)

WHERE_TO_PUT_IT = (
    "the tests need the project's shared data folder (eval/photos, eval/ssim-einstein, "
    "weights/mobilenet_v2_*.h5): put it next to the repository as "
    f"{REPO.parent / 'shared'}, or set ISC_SHARED_DIR to where it is"
)


def in_ci() -> bool:
    """True under CI: GitHub, GitLab and most others set ``CI=true``."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing_data() -> list[Path]:
    """The required data paths that are not there."""
    return [path for path in REQUIRED_DATA if not path.exists()]


def require(path: Path) -> Path:
    """``path``, or (when the shared data is not there) fail under CI and skip elsewhere."""
    if not path.exists():
        message = f"test data not found: {path}; {WHERE_TO_PUT_IT}"
        if in_ci():
            pytest.fail(f"{message} (CI is set, so missing data fails the run)", pytrace=False)
        pytest.skip(message)
    return path


def photo(name: str) -> bytes:
    """The bytes of one of the shared real photos."""
    return require(PHOTOS / name).read_bytes()
