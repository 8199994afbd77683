"""``GET /api/v1/methods`` and ``GET /health``: what can run now, and how the service is.

``/health`` always answers 200 (existing clients read its ``status``); ``/health/live`` and
``/health/ready`` are the probes a load balancer or container healthcheck acts on by status code.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.dependencies import SettingsDep, SupervisorDep, WorkerDep
from api.uploads import max_body_bytes
from shared.errors import ErrorCode, ErrorResponse, ServiceError
from shared.image_header import ACCEPTED_MIME_TYPES
from shared.methods import MethodName
from shared.schemas import (
    HealthResponse,
    MethodsResponse,
    MethodState,
    ProbeResponse,
    UploadLimits,
    WorkerState,
    method_status,
)

router = APIRouter(tags=["meta"])
methods_router = APIRouter(tags=["meta"])  # key: api.admission.key_dependencies


@methods_router.get("/api/v1/methods", response_model=MethodsResponse, summary="List the methods")
async def list_methods(
    worker: WorkerDep, supervisor: SupervisorDep, settings: SettingsDep
) -> MethodsResponse:
    """Every method with a one-line description and whether it can run right now, and the
    upload limits."""
    try:
        listing = await worker.methods()
    except ServiceError:
        reason = f"The model worker is {supervisor.state}; try again in a few seconds."
        listing = MethodsResponse(
            methods=[method_status(name, MethodState.LOADING, reason) for name in MethodName]
        )
    listing.limits = UploadLimits(
        max_upload_bytes=settings.max_upload_bytes,
        max_image_pixels=settings.max_declared_pixels,  # larger ones are refused (413)
        accepted_types=list(ACCEPTED_MIME_TYPES),
        max_request_bytes=max_body_bytes(settings),
        collection_max_files=settings.collection_max_files,
    )
    return listing


@router.get("/health", response_model=HealthResponse, summary="Gateway and worker state")
async def health(worker: WorkerDep, supervisor: SupervisorDep) -> HealthResponse:
    """The gateway answers while it runs; the worker part says whether comparisons can run
    (on at least one worker: ``worker``), and ``workers`` how each worker is."""
    report = HealthResponse(
        status="ok" if supervisor.all_ready else "degraded",
        worker=supervisor.state,
        worker_pid=supervisor.pid,
        worker_restarts=supervisor.restarts,
        worker_error=supervisor.error,
        workers=supervisor.reports(),
    )
    if supervisor.reachable:
        try:
            worker_report = await worker.health()
        except ServiceError as exc:
            report.status = "degraded"
            report.worker_error = report.worker_error or exc.message  # the first cause stays
        else:
            report.worker_pid = worker_report.pid
            report.models_loaded = worker_report.models_loaded
            report.models_unavailable = worker_report.models_unavailable
            report.models_precision = {
                str(status.name): status.precision
                for status in worker_report.methods
                if status.precision is not None
            }
    return report


@router.get("/health/live", response_model=ProbeResponse, summary="Liveness probe")
async def live() -> ProbeResponse:
    """200 while the gateway process runs and its event loop answers, whatever the worker does:
    restarting the gateway would not help a worker that is loading or being restarted."""
    return ProbeResponse(status="live")


@router.get(
    "/health/ready",
    response_model=ProbeResponse,
    summary="Readiness probe",
    responses={503: {"model": ErrorResponse, "description": "The worker is not ready."}},
)
async def ready(supervisor: SupervisorDep, settings: SettingsDep) -> ProbeResponse:
    """200 only when the worker is ready, 503 ``worker_unavailable`` otherwise (still starting,
    restarting or failed): send traffic here only on 200."""
    if supervisor.state is not WorkerState.READY:
        message = f"Not ready: the model worker is {supervisor.state}."
        if supervisor.error:
            message += f" Reason: {supervisor.error}."
        raise ServiceError(
            ErrorCode.WORKER_UNAVAILABLE,
            message,
            {"worker_state": supervisor.state, "worker_error": supervisor.error},
            headers={"Retry-After": str(settings.retry_after_s)},
        )
    return ProbeResponse(status="ready")


@router.get("/metrics", summary="Prometheus metrics of the gateway and the worker")
async def metrics(
    request: Request, worker: WorkerDep, supervisor: SupervisorDep
) -> PlainTextResponse:
    """Request counts and latencies by route, method and status, comparisons in flight, worker
    restarts and readiness; then the worker's own: queue depth, batch sizes, cache hits."""
    gateway_metrics = request.app.state.metrics
    gateway_metrics.worker_restarts.set(supervisor.restarts)
    gateway_metrics.worker_up.set(1 if supervisor.state is WorkerState.READY else 0)
    text = generate_latest(gateway_metrics.registry).decode()
    try:
        text += await worker.metrics_text()
    except ServiceError as exc:
        text += f"# worker metrics unavailable: {exc.code.value}\n"
    return PlainTextResponse(text, media_type=CONTENT_TYPE_LATEST)
