"""The gateway: an async FastAPI app that checks uploads and forwards them to the worker."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from api.admission import Admission, FrontDoorMiddleware, key_dependencies
from api.collections.store import CollectionStore
from api.docs import api_description, install_docs
from api.observability import GatewayMetrics, ObservabilityMiddleware
from api.routes import collections, compare, embed, legacy, meta
from api.uploads import max_body_bytes
from api.worker_client import WorkerClient
from api.worker_pool import WorkerPool
from shared.body_limit import BodySizeLimitMiddleware
from shared.http_errors import install_error_handlers
from shared.settings import Settings, get_settings

DESCRIPTION = api_description()

DEFAULT_WEB_DIR = Path(__file__).resolve().parents[1] / "web"


class RevalidatedStaticFiles(StaticFiles):
    """The page's files, which a browser must check again before each use (a cheap 304 when
    unchanged): the page is a set of ES modules, and after an upgrade a browser that kept some
    of them from its heuristic cache would run old modules against new ones."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


def create_app(settings: Settings | None = None) -> FastAPI:
    """The gateway app; its lifespan starts (or finds) the worker and stops it at the end."""
    settings = settings or get_settings()  # process-wide tuning: api.process.configure_process
    metrics = GatewayMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        supervisor = WorkerPool(settings)
        worker = WorkerClient(settings, supervisor)
        app.state.supervisor = supervisor
        app.state.worker = worker
        await supervisor.start()
        # What exists now lives as long as the process; frozen, the collector never walks it
        # again (a full collection over it took 19 ms, a pause for every request in flight).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await supervisor.stop()
            await worker.aclose()
            app.state.collections.close()

    app = FastAPI(
        title="Image Similarity Checker",
        description=DESCRIPTION,
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, with its assets from here rather than a CDN
        redoc_url=None,  # no ReDoc: its script would come from a CDN too
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.admission = Admission(settings, metrics)
    app.state.collections = CollectionStore(settings)  # opened on first use
    install_error_handlers(app)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_body_bytes=max_body_bytes(settings),
    )
    # Outside the size limit, inside CORS and the request log: key, body type and in-flight
    # slot are checked from the headers, before anything reads the body.
    app.add_middleware(
        FrontDoorMiddleware, settings=settings, admission=app.state.admission, metrics=metrics
    )
    if settings.cors_origin_list():
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list(),
            allow_methods=["GET", "POST"],
            allow_headers=["X-API-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After", "Server-Timing"],
        )
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)
    keyed = key_dependencies(settings)  # the key in the OpenAPI document, when one is set
    app.include_router(compare.router, dependencies=keyed)
    app.include_router(legacy.router, dependencies=keyed)
    app.include_router(collections.router, dependencies=keyed)
    app.include_router(embed.router, dependencies=keyed)
    app.include_router(meta.router)
    app.include_router(meta.methods_router, dependencies=keyed)
    install_docs(app)

    web_dir = settings.web_dir or DEFAULT_WEB_DIR
    app.mount("/static", RevalidatedStaticFiles(directory=web_dir), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(web_dir / "index.html", headers={"Cache-Control": "no-cache"})

    return app
