"""Turn uploaded bytes into an RGB ``uint8`` array the methods can trust.

Every upload goes through the same steps, so that a method never sees a mode it did not expect:
header check (size and pixel limits), first frame only, EXIF orientation, 16-bit and float data
scaled to 8 bits, CMYK and palette converted, transparency composited over white.
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from shared.errors import ErrorCode, ServiceError
from shared.image_header import read_image_header
from shared.schemas import ImageInfo

EXIF_ORIENTATION = 0x0112
QUARTER_TURNS = frozenset({5, 6, 7, 8})  # orientations that swap width and height
_HIGH_DEPTH_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})


@dataclass(frozen=True)
class DecodedImage:
    """Pixels (H x W x 3, uint8, RGB) and what the client should hear about them."""

    pixels: np.ndarray
    info: ImageInfo
    digest: str | None = None
    """Hash of the uploaded bytes: the key under which work on this image is cached."""

    @classmethod
    def from_pixels(cls, pixels: np.ndarray) -> DecodedImage:
        """Wrap an RGB array that needs no decoding (tools and tests)."""
        height, width = pixels.shape[:2]
        info = ImageInfo(width=width, height=height, bytes=0)
        return cls(np.ascontiguousarray(pixels), info)


def decode_image(
    data: bytes,
    field: str,
    max_pixels: int,
    *,
    enough_side: int | None = None,
    digest: str | None = None,
) -> DecodedImage:
    """Decode ``data``; raise ``ServiceError`` (4xx) for anything that is not a sound image.

    ``enough_side``: the method needs no more than this many pixels on the long side, so a JPEG
    may be decoded at a reduced scale (libjpeg's DCT scaling: 1/2, 1/4, 1/8), several times
    faster. ``info`` always gives the full size. ``digest``: ``digest_of(data)``, when the caller
    has already computed it.
    """
    header = read_image_header(data, field, max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image.seek(0)
                if enough_side is not None and image.format == "JPEG":
                    image.draft("RGB", _draft_size(image.size, enough_side))
                image.load()
                orientation = image.getexif().get(EXIF_ORIENTATION, 1)
                turned = orientation in QUARTER_TURNS
                # exif_transpose copies even an upright image: only call it when it turns.
                oriented = ImageOps.exif_transpose(image) if orientation != 1 else image
                pixels = _to_rgb(oriented)
    except ServiceError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombWarning) as exc:
        raise ServiceError(
            ErrorCode.CORRUPT_IMAGE,
            f"{field} could not be decoded: the file is truncated or corrupt.",
            {"field": field, "reason": str(exc)[:200]},
        ) from exc
    width, height = (header.height, header.width) if turned else (header.width, header.height)
    info = ImageInfo(
        width=width, height=height, format=header.format, mode=header.mode, bytes=len(data)
    )
    return DecodedImage(pixels=pixels, info=info, digest=digest or digest_of(data))


def _draft_size(size: tuple[int, int], enough_side: int) -> tuple[int, int]:
    """The smallest size, shaped like the image, whose long side is ``enough_side``: Pillow's
    draft then picks the strongest reduction that stays at least that large."""
    width, height = size
    scale = min(1.0, enough_side / max(width, height))
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def digest_of(data: bytes) -> str:
    """A short, collision-resistant fingerprint of uploaded bytes."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _to_rgb(image: Image.Image) -> np.ndarray:
    """Any Pillow mode to contiguous RGB uint8, alpha composited over white."""
    if image.mode == "RGB":  # the common case, without convert()'s copy
        return np.asarray(image, dtype=np.uint8)
    if image.mode in _HIGH_DEPTH_MODES:
        return np.ascontiguousarray(np.repeat(_high_depth_to_uint8(image)[..., None], 3, axis=2))
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode in ("1", "CMYK", "YCbCr", "LAB", "HSV", "L"):
        image = image.convert("RGB")
    if image.mode in _ALPHA_MODES:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def _high_depth_to_uint8(image: Image.Image) -> np.ndarray:
    """16-bit or float grey to 8 bits by the range the data type implies, not by min/max
    stretching, so that a dark 16-bit image stays dark."""
    values = np.asarray(image, dtype=np.float64)
    if image.mode == "F":
        top = 1.0 if values.size and float(np.nanmax(values)) <= 1.0 else 255.0
    else:
        top = 65535.0 if values.size and float(values.max()) > 255 else 255.0
    scaled = np.nan_to_num(values, nan=0.0) * (255.0 / top)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
