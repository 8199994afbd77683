"""``Client`` and ``AsyncClient``: the service's HTTP API as typed Python calls.

Both share one description of each call (``_Call``: the request to build, the model to read the
answer into) and differ only in how they send and sleep, so the two cannot drift apart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from isc_client.errors import (
    ISCError,
    RequestTimedOut,
    ServiceUnreachable,
    UnexpectedAnswer,
    error_from_response,
)
from isc_client.images import ImageInput, to_upload
from isc_client.retry import RetryPolicy
from isc_client.screenshot import ScreenshotOptions
from shared.collections import (
    AddImagesResult,
    CollectionImage,
    CollectionInfo,
    CollectionList,
    DuplicatesResult,
    Embedding,
    SearchResult,
)
from shared.methods import ALL_METHODS, MethodName
from shared.schemas import (
    CompareAllResult,
    CompareResult,
    HealthResponse,
    HeatmapFormat,
    MethodsResponse,
)

__version__ = "0.1.0"
DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT_S = 130.0
"""A little over the service's own limit on a comparison (``worker_timeout_s``, 120 s by
default), so that a slow comparison ends with the service's 504 and its explanation rather than
with a bare client timeout."""
CONNECT_TIMEOUT_S = 5.0
API_KEY_HEADER = "X-API-Key"  # api.admission.API_KEY_HEADER (the client does not import api/)

Model = TypeVar("Model", bound=BaseModel)


@dataclass
class _Call(Generic[Model]):
    """One API call: what to send and which model the answer is."""

    method: str
    path: str
    answer: type[Model]
    data: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] | list[tuple[str, tuple[str, bytes]]] | None = None
    json: dict[str, Any] | None = None
    params: dict[str, str] | None = None

    def parse(self, response: httpx.Response) -> Model:
        """The typed answer, or the typed exception for an error answer."""
        if not response.is_success:
            raise error_from_response(response)
        if response.status_code == 204:
            return self.answer()  # a deletion: nothing to read (``Deleted``)
        try:
            return self.answer.model_validate_json(response.content)
        except ValidationError as exc:
            raise UnexpectedAnswer(
                f"{response.request.method} {response.request.url} answered "
                f"{response.status_code} with something other than a {self.answer.__name__} "
                f"({response.headers.get('Content-Type', 'no content type')}): "
                "is the address that of the service?"
            ) from exc


def _form_value(value: bool | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _compare_call(
    answer: type[Model],
    image_a: ImageInput,
    image_b: ImageInput,
    method: str,
    align: bool | None,
    heatmap_format: HeatmapFormat | str | None,
    difference_map: bool,
    screenshot: ScreenshotOptions | None,
) -> _Call[Model]:
    fields: dict[str, str | None] = {
        "method": method,
        "align": _form_value(align),
        "heatmap_format": _form_value(
            heatmap_format.value if isinstance(heatmap_format, HeatmapFormat) else heatmap_format
        ),
        "difference_map": "true" if difference_map else None,
        **(screenshot.form_fields() if screenshot else {}),
    }
    return _Call(
        "POST",
        "/api/v1/compare",
        answer,
        data={key: value for key, value in fields.items() if value is not None},
        files={"image_a": to_upload(image_a, "image_a"), "image_b": to_upload(image_b, "image_b")},
    )


class Deleted(BaseModel):
    """The answer of a deletion (204, no body)."""


def _create_collection_call(name: str, method: MethodName | str) -> _Call[CollectionInfo]:
    method_name = method.value if isinstance(method, MethodName) else str(method)
    return _Call(
        "POST", "/api/v1/collections", CollectionInfo, json={"name": name, "method": method_name}
    )


def _add_call(
    name: str, images: list[ImageInput], names: list[str] | None
) -> _Call[AddImagesResult]:
    files = [("files", to_upload(image, f"image-{i}")) for i, image in enumerate(images)]
    if names is not None:
        if len(names) != len(images):
            raise ValueError(f"{len(names)} names for {len(images)} images")
        pairs = zip(names, files, strict=True)
        files = [("files", (given, data)) for given, (_, (_, data)) in pairs]
    return _Call("POST", f"/api/v1/collections/{name}/images", AddImagesResult, files=files)


def _search_call(
    name: str, image: ImageInput, k: int, min_score: float | None
) -> _Call[SearchResult]:
    data = {"k": str(k)}
    if min_score is not None:
        data["min_score"] = repr(float(min_score))
    return _Call(
        "POST",
        f"/api/v1/collections/{name}/search",
        SearchResult,
        data=data,
        files={"image": to_upload(image, "image")},
    )


def _embed_call(image: ImageInput, method: MethodName | str) -> _Call[Embedding]:
    method_name = method.value if isinstance(method, MethodName) else str(method)
    return _Call(
        "POST",
        "/api/v1/embed",
        Embedding,
        data={"method": method_name},
        files={"image": to_upload(image, "image")},
    )


def _duplicates_call(name: str, threshold: float | None) -> _Call[DuplicatesResult]:
    params = {} if threshold is None else {"threshold": repr(float(threshold))}
    return _Call("GET", f"/api/v1/collections/{name}/duplicates", DuplicatesResult, params=params)


def _image_call(name: str, image_id: str) -> _Call[CollectionImage]:
    return _Call("GET", f"/api/v1/collections/{name}/images/{image_id}", CollectionImage)


def _one_method(method: MethodName | str) -> str:
    name = method.value if isinstance(method, MethodName) else str(method).strip()
    if name.lower() == ALL_METHODS:
        raise ValueError("compare() runs one method; use compare_all() for method='all'")
    return name


class _Base:
    """Settings shared by both clients."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        timeout: float | httpx.Timeout,
        retry: RetryPolicy,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self._headers = {"User-Agent": f"isc-client/{__version__}"}
        if api_key:
            self._headers[API_KEY_HEADER] = api_key
        self._timeout = (
            timeout
            if isinstance(timeout, httpx.Timeout)
            else httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT_S, timeout))
        )

    def _transport_error(self, exc: httpx.TransportError) -> ISCError:
        if isinstance(exc, httpx.TimeoutException):
            return RequestTimedOut(
                f"{self.base_url} did not answer within the timeout "
                f"({type(exc).__name__}; read timeout {self._timeout.read} s)"
            )
        return ServiceUnreachable(f"no answer from {self.base_url}: {exc or type(exc).__name__}")


