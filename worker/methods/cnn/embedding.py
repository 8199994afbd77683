"""The canonical embedding: one vector per image and CNN, whatever it is compared with.

Chosen by ``tools/embedding_study.py`` (``make embedding-study``; the table is in the README)
among the candidates that cost one forward pass per image: the best retrieval quality on
flowers-dev that keeps the same-subject groups of the photos, or the simplest candidate within
noise of it. For MobileNetV2 that is a centre crop with average pooling: mAP 0.724 against 0.701
for the original app's plain 224x224 resize (+0.022, 95 % bootstrap interval +0.009..+0.036),
photo groups unchanged (0.944). It misses the +0.03 goal; only two passes (224 and 320, GeM)
reach it (+0.041). VGG16 and ResNet50 use the same recipe (no weights here to measure them).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from worker.methods.cnn.features import Pooling, normalized, pool
from worker.methods.cnn.preparation import Placement, Preparation, PreparationKind, square_side

CANONICAL_KIND: PreparationKind = "crop"
CANONICAL_POOLING: Pooling = "avg"


@dataclass(frozen=True)
class EmbeddingRecipe:
    """How an image becomes its embedding: one forward pass of one preparation, then pooling."""

    preparation: Preparation
    pooling: Pooling

    def embed(self, features: np.ndarray, placement: Placement) -> np.ndarray:
        """The unit-length embedding of one feature map (padding left out)."""
        return normalized(pool(features, placement.cells, self.pooling))


CANONICAL = EmbeddingRecipe(Preparation(CANONICAL_KIND, 224), CANONICAL_POOLING)


def canonical_recipe(canvas_pixels: int) -> EmbeddingRecipe:
    """The canonical recipe at the configured input area (``cnn_canvas_pixels``)."""
    preparation = replace(CANONICAL.preparation, side=square_side(canvas_pixels))
    return replace(CANONICAL, preparation=preparation)
