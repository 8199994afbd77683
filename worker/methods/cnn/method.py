"""A CNN as a comparison method: its state, its score and maps, and the words around them.

Similarity is the cosine of the two images' canonical embeddings: each image is prepared and
embedded on its own (``embedding.CANONICAL``), so its embedding is the same whatever it is
compared with, and ``embed`` gives the same vector. The primary map shows, for each place in A,
how far the best-matching place anywhere in B is (it works when the subject moved);
with alignment, a second map compares the same place after registering B onto A. Everything a
client reads about a CNN (why it is unavailable, legends, warnings) is written here; the server
log gets the details (paths, exceptions) from where they happen.
"""

from __future__ import annotations

import logging

import numpy as np

from shared.errors import ErrorCode, ServiceError
from shared.methods import METHOD_INFO
from shared.schemas import HeatmapLegend, MethodState, PrecisionReport, WeightsSource
from shared.settings import Settings
from worker.alignment import register
from worker.batcher import BatcherStopped, DynamicBatcher
from worker.cache import ByteBoundedLRU
from worker.decode import DecodedImage
from worker.methods.base import Availability, CompareOptions, Comparison, DifferenceView
from worker.methods.cnn.features import best_match_distance, cellwise_distance, cosine
from worker.methods.cnn.precision import TuningStore, fallback_report
from worker.methods.cnn.runtime import CachedFeatures, CnnRuntime, FeatureMaps, ModelTimeout
from worker.methods.cnn.specs import CnnSpec
from worker.methods.cnn.weights import WeightsMissingError
from worker.transparency import background_note

log = logging.getLogger(__name__)

CNN_HEATMAP_SIDE = 512  # a map of a few dozen places gains nothing from more pixels


