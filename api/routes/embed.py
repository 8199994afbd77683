"""``POST /api/v1/embed``: one image's canonical CNN embedding, for clients that index it
themselves. The same vector a collection stores and a pairwise CNN comparison uses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile

from api.dependencies import SettingsDep, WorkerDep
from api.observability import request_id_of
from api.routes.collections import ERRORS, read_checked
from shared.collections import Embedding
from shared.methods import MethodName

router = APIRouter(prefix="/api/v1", tags=["collections"])


@router.post(
    "/embed", response_model=Embedding, responses=ERRORS, summary="One image's CNN embedding"
)
async def embed(
    image: Annotated[UploadFile, File(description="The image to embed.")],
    request: Request,
    settings: SettingsDep,
    worker: WorkerDep,
    method: Annotated[
        MethodName, Form(description="A CNN: vgg16, resnet50 or mobilenet_v2.")
    ] = MethodName.MOBILENET_V2,
) -> Embedding:
    """The unit-length embedding, the fingerprint of the weights it came from (vectors of other
    weights are not comparable) and the CNN's calibrated near-duplicate cosine, if any."""
    data = await read_checked(image, settings)
    return await worker.embed(method.value, data, request_id_of(request.scope))
