"""``/api/v1/collections``: named sets of indexed images, searched by image and deduplicated.

The gateway checks each upload as for compare and has the worker embed it (``POST /v1/embed``
for a search's query, ``POST /v1/embed/{method}/many`` for all the files of an add); the
vectors are kept in the one store beside the gateway (``api.collections.store``), so workers
stay stateless. Every store call and the duplicate grouping run in a thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile

from api.collections import verify as verification
from api.collections.duplicates import groups, similar_pairs, with_exact_copies
from api.collections.store import CollectionStore, StoredCollection, StoredImage, names_of
from api.dependencies import SettingsDep, WorkerDep
from api.observability import request_id_of
from api.worker_client import WorkerClient
from shared.collections import (
    COLLECTION_NAME_PATTERN,
    IMAGE_ID_PATTERN,
    AddedImage,
    AddImagesResult,
    AddStatus,
    CollectionCreate,
    CollectionImage,
    CollectionInfo,
    CollectionList,
    DuplicateGroup,
    DuplicatePair,
    DuplicatesResult,
    Embedding,
    SearchHit,
    SearchResult,
)
from shared.errors import ErrorCode, ErrorResponse, ServiceError
from shared.image_header import read_image_header
from shared.methods import MethodName
from shared.schemas import Verdict
from shared.settings import Settings

router = APIRouter(prefix="/api/v1/collections", tags=["collections"])

BATCH_ERRORS = frozenset(
    {
        ErrorCode.WORKER_UNAVAILABLE,
        ErrorCode.WORKER_TIMEOUT,
        ErrorCode.METHOD_UNAVAILABLE,
        ErrorCode.MODEL_TIMEOUT,
    }
)
"""Failures of the service rather than of one file: they fail the whole request (nothing is
written) instead of being reported against each file."""

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in {
        404: "No collection (collection_not_found) or image (image_not_found) of that name.",
        409: "The collection exists (collection_exists), or its vectors came from other weights "
        "(weights_mismatch).",
        413: "Too many files (too_many_files) or bytes in one request.",
        422: "Invalid name, method, k or threshold; no calibrated threshold (threshold_required); "
        "verify=true on a collection without thumbnails.",
        503: "The model worker or the CNN is not available yet (Retry-After).",
    }.items()
}

CollectionName = Annotated[
    str, Path(pattern=COLLECTION_NAME_PATTERN, description="The collection's name.")
]
ImageId = Annotated[
    str, Path(pattern=IMAGE_ID_PATTERN, description="The image's id (its content hash).")
]


async def get_store(request: Request) -> CollectionStore:
    """The gateway's one store (``app.state.collections``)."""
    return request.app.state.collections


StoreDep = Annotated[CollectionStore, Depends(get_store)]


def content_id(data: bytes) -> str:
    """An image's id: BLAKE2b-128 of its bytes, so adding the same file twice is one image."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _info(stored: StoredCollection) -> CollectionInfo:
    return CollectionInfo(
        name=stored.name,
        method=MethodName(stored.method),
        images=stored.images,
        dimensions=stored.dimensions,
        weights_key=stored.weights_key,
        thumbnails=stored.thumbnails,
    )


def _image(stored: StoredImage) -> CollectionImage:
    payload = stored.payload
    file_name = str(payload.get("file_name", ""))
    return CollectionImage(
        id=stored.id,
        file_name=file_name,
        width=int(payload.get("width", 0)),
        height=int(payload.get("height", 0)),
        bytes=int(payload.get("bytes", 0)),
        thumbnail=payload.get("thumbnail"),
        exact_copies=[n for n in names_of(payload) if n != file_name],
    )


def _same_weights(collection: StoredCollection, weights_key: str | None) -> None:
    """409 when the worker's CNN has other weights than the collection's vectors came from."""
    if collection.weights_key != weights_key:
        raise ServiceError(
            ErrorCode.WEIGHTS_MISMATCH,
            f"Collection '{collection.name}' holds {collection.method} vectors of weights "
            f"{collection.weights_key}; the worker now has {weights_key}. Vectors of different "
            f"weights are not comparable: create a new collection and add the images again.",
            {"collection": collection.name, "stored": collection.weights_key, "now": weights_key},
        )


def _header_and_id(data: bytes, field: str, max_declared_pixels: int) -> str:
    """The header check and the content hash, in one thread hop (hashing a 20 MB upload takes
    about 15 ms: not on the event loop)."""
    read_image_header(data, field, max_declared_pixels)
    return content_id(data)


async def _read_limited(upload: UploadFile, settings: Settings) -> tuple[str, bytes]:
    """The file's field name and bytes; 413 over the size limit."""
    field = upload.filename or "image"
    data = await upload.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise ServiceError(
            ErrorCode.FILE_TOO_LARGE,
            f"{field} is larger than the limit of {settings.max_upload_bytes:,} bytes.",
            {"field": field, "limit_bytes": settings.max_upload_bytes},
        )
    return field, data


