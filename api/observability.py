"""Request ids, structured access logs and Prometheus metrics for the gateway.

Every request gets an id (the client's ``X-Request-ID`` when it is sane, else a new one), echoed
in the response header, passed to the worker, and written in one JSON log line with the route,
the comparison method, the upload sizes, the status and the time taken. Uploads, file names and
results are never logged.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("isc.access")
log.setLevel(logging.INFO)  # the access log is a feature, not debug output: always on

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class GatewayMetrics:
    """The gateway's own metrics, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "isc_gateway_requests",
            "HTTP requests answered, by route, comparison method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "isc_gateway_request_seconds",
            "Time from receipt to answer, by route and comparison method.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.inflight = Gauge(
            "isc_gateway_inflight_comparisons",
            "Comparisons being forwarded to the worker now (the gateway's queue depth).",
            registry=self.registry,
        )
        self.rejected = Counter(
            "isc_gateway_rejected",
            "Requests refused before reaching the worker, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.worker_restarts = Gauge(
            "isc_gateway_worker_restarts",
            "Times the gateway restarted a dead worker.",
            registry=self.registry,
        )
        self.worker_up = Gauge(
            "isc_gateway_worker_ready",
            "1 when the worker reports ready, else 0.",
            registry=self.registry,
        )


def request_state(scope: Scope) -> dict[str, Any]:
    """The per-request values routes add to the access log (method, sizes)."""
    return scope.setdefault("state", {}).setdefault("log_fields", {})


def request_id_of(scope: Scope) -> str:
    """This request's id."""
    return str(scope.get("state", {}).get("request_id", "-"))


class ObservabilityMiddleware:
    """Assigns the request id, then logs and counts the request when it is answered."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        offered = headers.get(REQUEST_ID_HEADER.lower().encode(), b"").decode("latin-1")
        request_id = offered if _SANE_ID.match(offered) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        fields = request_state(scope)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            method = str(fields.get("method", "-"))
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(elapsed)
            declared = headers.get(b"content-length", b"0").decode("latin-1")
            entry = {
                "request_id": request_id,
                "http": scope["method"],
                "route": route,
                "status": status,
                "ms": round(elapsed * 1000, 2),
                "request_bytes": int(declared) if declared.isdigit() else None,
                **fields,
            }
            log.info(json.dumps(entry, separators=(",", ":")))
