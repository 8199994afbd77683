"""What counts as an acceptable upload, decided from the file header alone.

The gateway applies it before forwarding (cheap, in a thread) and the worker again before decoding,
so that neither trusts a file name, a content type, or the other side.

HEIC/HEIF (every iPhone photo) is read by the ``pillow-heif`` plugin, registered here on import so
that every process that checks a header can also open the file; AVIF by Pillow's own plugin.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import pillow_heif
from PIL import Image, UnidentifiedImageError

from shared.errors import ErrorCode, ServiceError

# Embedded thumbnails off: a HEIC's thumbnail is a separate picture the file carries, which an
# edit may leave as it was; only the image itself is ever compared.
pillow_heif.register_heif_opener(thumbnails=False)

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "AVIF", "HEIF", "GIF", "BMP", "TIFF", "MPO"})
ACCEPTED_MIME_TYPES = (
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/avif",
    "image/heic",
    "image/heif",
    "image/gif",
    "image/bmp",
    "image/x-ms-bmp",
    "image/tiff",
)
ACCEPTED_NAMES = "JPEG, PNG, WebP, AVIF, HEIC, GIF, BMP or TIFF"

# ISO base media files (AVIF, HEIF) name their kind in the first box, before anything a truncated
# upload can lose: major brands, as registered for each format.
_FTYP_BRANDS = {
    b"avif": "AVIF",
    b"avis": "AVIF",
    **dict.fromkeys((b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1"), "HEIF"),
}


@dataclass(frozen=True)
class ImageHeader:
    """Format, mode and declared size, read without decoding the pixels."""

    format: str
    mode: str
    width: int
    height: int


def read_image_header(data: bytes, field: str, max_pixels: int) -> ImageHeader:
    """Check that ``data`` is a supported image of acceptable size, reading only its header.

    Raises ``ServiceError`` with 422 (empty, or an AVIF/HEIF whose header is cut off), 415 (not a
    supported image) or 413 (more pixels than ``max_pixels``, the declared-size limit: a
    decompression bomb is refused before a single pixel is decoded).
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
        branded = _FTYP_BRANDS.get(data[8:12]) if data[4:8] == b"ftyp" else None
        if branded is not None:
            raise ServiceError(
                ErrorCode.CORRUPT_IMAGE,
                f"{field} is an {branded} file that could not be read: it is truncated or corrupt.",
                {"field": field, "format": branded, "reason": type(exc).__name__},
            ) from exc
        raise ServiceError(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            f"{field} is not a readable image. Send {ACCEPTED_NAMES}.",
            {"field": field, "reason": type(exc).__name__},
        ) from exc
    if header.format not in ACCEPTED_FORMATS:
        raise ServiceError(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            f"{field} is a {header.format} image; send {ACCEPTED_NAMES}.",
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


def guard_pillow(max_declared_pixels: int) -> None:
    """Pillow's own decompression-bomb guard (a process-wide global) at the service's limit, so
    that it never refuses what ``read_image_header`` accepts (Pillow's default refuses above
    179 MP), and still catches what a header did not tell. For a process's entry point."""
    Image.MAX_IMAGE_PIXELS = max_declared_pixels


def _too_many_pixels(field: str, size: tuple[int, int] | None, max_pixels: int) -> ServiceError:
    declared = f"{size[0]}x{size[1]} pixels" if size else "more pixels than Pillow allows"
    return ServiceError(
        ErrorCode.IMAGE_TOO_LARGE,
        f"{field} declares {declared}; the limit is {max_pixels:,} pixels.",
        {"field": field, "size": list(size) if size else None, "limit_pixels": max_pixels},
    )