async def read_checked(upload: UploadFile, settings: Settings) -> bytes:
    """One file's bytes within the size limit and with a supported image header."""
    field, data = await _read_limited(upload, settings)
    await anyio.to_thread.run_sync(read_image_header, data, field, settings.max_declared_pixels)
    return data


async def read_checked_with_id(upload: UploadFile, settings: Settings) -> tuple[bytes, str]:
    """``read_checked``, and the file's id (content hash) from the same thread hop."""
    field, data = await _read_limited(upload, settings)
    image = await anyio.to_thread.run_sync(
        _header_and_id, data, field, settings.max_declared_pixels
    )
    return data, image


@router.post(
    "",
    response_model=CollectionInfo,
    status_code=201,
    responses=ERRORS,
    summary="Create a collection",
)
async def create_collection(
    body: CollectionCreate, store: StoreDep, worker: WorkerDep
) -> CollectionInfo:
    """An empty collection whose images the given CNN embeds (the worker must have it loaded:
    the vector length and the weights' fingerprint are fixed now)."""
    model = await worker.embedding_model(body.method.value)
    await anyio.to_thread.run_sync(
        store.create,
        body.name,
        body.method.value,
        model.dimensions,
        model.weights_key,
        body.thumbnails,
    )
    return CollectionInfo(
        name=body.name,
        method=body.method,
        images=0,
        dimensions=model.dimensions,
        weights_key=model.weights_key,
        thumbnails=body.thumbnails,
    )


@router.get("", response_model=CollectionList, summary="List the collections")
async def list_collections(store: StoreDep) -> CollectionList:
    """Every collection with its CNN and number of images."""
    stored = await anyio.to_thread.run_sync(store.all)
    return CollectionList(collections=[_info(s) for s in stored])


@router.get("/{name}", response_model=CollectionInfo, responses=ERRORS, summary="One collection")
async def get_collection(name: CollectionName, store: StoreDep) -> CollectionInfo:
    """The collection's CNN, weights and number of images."""
    return _info(await anyio.to_thread.run_sync(store.get, name))


@router.delete("/{name}", status_code=204, responses=ERRORS, summary="Delete a collection")
async def delete_collection(name: CollectionName, store: StoreDep) -> Response:
    """Drop the collection and everything stored for it."""
    await anyio.to_thread.run_sync(store.delete, name)
    return Response(status_code=204)


@router.post(
    "/{name}/images",
    response_model=AddImagesResult,
    responses=ERRORS,
    summary="Add images to a collection",
)
async def add_images(
    name: CollectionName,
    files: Annotated[
        list[UploadFile],
        File(description="One or more images (send the field once per file)."),
    ],
    request: Request,
    store: StoreDep,
    worker: WorkerDep,
    settings: SettingsDep,
) -> AddImagesResult:
    """Index each file under its content hash. A file whose content is there already is
    ``already_present`` (adding is idempotent); a bad file is ``refused`` with the reason and
    the others go on. The indexed ones are written in one step, after all were embedded."""
    if len(files) > settings.collection_max_files:
        raise ServiceError(
            ErrorCode.TOO_MANY_FILES,
            f"{len(files)} files in one request; the limit is {settings.collection_max_files}. "
            f"Send them in several requests.",
            {"files": len(files), "limit_files": settings.collection_max_files},
        )
    collection = await anyio.to_thread.run_sync(store.get, name)
    outcomes: list[AddedImage] = []
    accepted: dict[str, tuple[int, bytes]] = {}
    names: dict[str, list[str]] = {}  # every name each content came with: its exact copies
    for upload in files:
        file_name = upload.filename or "image"
        try:
            data, image = await read_checked_with_id(upload, settings)
        except ServiceError as error:
            outcomes.append(_refused(file_name, error))
            continue
        status = AddStatus.ALREADY_PRESENT if image in accepted else AddStatus.INDEXED
        outcomes.append(AddedImage(file_name=file_name, status=status, id=image))
        accepted.setdefault(image, (len(outcomes) - 1, data))
        names.setdefault(image, [])
        if file_name not in names[image]:
            names[image].append(file_name)
    present = await anyio.to_thread.run_sync(store.present, name, list(accepted))
    todo = {image: entry for image, entry in accepted.items() if image not in present}
    for image in present:
        outcomes[accepted[image][0]].status = AddStatus.ALREADY_PRESENT
    embeddings = await _embed_all(worker, collection, todo, request_id_of(request.scope), settings)
    points = []
    for image, result in embeddings.items():
        index, data = todo[image]
        if isinstance(result, ServiceError):
            outcomes[index] = _refused(outcomes[index].file_name, result)
            continue
        _same_weights(collection, result.weights_key)
        payload = {
            "file_name": outcomes[index].file_name,
            "file_names": names[image],
            "width": result.width,
            "height": result.height,
            "bytes": len(data),
            "added_at": time.time(),
        }
        if result.thumbnail is not None:
            payload["thumbnail"] = result.thumbnail
        points.append((image, result.vector, payload))
    await anyio.to_thread.run_sync(store.upsert, name, points)
    await anyio.to_thread.run_sync(
        store.add_names, name, {image: names[image] for image in present}
    )
    return AddImagesResult(
        collection=name,
        indexed=sum(o.status is AddStatus.INDEXED for o in outcomes),
        already_present=sum(o.status is AddStatus.ALREADY_PRESENT for o in outcomes),
        refused=sum(o.status is AddStatus.REFUSED for o in outcomes),
        images=outcomes,
    )


