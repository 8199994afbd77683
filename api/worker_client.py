"""Talk to the model workers over HTTP with one shared ``httpx.AsyncClient``.

Each request goes to the worker the pool picks (``api.worker_pool``: fewest in flight). A
request whose connection failed before anything was sent (``httpx.ConnectError``: a worker that
just died or is being replaced) is sent once more to another worker, since that worker never saw
it; any later failure is not retried, as the worker may have done the work. Every failure of the
hop becomes a ``ServiceError`` with a status a client can act on: 503 when no worker is there,
504 when it takes too long, and the worker's own 4xx/5xx passed on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Protocol

import httpx
from pydantic import ValidationError

from api.worker_answer import WorkerAnswer
from shared.collections import Embedding, EmbeddingBatch, EmbeddingModel, EmbeddingOutcome
from shared.errors import ErrorCode, ErrorInfo, ErrorResponse, ServiceError
from shared.schemas import HeatmapFormat, MethodsResponse, WorkerHealth
from shared.settings import Settings


class Worker(Protocol):
    """One worker as the client uses it: where it is, its load, and a way to set it aside."""

    url: str
    in_flight: int
    forwarded: int

    def mark_unreachable(self, why: str) -> None: ...


class WorkerLocator(Protocol):
    """What the client needs to know of the workers: which one to call now, and if none, why."""

    @property
    def reachable(self) -> bool: ...
    @property
    def state(self) -> str: ...
    @property
    def error(self) -> str | None: ...

    def pick(self, exclude: Iterable[Worker] = ()) -> Worker | None: ...


async def _one_after_the_other(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def _embedding_or_error(outcome: EmbeddingOutcome) -> Embedding | ServiceError:
    if outcome.embedding is not None:
        return outcome.embedding
    error = outcome.error or ErrorInfo(
        code=ErrorCode.WORKER_UNAVAILABLE,
        message="The model worker sent neither embedding nor error.",
    )
    return ServiceError(error.code, error.message, error.detail)


class WorkerClient:
    """The gateway's only way to reach the worker."""

    def __init__(
        self,
        settings: Settings,
        supervisor: WorkerLocator,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``transport`` replaces the network, e.g. an ``httpx.MockTransport`` playing the
        worker in tests of the gateway alone."""
        self.settings = settings
        self.supervisor = supervisor
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(
                settings.worker_timeout_s,
                connect=settings.worker_connect_timeout_s,
            ),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
            transport=transport,
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    def _unavailable(self, why: str | None = None) -> ServiceError:
        state = self.supervisor.state
        reason = why or self.supervisor.error
        message = f"The model worker is not available (state: {state})."
        if reason:
            message += f" Reason: {reason}."
        message += " Try again in a few seconds."
        return ServiceError(
            ErrorCode.WORKER_UNAVAILABLE,
            message,
            {"worker_state": state},
            headers={"Retry-After": str(self.settings.retry_after_s)},
        )

    async def _request(
        self,
        method: str,
        path: str,
        content: Callable[[], AsyncIterator[bytes]] | None = None,
        **kwargs: object,
    ) -> httpx.Response:
        """Send to the least busy worker; once more to another one if the connection could not
        be made. ``content`` makes the body afresh for each try (a stream is read once)."""
        worker = self.supervisor.pick()
        if worker is None:
            raise self._unavailable()
        tried: list[Worker] = []
        while True:
            tried.append(worker)
            try:
                return await self._send(worker, method, path, content, **kwargs)
            except httpx.ConnectError as exc:
                worker.mark_unreachable(f"the connection failed ({type(exc).__name__})")
                retry = self.supervisor.pick(exclude=tried) if len(tried) == 1 else None
                if retry is None:
                    raise self._unavailable(
                        f"the connection failed ({type(exc).__name__})"
                    ) from exc
                worker = retry

    async def _send(
        self,
        worker: Worker,
        method: str,
        path: str,
        content: Callable[[], AsyncIterator[bytes]] | None,
        **kwargs: object,
    ) -> httpx.Response:
        worker.in_flight += 1
        worker.forwarded += 1
        try:
            return await self._client.request(
                method,
                worker.url + path,
                content=content() if content is not None else None,
                **kwargs,  # type: ignore[arg-type]
            )
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout):
                raise self._unavailable("connecting to it timed out") from exc
            raise ServiceError(
                ErrorCode.WORKER_TIMEOUT,
                f"The model worker did not answer within {self.settings.worker_timeout_s:g} s. "
                f"Try smaller images or try again later.",
                {"timeout_s": self.settings.worker_timeout_s},
            ) from exc
        except httpx.ConnectError:
            raise
        except httpx.TransportError as exc:
            raise self._unavailable(f"the connection failed ({type(exc).__name__})") from exc
        finally:
            worker.in_flight -= 1

    @staticmethod
    def _raise_for_error(response: httpx.Response) -> None:
        """Pass the worker's error on unchanged when it has our shape."""
        if response.status_code < 400:
            return
        try:
            error = ErrorResponse.model_validate_json(response.content).error
        except ValidationError:
            raise ServiceError(
                ErrorCode.WORKER_UNAVAILABLE,
                f"The model worker answered {response.status_code} without an explanation.",
            ) from None
        retry_after = response.headers.get("Retry-After")
        raise ServiceError(
            error.code,
            error.message,
            error.detail,
            headers={"Retry-After": retry_after} if retry_after else None,
        )

    async def compare(
        self,
        method: str,
        image_a: bytes,
        image_b: bytes,
        align: bool | None = None,
        heatmap_format: HeatmapFormat | None = None,
        request_id: str | None = None,
        difference_map: bool = False,
        screenshot: Mapping[str, str] | None = None,
    ) -> WorkerAnswer:
        """Forward one comparison (or ``all``) and return the worker's answer as its bytes.

        The two files travel as one raw body, A then B, with A's length in the query: nothing
        to encode here or to parse there, and no client-given file names. They are streamed one
        after the other, never joined (a copy of up to 40 MB on the event loop). The answer is
        the worker's typed ``CompareResult`` or ``CompareAllResult``; it is passed on without
        being parsed, validated or serialised again, which for results carrying large heatmaps
        would cost more than the rest of the hop. ``screenshot`` holds the screenshot check's
        query parameters (``api.routes.compare.screenshot_params``), already checked.
        """
        params: dict[str, str | int] = {"method": method, "image_a_bytes": len(image_a)}
        if align is not None:
            params["align"] = "true" if align else "false"
        if heatmap_format is not None:
            params["heatmap_format"] = heatmap_format.value
        if difference_map:
            params["difference_map"] = "true"
        params.update(screenshot or {})
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(len(image_a) + len(image_b)),
        }
        if request_id:
            headers["X-Request-ID"] = request_id
        response = await self._request(
            "POST",
            "/v1/compare",
            params=params,
            headers=headers,
            content=lambda: _one_after_the_other(image_a, image_b),
        )
        self._raise_for_error(response)
        return WorkerAnswer.from_body(response.content)

    async def methods(self) -> MethodsResponse:
        """The worker's method list with live availability."""
        response = await self._request("GET", "/v1/methods")
        self._raise_for_error(response)
        return MethodsResponse.model_validate_json(response.content)

    async def health(self) -> WorkerHealth:
        """The worker's own report."""
        response = await self._request("GET", "/v1/health")
        self._raise_for_error(response)
        return WorkerHealth.model_validate_json(response.content)

    async def metrics_text(self) -> str:
        """The worker's Prometheus metrics, as text."""
        response = await self._request("GET", "/v1/metrics")
        self._raise_for_error(response)
        return response.text

    async def embedding_model(self, method: str) -> EmbeddingModel:
        """What ``method``'s embeddings are (length, weights, calibrated threshold)."""
        response = await self._request("GET", f"/v1/embed/{method}")
        self._raise_for_error(response)
        return EmbeddingModel.model_validate_json(response.content)

    async def embed(
        self, method: str, image: bytes, request_id: str | None = None, thumbnail: bool = False
    ) -> Embedding:
        """One checked image's canonical embedding, sent as the raw body as for compare (and
        its thumbnail, when asked)."""
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(image))}
        if request_id:
            headers["X-Request-ID"] = request_id
        response = await self._request(
            "POST",
            f"/v1/embed/{method}",
            params={"thumbnail": "true"} if thumbnail else None,
            headers=headers,
            content=lambda: _one_after_the_other(image),
        )
        self._raise_for_error(response)
        return Embedding.model_validate_json(response.content)

    async def embed_many(
        self,
        method: str,
        images: list[bytes],
        request_id: str | None = None,
        thumbnail: bool = False,
    ) -> list[Embedding | ServiceError]:
        """Checked images' canonical embeddings in one hop, sent one after the other as the raw
        body with their lengths in the query; a file the worker cannot embed gets its own
        ``ServiceError``, and what fails for all of them raises."""
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(sum(len(image) for image in images)),
        }
        if request_id:
            headers["X-Request-ID"] = request_id
        params = {"sizes": ",".join(str(len(image)) for image in images)}
        if thumbnail:
            params["thumbnail"] = "true"
        response = await self._request(
            "POST",
            f"/v1/embed/{method}/many",
            params=params,
            headers=headers,
            content=lambda: _one_after_the_other(*images),
        )
        self._raise_for_error(response)
        outcomes = EmbeddingBatch.model_validate_json(response.content).outcomes
        if len(outcomes) != len(images):
            raise ServiceError(
                ErrorCode.WORKER_UNAVAILABLE,
                f"The model worker answered {len(outcomes)} outcomes for {len(images)} images.",
            )
        return [_embedding_or_error(outcome) for outcome in outcomes]
