"""``POST /api/v1/compare``: the product's main operation."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, Response, UploadFile

from api.admission import received_at
from api.dependencies import SettingsDep, WorkerDep
from api.observability import request_id_of, request_state
from api.routes.responses import COMPARE_ERRORS
from api.uploads import describe_uploads, read_checked_pair
from shared.methods import MethodChoice, align_field_description, method_field_description
from shared.schemas import CompareAllResult, CompareResult, HeatmapFormat

router = APIRouter(prefix="/api/v1", tags=["compare"])  # key: api.admission.key_dependencies


@router.post(
    "/compare",
    response_model=CompareResult | CompareAllResult,
    responses=COMPARE_ERRORS,
    summary="Compare two images with one method, or with all of them",
)
async def compare(
    image_a: Annotated[
        UploadFile, File(description="The reference image (the heatmap is drawn over it).")
    ],
    image_b: Annotated[UploadFile, File(description="The image to compare with image A.")],
    method: Annotated[
        MethodChoice,
        Form(description=method_field_description()),
    ],
    settings: SettingsDep,
    worker: WorkerDep,
    request: Request,
    align: Annotated[
        bool | None,
        Form(
            description=align_field_description(),
            # An empty form value leaves the field unset (FastAPI reads it as the default); as
            # the one example it keeps Swagger's form from pre-selecting true for every method.
            examples=[""],
        ),
    ] = None,
    heatmap_format: Annotated[
        HeatmapFormat | None,
        Form(
            description="Encoding of the heatmaps: jpeg (default: small and fast), png "
            "(lossless, about four times larger) or none: no heatmaps are drawn, for clients "
            "that only want the numbers (heatmap is null and extra_heatmaps empty in every "
            "result, method=all included)."
        ),
    ] = None,
    difference_map: Annotated[
        bool,
        Form(
            description="true: each result also carries difference_map, the main map's values "
            "as a grey PNG at image A's size (0 alike, 255 different, transparent where A has "
            "no counterpart in B), for clients that threshold the differences themselves. "
            "Independent of heatmap_format."
        ),
    ] = False,
) -> Response:
    """Score how alike the two images are, show where they differ, and explain it.

    JPEG, PNG, WebP, GIF (first frame), BMP and TIFF are accepted, in any colour mode; EXIF
    orientation is applied and transparency is composited over white. With ``method=all`` the
    answer is a ``CompareAllResult``: one result per method and a summary of what they say
    together. The body must be ``multipart/form-data`` (400 otherwise); the key and the
    in-flight limit are checked before it is read. ``Server-Timing`` gives the gateway's and
    the worker's time.
    """
    log_fields = request_state(request.scope)
    log_fields["method"] = method.value
    upload_a, upload_b = await read_checked_pair(
        (image_a, "image_a"), (image_b, "image_b"), settings
    )
    log_fields.update(describe_uploads(upload_a, upload_b))
    answer = await worker.compare(
        method.value,
        upload_a.data,
        upload_b.data,
        align=align,
        heatmap_format=heatmap_format,
        request_id=request_id_of(request.scope),
        difference_map=difference_map,
    )
    if answer.worker_ms is not None:
        log_fields["worker_ms"] = answer.worker_ms
    total_ms = round((time.perf_counter() - received_at(request.scope)) * 1000, 3)
    return answer.response(total_ms)
