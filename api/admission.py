"""Access control and backpressure at the gateway's front door, decided before any body is read.

FastAPI parses a multipart form before it resolves a route's dependencies, so a check made there
comes after two whole uploads (up to ~40 MB) were received and parsed. ``FrontDoorMiddleware``
decides from the request line and headers alone: a missing or wrong key gets 401, a comparison
that is not ``multipart/form-data`` gets 400, a comparison over ``max_inflight`` gets 429 with
``Retry-After``, each before the body is asked for (uvicorn drops what the client still sends
without buffering it; a client that sent ``Expect: 100-continue`` never sends it). An admitted
comparison holds its slot until its answer is sent, so the limit bounds upload parsing as well
as the worker hop.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from dataclasses import dataclass

from fastapi import Security, params
from fastapi.security import APIKeyHeader
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.observability import GatewayMetrics
from shared.errors import ErrorCode, ServiceError
from shared.http_errors import error_json
from shared.settings import Settings

API_KEY_HEADER = "X-API-Key"
PROTECTED_PREFIX = "/api/v1/"
COMPARE_PATHS = frozenset({"/api/v1/compare", "/compare"})
"""The routes that forward a comparison to the worker: each one holds an in-flight slot."""

api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    scheme_name="APIKeyHeader",
    description="The API key, when the service is configured with one (ISC_API_KEY).",
)


def key_dependencies(settings: Settings) -> list[params.Depends]:
    """For the API routers: with a key configured, its scheme in the OpenAPI document (and
    Swagger's Authorize button); without one, nothing, since the routes are open. The check
    itself is ``FrontDoorMiddleware``'s: a dependency would run too late, after the body was
    parsed."""
    return [Security(api_key_scheme)] if settings.api_key else []


class Admission:
    """Counts comparisons in flight and refuses the ones over the limit."""

    def __init__(self, settings: Settings, metrics: GatewayMetrics) -> None:
        self.limit = max(1, settings.max_inflight)
        self.retry_after_s = settings.retry_after_s
        self.metrics = metrics
        self.inflight = 0

    def enter(self) -> None:
        """Take a slot or raise 429."""
        if self.inflight >= self.limit:
            self.metrics.rejected.labels("queue_full").inc()
            raise ServiceError(
                ErrorCode.TOO_MANY_REQUESTS,
                f"The service is busy: {self.limit} comparisons are already in progress. "
                f"Retry after {self.retry_after_s} s.",
                {"max_inflight": self.limit},
                headers={"Retry-After": str(self.retry_after_s)},
            )
        self.inflight += 1
        self.metrics.inflight.set(self.inflight)

    def leave(self) -> None:
        """Give the slot back."""
        self.inflight -= 1
        self.metrics.inflight.set(self.inflight)


def received_at(scope: Scope) -> float:
    """When the front door let this comparison in (``perf_counter``): the start of total_ms."""
    return float(scope.get("state", {}).get("received_at", time.perf_counter()))


def _require_multipart(headers: Headers) -> None:
    """A comparison's files come as multipart parts; anything else (JSON, say) would only get
    a puzzling 'image_a is required' once the framework found no form in it."""
    content_type = headers.get("content-type", "")
    if content_type.partition(";")[0].strip().lower() != "multipart/form-data":
        raise ServiceError(
            ErrorCode.MALFORMED_REQUEST,
            f"The body is {content_type or 'not typed'}: send multipart/form-data, with the "
            "images as file parts (e.g. curl -F image_a=@a.png -F image_b=@b.png -F method=ssim).",
            {"content_type": content_type or None},
        )


@dataclass(frozen=True)
class _RouteLabel:
    """Stands for the route in the request log and metrics of a comparison refused before
    routing (only the fixed comparison paths: never a client-chosen one, which would let
    clients create metric labels without end)."""

    path: str


class UploadDeadline:
    """Receives an admitted comparison's body within ``seconds``, or gives up on it.

    Once admitted, an upload holds an in-flight slot; uvicorn sets no deadline on receiving a
    body, so without one a client that sends slowly (or stops) would hold its slot for ever,
    and ``max_inflight`` such clients would shut everyone else out. When the deadline passes, the
    app's own answer (the framework's 'error parsing the body') is dropped and the front door
    answers 408 instead. After the last body chunk, receiving is no longer timed: the app may
    wait on it for the client's disconnect while it streams the answer.
    """

    def __init__(self, receive: Receive, send: Send, seconds: float) -> None:
        self._receive = receive
        self._send = send
        self.seconds = seconds
        self._deadline: float | None = None  # in the event loop's clock, from the first read
        self._body_done = False
        self.expired = False

    async def receive(self) -> Message:
        """The next message, or ``TimeoutError`` once the body is overdue."""
        if self._body_done:
            return await self._receive()
        if self._deadline is None:
            self._deadline = asyncio.get_running_loop().time() + self.seconds
        try:
            # A timer on this task, not a new task per chunk as wait_for would make.
            async with asyncio.timeout_at(self._deadline):
                message = await self._receive()
        except TimeoutError:
            self.expired = True
            raise
        if message["type"] != "http.request" or not message.get("more_body", False):
            self._body_done = True
        return message

    async def send(self, message: Message) -> None:
        """Pass the app's answer on, unless the upload ran out of time (408 replaces it)."""
        if not self.expired:
            await self._send(message)

    def error(self) -> ServiceError:
        """The answer to an upload that did not arrive in time."""
        return ServiceError(
            ErrorCode.UPLOAD_TIMEOUT,
            f"The request body did not arrive within {self.seconds:g} s; send it faster, or "
            "send smaller images.",
            {"timeout_s": self.seconds},
        )


class FrontDoorMiddleware:
    """ASGI middleware: API key, body type and in-flight slot, checked from the headers."""

    def __init__(
        self, app: ASGIApp, settings: Settings, admission: Admission, metrics: GatewayMetrics
    ) -> None:
        self.app = app
        self.api_key = settings.api_key.encode() if settings.api_key else None
        self.admission = admission
        self.metrics = metrics
        self.upload_timeout_s = settings.upload_timeout_s

    def _require_key(self, headers: Headers) -> None:
        if self.api_key is None:
            return
        sent = headers.get(API_KEY_HEADER)
        if sent is None or not hmac.compare_digest(sent.encode("latin-1"), self.api_key):
            self.metrics.rejected.labels("unauthorized").inc()
            raise ServiceError(
                ErrorCode.UNAUTHORIZED,
                f"This service requires an API key: send it in the {API_KEY_HEADER} header.",
                headers={"WWW-Authenticate": "ApiKey"},
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path.startswith(PROTECTED_PREFIX) or path == "/compare"):
            await self.app(scope, receive, send)
            return
        comparison = scope["method"] == "POST" and path in COMPARE_PATHS
        headers = Headers(scope=scope)
        try:
            self._require_key(headers)
            if comparison:
                _require_multipart(headers)
                self.admission.enter()
        except ServiceError as refusal:
            if comparison:
                scope["route"] = _RouteLabel(path)
            await error_json(refusal)(scope, receive, send)  # never calls receive
            return
        if not comparison:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["received_at"] = time.perf_counter()
        upload = UploadDeadline(receive, send, self.upload_timeout_s)
        try:
            await self.app(scope, upload.receive, upload.send)
        except Exception:
            if not upload.expired:
                raise
        finally:
            self.admission.leave()
        if upload.expired:
            await error_json(upload.error(), headers={"Connection": "close"})(scope, receive, send)
