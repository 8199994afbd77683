"""Similarity of feature maps: the score and the per-place distances behind the heatmaps.

NumPy only, so that the maths is tested on small arrays without loading TensorFlow. A feature map
is ``(rows, cols, channels)``; a place's vector is its channels. Two all-zero vectors (nothing
detected in either) count as identical, one all-zero against a non-zero one as unrelated.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np


def cosine(u: np.ndarray, v: np.ndarray) -> float:
    """Cosine similarity; two all-zero vectors count as identical."""
    norm = float(np.linalg.norm(u) * np.linalg.norm(v))
    if norm == 0.0:
        return 1.0 if not u.any() and not v.any() else 0.0
    return float(np.dot(u, v) / norm)


def cellwise_distance(fa: np.ndarray, fb: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``1 - cosine`` between the two feature vectors at each location; NaN where invalid."""
    dot = np.einsum("hwc,hwc->hw", fa, fb)
    norms = np.linalg.norm(fa, axis=-1) * np.linalg.norm(fb, axis=-1)
    both_zero = (np.abs(fa).sum(-1) == 0) & (np.abs(fb).sum(-1) == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        similarity = np.where(norms > 0, dot / np.where(norms > 0, norms, 1.0), 0.0)
    similarity = np.where(both_zero, 1.0, similarity)
    distance = np.clip(1.0 - similarity, 0.0, 1.0).astype(np.float32)
    return np.where(valid, distance, np.nan).astype(np.float32)


def best_match_distance(
    fa: np.ndarray, fb: np.ndarray, cells_a: np.ndarray, cells_b: np.ndarray
) -> np.ndarray:
    """For each of A's places, ``1 - max cosine`` to any of B's places; NaN outside A."""
    vectors_a = fa.reshape(-1, fa.shape[-1])
    vectors_b = fb[cells_b]
    norms_a = np.linalg.norm(vectors_a, axis=1, keepdims=True)
    norms_b = np.linalg.norm(vectors_b, axis=1, keepdims=True)
    unit_a = np.divide(vectors_a, norms_a, out=np.zeros_like(vectors_a), where=norms_a > 0)
    unit_b = np.divide(vectors_b, norms_b, out=np.zeros_like(vectors_b), where=norms_b > 0)
    similarity = (unit_a @ unit_b.T).max(axis=1) if len(unit_b) else np.zeros(len(unit_a))
    # An all-zero feature vector (nothing detected) matches an all-zero one in B.
    if (norms_b == 0).any():
        similarity = np.where(norms_a[:, 0] == 0, 1.0, similarity)
    distance = np.clip(1.0 - similarity, 0.0, 1.0).reshape(fa.shape[:2]).astype(np.float32)
    return np.where(cells_a, distance, np.nan).astype(np.float32)


Pooling = Literal["avg", "gem", "max"]
POOLINGS: tuple[Pooling, ...] = get_args(Pooling)
GEM_P = 3.0
"""Generalized-mean exponent: 3, the fixed value Radenovic, Tolias and Chum (Fine-tuning CNN
image retrieval with no human annotation, TPAMI 2019) found good for off-the-shelf and
fine-tuned networks alike."""
GEM_EPS = 1e-6


def pool(features: np.ndarray, cells: np.ndarray, pooling: Pooling) -> np.ndarray:
    """One vector from the places of ``features`` (rows, cols, channels) where ``cells``:

    * ``avg``: global average pooling (the original app's embedding);
    * ``gem``: generalized mean ``(mean x^p)^(1/p)`` with p = ``GEM_P``, between average (p=1)
      and max (p -> inf): strong local responses count more, background less;
    * ``max``: global max pooling (MAC).
    """
    vectors = features[cells].astype(np.float64)
    if pooling == "avg":
        pooled = vectors.mean(axis=0)
    elif pooling == "max":
        pooled = vectors.max(axis=0)
    else:
        clipped = np.maximum(vectors, GEM_EPS)
        pooled = np.power(np.power(clipped, GEM_P).mean(axis=0), 1.0 / GEM_P)
    return pooled.astype(np.float32)


def normalized(vector: np.ndarray) -> np.ndarray:
    """``vector`` scaled to unit length (an all-zero vector stays zero)."""
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else vector.astype(np.float32)
