"""Checks on uploaded files before anything is forwarded: size, then a header sniff in a thread.

File names and client-declared content types are never trusted: only the bytes decide.
"""

from __future__ import annotations

from fastapi import UploadFile
from starlette.concurrency import run_in_threadpool

from shared.errors import ErrorCode, ServiceError
from shared.image_header import ImageHeader, read_image_header
from shared.settings import Settings


async def read_checked_upload(
    upload: UploadFile, field: str, settings: Settings
) -> tuple[bytes, ImageHeader]:
    """The file's bytes, once it is known to be a supported image within the limits."""
    limit = settings.max_upload_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise ServiceError(
            413,
            ErrorCode.FILE_TOO_LARGE,
            f"{field} is larger than the limit of {limit:,} bytes.",
            {"field": field, "limit_bytes": limit},
        )
    header = await run_in_threadpool(read_image_header, data, field, settings.max_image_pixels)
    return data, header


def describe_uploads(*uploads: tuple[bytes, ImageHeader]) -> dict[str, object]:
    """Sizes for the access log: bytes and declared pixels, nothing about the content."""
    return {
        "bytes": [len(data) for data, _ in uploads],
        "pixels": [[header.width, header.height] for _, header in uploads],
    }
