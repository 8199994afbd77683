"""Where the test data lives: the sibling ``shared/`` folder (override: ISC_SHARED_DIR)."""

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


def require(path: Path) -> Path:
    """``path``, or skip the test with the reason when the shared data is not there."""
    if not path.exists():
        pytest.skip(f"test data not found: {path} (set ISC_SHARED_DIR)")
    return path


def photo(name: str) -> bytes:
    """The bytes of one of the shared real photos."""
    return require(PHOTOS / name).read_bytes()
