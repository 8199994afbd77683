"""ImageNet CNNs as feature extractors: similarity is the cosine of their pooled embeddings.

One class, three configurations. Each network runs without its classifier
(``include_top=False``); its last convolutional feature map is global-average-pooled into the
embedding, and the same map, compared location by location, becomes the heatmap. Both images of
a pair go through one compiled call as a batch of two.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from shared.errors import ErrorCode, ServiceError
from shared.methods import METHOD_INFO, MethodName
from shared.schemas import HeatmapLegend, MethodState, WeightsSource
from shared.settings import Settings
from worker.alignment import register
from worker.batcher import DynamicBatcher
from worker.cache import ByteBoundedLRU
from worker.decode import DecodedImage
from worker.heatmap import resize_masked
from worker.methods.base import Availability, CompareOptions, Comparison, DifferenceView

log = logging.getLogger(__name__)

STRIDE = 32  # output stride of all three networks' last feature map
CNN_HEATMAP_SIDE = 512  # a map of a few dozen places gains nothing from more pixels
PREPROCESSING_VERSION = "1"  # bump when fit_into_canvas or the inputs change: keys the cache
IMAGENET_MEAN_RGB = np.array([123.68, 116.779, 103.939], dtype=np.float32)


@dataclass(frozen=True)
class CnnSpec:
    """How to build one network and prepare its input."""

    name: MethodName
    module: str  # keras.applications submodule with the constructor and preprocess_input
    constructor: str
    weights_file: str  # Keras's own file name for the no-top ImageNet weights


CNN_SPECS: dict[MethodName, CnnSpec] = {
    MethodName.VGG16: CnnSpec(
        MethodName.VGG16, "vgg16", "VGG16", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    ),
    MethodName.RESNET50: CnnSpec(
        MethodName.RESNET50,
        "resnet50",
        "ResNet50",
        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    ),
    MethodName.MOBILENET_V2: CnnSpec(
        MethodName.MOBILENET_V2,
        "mobilenet_v2",
        "MobileNetV2",
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
    ),
}


CachedFeatures = tuple[np.ndarray, "Placement"]


def cached_size(entry: CachedFeatures) -> int:
    """Bytes a cached feature map holds."""
    return int(entry[0].nbytes) + 256


@dataclass(frozen=True)
class FeatureMaps:
    """Feature maps of a set of images, where each lies in the canvas, and how they were got."""

    features: list[np.ndarray]
    placements: list[Placement]
    canvas: tuple[int, int]
    cache_hits: int
    batch_size: int | None
    forward_ms: float | None


class WeightsMissingError(RuntimeError):
    """The ImageNet weights are not on disk and could not be downloaded."""


def keras_cache_dir() -> Path:
    """Where Keras itself keeps downloaded weights: ``$KERAS_HOME/models`` or ~/.keras/models."""
    home = os.environ.get("KERAS_HOME") or str(Path.home() / ".keras")
    return Path(home) / "models"


def find_weights_file(spec: CnnSpec, weights_dir: Path | None) -> Path | None:
    """The weight file under the configured folder (or its ``models/``), if present."""
    folder = weights_dir or keras_cache_dir()
    for candidate in (folder / spec.weights_file, folder / "models" / spec.weights_file):
        if candidate.is_file():
            return candidate
    return None


def weights_fingerprint(model: Any) -> str:
    """SHA-256 of the weight values, in layer order.

    Calibrated thresholds hold only for the weights they were derived with. Hashing the values
    rather than the file lets the same weights saved in another HDF5 layout keep their
    calibration, while any other weights (another training run, random ones) cannot inherit it.
    """
    digest = hashlib.sha256()
    for variable in model.weights:
        digest.update(np.ascontiguousarray(np.asarray(variable), dtype=np.float32).tobytes())
    return digest.hexdigest()[:16]


def canvas_size(width: int, height: int, area: int) -> tuple[int, int]:
    """(width, height) of the network input: shaped like the image (aspect clamped to 1:4..4:1),
    about ``area`` pixels, sides multiples of the network stride."""
    ratio = min(max(width / height, 0.25), 4.0)
    canvas_w = max(STRIDE, round(math.sqrt(area * ratio) / STRIDE) * STRIDE)
    canvas_h = max(STRIDE, round(math.sqrt(area / ratio) / STRIDE) * STRIDE)
    return canvas_w, canvas_h


@dataclass(frozen=True)
class Placement:
    """An image fitted into the canvas: where it sits, and which feature cells it covers."""

    top: int
    left: int
    height: int
    width: int
    cells: np.ndarray  # bool (canvas_h / STRIDE, canvas_w / STRIDE)


def fit_into_canvas(
    pixels: np.ndarray, canvas_w: int, canvas_h: int
) -> tuple[np.ndarray, Placement]:
    """Scale ``pixels`` keeping aspect ratio to fit the canvas, centre it, pad with the ImageNet
    mean colour (zero after preprocessing), and mark the feature cells it mostly covers."""
    src_h, src_w = pixels.shape[:2]
    scale = min(canvas_w / src_w, canvas_h / src_h)
    width, height = max(1, round(src_w * scale)), max(1, round(src_h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(pixels, (width, height), interpolation=interpolation)
    canvas = np.empty((canvas_h, canvas_w, 3), dtype=np.float32)
    canvas[...] = IMAGENET_MEAN_RGB
    top, left = (canvas_h - height) // 2, (canvas_w - width) // 2
    canvas[top : top + height, left : left + width] = resized
    covered = np.zeros((canvas_h, canvas_w), dtype=np.float32)
    covered[top : top + height, left : left + width] = 1.0
    coverage = cv2.resize(
        covered, (canvas_w // STRIDE, canvas_h // STRIDE), interpolation=cv2.INTER_AREA
    )
    cells = coverage >= 0.5
    if not cells.any():
        cells = coverage >= coverage.max()
    return canvas, Placement(top, left, height, width, cells)


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


class CnnMethod:
    """One ImageNet CNN, loaded once and kept in memory; thread-safe after ``load``."""

    def __init__(
        self,
        spec: CnnSpec,
        settings: Settings,
        cache: ByteBoundedLRU[CachedFeatures] | None = None,
    ) -> None:
        self.name = spec.name
        # Enough for the heatmap and for the widest canvas (aspect 4:1) the network sees.
        widest = math.ceil(math.sqrt(settings.cnn_canvas_pixels * 4)) + STRIDE
        self.decode_side: int | None = max(CNN_HEATMAP_SIDE, widest)
        self.spec = spec
        self.settings = settings
        self.cache = cache if cache is not None else ByteBoundedLRU(0, cached_size)
        self._version = f"{PREPROCESSING_VERSION}-{settings.cnn_precision}"
        self._batcher: DynamicBatcher | None = None
        self.compute_dtype: str | None = None
        self._state = MethodState.LOADING
        self._reason: str | None = "loading the model"
        self._weights = WeightsSource.NONE
        self._calibration_key: str | None = None
        self._forward: Callable[[Any], Any] | None = None

    @property
    def title(self) -> str:
        """The network's display name."""
        return METHOD_INFO[self.name].title

    def availability(self) -> Availability:
        """Loading, ready, or unavailable with how to provide the weights."""
        return Availability(self._state, self._reason, self._weights, self._calibration_key)

    def load(self) -> None:
        """Build the network with its weights, compile the forward pass and warm it up.

        Never raises: a failure leaves the method unavailable with the reason.
        """
        try:
            self._load()
        except Exception as exc:
            log.warning("%s unavailable: %s", self.name, exc)
            self._state = MethodState.UNAVAILABLE
            self._reason = str(exc)
        else:
            self._state = MethodState.READY
            self._reason = None

    def _load(self) -> None:
        import importlib

        import keras
        import tensorflow as tf

        module = importlib.import_module(f"keras.applications.{self.spec.module}")
        constructor = getattr(module, self.spec.constructor)
        preprocess = module.preprocess_input
        model = self._build(keras, constructor)
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
        self._batcher = DynamicBatcher(
            lambda batch: forward(batch).numpy(),
            str(self.name),
            self.settings.batch_max_size,
            self.settings.batch_max_wait_ms / 1000,
        )

    @property
    def batcher(self) -> DynamicBatcher | None:
        """The model's dynamic batcher, once loaded."""
        return self._batcher

    def forward(self, batch: np.ndarray) -> np.ndarray:
        """The bare compiled forward pass (no batcher, no cache): for benchmarks and tests."""
        if self._forward is None:
            raise RuntimeError(f"{self.title} is not loaded")
        return np.asarray(self._forward(batch))

    def _build(self, keras: Any, constructor: Callable[..., Any]) -> Any:
        """The network in the configured precision (mixed bfloat16: float32 weights, bfloat16
        arithmetic), with the best weights available, or a ``WeightsMissingError``."""
        policy = "mixed_bfloat16" if self.settings.cnn_precision == "bfloat16" else "float32"
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(policy)
        try:
            return self._build_with_weights(keras, constructor)
        finally:
            keras.config.set_dtype_policy(previous)

    def _build_with_weights(self, keras: Any, constructor: Callable[..., Any]) -> Any:
        """The network with the best weights available, or a ``WeightsMissingError``."""
        common = dict(include_top=False, input_shape=(None, None, 3))
        path = find_weights_file(self.spec, self.settings.weights_dir)
        if path is not None:
            model = constructor(weights=str(path), **common)
            self._use_imagenet(model)
            return model
        download_error = None
        if self.settings.allow_weight_download:
            try:
                model = constructor(weights="imagenet", **common)
            except Exception as exc:
                download_error = (
                    f"Keras's automatic download failed ({type(exc).__name__}); "
                    f"is there internet access?"
                )
            else:
                self._use_imagenet(model)
                return model
        if self.settings.cnn_random_init:
            keras.utils.set_random_seed(self.settings.cnn_random_seed)
            model = constructor(weights=None, **common)
            self._weights = WeightsSource.RANDOM_INIT
            self._calibration_key = None
            return model
        folder = self.settings.weights_dir or keras_cache_dir()
        reason = (
            f"ImageNet weights for {self.title} are missing: put Keras's file "
            f"{self.spec.weights_file} into {folder} (or set ISC_WEIGHTS_DIR to a folder that "
            f"holds it), or start the service once with internet access so that Keras "
            f"downloads it."
        )
        if download_error:
            reason += f" {download_error}"
        raise WeightsMissingError(reason)

    def _use_imagenet(self, model: Any) -> None:
        self._weights = WeightsSource.IMAGENET
        self._calibration_key = f"{self.name}:{weights_fingerprint(model)}"

    def feature_maps(self, images: list[np.ndarray], digests: list[str | None]) -> FeatureMaps:
        """Feature maps of all ``images``, each fitted into a canvas shaped like the first.

        Images seen before (same bytes, same canvas, same model and preprocessing) come from the
        embedding cache; the rest go through the dynamic batcher, which may share one forward
        pass with other requests.
        """
        batcher = self._batcher
        if batcher is None:
            raise ServiceError(
                ErrorCode.METHOD_UNAVAILABLE,
                self._reason or f"{self.title} is not loaded.",
                {"method": str(self.name)},
            )
        with batcher.preparing():  # a batch forming now waits for these images
            first = images[0]
            canvas_w, canvas_h = canvas_size(
                first.shape[1], first.shape[0], self.settings.cnn_canvas_pixels
            )
            keys = [
                (self.name, self._version, digest, image.shape[:2], (canvas_w, canvas_h))
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
        hits = len(images) - len(missing)
        try:
            computed = [future.result(timeout=self.settings.worker_timeout_s) for future in futures]
        except TimeoutError as exc:
            raise ServiceError(
                ErrorCode.MODEL_TIMEOUT,
                f"{self.title} did not answer within {self.settings.worker_timeout_s:g} s; "
                f"the service is overloaded. Try again later.",
                {"method": str(self.name)},
            ) from exc
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
            cache_hits=hits,
            batch_size=max((result.batch_size for result in computed), default=None),
            forward_ms=max((result.forward_ms for result in computed), default=None),
        )

    def compare(self, a: DecodedImage, b: DecodedImage, options: CompareOptions) -> Comparison:
        """Cosine of the pooled embeddings. Primary map: for each place in A, the distance to
        the best-matching place anywhere in B (works when the subject moved). Second view: the
        distance at the same place, after registering B onto A when alignment is asked for."""
        registration = register(a.pixels, b.pixels) if options.align else None
        images = [a.pixels, b.pixels]
        digests = [a.digest, b.digest]
        aligned = registration is not None and registration.warped_b is not None
        if aligned:
            images.append(registration.warped_b)
            digests.append(None)
        maps = self.feature_maps(images, digests)
        features, placements, (canvas_w, canvas_h) = maps.features, maps.placements, maps.canvas
        fa, fb = features[0], features[1]
        place_a, place_b = placements[0], placements[1]
        score = cosine(fa[place_a.cells].mean(axis=0), fb[place_b.cells].mean(axis=0))
        best = best_match_distance(fa, fb, place_a.cells, place_b.cells)
        grid = f"{fa.shape[1]}x{fa.shape[0]}"
        dims = fa.shape[-1]
        warnings = []
        if self._weights is WeightsSource.RANDOM_INIT:
            warnings.append(
                f"{self.title} runs with random weights (test mode, ISC_CNN_RANDOM_INIT): the "
                f"score says nothing about the images' content."
            )
        extra_views = []
        if aligned:
            covered = cell_coverage(registration.coverage, place_a, fa.shape[:2])
            same = cellwise_distance(fa, features[2], place_a.cells & covered)
            extra_views.append(
                DifferenceView(
                    name="same_place",
                    title="Same place (aligned)",
                    description="Feature distance between A and B at the same place, after "
                    "registering B onto A: where the same scene changed.",
                    values=_over_a(same, place_a),
                    legend=HeatmapLegend(
                        low="blue: at this place both images show similar content",
                        high="red: at this place the content differs (features disagree)",
                        no_counterpart="grey: no counterpart in aligned B at this place",
                        scale=f"colour = 1 - cosine of the {dims}-dimensional feature vectors "
                        f"of A and aligned B at the same one of {grid} places, 0 (blue) to 1 "
                        f"(red)",
                    ),
                )
            )
        return Comparison(
            score=score,
            difference_map=_over_a(best, place_a),
            legend=HeatmapLegend(
                low="blue: what A shows here is also found somewhere in B",
                high="red: nothing in B looks like this part of A",
                no_counterpart="grey: outside the part of A the network saw",
                scale=f"colour = 1 - the best cosine between A's {dims}-dimensional feature "
                f"vector here and any of B's, over {grid} places, 0 (blue) to 1 (red)",
            ),
            preparation=(
                f"Each image was prepared on its own: scaled, keeping its aspect ratio, to fit a "
                f"{canvas_w}x{canvas_h} input shaped like image A, padded with the ImageNet mean "
                f"colour where it does not fill it; padding is left out of the embedding. "
                f"The {dims}-dimensional embedding is the average of {self.title}'s last "
                f"feature map ({grid} places)."
            ),
            identical_pixels=bool(np.array_equal(a.pixels, b.pixels)),
            warnings=warnings,
            alignment=registration.info if registration is not None else None,
            extra_views=extra_views,
            heatmap_max_side=CNN_HEATMAP_SIDE,
            cache_hits=maps.cache_hits,
            batch_size=maps.batch_size,
            model_ms=maps.forward_ms,
            precision=self.settings.cnn_precision,
        )


def _over_a(cells: np.ndarray, place_a: Placement) -> np.ndarray:
    """A per-place map, smoothed to canvas pixels and cut to where image A lies."""
    canvas_h, canvas_w = cells.shape[0] * STRIDE, cells.shape[1] * STRIDE
    upsampled = resize_masked(cells, canvas_h, canvas_w)
    return upsampled[
        place_a.top : place_a.top + place_a.height,
        place_a.left : place_a.left + place_a.width,
    ]


def cell_coverage(coverage: np.ndarray, place_a: Placement, grid: tuple[int, int]) -> np.ndarray:
    """Which feature cells of A's canvas are mostly covered by the warped B."""
    canvas = np.zeros((grid[0] * STRIDE, grid[1] * STRIDE), dtype=np.float32)
    fitted = cv2.resize(
        coverage.astype(np.float32), (place_a.width, place_a.height), interpolation=cv2.INTER_AREA
    )
    canvas[
        place_a.top : place_a.top + place_a.height, place_a.left : place_a.left + place_a.width
    ] = fitted
    return cv2.resize(canvas, (grid[1], grid[0]), interpolation=cv2.INTER_AREA) >= 0.5


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
