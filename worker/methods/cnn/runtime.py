"""One loaded network at work: images in, feature maps out, batched and cached.

The only module that imports TensorFlow, and only inside ``load``, so that the worker answers
(SSIM, health) while the models load in the background. The network runs without its classifier
(``include_top=False``); one compiled call (``tf.function``) takes a batch of canvases of any
size. Images seen before (same bytes, same canvas, same model and preprocessing) come from the
embedding cache, shared by all CNNs under one byte budget; the rest go through this model's
dynamic batcher, which may share one forward pass with other requests.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from shared.settings import Settings
from worker.batcher import DynamicBatcher, Features
from worker.cache import ByteBoundedLRU
from worker.methods.cnn.canvas import Placement, canvas_size, fit_into_canvas
from worker.methods.cnn.specs import CnnSpec
from worker.methods.cnn.weights import LoadedNetwork, build_network

log = logging.getLogger(__name__)

PREPROCESSING_VERSION = "1"  # bump when fit_into_canvas or the inputs change: keys the cache

CachedFeatures = tuple[np.ndarray, Placement]


def cached_size(entry: CachedFeatures) -> int:
    """Bytes a cached feature map holds."""
    return int(entry[0].nbytes) + 256


def embedding_cache(max_bytes: int) -> ByteBoundedLRU[CachedFeatures]:
    """The feature-map cache all CNNs share (``max_bytes=0``: off)."""
    return ByteBoundedLRU(max_bytes, cached_size)


@dataclass(frozen=True)
class FeatureMaps:
    """Feature maps of a set of images, where each lies in the canvas, and how they were got."""

    features: list[np.ndarray]
    placements: list[Placement]
    canvas: tuple[int, int]
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
        self._version = f"{PREPROCESSING_VERSION}-{settings.cnn_precision}"
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
        """Feature maps of all ``images``, each fitted into a canvas shaped like the first.

        Call only once loaded; raises ``ModelTimeout`` when the batcher does not answer in time,
        and the model's own error when its forward pass failed.
        """
        batcher = self.batcher
        if batcher is None:
            raise RuntimeError(f"{self.spec.name} is not loaded")
        with batcher.preparing():  # a batch forming now waits for these images
            first = images[0]
            canvas_w, canvas_h = canvas_size(
                first.shape[1], first.shape[0], self.settings.cnn_canvas_pixels
            )
            keys = [
                (self.spec.name, self._version, digest, image.shape[:2], (canvas_w, canvas_h))
                if digest is not None
                else None
                for digest, image in zip(digests, images, strict=True)
            ]
            results: list[CachedFeatures | None] = [
                self.cache.get(key) if key is not None else None for key in keys
            ]
            missing = [index for index, result in enumerate(results) if result is None]
            fitted = {i: fit_into_canvas(images[i], canvas_w, canvas_h) for i in missing}
            futures = batcher.submit([fitted[i][0] for i in missing])
        try:
            computed: list[Features] = [
                future.result(timeout=self.settings.worker_timeout_s) for future in futures
            ]
        except TimeoutError as exc:
            raise ModelTimeout(str(self.spec.name)) from exc
        for index, result in zip(missing, computed, strict=True):
            entry = (result.values, fitted[index][1])
            results[index] = entry
            key = keys[index]
            if key is not None:
                self.cache.put(key, entry)
        ready = [result for result in results if result is not None]
        return FeatureMaps(
            features=[features for features, _ in ready],
            placements=[placement for _, placement in ready],
            canvas=(canvas_w, canvas_h),
            cache_hits=len(images) - len(missing),
            batch_size=max((result.batch_size for result in computed), default=None),
            forward_ms=max((result.forward_ms for result in computed), default=None),
        )
