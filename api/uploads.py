"""Checks on uploaded files before anything is forwarded: size, then a header sniff in a thread.

File names and client-declared content types are never trusted: only the bytes decide.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import UploadFile
from starlette.concurrency import run_in_threadpool

from shared.errors import ErrorCode, ServiceError
from shared.image_header import ImageHeader, read_image_header
from shared.settings import Settings

MULTIPART_OVERHEAD_BYTES = 64 * 1024
"""Room for a comparison's form fields and part headers beside its two files."""


def max_body_bytes(settings: Settings) -> int:
    """The largest comparison body the gateway reads: the two files it passes on to the worker
    (``Settings.worker_body_bytes``) and their form."""
    return settings.worker_body_bytes() + MULTIPART_OVERHEAD_BYTES


@dataclass(frozen=True)
class CheckedUpload:
    """An upload's bytes, once they are known to be a supported image within the limits."""

    data: bytes
    header: ImageHeader


async def _read_within_limit(upload: UploadFile, field: str, limit: int) -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise ServiceError(
            ErrorCode.FILE_TOO_LARGE,
            f"{field} is larger than the limit of {limit:,} bytes.",
            {"field": field, "limit_bytes": limit},
        )
    return data


async def read_checked_pair(
    first: tuple[UploadFile, str], second: tuple[UploadFile, str], settings: Settings
) -> tuple[CheckedUpload, CheckedUpload]:
    """Both files, size-checked, then header-checked in one trip to a thread (a header is cheap
    to read, but a crafted file can make it slow, so never on the event loop)."""
    (upload_a, field_a), (upload_b, field_b) = first, second
    data_a = await _read_within_limit(upload_a, field_a, settings.max_upload_bytes)
    data_b = await _read_within_limit(upload_b, field_b, settings.max_upload_bytes)

    def sniff() -> tuple[CheckedUpload, CheckedUpload]:
        # The declared-size limit: larger than the decode bound, which the worker meets by
        # decoding big photos at reduced scale.
        pixels = settings.max_declared_pixels
        return (
            CheckedUpload(data_a, read_image_header(data_a, field_a, pixels)),
            CheckedUpload(data_b, read_image_header(data_b, field_b, pixels)),
        )

    return await run_in_threadpool(sniff)


def describe_uploads(*uploads: CheckedUpload) -> dict[str, object]:
    """Sizes for the access log: bytes and declared pixels, nothing about the content."""
    return {
        "bytes": [len(upload.data) for upload in uploads],
        "pixels": [[upload.header.width, upload.header.height] for upload in uploads],
    }
