"""``POST /compare``: the original product's contract, kept for existing clients."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from api.dependencies import SettingsDep, WorkerDep
from api.observability import request_id_of, request_state
from api.routes.responses import COMPARE_ERRORS
from api.uploads import describe_uploads, read_checked_pair
from shared.errors import ErrorCode, ServiceError
from shared.methods import MethodName, legacy_model_field_description, parse_method_name
from shared.schemas import HeatmapFormat, LegacyCompareResult

router = APIRouter(tags=["legacy"])  # key: api.admission.key_dependencies


@router.post(
    "/compare",
    response_model=LegacyCompareResult,
    responses=COMPARE_ERRORS,
    summary="Legacy: compare two images (original contract)",
)
async def compare_legacy(
    image1: Annotated[UploadFile, File(description="The reference image.")],
    image2: Annotated[UploadFile, File(description="The image to compare with image1.")],
    settings: SettingsDep,
    worker: WorkerDep,
    request: Request,
    model: Annotated[
        str, Form(description=legacy_model_field_description())
    ] = MethodName.SSIM.value,
) -> Response:
    """The original endpoint: form fields ``image1``, ``image2``, ``model`` (default ``ssim``).

    New clients should use ``POST /api/v1/compare``, which also returns the verdict, the
    explanation, image sizes and timings.
    """
    method = parse_method_name(model)
    if method is None:
        choices = ", ".join(name.value for name in MethodName)
        raise ServiceError(
            ErrorCode.UNKNOWN_METHOD,
            f"Unknown model {model!r}; use one of {choices}.",
            {"field": "model"},
        )
    log_fields = request_state(request.scope)
    log_fields["method"] = method.value
    upload_a, upload_b = await read_checked_pair((image1, "image1"), (image2, "image2"), settings)
    log_fields.update(describe_uploads(upload_a, upload_b))
    answer = await worker.compare(
        method.value,
        upload_a.data,
        upload_b.data,
        heatmap_format=HeatmapFormat.PNG,  # the original contract promised a PNG
        request_id=request_id_of(request.scope),
    )
    # Parsing the worker's answer and writing the legacy one (megabytes, with a PNG heatmap)
    # is CPU work: in a thread, never on the event loop.
    legacy = await run_in_threadpool(_legacy_json, answer.body)
    return Response(legacy, media_type="application/json")


def _legacy_json(worker_body: bytes) -> bytes:
    """The original contract's answer, from the worker's ``CompareResult``."""
    result = orjson.loads(worker_body)
    return (
        LegacyCompareResult(
            similarity_score=round(max(0.0, min(1.0, result["score"])), 6),
            model_used=result["method"],
            heatmap_image=result["heatmap"],
        )
        .model_dump_json()
        .encode()
    )
