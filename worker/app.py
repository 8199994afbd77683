"""The worker's own small HTTP app: it holds the models and does all pixel and model work."""

from __future__ import annotations

import gc
import itertools
import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.body_limit import BodySizeLimitMiddleware
from shared.collections import Embedding, EmbeddingBatch, EmbeddingModel, EmbeddingOutcome
from shared.errors import ErrorCode, ServiceError
from shared.http_errors import install_error_handlers
from shared.ignore_regions import parse_ignore_regions
from shared.methods import MethodChoice, MethodName
from shared.schemas import (
    CompareAllResult,
    CompareResult,
    HeatmapFormat,
    MethodsResponse,
    MethodState,
    ProbeResponse,
    WorkerHealth,
    WorkerState,
)
from shared.settings import Settings, get_settings
from worker.embedder import Embedder
from worker.methods.base import CompareOptions
from worker.methods.cnn.precision import TuningStore
from worker.observability import WorkerMetrics
from worker.pair_runner import usable_cores
from worker.pixel_processes import start_pixel_processes
from worker.registry import Registry, build_registry
from worker.service import ComparisonService

log = logging.getLogger(__name__)


class ModelLoader:
    """Loads the CNNs once, in the background, so the worker answers (SSIM, health) at once."""

    def __init__(self, registry: Registry, tuning_file: Path | None = None) -> None:
        self.registry = registry
        self.tuning_file = tuning_file
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="model-loader", daemon=True)

    def start(self) -> None:
        """Begin loading; returns immediately."""
        self._thread.start()

    def _run(self) -> None:
        for cnn in self.registry.cnns:
            log.info("loading %s", cnn.name)
            cnn.load()
            log.info("%s: %s", cnn.name, cnn.availability().state)
        # TensorFlow and the models leave some 400,000 objects behind that live as long as the
        # process. Frozen, the collector never walks them again: a full collection over them
        # took 210 ms, a pause every request in flight would have felt.
        gc.collect()
        gc.freeze()
        self.done.set()
        # Ready in float32; now, in the background, each CNN's faster agreeing precision.
        store = TuningStore(self.tuning_file)
        for cnn in self.registry.cnns:
            cnn.tune(store)
        gc.collect()
        gc.freeze()  # the bfloat16 copies, as above