def _refused(file_name: str, error: ServiceError) -> AddedImage:
    return AddedImage(
        file_name=file_name, status=AddStatus.REFUSED, error=error.code.value, message=error.message
    )


async def _embed_all(
    worker: WorkerClient,
    collection: StoredCollection,
    todo: dict[str, tuple[int, bytes]],
    request_id: str,
    settings: Settings,
) -> dict[str, Embedding | ServiceError]:
    """Embed every file in as few hops as the worker's body limit allows (``worker_chunks``),
    the hops at once; the worker submits each hop's images to its batcher together (one hop
    per image formed forward passes of 3.9 images on average under 8 indexing clients, one per
    request 14.6). A file's own error is kept for it; a failure of the service fails the
    request."""

    async def one(images: list[bytes]) -> list[Embedding | ServiceError]:
        try:
            return await worker.embed_many(
                collection.method, images, request_id, thumbnail=collection.thumbnails
            )
        except ServiceError as error:
            if error.code in BATCH_ERRORS:
                raise
            return [error] * len(images)

    ids = list(todo)
    chunks = worker_chunks([todo[image][1] for image in ids], settings.worker_body_bytes())
    answers = await asyncio.gather(*(one([todo[ids[i]][1] for i in chunk]) for chunk in chunks))
    # The chunks cover the files in order, so the answers joined are in the files' order.
    outcomes = [outcome for answer in answers for outcome in answer]
    return dict(zip(ids, outcomes, strict=True))


def worker_chunks(files: list[bytes], max_bytes: int) -> list[list[int]]:
    """The files' indices in order, grouped so that each group's bytes stay within
    ``max_bytes`` (a file larger than that alone in its group)."""
    chunks: list[list[int]] = []
    size = 0
    for index, data in enumerate(files):
        if not chunks or size + len(data) > max_bytes:
            chunks.append([])
            size = 0
        chunks[-1].append(index)
        size += len(data)
    return chunks


@router.post(
    "/{name}/search",
    response_model=SearchResult,
    responses=ERRORS,
    summary="Find the images most similar to an image",
)
async def search(
    name: CollectionName,
    image: Annotated[UploadFile, File(description="The image to look for.")],
    request: Request,
    store: StoreDep,
    worker: WorkerDep,
    settings: SettingsDep,
    k: Annotated[int, Form(ge=1, description="How many hits (at most ISC_COLLECTION_MAX_K).")] = 10,
    min_score: Annotated[
        float | None,
        Form(ge=-1, le=1, description="Leave out hits whose cosine is lower."),
    ] = None,
    verify: Annotated[
        bool,
        Form(
            description=f"Also check the top {verification.TOP_HITS} hits with the pixel "
            "methods (SSIM and pHash) on the stored thumbnails: the query is reduced as they "
            "were (longest side 256 px, JPEG) and compared with each hit's thumbnail by the "
            "worker; each checked hit gets `verified` with both scores and their calibrated "
            "verdicts. Needs a collection that keeps thumbnails (422 otherwise)."
        ),
    ] = False,
) -> SearchResult:
    """The ``k`` images whose embeddings are nearest the query's, most similar first, with
    the cosine (the same score as a pairwise comparison with the collection's CNN); with
    ``verify=true`` the top hits also carry SSIM and pHash of the thumbnails."""
    if k > settings.collection_max_k:
        raise ServiceError(
            ErrorCode.VALIDATION_ERROR,
            f"k={k} is above the limit of {settings.collection_max_k}.",
            {"field": "k", "limit": settings.collection_max_k},
        )
    collection = await anyio.to_thread.run_sync(store.get, name)
    if verify and not collection.thumbnails:
        raise ServiceError(
            ErrorCode.VALIDATION_ERROR,
            f"Collection '{name}' keeps no thumbnails, and verify=true compares the query with "
            f"the hits' thumbnails: search without verify, or use a collection with thumbnails.",
            {"field": "verify", "collection": name},
        )
    data, query_id = await read_checked_with_id(image, settings)
    request_id = request_id_of(request.scope)
    embedding = await worker.embed(collection.method, data, request_id, thumbnail=verify)
    _same_weights(collection, embedding.weights_key)
    found = await anyio.to_thread.run_sync(store.search, name, embedding.vector, k, min_score)
    hits = [
        SearchHit(
            image=_image(hit),
            score=score,
            verdict=Verdict.IDENTICAL if hit.id == query_id else embedding.verdict(score),
        )
        for hit, score in found
    ]
    if verify and embedding.thumbnail is not None:
        await verification.verify_hits(worker, embedding.thumbnail, hits, request_id)
    return SearchResult(collection=name, method=MethodName(collection.method), hits=hits)


