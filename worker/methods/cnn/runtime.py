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

from shared.schemas import PrecisionReport
from shared.settings import Settings
from worker.batcher import DynamicBatcher, Features
from worker.cache import ByteBoundedLRU
from worker.methods.cnn.embedding import EmbeddingRecipe, canonical_recipe
from worker.methods.cnn.precision import (
    DEFAULT_BATCH,
    Precision,
    TuningStore,
    choose,
    machine_key,
    measure,
    pending_report,
    probe_images,
    reduced_precision_for,
)
from worker.methods.cnn.preparation import Placement
from worker.methods.cnn.specs import CnnSpec
from worker.methods.cnn.weights import LoadedNetwork, build_network
from worker.verdict import thresholds_for

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
    precision: Precision
    """The arithmetic of the forward passes these came from."""


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
        self.batcher: DynamicBatcher | None = None
        self.recipe: EmbeddingRecipe = canonical_recipe(settings.cnn_canvas_pixels)
        self.setting = settings.precision_for(str(spec.name))
        self.precision: Precision = "float32" if self.setting == "auto" else self.setting
        self.device = "CPU"
        self.report = pending_report(self.setting, settings.batch_max_size or DEFAULT_BATCH)
        self._forwards: dict[str, Callable[[Any], Any]] = {}
        self._model: Any = None
        self._network: LoadedNetwork | None = None

    @property
    def compute_dtype(self) -> str | None:
        """The arithmetic of the forward passes now (None until loaded)."""
        return self.precision if self._forwards else None

    def _cache_version(self, precision: str) -> str:
        recipe = self.recipe
        return f"{PREPROCESSING_VERSION}-{recipe.preparation.label}-{recipe.pooling}-{precision}"

    def load(self) -> LoadedNetwork:
        """Build the network with its weights, compile the forward pass, warm it up and start
        the batcher; raises ``WeightsMissingError`` or whatever Keras raised."""
        import keras

        module = importlib.import_module(f"keras.applications.{self.spec.module}")
        network = build_network(
            self.spec, self.settings, keras, getattr(module, self.spec.constructor), self.precision
        )
        self._network, self._model = network, network.model
        self.device = _device()
        self.report = self.report.model_copy(update={"device": self.device})
        self._forwards[self.precision] = self._compile(network.model)
        self.batcher = DynamicBatcher(
            self._run_forward,
            str(self.spec.name),
            self.settings.batch_max_size or DEFAULT_BATCH,
            self.settings.batch_max_wait_ms / 1000,
        )
        log.info("%s: weights from %s", self.spec.name, network.origin)
        return network

    def _compile(self, model: Any) -> Callable[[Any], Any]:
        """The model's compiled forward pass (preprocessing included), traced once."""
        import tensorflow as tf

        preprocess = importlib.import_module(
            f"keras.applications.{self.spec.module}"
        ).preprocess_input
        model.trainable = False

        @tf.function(
            input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
            reduce_retracing=True,
        )
        def forward(batch: Any) -> Any:
            return tf.cast(model(preprocess(batch), training=False), tf.float32)

        side = self.recipe.preparation.side
        forward(tf.zeros([2, side, side, 3], tf.float32))  # trace before the first request
        return forward

    def _run_forward(self, batch: np.ndarray) -> np.ndarray:
        """The batcher's forward pass, in whichever precision is in use when it runs."""
        return np.asarray(self._forwards[self.precision](batch))

    def _reduced_copy(self, precision: str) -> Callable[[Any], Any]:
        """The loaded network rebuilt in mixed ``precision`` (bfloat16 or float16) with the
        same weight values."""
        import keras

        module = importlib.import_module(f"keras.applications.{self.spec.module}")
        constructor = getattr(module, self.spec.constructor)
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(f"mixed_{precision}")
        try:
            model = constructor(weights=None, include_top=False, input_shape=(None, None, 3))
        finally:
            keras.config.set_dtype_policy(previous)
        model.set_weights(self._model.get_weights())
        return self._compile(model)

    def tune(self, store: TuningStore) -> PrecisionReport:
        """Measure (or recall) this machine's faster agreeing precision and best batch size,
        and switch to them; with everything set explicitly there is nothing to measure."""
        if self._network is None or self.batcher is None:
            raise RuntimeError(f"{self.spec.name} is not loaded")
        if self.setting != "auto" and self.settings.batch_max_size is not None:
            return self.report
        import keras
        import tensorflow as tf

        network = self._network
        key = machine_key(
            [
                tf.__version__,
                keras.__version__,
                str(self.spec.name),
                network.calibration_key or f"{network.weights}:{self.settings.cnn_random_seed}",
                self._cache_version(""),
                str(self.recipe.preparation.side),
            ]
        )
        measured = store.get(key) if self.setting == "auto" else None
        reused = measured is not None
        reduced = reduced_precision_for(self.device)
        wanted = ("float32", reduced) if self.setting == "auto" else (self.precision,)
        if measured is None:
            for precision in wanted:
                if precision not in self._forwards:
                    self._forwards[precision] = self._reduced_copy(precision)
            prepared = [self.recipe.preparation.prepare(image) for image in probe_images()]
            inputs = np.stack([item[0] for item in prepared]).astype(np.float32)
            placements = [item[1] for item in prepared]

            def embed(outputs: np.ndarray) -> np.ndarray:
                return np.stack(
                    [
                        self.recipe.embed(out, place)
                        for out, place in zip(outputs, placements, strict=True)
                    ]
                )

            measured = measure(
                {name: self._forward_numpy(name) for name in wanted},
                embed,
                inputs,
                thresholds_for(network.calibration_key),
            )
            if self.setting == "auto":
                store.put(key, measured)
        report = choose(measured, self.setting, reused, self.settings.batch_max_size, self.device)
        if report.precision not in self._forwards:
            self._forwards[report.precision] = self._reduced_copy(report.precision)
        self.precision = report.precision
        self.batcher.max_batch = report.batch_size
        for unused in [name for name in self._forwards if name != report.precision]:
            del self._forwards[unused]  # the other network's memory goes back
        self.report = report
        log.info("%s: %s", self.spec.name, report.note)
        return report

    def _forward_numpy(self, precision: str) -> Callable[[np.ndarray], np.ndarray]:
        forward = self._forwards[precision]
        return lambda batch: np.asarray(forward(batch))

    @property
    def running(self) -> bool:
        """Whether the batcher still answers requests."""
        return self.batcher is not None and self.batcher.alive

    def forward(self, batch: np.ndarray) -> np.ndarray:
        """The bare compiled forward pass in the precision in use (no batcher, no cache): for
        benchmarks and tests."""
        if not self._forwards:
            raise RuntimeError(f"{self.spec.name} is not loaded")
        return self._run_forward(batch)

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
        precision = self.precision  # a switch after tuning applies from the next request on
        version = self._cache_version(precision)
        with batcher.preparing():  # a batch forming now waits for these images
            keys = [
                (self.spec.name, version, digest, image.shape[:2]) if digest is not None else None
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
            precision=precision,
        )


def _device() -> str:
    """'GPU (<TensorFlow's device name>)' when TensorFlow sees a GPU (it then places the
    network there by itself), else 'CPU'."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return f"GPU ({gpus[0].name})" if gpus else "CPU"
