"""One image's canonical CNN embedding, for the gateway's collections.

The worker stays stateless: it decodes and embeds, and says which weights the vector came from
and what its calibrated near-duplicate threshold is; storing and searching vectors is the
gateway's (``api/collections``). The vector is the one ``compare`` uses (``CnnMethod.embed``), so a
collection's scores are the pairwise CNN scores and the same calibrated thresholds apply.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from shared.collections import Embedding, EmbeddingModel, VerdictBound, embeddable_methods
from shared.errors import ErrorCode, ServiceError
from shared.methods import MethodName
from shared.schemas import HeatmapFormat, MethodState, Verdict
from shared.settings import Settings
from worker.decode import DecodedImage, decode_image, digest_of
from worker.heatmap import data_url, output_size
from worker.methods.cnn import CnnMethod
from worker.registry import Registry
from worker.verdict import thresholds_for

THUMBNAIL_SIDE = 256
"""Longest side of a stored thumbnail: enough to recognise an image in a grid of hits."""


def thumbnail(image: DecodedImage) -> str:
    """A JPEG data URL of the decoded image, its longest side at most ``THUMBNAIL_SIDE``."""
    height, width = output_size(image.pixels.shape[0], image.pixels.shape[1], THUMBNAIL_SIDE)
    small = cv2.resize(image.pixels, (width, height), interpolation=cv2.INTER_AREA)
    return data_url(small, HeatmapFormat.JPEG)


class Embedder:
    """Embeds images with the registry's CNNs."""

    def __init__(self, registry: Registry, settings: Settings) -> None:
        self.registry = registry
        self.settings = settings
        self._dimensions: dict[MethodName, int] = {}
        self._lock = threading.Lock()

    def _ready_cnn(self, method: MethodName) -> CnnMethod:
        if method not in embeddable_methods():
            raise ServiceError(
                ErrorCode.VALIDATION_ERROR,
                f"{method} gives no embedding; use one of {', '.join(embeddable_methods())}.",
                {"field": "method"},
            )
        availability = self.registry.availability(method)
        cnn = next((cnn for cnn in self.registry.cnns if cnn.name == method), None)
        if cnn is None or availability.state is not MethodState.READY:
            raise availability.refusal(method, self.settings.retry_after_s)
        return cnn

    def model(self, method: MethodName) -> EmbeddingModel:
        """What ``method``'s vectors are: length, weights, calibrated near-duplicate bound."""
        cnn = self._ready_cnn(method)
        with self._lock:
            dimensions = self._dimensions.get(method)
        if dimensions is None:
            # The length follows from the network; one small forward pass reads it, once.
            probe = DecodedImage.from_pixels(np.full((32, 32, 3), 128, np.uint8))
            dimensions = int(cnn.embed(probe).shape[0])
            with self._lock:
                self._dimensions[method] = dimensions
        key = cnn.availability().calibration_key
        return EmbeddingModel(
            method=method,
            dimensions=dimensions,
            weights_key=key,
            near_duplicate_threshold=_near_duplicate_bound(key),
            **_verdicts(key),
        )

    def embed(self, method: MethodName, data: bytes, with_thumbnail: bool = False) -> Embedding:
        """Decode ``data`` and embed it (and make its thumbnail when asked); ``ServiceError``
        for a file that is no sound image."""
        (outcome,) = self.embed_many(method, [data], with_thumbnail)
        if isinstance(outcome, ServiceError):
            raise outcome
        return outcome

    def embed_many(
        self, method: MethodName, files: list[bytes], with_thumbnail: bool = False
    ) -> list[Embedding | ServiceError]:
        """Each file's embedding, or the ``ServiceError`` that says why the file is no sound
        image: one bad file never costs the others theirs. The decoded images go to the network
        together, so that they share forward passes. What fails for all of them (the network
        not ready, a forward pass that failed or timed out) raises."""
        cnn = self._ready_cnn(method)
        decoded = [self._decoded(cnn, data) for data in files]
        images = [item for item in decoded if isinstance(item, DecodedImage)]
        vectors = iter(cnn.embed_many(images) if images else [])
        key = cnn.availability().calibration_key
        model = {
            "method": method,
            "weights_key": key,
            "near_duplicate_threshold": _near_duplicate_bound(key),
            **_verdicts(key),
        }
        outcomes = [
            item
            if isinstance(item, ServiceError)
            else _embedding(model, item, next(vectors), with_thumbnail)
            for item in decoded
        ]
        embedded = [outcome for outcome in outcomes if isinstance(outcome, Embedding)]
        if embedded:
            with self._lock:
                self._dimensions[method] = embedded[0].dimensions
        return outcomes

    def _decoded(self, cnn: CnnMethod, data: bytes) -> DecodedImage | ServiceError:
        """The file decoded as far as ``cnn`` needs, or why it cannot be."""
        try:
            return decode_image(
                data,
                "image",
                self.settings.max_image_pixels,
                enough_side=cnn.decode_side,
                digest=digest_of(data),
            )
        except ServiceError as error:
            return error


def _embedding(
    model: dict[str, object], image: DecodedImage, vector: np.ndarray, with_thumbnail: bool
) -> Embedding:
    """One image's answer: its vector and size beside what the network's vectors are."""
    return Embedding(
        **model,
        dimensions=int(vector.shape[0]),
        vector=vector.astype(np.float64).tolist(),
        width=image.info.width,
        height=image.info.height,
        thumbnail=thumbnail(image) if with_thumbnail else None,
    )


def _verdicts(calibration_key: str | None) -> dict[str, object]:
    """The calibrated bounds as ``EmbeddingModel`` fields (none when uncalibrated)."""
    thresholds = thresholds_for(calibration_key)
    if thresholds is None:
        return {}
    return {
        "verdict_bounds": [VerdictBound(verdict=v, score=b) for v, b in thresholds.bounds],
        "lowest_verdict": thresholds.lowest,
    }


def _near_duplicate_bound(calibration_key: str | None) -> float | None:
    thresholds = thresholds_for(calibration_key)
    if thresholds is None:
        return None
    return next(
        (bound for verdict, bound in thresholds.bounds if verdict is Verdict.NEAR_DUPLICATE), None
    )
