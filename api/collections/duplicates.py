"""Every pair of a collection's vectors at or above a cosine threshold, and the groups they form.

One query per image would be a search per image (slow in the embedded mode); instead the unit
vectors are multiplied block by block (``BLOCK`` rows against all later rows), which is exact
and bounded in memory: a 1024 x n block of float32 scores at a time.
"""

from __future__ import annotations

import numpy as np

BLOCK = 1024


def similar_pairs(vectors: np.ndarray, threshold: float) -> list[tuple[int, int, float]]:
    """(i, j, cosine) for every i < j with cosine >= ``threshold``, most similar first."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms == 0, 1, norms)
    pairs: list[tuple[int, int, float]] = []
    for start in range(0, len(unit), BLOCK):
        scores = unit[start : start + BLOCK] @ unit.T
        rows, cols = np.nonzero(scores >= threshold)
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            if start + row < col:
                pairs.append((start + row, col, min(1.0, float(scores[row, col]))))
    pairs.sort(key=lambda pair: -pair[2])
    return pairs


def groups(count: int, pairs: list[tuple[int, int, float]]) -> list[list[int]]:
    """The connected groups (two or more members) that the pairs join, largest first."""
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, _ in pairs:
        parent[root(i)] = root(j)
    members: dict[int, list[int]] = {}
    for i in range(count):
        members.setdefault(root(i), []).append(i)
    found = [sorted(group) for group in members.values() if len(group) > 1]
    return sorted(found, key=lambda group: (-len(group), group[0]))
