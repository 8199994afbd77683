"""One loaded network at work: images in, feature maps out, batched and cached.

The only module that imports TensorFlow, and only inside ``load``, so that the worker answers
(SSIM, health) while the models load in the background. The network runs without its classifier
(``include_top=False``); one compiled call (``tf.function``) takes a batch of inputs of any
size. Each image is prepared on its own (``embedding.canonical_recipe``), never shaped by its
partner, so its feature map and embedding are the same in every pair: images seen before (same
bytes, same model and recipe) come from the embedding cache, shared by all CNNs under one byte
budget, whatever they were compared with; the rest go through this model's dynamic batcher,
which may share one forward pass with other requests.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from shared.settings import Settings
from worker.batcher import DynamicBatcher, Features
from worker.cache import ByteBoundedLRU
from worker.methods.cnn.embedding import EmbeddingRecipe, canonical_recipe
from worker.methods.cnn.preparation import Placement
from worker.methods.cnn.specs import CnnSpec
from worker.methods.cnn.weights import LoadedNetwork, build_network

log = logging.getLogger(__name__)

PREPROCESSING_VERSION = "2"  # bump when the preparation or the inputs change: keys the cache


class CachedFeatures(NamedTuple):
    """What one forward pass gave for one image: all a comparison or an embedding needs."""

    features: np.ndarray
    placement: Placement
    embedding: np.ndarray


def cached_size(entry: CachedFeatures) -> int:
    """Bytes a cached entry holds."""
    return int(entry.features.nbytes + entry.embedding.nbytes + entry.placement.cells.nbytes) + 256


def embedding_cache(max_bytes: int) -> ByteBoundedLRU[CachedFeatures]:
    """The feature-map cache all CNNs share (``max_bytes=0``: off)."""
    return ByteBoundedLRU(max_bytes, cached_size)


@dataclass(frozen=True)
class FeatureMaps:
    """Feature maps and embeddings of a set of images, where each lies in its input, and how
    they were got."""

    features: list[np.ndarray]
    placements: list[Placement]
    embeddings: list[np.ndarray]
    cache_hits: int
    batch_size: int | None
    forward_ms: float | None


class ModelTimeout(TimeoutError):
    """The batcher did not answer within ``worker_timeout_s``."""


class CnnRuntime:
    """A network, its compiled forward pass, its batcher and the embedding cache."""

    def __init__(
        self,
        spec: CnnSpec,
        settings: Settings,
        cache: ByteBoundedLRU[CachedFeatures] | None = None,
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.cache = cache if cache is not None else embedding_cache(0)
        self.compute_dtype: str | None = None
        self.batcher: DynamicBatcher | None = None
        self.recipe: EmbeddingRecipe = canonical_recipe(settings.cnn_canvas_pixels)
        self._version = (
            f"{PREPROCESSING_VERSION}-{self.recipe.preparation.label}-{self.recipe.pooling}-"
            f"{settings.cnn_precision}"
        )
        self._forward: Callable[[Any], Any] | None = None

    def load(self) -> LoadedNetwork:
        """Build the network with its weights, compile the forward pass, warm it up and start
        the batcher; raises ``WeightsMissingError`` or whatever Keras raised."""
        import keras
        import tensorflow as tf

        module = importlib.import_module(f"keras.applications.{self.spec.module}")
        preprocess = module.preprocess_input
        network = build_network(
            self.spec, self.settings, keras, getattr(module, self.spec.constructor)
        )
        model = network.model
        model.trainable = False
        self.compute_dtype = str(model.dtype_policy.compute_dtype)

        @tf.function(
            input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
            reduce_retracing=True,
        )
        def forward(batch: Any) -> Any:
            return tf.cast(model(preprocess(batch), training=False), tf.float32)

        forward(tf.zeros([2, 224, 224, 3], tf.float32))  # trace once, before the first request
        self._forward = forward
        self.batcher = DynamicBatcher(
            lambda batch: forward(batch).numpy(),
            str(self.spec.name),
            self.settings.batch_max_size,
            self.settings.batch_max_wait_ms / 1000,
        )
        log.info("%s: weights from %s", self.spec.name, network.origin)
        return network

    @property
    def running(self) -> bool:
        """Whether the batcher still answers requests."""
        return self.batcher is not None and self.batcher.alive

    def forward(self, batch: np.ndarray) -> np.ndarray:
        """The bare compiled forward pass (no batcher, no cache): for benchmarks and tests."""
        if self._forward is None:
            raise RuntimeError(f"{self.spec.name} is not loaded")
        return np.asarray(self._forward(batch))

    def close(self) -> None:
        """Stop the batcher; requests still queued get an error."""
        if self.batcher is not None:
            self.batcher.close()

    def feature_maps(self, images: list[np.ndarray], digests: list[str | None]) -> FeatureMaps:
        """Feature maps and canonical embeddings of all ``images``, each prepared on its own.

        ``digests``: the uploaded bytes' digests (None: not cacheable, e.g. a warped copy). Call
        only once loaded; raises ``ModelTimeout`` when the batcher does not answer in time, and
        the model's own error when its forward pass failed.
        """
        batcher = self.batcher
        if batcher is None:
            raise RuntimeError(f"{self.spec.name} is not loaded")
        preparation = self.recipe.preparation
        with batcher.preparing():  # a batch forming now waits for these images
            keys = [
                (self.spec.name, self._version, digest, image.shape[:2])
                if digest is not None
                else None
                for digest, image in zip(digests, images, strict=True)
            ]
            results: list[CachedFeatures | None] = [
                self.cache.get(key) if key is not None else None for key in keys
            ]
            missing = [index for index, result in enumerate(results) if result is None]
            prepared = {i: preparation.prepare(images[i]) for i in missing}
            futures = batcher.submit([prepared[i][0] for i in missing])
        try:
            computed: list[Features] = [
                future.result(timeout=self.settings.worker_timeout_s) for future in futures
            ]
        except TimeoutError as exc:
            raise ModelTimeout(str(self.spec.name)) from exc
        for index, result in zip(missing, computed, strict=True):
            placement = prepared[index][1]
            entry = CachedFeatures(
                result.values, placement, self.recipe.embed(result.values, placement)
            )
            results[index] = entry
            key = keys[index]
            if key is not None:
                self.cache.put(key, entry)
        ready = [result for result in results if result is not None]
        return FeatureMaps(
            features=[entry.features for entry in ready],
            placements=[entry.placement for entry in ready],
            embeddings=[entry.embedding for entry in ready],
            cache_hits=len(images) - len(missing),
            batch_size=max((result.batch_size for result in computed), default=None),
            forward_ms=max((result.forward_ms for result in computed), default=None),
        )
