"""What counts as an acceptable upload, decided from the file header alone.

The gateway applies it before forwarding (cheap, in a thread) and the worker again before decoding,
so that neither trusts a file name, a content type, or the other side.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from shared.errors import ErrorCode, ServiceError

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"})
ACCEPTED_MIME_TYPES = (
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "image/bmp",
    "image/x-ms-bmp",
    "image/tiff",
)


@dataclass(frozen=True)
class ImageHeader:
    """Format, mode and declared size, read without decoding the pixels."""

    format: str
    mode: str
    width: int
    height: int


def read_image_header(data: bytes, field: str, max_pixels: int) -> ImageHeader:
    """Check that ``data`` is a supported image of acceptable size, reading only its header.

    Raises ``ServiceError`` with 422 (empty), 415 (not a supported image) or 413 (more pixels than
    ``max_pixels``: a decompression bomb is refused before a single pixel is decoded).
    """
    if not data:
        raise ServiceError(ErrorCode.EMPTY_FILE, f"{field} is an empty file.", {"field": field})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                header = ImageHeader(image.format or "", image.mode, image.width, image.height)
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels(field, None, max_pixels) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ServiceError(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            f"{field} is not a readable image. Send JPEG, PNG, WebP, GIF, BMP or TIFF.",
            {"field": field, "reason": type(exc).__name__},
        ) from exc
    if header.format not in ACCEPTED_FORMATS:
        raise ServiceError(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            f"{field} is a {header.format} image; send JPEG, PNG, WebP, GIF, BMP or TIFF.",
            {"field": field, "format": header.format},
        )
    if header.width < 1 or header.height < 1:
        raise ServiceError(
            ErrorCode.CORRUPT_IMAGE, f"{field} declares no pixels.", {"field": field}
        )
    pixels = header.width * header.height
    if pixels > max_pixels:
        raise _too_many_pixels(field, (header.width, header.height), max_pixels)
    return header


def _too_many_pixels(field: str, size: tuple[int, int] | None, max_pixels: int) -> ServiceError:
    declared = f"{size[0]}x{size[1]} pixels" if size else "more pixels than Pillow allows"
    return ServiceError(
        ErrorCode.IMAGE_TOO_LARGE,
        f"{field} declares {declared}; the limit is {max_pixels:,} pixels.",
        {"field": field, "size": list(size) if size else None, "limit_pixels": max_pixels},
    )
