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
from shared.errors import ErrorCode, ServiceError
from shared.ignore_regions import format_ignore_regions, parse_ignore_regions
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
    threshold: Annotated[
        float | None,
        Form(
            ge=0,
            le=200,
            description="Screenshot check (pixel method): the colour difference in delta E00 "
            "(CIEDE2000) above which a pixel counts as changed. Default: the just-noticeable "
            "difference, ISC_PIXEL_JND (2.3). 0 counts every byte that differs.",
            examples=[""],  # Swagger leaves it empty (unset) instead of a sample value
        ),
    ] = None,
    antialiasing: Annotated[
        bool | None,
        Form(
            description="Screenshot check: detect anti-aliased edge pixels and leave them out, "
            "as pixelmatch and odiff do (on unless false). false counts them, one pixel at a "
            "time, with no tolerance for edges that moved.",
            examples=[""],
        ),
    ] = None,
    ignore_regions: Annotated[
        str | None,
        Form(
            description="Screenshot check: rectangles of image A not to compare (a clock, an "
            "ad), as 'x,y,w,h' in A's pixels, several separated by ';': "
            "'0,0,1920,64;1700,900,200,150'. At most 100; clipped at A's edges.",
            examples=[""],  # Swagger leaves it empty (unset) instead of a sample value
        ),
    ] = None,
    max_changed_pixels: Annotated[
        int | None,
        Form(
            ge=0,
            description="Screenshot check: passed is false when more pixels changed (0: any "
            "change fails).",
            examples=[""],  # Swagger leaves it empty (unset) instead of a sample value
        ),
    ] = None,
    max_changed_percent: Annotated[
        float | None,
        Form(
            ge=0,
            le=100,
            description="Screenshot check: passed is false when a larger share of the compared "
            "pixels changed, in percent.",
            examples=[""],  # Swagger leaves it empty (unset) instead of a sample value
        ),
    ] = None,
    diff_image: Annotated[
        bool,
        Form(
            description="Screenshot check: true adds screenshot.diff_image, a PNG data URL at "
            "A's full size, pixelmatch style (A faded in grey, changed pixels red, "
            "anti-aliased yellow, ignored regions dimmed)."
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

    **Screenshot checks** (visual regression, like pixelmatch or odiff): with ``method=pixel``,
    a pair of same-size lossless images (PNG, BMP, GIF, TIFF), or any of ``threshold``,
    ``antialiasing``, ``ignore_regions``, ``max_changed_pixels``, ``max_changed_percent``,
    ``diff_image``, is compared pixel for pixel at full resolution; the result's
    ``screenshot`` gives ``passed``, ``changed_pixels``, the boxes of the changed ``regions``
    and, on request, the diff image. Any changed pixel is reported and named first in the
    explanation ("3 regions changed ..."), whatever the verdict.
    """
    log_fields = request_state(request.scope)
    log_fields["method"] = method.value
    screenshot = screenshot_params(
        threshold,
        antialiasing,
        ignore_regions,
        max_changed_pixels,
        max_changed_percent,
        diff_image,
    )
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
        screenshot=screenshot,
    )
    if answer.worker_ms is not None:
        log_fields["worker_ms"] = answer.worker_ms
    total_ms = round((time.perf_counter() - received_at(request.scope)) * 1000, 3)
    return answer.response(total_ms)


def screenshot_params(
    threshold: float | None,
    antialiasing: bool | None,
    ignore_regions: str | None,
    max_changed_pixels: int | None,
    max_changed_percent: float | None,
    diff_image: bool,
) -> dict[str, str]:
    """The screenshot options as the worker's query parameters, only those given; a 422 for
    rectangles that do not parse, before the upload travels on."""
    try:
        rectangles = parse_ignore_regions(ignore_regions)
    except ValueError as error:
        raise ServiceError(
            ErrorCode.VALIDATION_ERROR, str(error), {"field": "ignore_regions"}
        ) from None
    params: dict[str, str] = {}
    if threshold is not None:
        params["threshold"] = repr(float(threshold))
    if antialiasing is not None:
        params["antialiasing"] = "true" if antialiasing else "false"
    if rectangles:
        params["ignore_regions"] = format_ignore_regions(rectangles)
    if max_changed_pixels is not None:
        params["max_changed_pixels"] = str(max_changed_pixels)
    if max_changed_percent is not None:
        params["max_changed_percent"] = repr(float(max_changed_percent))
    if diff_image:
        params["diff_image"] = "true"
    return params
