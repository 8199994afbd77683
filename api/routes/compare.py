"""``POST /api/v1/compare``: the product's main operation."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from api.dependencies import SettingsDep, WorkerDep
from api.routes.responses import COMPARE_ERRORS
from api.uploads import read_checked_upload
from shared.methods import MethodName
from shared.schemas import CompareResult

router = APIRouter(prefix="/api/v1", tags=["compare"])


@router.post(
    "/compare",
    response_model=CompareResult,
    responses=COMPARE_ERRORS,
    summary="Compare two images with one method",
)
async def compare(
    image_a: Annotated[
        UploadFile, File(description="The reference image (the heatmap is drawn over it).")
    ],
    image_b: Annotated[UploadFile, File(description="The image to compare with image A.")],
    method: Annotated[
        MethodName,
        Form(description="ssim (pixel structure) or a CNN: vgg16, resnet50, mobilenet_v2."),
    ],
    settings: SettingsDep,
    worker: WorkerDep,
) -> CompareResult:
    """Score how alike the two images are by ``method``, show where they differ, and explain it.

    JPEG, PNG, WebP, GIF (first frame), BMP and TIFF are accepted, in any colour mode; EXIF
    orientation is applied and transparency is composited over white.
    """
    started = time.perf_counter()
    (data_a, _), (data_b, _) = await asyncio.gather(
        read_checked_upload(image_a, "image_a", settings),
        read_checked_upload(image_b, "image_b", settings),
    )
    result = await worker.compare(method, data_a, data_b)
    result.timings.total_ms = round((time.perf_counter() - started) * 1000, 3)
    return result
