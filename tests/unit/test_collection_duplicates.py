"""The duplicate pairs of a collection: block-wise, exact against the full cosine matrix."""

from __future__ import annotations

import numpy as np

from api.collections import duplicates
from api.collections.duplicates import groups, similar_pairs


def test_blocks_find_exactly_the_pairs_of_the_full_matrix(monkeypatch) -> None:
    monkeypatch.setattr(duplicates, "BLOCK", 7)  # several blocks, one of them partial
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((40, 16)).astype(np.float32)
    vectors[5] = vectors[30] * 2.0 + 0.01  # a planted near-copy, another length
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    full = unit @ unit.T
    expected = {(i, j) for i in range(40) for j in range(i + 1, 40) if full[i, j] >= 0.3}
    pairs, truncated = similar_pairs(vectors, 0.3, max_pairs=10_000)
    assert {(i, j) for i, j, _ in pairs} == expected and not truncated
    assert pairs[0][:2] == (5, 30) and pairs[0][2] > 0.999
    scores = [s for _, _, s in pairs]
    assert scores == sorted(scores, reverse=True)


def test_over_max_pairs_the_most_similar_are_kept(monkeypatch) -> None:
    monkeypatch.setattr(duplicates, "BLOCK", 4)
    rng = np.random.default_rng(4)
    vectors = np.abs(rng.standard_normal((30, 8)))
    everything, _ = similar_pairs(vectors, -1.0, max_pairs=10_000)
    assert len(everything) == 30 * 29 // 2
    kept, truncated = similar_pairs(vectors, -1.0, max_pairs=25)
    assert truncated and [p[:2] for p in kept] == [p[:2] for p in everything[:25]]


def test_groups_join_pairs_transitively() -> None:
    pairs = [(0, 3, 0.9), (3, 5, 0.9), (1, 2, 0.95)]
    assert groups(7, pairs) == [[0, 3, 5], [1, 2]]
