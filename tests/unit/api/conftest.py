"""The gateway in process, with an ``httpx.MockTransport`` playing the worker's HTTP protocol
(see worker/app.py ``/v1/compare``): no worker process, no TensorFlow."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import generate_latest

from api.app import create_app
from api.dependencies import get_supervisor, get_worker
from api.worker_client import WorkerClient
from api.worker_pool import WorkerPool
from shared.methods import METHOD_INFO, MethodName
from shared.schemas import (
    CombinedVerdict,
    CompareAllResult,
    CompareAllTimings,
    CompareResult,
    HeatmapLegend,
    ImageInfo,
    MethodsResponse,
    Timings,
    Verdict,
)
from shared.settings import Settings
from tests.support.coroutines import run_coroutine  # noqa: F401 (used by the tests)
from tests.support.images import jpeg, png

WORKER_URL = "http://worker.test"
MAX_UPLOAD_BYTES = 200_000
GOOD_A = jpeg(np.full((40, 60, 3), 120, np.uint8))
GOOD_B = png(np.full((30, 50, 3), 200, np.uint8))
HEATMAP = "data:image/png;base64," + "A" * 50_000  # big enough to be the body's bulk


def compare_result(method: str, worker_ms: float = 12.5, score: float = 0.75) -> CompareResult:
    """A worker answer made with the real contract models, so its field order is the real one."""
    name = MethodName(method)
    info = ImageInfo(width=60, height=40, format="JPEG", mode="RGB", bytes=len(GOOD_A))
    return CompareResult(
        method=name,
        family=METHOD_INFO[name].family,
        score=score,
        similarity_percent=round(max(0.0, min(1.0, score)) * 100, 2),
        verdict=Verdict.RELATED,
        verdict_label="related content",
        calibrated=True,
        explanation="Made up by the fake worker of the gateway's unit tests.",
        heatmap=HEATMAP,
        heatmap_legend=HeatmapLegend(low="blue", high="red", no_counterpart="grey", scale="0..1"),
        image_a=info,
        image_b=info,
        preparation="none",
        timings=Timings(decode_ms=1.0, compute_ms=2.0, heatmap_ms=3.0, worker_ms=worker_ms),
    )


def compare_all_result(worker_ms: float = 42.0) -> CompareAllResult:
    results = [compare_result(name, worker_ms=7.0) for name in ("ssim", "pixel")]
    info = results[0].image_a
    return CompareAllResult(
        summary="All the same.",
        combined=CombinedVerdict(
            verdict=Verdict.UNCALIBRATED, calibrated=False, reason="Made up by the fake worker."
        ),
        results=results,
        image_a=info,
        image_b=info,
        timings=CompareAllTimings(decode_ms=1.0, worker_ms=worker_ms),
    )


Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


@dataclass
class FakeWorker(httpx.AsyncBaseTransport):
    """An httpx transport that plays the worker: answers ``/v1/compare`` with a real-shaped
    result and records each request with the chunks its body came in.

    ``reply`` replaces the compare answer (an error, a timeout...) when a test sets it."""

    requests: list[httpx.Request] = field(default_factory=list)
    chunks: list[list[bytes]] = field(default_factory=list)
    reply: Handler | None = None
    answers: list[bytes] = field(default_factory=list)

    @property
    def bodies(self) -> list[bytes]:
        return [b"".join(chunks) for chunks in self.chunks]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.chunks.append([bytes(chunk) async for chunk in request.stream])  # type: ignore[union-attr]
        if request.url.path == "/v1/methods":
            return httpx.Response(200, content=MethodsResponse(methods=[]).model_dump_json())
        if request.url.path != "/v1/compare":
            return httpx.Response(404, json={"detail": "not in the fake"})
        if self.reply is not None:
            return await self.reply(request)
        method = request.url.params["method"]
        result = compare_all_result() if method == "all" else compare_result(method)
        # Spaces after separators, as a JSON writer other than pydantic-core might leave: a
        # gateway that parsed and re-serialised the answer would lose them.
        body = json.dumps(result.model_dump(mode="json")).encode()
        self.answers.append(body)
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})


@dataclass
class ReachableWorker:
    """The supervisor's part that the worker client reads: a worker that is there."""

    url: str = WORKER_URL
    reachable: bool = True
    state: str = "ready"
    error: str | None = None
    in_flight: int = 0
    forwarded: int = 0

    def pick(self, exclude: Iterable[object] = ()) -> ReachableWorker | None:
        """Itself while reachable and not tried yet (a pool of one)."""
        return self if self.reachable and self not in exclude else None

    def mark_unreachable(self, why: str) -> None:
        """Ignored: the tests set ``reachable`` themselves."""


@dataclass
class Gateway:
    app: FastAPI
    client: TestClient
    worker: FakeWorker
    locator: ReachableWorker


def build_gateway(**settings: Any) -> Gateway:
    """The real gateway app around a fake worker; the lifespan (which would supervise a real
    worker) is not run: the routes get the worker client through ``dependency_overrides``, and
    /health a supervisor that was never started."""
    config = Settings(worker_url=WORKER_URL, max_upload_bytes=MAX_UPLOAD_BYTES, **settings)
    app = create_app(config)
    fake = FakeWorker()
    locator = ReachableWorker()
    worker = WorkerClient(config, locator, transport=fake)

    async def the_worker() -> WorkerClient:
        return worker

    supervisor = WorkerPool(config)

    async def the_supervisor() -> WorkerPool:
        return supervisor

    app.dependency_overrides[get_worker] = the_worker
    app.dependency_overrides[get_supervisor] = the_supervisor
    return Gateway(app, TestClient(app, raise_server_exceptions=False), fake, locator)


def metrics_text(gateway: Gateway) -> str:
    """The gateway's own Prometheus metrics."""
    return generate_latest(gateway.app.state.metrics.registry).decode()


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    built = build_gateway()
    yield built
    built.client.close()


def post_pair(
    gateway: Gateway, method: str = "ssim", a: bytes = GOOD_A, b: bytes = GOOD_B, **kwargs: Any
) -> httpx.Response:
    data = {"method": method, **kwargs.pop("data", {})}
    return gateway.client.post(
        "/api/v1/compare", files={"image_a": ("a", a), "image_b": ("b", b)}, data=data, **kwargs
    )


@dataclass
class RawAnswer:
    """What an ASGI app sent, and whether it ever asked for the request body."""

    status: int
    headers: dict[str, str]
    body: bytes
    body_read: bool


def http_scope(path: str, headers: dict[str, str], method: str = "POST") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(key.lower().encode(), value.encode()) for key, value in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def call_asgi(
    app: FastAPI,
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]] | None = None,
) -> RawAnswer:
    """Call the app as a server would; by default the client never sends a body byte."""
    sent: list[dict[str, Any]] = []
    read = False

    async def never_sends() -> dict[str, Any]:
        nonlocal read
        read = True
        await asyncio.Event().wait()  # a client still uploading
        raise AssertionError("unreachable")

    async def counting(message_source=receive) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        nonlocal read
        read = True
        assert message_source is not None
        return await message_source()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope, counting if receive else never_sends, send), timeout=10)
    start = next(message for message in sent if message["type"] == "http.response.start")
    body = b"".join(
        bytes(message.get("body", b""))
        for message in sent
        if message["type"] == "http.response.body"
    )
    headers = {key.decode().lower(): value.decode() for key, value in start["headers"]}
    return RawAnswer(start["status"], headers, body, read)
