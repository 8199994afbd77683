"""The CNN similarity maths on small hand-made feature maps, without TensorFlow."""

from __future__ import annotations

import ast
import subprocess
import sys

import numpy as np
import pytest

from tests.support.paths import REPO
from worker.methods.cnn.features import (
    best_match_distance,
    cellwise_distance,
    cosine,
    normalized,
    pool,
)


def test_the_maths_imports_numpy_only_and_loads_no_tensorflow() -> None:
    tree = ast.parse((REPO / "worker" / "methods" / "cnn" / "features.py").read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module)])
    }
    assert imported == {"__future__", "typing", "numpy"}
    probe = (
        "import sys; import worker.methods.cnn.features; "
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"


def test_cosine_of_vectors_and_of_nothing() -> None:
    assert cosine(np.array([1.0, 0.0]), np.array([2.0, 0.0])) == pytest.approx(1.0)
    assert cosine(np.array([1.0, 0.0]), np.array([0.0, 3.0])) == pytest.approx(0.0)
    assert cosine(np.array([1.0, 1.0]), np.array([-1.0, -1.0])) == pytest.approx(-1.0)
    assert cosine(np.zeros(3), np.zeros(3)) == 1.0  # nothing detected in either: alike
    assert cosine(np.zeros(3), np.ones(3)) == 0.0


def test_cellwise_distance_is_zero_for_equal_features_and_nan_outside() -> None:
    values = np.random.default_rng(0).random((3, 4, 8)).astype(np.float32)
    valid = np.ones((3, 4), dtype=bool)
    valid[0, 0] = False
    distance = cellwise_distance(values, values, valid)
    assert distance.dtype == np.float32
    assert np.isnan(distance[0, 0])
    assert np.allclose(distance[valid], 0.0, atol=1e-6)


def test_cellwise_distance_of_orthogonal_and_empty_places() -> None:
    fa = np.zeros((1, 3, 2), dtype=np.float32)
    fb = np.zeros((1, 3, 2), dtype=np.float32)
    fa[0, 0], fb[0, 0] = (1, 0), (0, 1)  # orthogonal: distance 1
    fa[0, 1], fb[0, 1] = (1, 1), (0, 0)  # something against nothing: distance 1
    # place 2: nothing in either: distance 0
    distance = cellwise_distance(fa, fb, np.ones((1, 3), dtype=bool))
    assert distance.tolist() == [[1.0, 1.0, 0.0]]


def test_best_match_finds_a_place_that_moved() -> None:
    fa = np.zeros((1, 3, 3), dtype=np.float32)
    fb = np.zeros((1, 3, 3), dtype=np.float32)
    fa[0, 0] = (1, 0, 0)  # A's left place is B's right place
    fb[0, 2] = (1, 0, 0)
    fa[0, 1] = fb[0, 1] = (0, 1, 0)
    fa[0, 2] = (0, 0, 1)  # found nowhere in B
    fb[0, 0] = (0, 1, 1)
    cells_a = np.array([[True, True, True]])
    best = best_match_distance(fa, fb, cells_a, np.ones((1, 3), dtype=bool))
    assert best[0, 0] == pytest.approx(0.0) and best[0, 1] == pytest.approx(0.0)
    assert best[0, 2] == pytest.approx(1 - 1 / np.sqrt(2))
    same = cellwise_distance(fa, fb, cells_a)
    assert same[0, 0] == pytest.approx(1.0)  # at the same place it looks changed
    outside = best_match_distance(fa, fb, np.array([[True, False, True]]), cells_a)
    assert np.isnan(outside[0, 1])


def test_best_match_ignores_b_outside_its_image() -> None:
    fa = np.array([[[1.0, 0.0]]], dtype=np.float32)
    fb = np.array([[[1.0, 0.0], [0.0, 1.0]]], dtype=np.float32)
    only_right = np.array([[False, True]])
    best = best_match_distance(fa, fb, np.array([[True]]), only_right)
    assert best[0, 0] == pytest.approx(1.0)  # B's matching place is padding: not counted
    nothing = best_match_distance(fa, fb, np.array([[True]]), np.zeros((1, 2), dtype=bool))
    assert nothing[0, 0] == pytest.approx(1.0)


def test_pooling_uses_only_the_images_own_places() -> None:
    features = np.array([[[1.0, 0.0], [5.0, 5.0]], [[3.0, 2.0], [9.0, 9.0]]], dtype=np.float32)
    inside = np.array([[True, False], [True, False]])  # the right column is padding
    assert pool(features, inside, "avg") == pytest.approx([2.0, 1.0])
    assert pool(features, inside, "max") == pytest.approx([3.0, 2.0])
    # GeM p=3: (mean x^3)^(1/3), between the average and the maximum.
    assert pool(features, inside, "gem") == pytest.approx([14.0 ** (1 / 3), 4.0 ** (1 / 3)])
    assert normalized(pool(features, inside, "avg")) == pytest.approx(np.array([2, 1]) / 5**0.5)
    assert not normalized(np.zeros(3, np.float32)).any()
