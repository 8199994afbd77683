"""The worker's own small HTTP app: it holds the models and does all pixel and model work."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import anyio.to_thread
from fastapi import FastAPI, File, Form, Response, UploadFile
from fastapi.responses import PlainTextResponse
from PIL import Image
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.formparsers import MultiPartParser

from shared.errors import ServiceError
from shared.http_errors import install_error_handlers
from shared.methods import MethodChoice
from shared.schemas import (
    CompareAllResult,
    CompareResult,
    MethodsResponse,
    MethodState,
    WorkerHealth,
)
from shared.settings import Settings, get_settings
from worker.methods.base import CompareOptions
from worker.metrics import WorkerMetrics
from worker.registry import Registry, build_registry
from worker.service import ComparisonService

log = logging.getLogger(__name__)


class ModelLoader:
    """Loads the CNNs once, in the background, so the worker answers (SSIM, health) at once."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
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
        self.done.set()


def create_app(settings: Settings | None = None) -> FastAPI:
    """The worker app; models start loading when the app starts."""
    settings = settings or get_settings()
    Image.MAX_IMAGE_PIXELS = settings.max_image_pixels
    MultiPartParser.spool_max_size = settings.max_upload_bytes + 1  # uploads stay in memory
    registry = build_registry(settings)
    service = ComparisonService(registry, settings)
    metrics = WorkerMetrics(registry, service)
    loader = ModelLoader(registry)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # At most this many comparisons compute at once; the gateway bounds the rest.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        loader.start()
        yield

    app = FastAPI(title="Image Similarity Checker - model worker", lifespan=lifespan)
    install_error_handlers(app)

    # Health, methods and metrics are async: they answer from the event loop even while every
    # compute thread is busy, so a busy worker is never mistaken for a wedged one.
    @app.get("/v1/health", response_model=WorkerHealth)
    async def health() -> WorkerHealth:
        statuses = registry.statuses()
        return WorkerHealth(
            state="ready" if loader.done.is_set() else "starting",
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

    @app.get("/v1/methods", response_model=MethodsResponse)
    async def methods() -> MethodsResponse:
        return MethodsResponse(methods=registry.statuses())

    @app.get("/v1/metrics")
    async def worker_metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/v1/compare", response_model=CompareResult | CompareAllResult)
    def compare(
        image_a: Annotated[UploadFile, File()],
        image_b: Annotated[UploadFile, File()],
        method: Annotated[MethodChoice, Form()],
        align: Annotated[bool | None, Form()] = None,
    ) -> Response:
        # A sync route: FastAPI runs it in a thread, so the event loop keeps answering /health.
        data_a, data_b = image_a.file.read(), image_b.file.read()
        try:
            result = service.compare(method.value, data_a, data_b, CompareOptions(align=align))
        except ServiceError as error:
            metrics.comparisons.labels(method.value, error.code.value).inc()
            raise
        metrics.comparisons.labels(method.value, "ok").inc()
        # Serialised once, by pydantic-core: results carry large heatmap strings.
        return Response(result.model_dump_json(), media_type="application/json")

    return app