def create_app(settings: Settings | None = None) -> FastAPI:
    """The worker app; models start loading when the app starts."""
    settings = settings or get_settings()  # process-wide tuning: worker.process.configure_process
    registry = build_registry(settings)
    pixel_processes = start_pixel_processes(settings)
    processes = pixel_processes.count if pixel_processes is not None else 0
    service = ComparisonService(
        registry, settings, pixel_processes.compute if pixel_processes is not None else None
    )
    metrics = WorkerMetrics(registry, service)
    loader = ModelLoader(registry, settings.cnn_tuning_file)
    embedder = Embedder(registry, settings)
    # Comparisons without a CNN are CPU work from start to end: one per pixel process, or in
    # this process's threads no more at once than there are cores, since more only contend
    # (measured in process: 8 threads 62 req/s, 2 to 4 threads 72 to 75). CNN comparisons keep
    # the wide limit: they wait for a batch, and batches want company.
    pixel_limiter = anyio.CapacityLimiter(
        processes or settings.pixel_threads or len(usable_cores())
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # At most this many comparisons compute at once; the gateway bounds the rest.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        if pixel_processes is not None:
            pixel_processes.warm()
        loader.start()
        yield
        for cnn in registry.cnns:  # requests still queued get an error rather than a hang
            cnn.close()
        if pixel_processes is not None:
            pixel_processes.close()

    app = FastAPI(title="Image Similarity Checker - model worker", lifespan=lifespan)
    install_error_handlers(app)
    # The gateway checks every upload; the worker still refuses what no gateway would send.
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=settings.worker_body_bytes())

    # Health, methods and metrics are async: they answer from the event loop even while every
    # compute thread is busy, so a busy worker is never mistaken for a wedged one.
    @app.get("/v1/health", response_model=WorkerHealth)
    async def health() -> WorkerHealth:
        statuses = registry.statuses()
        return WorkerHealth(
            state=WorkerState.READY if loader.done.is_set() else WorkerState.STARTING,
            pid=os.getpid(),
            models_loaded=[
                cnn.name for cnn in registry.cnns if cnn.availability().state is MethodState.READY
            ],
            models_unavailable={
                str(status.name): status.reason or ""
                for status in statuses
                if status.state is MethodState.UNAVAILABLE
            },
            methods=statuses,
        )

    @app.get("/v1/health/ready", response_model=ProbeResponse)
    async def ready() -> ProbeResponse:
        """200 once start-up has finished (models loaded or found missing), 503 before: what
        a container healthcheck of a worker run on its own waits for."""
        if not loader.done.is_set():
            raise ServiceError(
                ErrorCode.WORKER_UNAVAILABLE,
                "Not ready: the model worker is still loading its models.",
                {"worker_state": WorkerState.STARTING},
                headers={"Retry-After": str(settings.retry_after_s)},
            )
        return ProbeResponse(status="ready")

    @app.get("/v1/methods", response_model=MethodsResponse)
    async def methods() -> MethodsResponse:
        return MethodsResponse(methods=registry.statuses())

    @app.get("/v1/metrics")
    async def worker_metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/v1/compare", response_model=CompareResult | CompareAllResult)
    async def compare(
        request: Request,
        method: Annotated[MethodChoice, Query()],
        image_a_bytes: Annotated[int, Query(ge=0, description="Length of A at the body's start.")],
        align: Annotated[bool | None, Query()] = None,
        heatmap_format: Annotated[HeatmapFormat | None, Query()] = None,
        difference_map: Annotated[bool, Query()] = False,
        threshold: Annotated[float | None, Query(ge=0, le=200)] = None,
        antialiasing: Annotated[bool | None, Query()] = None,
        ignore_regions: Annotated[str | None, Query()] = None,
        max_changed_pixels: Annotated[int | None, Query(ge=0)] = None,
        max_changed_percent: Annotated[float | None, Query(ge=0, le=100)] = None,
        diff_image: Annotated[bool, Query()] = False,
    ) -> Response:
        """Both files arrive as one raw body, A then B: the gateway has checked them already,
        and a multipart body would only be encoded there and parsed again here."""
        body = await request.body()  # bounded by BodySizeLimitMiddleware
        if image_a_bytes > len(body):
            raise ServiceError(
                ErrorCode.MALFORMED_REQUEST,
                f"image_a_bytes={image_a_bytes} is longer than the body ({len(body)} bytes).",
            )
        options = CompareOptions(
            align=align,
            heatmap_format=heatmap_format or settings.heatmap_format,
            difference_map=difference_map,
            threshold=threshold,
            antialiasing=antialiasing,
            ignore_regions=_ignore_regions(ignore_regions),
            max_changed_pixels=max_changed_pixels,
            max_changed_percent=max_changed_percent,
            diff_image=diff_image,
        )
        try:
            # In a worker thread (at most worker_threads at once, pixel_threads for methods
            # without a CNN): the event loop keeps answering /health while they are busy.
            encoded = await anyio.to_thread.run_sync(
                compare_json,
                method.value,
                body,
                image_a_bytes,
                options,
                limiter=None if registry.needs_a_cnn(method.value) else pixel_limiter,
            )
        except ServiceError as error:
            metrics.comparisons.labels(method.value, error.code.value).inc()
            raise
        metrics.comparisons.labels(method.value, "ok").inc()
        return Response(encoded, media_type="application/json")

    @app.get("/v1/embed/{method}", response_model=EmbeddingModel)
    async def embedding_model(method: MethodName) -> EmbeddingModel:
        """What the CNN's vectors are (length, weights, calibrated near-duplicate bound)."""
        return await anyio.to_thread.run_sync(embedder.model, method)

    @app.post("/v1/embed/{method}", response_model=Embedding)
    async def embed(
        method: MethodName, request: Request, thumbnail: Annotated[bool, Query()] = False
    ) -> Embedding:
        """One image as the raw body (checked by the gateway) -> its canonical embedding."""
        body = await request.body()  # bounded by BodySizeLimitMiddleware
        return await anyio.to_thread.run_sync(embedder.embed, method, body, thumbnail)

    @app.post("/v1/embed/{method}/many", response_model=EmbeddingBatch)
    async def embed_many(
        method: MethodName,
        request: Request,
        sizes: Annotated[str, Query(pattern=r"^\d+(,\d+)*$")],
        thumbnail: Annotated[bool, Query()] = False,
    ) -> EmbeddingBatch:
        """Several images as one raw body, one after the other, their lengths in ``sizes``:
        one hop for all the files of a collection's add, and one submission to the batcher, so
        that they share forward passes. Each file gets its embedding or its own error."""
        body = await request.body()  # bounded by BodySizeLimitMiddleware
        lengths = [int(size) for size in sizes.split(",")]
        if sum(lengths) != len(body):
            raise ServiceError(
                ErrorCode.MALFORMED_REQUEST,
                f"sizes add up to {sum(lengths)} bytes; the body has {len(body)}.",
            )
        offsets = [0, *itertools.accumulate(lengths)]
        files = [body[start:end] for start, end in itertools.pairwise(offsets)]
        outcomes = await anyio.to_thread.run_sync(embedder.embed_many, method, files, thumbnail)
        return EmbeddingBatch(
            outcomes=[
                EmbeddingOutcome(error=outcome.to_response().error)
                if isinstance(outcome, ServiceError)
                else EmbeddingOutcome(embedding=outcome)
                for outcome in outcomes
            ]
        )

    def compare_json(choice: str, body: bytes, split: int, options: CompareOptions) -> bytes:
        # Split (two copies of up to 20 MB) and serialised once, by pydantic-core, in the
        # compute thread. ``timings.total_ms`` stays null: the gateway writes its time there,
        # finding the placeholder in the answer's tail (timings is the last field).
        data_a, data_b = body[:split], body[split:]
        return service.compare(choice, data_a, data_b, options).model_dump_json().encode()

    return app


def _ignore_regions(text: str | None) -> tuple[tuple[int, int, int, int], ...]:
    """The rectangles, or a 422 naming the field (the gateway checks first; this is for a
    worker called directly)."""
    try:
        return parse_ignore_regions(text)
    except ValueError as error:
        raise ServiceError(
            ErrorCode.VALIDATION_ERROR, str(error), {"field": "ignore_regions"}
        ) from None
