"""``verify=true`` on a collection search: the pixel methods' second opinion on the top hits.

A CNN's cosine says "the same kind of picture"; SSIM and pHash say "the same picture". Only
thumbnails are stored (never the uploads), so the check compares thumbnails: the query's is made
by the worker exactly as the stored ones were (``worker.embedder.thumbnail``: longest side
256 px, JPEG), and each pair goes to the worker's ``/v1/compare`` with ``heatmap_format=none``.
The gateway only sends bytes and reads small answers; every pixel is handled in the worker, and
at most ``CONCURRENCY`` comparisons of one search are in flight at once, so one search cannot
fill the workers' queues.
"""

from __future__ import annotations

import asyncio
import base64

from api.worker_client import WorkerClient
from shared.collections import HitVerification, PixelCheck, SearchHit
from shared.methods import MethodName
from shared.schemas import CompareResult, HeatmapFormat

METHODS = (MethodName.SSIM, MethodName.PHASH)
"""The pixel methods asked, one field of ``HitVerification`` each."""

TOP_HITS = 10
"""How many hits, from the most similar, are verified: the ones a person looks at first."""

CONCURRENCY = 4
"""Comparisons of one search in flight at once (each a few milliseconds on 256 px thumbnails)."""


def data_url_bytes(url: str) -> bytes:
    """The bytes of a base64 data URL (a thumbnail: about 10-30 KB, microseconds to decode)."""
    return base64.b64decode(url.split(",", 1)[1])


async def verify_hits(
    worker: WorkerClient, query_thumbnail: str, hits: list[SearchHit], request_id: str
) -> None:
    """Set ``verified`` on the first ``TOP_HITS`` hits that carry a thumbnail."""
    query = data_url_bytes(query_thumbnail)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def check(method: MethodName, stored: bytes) -> PixelCheck:
        async with gate:
            answer = await worker.compare(
                method.value,
                query,
                stored,
                heatmap_format=HeatmapFormat.NONE,
                request_id=request_id,
            )
        result = CompareResult.model_validate_json(answer.body)
        return PixelCheck(
            score=result.score,
            verdict=result.verdict,
            verdict_label=result.verdict_label,
            calibrated=result.calibrated,
            metrics=result.metrics,
        )

    async def one(hit: SearchHit, thumbnail: str) -> None:
        stored = data_url_bytes(thumbnail)
        checks = await asyncio.gather(*(check(method, stored) for method in METHODS))
        hit.verified = HitVerification(
            **{method.value: found for method, found in zip(METHODS, checks, strict=True)}
        )

    await asyncio.gather(
        *(one(hit, hit.image.thumbnail) for hit in hits[:TOP_HITS] if hit.image.thumbnail)
    )