class CnnMethod:
    """One ImageNet CNN, loaded once and kept in memory; thread-safe after ``load``."""

    def __init__(
        self,
        spec: CnnSpec,
        settings: Settings,
        cache: ByteBoundedLRU[CachedFeatures] | None = None,
    ) -> None:
        self.name = spec.name
        self.spec = spec
        self.settings = settings
        self.runtime = CnnRuntime(spec, settings, cache)
        # Enough for the heatmap and for the input the network sees.
        self.decode_side: int | None = max(
            CNN_HEATMAP_SIDE, self.runtime.recipe.preparation.widest_input_side()
        )
        self._state = MethodState.LOADING
        self._reason: str | None = "loading the model"
        self._weights = WeightsSource.NONE
        self._calibration_key: str | None = None

    @property
    def title(self) -> str:
        """The network's display name."""
        return METHOD_INFO[self.name].title

    @property
    def batcher(self) -> DynamicBatcher | None:
        """The model's dynamic batcher, once loaded (metrics read its statistics)."""
        return self.runtime.batcher

    @property
    def compute_dtype(self) -> str | None:
        """The arithmetic the loaded network uses (float32 or bfloat16)."""
        return self.runtime.compute_dtype

    @property
    def precision_report(self) -> PrecisionReport | None:
        """The arithmetic in use and how it was chosen; None while it cannot run."""
        return self.runtime.report if self._state is MethodState.READY else None

    def tune(self, store: TuningStore) -> None:
        """Measure this machine's faster agreeing precision and best batch size and switch to
        them (``CnnRuntime.tune``). Never raises: a failure keeps float32, says so, is logged."""
        if self._state is not MethodState.READY:
            return
        try:
            self.runtime.tune(store)
        except Exception as exc:
            log.exception("%s: measuring the precisions failed; float32 stays", self.name)
            self.runtime.report = fallback_report(
                self.runtime.report.batch_size, type(exc).__name__, self.runtime.device
            )

    def forward(self, batch: np.ndarray) -> np.ndarray:
        """The bare compiled forward pass (no batcher, no cache): for benchmarks and tests."""
        return self.runtime.forward(batch)

    def availability(self) -> Availability:
        """Loading, ready, or unavailable with what to do about it.

        A loaded model whose batcher has stopped is unavailable: requests fail at once with the
        reason instead of each waiting for the timeout.
        """
        if self._state is MethodState.READY and not self.runtime.running:
            return Availability(
                MethodState.UNAVAILABLE,
                f"{self.title} has stopped working (the server log says why); restarting the "
                f"service brings it back.",
                self._weights,
                self._calibration_key,
            )
        return Availability(self._state, self._reason, self._weights, self._calibration_key)

    def load(self) -> None:
        """Build the network with its weights, compile the forward pass and warm it up.

        Never raises: a failure leaves the method unavailable with a reason fit for clients.
        """
        try:
            network = self.runtime.load()
        except WeightsMissingError as exc:
            log.warning("%s unavailable: %s", self.name, exc)
            self._fail(exc.reason)
        except Exception:
            log.exception("%s could not be loaded", self.name)
            self._fail(f"{self.title} could not be loaded (the server log says why).")
        else:
            self._weights = network.weights
            self._calibration_key = network.calibration_key
            self._state = MethodState.READY
            self._reason = None

    def _fail(self, reason: str) -> None:
        self._state = MethodState.UNAVAILABLE
        self._reason = reason

    def close(self) -> None:
        """Stop the model's batcher; the method then reports itself unavailable."""
        self.runtime.close()

    def feature_maps(self, images: list[np.ndarray], digests: list[str | None]) -> FeatureMaps:
        """Feature maps of ``images`` (see ``CnnRuntime.feature_maps``), or the reason why not
        as a ``ServiceError``: a model still loading is worth retrying, a missing one is not."""
        availability = self.availability()
        if availability.state is not MethodState.READY:
            raise availability.refusal(self.name, self.settings.retry_after_s)
        try:
            return self.runtime.feature_maps(images, digests)
        except ModelTimeout as exc:
            raise ServiceError(
                ErrorCode.MODEL_TIMEOUT,
                f"{self.title} did not answer within {self.settings.worker_timeout_s:g} s; "
                f"the service is overloaded. Try again later.",
                {"method": str(self.name)},
            ) from exc
        except BatcherStopped as exc:
            raise ServiceError(
                ErrorCode.METHOD_UNAVAILABLE,
                self.availability().reason or f"{self.title} has stopped.",
                {"method": str(self.name), "state": str(MethodState.UNAVAILABLE)},
            ) from exc

    def embed(self, image: DecodedImage) -> np.ndarray:
        """The image's canonical embedding (unit length): the vector ``compare`` uses, served
        from the embedding cache when the image was seen before, in any pair."""
        return self.embed_many([image])[0]

    def embed_many(self, images: list[DecodedImage]) -> list[np.ndarray]:
        """Each image's canonical embedding, the images submitted to the batcher together, so
        that they share forward passes (with each other and with concurrent requests)."""
        return self.feature_maps([i.pixels for i in images], [i.digest for i in images]).embeddings

    def compare(self, a: DecodedImage, b: DecodedImage, options: CompareOptions) -> Comparison:
        """Cosine of the canonical embeddings. Primary map: for each place in A, the distance to
        the best-matching place anywhere in B (works when the subject moved). Second view: the
        distance at the same place, after registering B onto A when alignment is asked for."""
        shared = options.registration
        registration = None
        if options.align:
            registration = (
                shared.register(a.pixels, b.pixels)
                if shared is not None
                else register(a.pixels, b.pixels)
            )
        images = [a.pixels, b.pixels]
        digests: list[str | None] = [a.digest, b.digest]
        warped_b = registration.warped_b if registration is not None else None
        coverage = registration.coverage if registration is not None else None
        if warped_b is not None:
            images.append(warped_b)
            digests.append(None)
        maps = self.feature_maps(images, digests)
        features, placements = maps.features, maps.placements
        fa, fb = features[0], features[1]
        place_a, place_b = placements[0], placements[1]
        preparation = self.runtime.recipe.preparation
        score = cosine(maps.embeddings[0], maps.embeddings[1])
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
        if warped_b is not None and coverage is not None:
            covered = preparation.project(coverage.astype(np.float32))
            same = cellwise_distance(fa, features[2], place_a.cells & covered)
            extra_views.append(
                DifferenceView(
                    name="same_place",
                    title="Same place (aligned)",
                    description="Feature distance between A and B at the same place, after "
                    "registering B onto A: where the same scene changed.",
                    values=preparation.over_image(same, place_a),
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
            difference_map=preparation.over_image(best, place_a),
            legend=HeatmapLegend(
                low="blue: what A shows here is also found somewhere in B",
                high="red: nothing in B looks like this part of A",
                no_counterpart="grey: outside the part of A the network saw",
                scale=f"colour = 1 - the best cosine between A's {dims}-dimensional feature "
                f"vector here and any of B's, over {grid} places, 0 (blue) to 1 (red)",
            ),
            preparation=self._preparation_text(dims, grid) + background_note(a, b),
            warnings=warnings,
            alignment=registration.info if registration is not None else None,
            extra_views=extra_views,
            heatmap_max_side=CNN_HEATMAP_SIDE,
            cache_hits=maps.cache_hits,
            batch_size=maps.batch_size,
            model_ms=maps.forward_ms,
            precision=maps.precision,
            device=self.runtime.device,
        )

    def _preparation_text(self, dims: int, grid: str) -> str:
        recipe = self.runtime.recipe
        side = recipe.preparation.side
        steps = {
            "plain": f"resized to {side}x{side} (aspect ratio ignored)",
            "crop": f"scaled so that its short side is {side} pixels, then its centre "
            f"{side}x{side} square kept (the rest of the image is not seen: grey in the map)",
            "fit": f"scaled, keeping its aspect ratio, to fit {side}x{side}, padded with the "
            f"ImageNet mean colour, padding left out of the embedding",
            "aspect": f"scaled, keeping its aspect ratio, to an input shaped like itself of "
            f"about {side}x{side} pixels",
        }
        pooling = {
            "avg": "average",
            "gem": "generalized mean (p=3)",
            "max": "maximum",
        }[recipe.pooling]
        return (
            f"Each image was prepared on its own, the same whatever it is compared with: "
            f"{steps[recipe.preparation.kind]}. Its {dims}-dimensional embedding is the "
            f"{pooling} of {self.title}'s last feature map ({grid} places); the score is the "
            f"cosine of the two embeddings."
        )