@router.get(
    "/{name}/duplicates",
    response_model=DuplicatesResult,
    responses=ERRORS,
    summary="Every pair of near-duplicate images in a collection",
)
async def duplicates(
    name: CollectionName,
    store: StoreDep,
    worker: WorkerDep,
    threshold: Annotated[
        float | None,
        Query(
            ge=-1,
            le=1,
            description="Lowest cosine of a pair; default: the CNN's calibrated near-duplicate "
            "threshold (422 threshold_required when its weights are not calibrated).",
        ),
    ] = None,
    max_pairs: Annotated[
        int,
        Query(
            ge=1,
            le=100_000,
            description="Most pairs answered (the most similar); truncated says when more "
            "were found.",
        ),
    ] = 10_000,
) -> DuplicatesResult:
    """All pairs at or above the threshold, most similar first, and the groups they join."""
    collection = await anyio.to_thread.run_sync(store.get, name)
    source = "request"
    if threshold is None:
        model = await worker.embedding_model(collection.method)
        _same_weights(collection, model.weights_key)
        if model.near_duplicate_threshold is None:
            raise ServiceError(
                ErrorCode.THRESHOLD_REQUIRED,
                f"{collection.method} with these weights is not calibrated, so there is no "
                f"near-duplicate threshold to default to: give ?threshold= (a cosine, e.g. 0.9).",
                {"field": "threshold", "method": collection.method},
            )
        threshold, source = model.near_duplicate_threshold, "calibrated"
    images, vectors = await anyio.to_thread.run_sync(store.vectors, name)
    pairs, truncated = await anyio.to_thread.run_sync(similar_pairs, vectors, threshold, max_pairs)
    joined = groups(len(images), pairs)
    names = [names_of(image.payload) for image in images]
    described = [_image(image) for image in images]
    return DuplicatesResult(
        collection=name,
        method=MethodName(collection.method),
        threshold=threshold,
        threshold_source=source,
        pairs=[DuplicatePair(a=described[i], b=described[j], score=s) for i, j, s in pairs],
        groups=[[images[i].id for i in group] for group in joined],
        file_groups=[
            DuplicateGroup(
                ids=[images[i].id for i in group],
                file_names=[n for i in group for n in names[i]],
                byte_identical=len(group) == 1,
                exact_copies=[names[i] for i in group if len(names[i]) > 1],
            )
            for group in with_exact_copies(names, joined)
        ],
        truncated=truncated,
    )


@router.get(
    "/{name}/images/{image_id}",
    response_model=CollectionImage,
    responses=ERRORS,
    summary="One image of a collection",
)
async def get_image(name: CollectionName, image_id: ImageId, store: StoreDep) -> CollectionImage:
    """What is stored of the image: its name, size and id (never the file)."""
    stored = await anyio.to_thread.run_sync(store.image, name, image_id)
    if stored is None:
        raise _image_not_found(name, image_id)
    return _image(stored)


@router.delete(
    "/{name}/images/{image_id}",
    status_code=204,
    responses=ERRORS,
    summary="Remove one image from a collection",
)
async def delete_image(name: CollectionName, image_id: ImageId, store: StoreDep) -> Response:
    """Remove the image and its vector."""
    if not await anyio.to_thread.run_sync(store.delete_image, name, image_id):
        raise _image_not_found(name, image_id)
    return Response(status_code=204)


def _image_not_found(name: str, image_id: str) -> ServiceError:
    return ServiceError(
        ErrorCode.IMAGE_NOT_FOUND,
        f"Collection '{name}' holds no image with id {image_id}.",
        {"collection": name, "id": image_id},
    )