class Client(_Base):
    """Synchronous client. Use as a context manager, or call ``close()``.

    ``timeout`` is per request in seconds (an ``httpx.Timeout`` for finer control; the connect
    timeout is at most 5 s so that a wrong address fails fast); ``retry`` bounds the retries of
    429 and 503 answers; ``transport`` replaces the network (e.g. ``httpx.MockTransport``).
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(base_url, api_key, timeout, retry or RetryPolicy())
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=self._headers,
            timeout=self._timeout,
            transport=transport,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _run(self, call: _Call[Model]) -> Model:
        waited, attempt = 0.0, 1
        while True:
            try:
                response = self._http.request(
                    call.method,
                    call.path,
                    data=call.data or None,
                    files=call.files,
                    json=call.json,
                    params=call.params,
                )
            except httpx.TransportError as exc:
                raise self._transport_error(exc) from exc
            delay = self.retry.delay(response, attempt, waited)
            if delay is None:
                return call.parse(response)
            self._sleep(delay)
            waited, attempt = waited + delay, attempt + 1

    def compare(
        self,
        image_a: ImageInput,
        image_b: ImageInput,
        method: MethodName | str = MethodName.SSIM,
        *,
        align: bool | None = None,
        heatmap_format: HeatmapFormat | str | None = None,
        difference_map: bool = False,
        screenshot: ScreenshotOptions | None = None,
    ) -> CompareResult:
        """Compare two images with one method. ``align=None`` leaves it to the method's default;
        ``heatmap_format='none'`` skips the heatmaps (smaller, faster answers); ``screenshot``
        (pixel method) runs the screenshot check: ``result.screenshot.passed``."""
        return self._run(
            _compare_call(
                CompareResult,
                image_a,
                image_b,
                _one_method(method),
                align,
                heatmap_format,
                difference_map,
                screenshot,
            )
        )

    def compare_all(
        self,
        image_a: ImageInput,
        image_b: ImageInput,
        *,
        align: bool | None = None,
        heatmap_format: HeatmapFormat | str | None = None,
        difference_map: bool = False,
        screenshot: ScreenshotOptions | None = None,
    ) -> CompareAllResult:
        """Compare with every available method at once, with the combined verdict."""
        return self._run(
            _compare_call(
                CompareAllResult,
                image_a,
                image_b,
                ALL_METHODS,
                align,
                heatmap_format,
                difference_map,
                screenshot,
            )
        )

    def methods(self) -> MethodsResponse:
        """Every method, whether it can run now, and the upload limits."""
        return self._run(_Call("GET", "/api/v1/methods", MethodsResponse))

    def health(self) -> HealthResponse:
        """The gateway's and the worker's state (``/health`` always answers 200)."""
        return self._run(_Call("GET", "/health", HealthResponse))

    def create_collection(
        self, name: str, method: MethodName | str = MethodName.MOBILENET_V2
    ) -> CollectionInfo:
        """A new, empty collection whose images ``method`` (a CNN) embeds."""
        return self._run(_create_collection_call(name, method))

    def collections(self) -> CollectionList:
        """Every collection with its CNN and number of images."""
        return self._run(_Call("GET", "/api/v1/collections", CollectionList))

    def collection(self, name: str) -> CollectionInfo:
        """One collection."""
        return self._run(_Call("GET", f"/api/v1/collections/{name}", CollectionInfo))

    def delete_collection(self, name: str) -> None:
        """Drop a collection and what it stores."""
        self._run(_Call("DELETE", f"/api/v1/collections/{name}", Deleted))

    def add(
        self, name: str, images: list[ImageInput], names: list[str] | None = None
    ) -> AddImagesResult:
        """Add images (idempotent: the id is the content hash); each file's outcome. ``names``
        replaces the file names kept with them (default: a path's own name)."""
        return self._run(_add_call(name, images, names))

    def search(
        self, name: str, image: ImageInput, k: int = 10, min_score: float | None = None
    ) -> SearchResult:
        """The ``k`` images of the collection most similar to ``image`` (none below
        ``min_score``), each with its score and calibrated verdict."""
        return self._run(_search_call(name, image, k, min_score))

    def duplicates(self, name: str, threshold: float | None = None) -> DuplicatesResult:
        """Every pair at or above ``threshold`` (default: the CNN's calibrated one)."""
        return self._run(_duplicates_call(name, threshold))

    def image(self, name: str, image_id: str) -> CollectionImage:
        """What the collection keeps of one image: name, size and thumbnail (a JPEG data URL,
        which duplicate pairs leave out to stay small)."""
        return self._run(_image_call(name, image_id))

    def embed(
        self, image: ImageInput, method: MethodName | str = MethodName.MOBILENET_V2
    ) -> Embedding:
        """The image's canonical CNN embedding (unit length) and the weights it came from."""
        return self._run(_embed_call(image, method))


async def _async_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


class AsyncClient(_Base):
    """The same calls as ``Client``, awaited: for many comparisons at once, e.g. with
    ``asyncio.gather`` (the service's in-flight limit answers 429 past it, which is retried)."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT_S,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Any] = _async_sleep,
    ) -> None:
        super().__init__(base_url, api_key, timeout, retry or RetryPolicy())
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=self._headers,
            timeout=self._timeout,
            transport=transport,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _run(self, call: _Call[Model]) -> Model:
        waited, attempt = 0.0, 1
        while True:
            try:
                response = await self._http.request(
                    call.method,
                    call.path,
                    data=call.data or None,
                    files=call.files,
                    json=call.json,
                    params=call.params,
                )
            except httpx.TransportError as exc:
                raise self._transport_error(exc) from exc
            delay = self.retry.delay(response, attempt, waited)
            if delay is None:
                return call.parse(response)
            await self._sleep(delay)
            waited, attempt = waited + delay, attempt + 1

    async def compare(
        self,
        image_a: ImageInput,
        image_b: ImageInput,
        method: MethodName | str = MethodName.SSIM,
        *,
        align: bool | None = None,
        heatmap_format: HeatmapFormat | str | None = None,
        difference_map: bool = False,
        screenshot: ScreenshotOptions | None = None,
    ) -> CompareResult:
        """See ``Client.compare``."""
        return await self._run(
            _compare_call(
                CompareResult,
                image_a,
                image_b,
                _one_method(method),
                align,
                heatmap_format,
                difference_map,
                screenshot,
            )
        )

    async def compare_all(
        self,
        image_a: ImageInput,
        image_b: ImageInput,
        *,
        align: bool | None = None,
        heatmap_format: HeatmapFormat | str | None = None,
        difference_map: bool = False,
        screenshot: ScreenshotOptions | None = None,
    ) -> CompareAllResult:
        """See ``Client.compare_all``."""
        return await self._run(
            _compare_call(
                CompareAllResult,
                image_a,
                image_b,
                ALL_METHODS,
                align,
                heatmap_format,
                difference_map,
                screenshot,
            )
        )

    async def methods(self) -> MethodsResponse:
        """See ``Client.methods``."""
        return await self._run(_Call("GET", "/api/v1/methods", MethodsResponse))

    async def health(self) -> HealthResponse:
        """See ``Client.health``."""
        return await self._run(_Call("GET", "/health", HealthResponse))

    async def create_collection(
        self, name: str, method: MethodName | str = MethodName.MOBILENET_V2
    ) -> CollectionInfo:
        """See ``Client.create_collection``."""
        return await self._run(_create_collection_call(name, method))

    async def collections(self) -> CollectionList:
        """See ``Client.collections``."""
        return await self._run(_Call("GET", "/api/v1/collections", CollectionList))

    async def collection(self, name: str) -> CollectionInfo:
        """See ``Client.collection``."""
        return await self._run(_Call("GET", f"/api/v1/collections/{name}", CollectionInfo))

    async def delete_collection(self, name: str) -> None:
        """See ``Client.delete_collection``."""
        await self._run(_Call("DELETE", f"/api/v1/collections/{name}", Deleted))

    async def add(
        self, name: str, images: list[ImageInput], names: list[str] | None = None
    ) -> AddImagesResult:
        """See ``Client.add``."""
        return await self._run(_add_call(name, images, names))

    async def search(
        self, name: str, image: ImageInput, k: int = 10, min_score: float | None = None
    ) -> SearchResult:
        """See ``Client.search``."""
        return await self._run(_search_call(name, image, k, min_score))

    async def duplicates(self, name: str, threshold: float | None = None) -> DuplicatesResult:
        """See ``Client.duplicates``."""
        return await self._run(_duplicates_call(name, threshold))

    async def image(self, name: str, image_id: str) -> CollectionImage:
        """See ``Client.image``."""
        return await self._run(_image_call(name, image_id))

    async def embed(
        self, image: ImageInput, method: MethodName | str = MethodName.MOBILENET_V2
    ) -> Embedding:
        """See ``Client.embed``."""
        return await self._run(_embed_call(image, method))
