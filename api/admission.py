"""Backpressure and access control in front of the worker.

The gateway forwards at most ``max_inflight`` comparisons at once; the next one is refused at
once with 429 and ``Retry-After`` rather than queued without bound. With an API key configured,
the API routes require it.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request

from api.observability import GatewayMetrics
from shared.errors import ErrorCode, ServiceError
from shared.settings import Settings


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


async def admitted(request: Request) -> AsyncIterator[None]:
    """Dependency: hold an in-flight slot for the duration of the request."""
    admission: Admission = request.app.state.admission
    admission.enter()
    try:
        yield
    finally:
        admission.leave()


async def require_api_key(
    request: Request,
    x_api_key: Annotated[
        str | None, Header(description="The API key, when the service is configured with one.")
    ] = None,
) -> None:
    """Dependency: 401 unless the configured key (if any) was sent."""
    expected: str | None = request.app.state.settings.api_key
    if not expected:
        return
    if x_api_key is None or not hmac.compare_digest(x_api_key.encode(), expected.encode()):
        request.app.state.metrics.rejected.labels("unauthorized").inc()
        raise ServiceError(
            ErrorCode.UNAUTHORIZED,
            "This service requires an API key: send it in the X-API-Key header.",
            headers={"WWW-Authenticate": "ApiKey"},
        )


AdmittedDep = Annotated[None, Depends(admitted)]
