"""Turn uploaded bytes into an RGB ``uint8`` array the methods can trust.

Every upload goes through the same steps, so that a method never sees a mode it did not expect:
header check (declared-size limit), first frame only, reduced scale when the image is larger than
the memory bound, EXIF orientation, 16-bit and float data scaled to 8 bits, CMYK and palette
converted, transparency composited over white, and the alpha channel kept beside the colour
(``DecodedImage.alpha``) so that a change of transparency is not lost with it.
"""

from __future__ import annotations

import hashlib
import io
import math
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from shared.errors import ErrorCode, ServiceError
from shared.image_header import read_image_header
from shared.schemas import ImageInfo

EXIF_ORIENTATION = 0x0112
QUARTER_TURNS = frozenset({5, 6, 7, 8})  # orientations that swap width and height
_UPRIGHT = {  # what ImageOps.exif_transpose does per orientation, applied to the fitted image
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_UPRIGHT_ARRAY: dict[int, Callable[[np.ndarray], np.ndarray]] = {  # the same, on an array
    2: lambda a: cv2.flip(a, 1),
    3: lambda a: cv2.rotate(a, cv2.ROTATE_180),
    4: lambda a: cv2.flip(a, 0),
    5: cv2.transpose,
    6: lambda a: cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE),
    7: lambda a: cv2.flip(cv2.transpose(a), -1),
    8: lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE),
}
JPEG_END = b"\xff\xd9"
_HIGH_DEPTH_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_REDUCIBLE_MODES = frozenset({"L", "LA", "La", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "I", "F"})
_DRAFT_SCALES = (1, 2, 4, 8)  # libjpeg's DCT scaling, which Pillow's JPEG draft mode uses

_WHOLE_DECODES = threading.BoundedSemaphore(1)
"""An image over the memory bound in a format that cannot be decoded at reduced scale (PNG, WebP,
TIFF, AVIF, HEIC...) is held at its declared size for a moment: one such decode at a time, so
that the worker's peak is one declared image above its usual bound, not one per thread."""


@dataclass(frozen=True)
class DecodedImage:
    """Pixels (H x W x 3, uint8, RGB) and what the client should hear about them."""

    pixels: np.ndarray
    info: ImageInfo
    digest: str | None = None
    """Hash of the uploaded bytes: the key under which work on this image is cached."""
    reduced: bool = False
    """The image declares more pixels than the memory bound and was decoded at reduced scale to
    fit: ``pixels`` is smaller than ``info``'s size, by about the same factor on both sides."""
    alpha: np.ndarray | None = None
    """Opacity (H x W, uint8, 255 opaque) beside ``pixels``, which are composited over white;
    None when the image has no transparency or is opaque everywhere."""

    @classmethod
    def from_pixels(cls, pixels: np.ndarray, alpha: np.ndarray | None = None) -> DecodedImage:
        """Wrap an RGB array (composited over white) and its alpha, if any, that need no
        decoding (tools and tests)."""
        height, width = pixels.shape[:2]
        alpha = _kept_alpha(alpha)
        info = ImageInfo(width=width, height=height, bytes=0, has_alpha=alpha is not None)
        return cls(np.ascontiguousarray(pixels), info, alpha=alpha)


def decode_image(
    data: bytes,
    field: str,
    max_pixels: int,
    *,
    max_declared_pixels: int | None = None,
    enough_side: int | None = None,
    digest: str | None = None,
) -> DecodedImage:
    """Decode ``data``; raise ``ServiceError`` (4xx) for anything that is not a sound image.

    ``max_pixels`` bounds the decoded image: one that declares more (a 48 MP phone photo) is
    decoded at the smallest reduction that fits, a JPEG by libjpeg at 1/2, 1/4 or 1/8 scale
    without ever holding the full size, any other format whole and then box-averaged
    (``Image.reduce``), one such decode at a time. ``reduced`` says so; ``info`` keeps the
    original size. ``max_declared_pixels``: above it the file is refused (413) from its header,
    undecoded; by default the process's Pillow guard (``Image.MAX_IMAGE_PIXELS``, which the
    worker sets to ISC_MAX_DECLARED_PIXELS), and never below ``max_pixels``.

    ``enough_side``: the method needs no more than this many pixels on the long side, so a JPEG
    may be decoded at a reduced scale, several times faster; ``reduced`` does not count that.
    ``digest``: ``digest_of(data)``, when the caller has already computed it.
    """
    header = read_image_header(data, field, _declared_limit(max_pixels, max_declared_pixels))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format != "HEIF":  # a HEIF file opens at its primary image
                    image.seek(0)
                plain = _plain_jpeg(image, data, max_pixels, enough_side)
                if plain is not None:
                    orientation = image.getexif().get(EXIF_ORIENTATION, 1)
                    pixels, alpha = _upright_array(plain, orientation), None
                else:
                    if image.format in ("JPEG", "MPO"):
                        _draft(image, max_pixels, enough_side)
                    if image.size[0] * image.size[1] > max_pixels:
                        with _WHOLE_DECODES:
                            image.load()
                            fitted = _reduce_to_fit(image, max_pixels)
                    else:
                        image.load()
                        fitted = image
                    orientation = image.getexif().get(EXIF_ORIENTATION, 1)
                    # Read from the file, applied to the (maybe reduced) pixels; none: no copy.
                    upright = _UPRIGHT.get(orientation)
                    oriented = fitted.transpose(upright) if upright is not None else fitted
                    pixels, alpha = _to_rgb(oriented)
                turned = orientation in QUARTER_TURNS
    except ServiceError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombWarning) as exc:
        raise ServiceError(
            ErrorCode.CORRUPT_IMAGE,
            f"{field} could not be decoded: the file is truncated or corrupt.",
            {"field": field, "reason": str(exc)[:200]},
        ) from exc
    width, height = (header.height, header.width) if turned else (header.width, header.height)
    reduced = header.width * header.height > max_pixels
    info = ImageInfo(
        width=width,
        height=height,
        format=header.format,
        mode=header.mode,
        bytes=len(data),
        decoded_width=pixels.shape[1] if reduced else None,
        decoded_height=pixels.shape[0] if reduced else None,
        has_alpha=alpha is not None,
    )
    return DecodedImage(pixels, info, digest or digest_of(data), reduced, alpha)


def _plain_jpeg(
    image: Image.Image, data: bytes, max_pixels: int, enough_side: int | None
) -> np.ndarray | None:
    """A whole colour JPEG decoded by OpenCV straight into an array (RGB, EXIF orientation not
    applied); None when the file is anything else, or needs Pillow's handling (draft or fit),
    or OpenCV could not decode it.

    Why: Pillow keeps RGB as four bytes a pixel and copies it out packed
    (``Image.tobytes``, holding the GIL), a fifth of a 1024x768 photo's decoding; OpenCV's
    libjpeg-turbo decodes into the array itself, 0.45 ms sooner per photo. Both run libjpeg-turbo
    with its default (exact) DCT and upsampling: the pixels were the same, bit for bit, on 249
    JPEGs (the eval photos and flowers, 4:4:4, 4:2:2 and 4:2:0, baseline and progressive).
    Only files that end with libjpeg's end-of-image marker come here: libjpeg fills the rest of
    a truncated JPEG with grey and only warns, and while this OpenCV build turns that into a
    failure (None, then Pillow's refusal), the check does not leave the client's error to
    the OpenCV version installed.
    """
    if image.format != "JPEG" or image.mode != "RGB" or enough_side is not None:
        return None
    width, height = image.size
    if width * height > max_pixels or not data.endswith(JPEG_END):
        return None
    flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if decoded is None or decoded.shape != (height, width, 3):
        return None
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def _upright_array(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """``pixels`` turned as ``_UPRIGHT`` turns a Pillow image for each EXIF orientation."""
    turn = _UPRIGHT_ARRAY.get(orientation)
    return pixels if turn is None else turn(pixels)


def _declared_limit(max_pixels: int, max_declared_pixels: int | None) -> int:
    if max_declared_pixels is None:
        max_declared_pixels = Image.MAX_IMAGE_PIXELS or max_pixels
    return max(max_pixels, max_declared_pixels)


def _draft(image: Image.Image, max_pixels: int, enough_side: int | None) -> None:
    """Ask libjpeg for the strongest reduction that the memory bound or the method's
    ``enough_side`` allows (a JPEG can be drafted only once)."""
    scale = _fitting_scale(image.size, max_pixels)
    size = _size_for_scale(image.size, scale) if scale > 1 else None
    if enough_side is not None:
        wanted = _draft_size(image.size, enough_side)
        size = wanted if size is None else (min(size[0], wanted[0]), min(size[1], wanted[1]))
    if size is not None:
        image.draft("RGB", size)


def _fitting_scale(size: tuple[int, int], max_pixels: int) -> int:
    """The smallest DCT scale at which the image fits ``max_pixels`` (8 when none does: the rest
    is then done by ``_reduce_to_fit``)."""
    width, height = size
    for scale in _DRAFT_SCALES:
        if math.ceil(width / scale) * math.ceil(height / scale) <= max_pixels:
            return scale
    return _DRAFT_SCALES[-1]


def _size_for_scale(size: tuple[int, int], scale: int) -> tuple[int, int]:
    """A size for which Pillow's draft picks exactly ``scale``: the largest scale ``s`` for which
    ``width // s`` and ``height // s`` still reach the size asked for."""
    width, height = size
    return max(1, width // scale), max(1, height // scale)


def _reduce_to_fit(image: Image.Image, max_pixels: int) -> Image.Image:
    """Box-average ``image`` by the smallest whole factor that brings it within ``max_pixels``:
    every source pixel counts once, so nothing aliases."""
    width, height = image.size
    factor = max(2, math.floor(math.sqrt(width * height / max_pixels)))
    while math.ceil(width / factor) * math.ceil(height / factor) > max_pixels:
        factor += 1
    if image.mode not in _REDUCIBLE_MODES:  # palette, bilevel, 16-bit: what reduce() refuses
        image = image.convert(_reducible_mode(image))
    return image.reduce(factor)


def _reducible_mode(image: Image.Image) -> str:
    if image.mode in _HIGH_DEPTH_MODES:
        return "I"
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        return "RGBA"
    return "RGB"


def _draft_size(size: tuple[int, int], enough_side: int) -> tuple[int, int]:
    """The smallest size, shaped like the image, whose long side is ``enough_side``: Pillow's
    draft then picks the strongest reduction that stays at least that large."""
    width, height = size
    scale = min(1.0, enough_side / max(width, height))
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def digest_of(data: bytes) -> str:
    """A short, collision-resistant fingerprint of uploaded bytes."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _to_rgb(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Any Pillow mode to contiguous RGB uint8, alpha composited over white, and the alpha
    (None when there is none or it is opaque everywhere)."""
    if image.mode == "RGB" and "transparency" not in image.info:  # common: no convert() copy
        return np.asarray(image, dtype=np.uint8), None
    if image.mode in _HIGH_DEPTH_MODES:
        grey = _high_depth_to_uint8(image)
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2)), None
    if "transparency" in image.info and image.mode in ("P", "L", "RGB", "1"):
        image = image.convert("RGBA")  # a palette entry or colour key marked transparent
    elif image.mode in ("1", "CMYK", "YCbCr", "LAB", "HSV", "L", "P"):
        image = image.convert("RGB")
    alpha = None
    if image.mode in _ALPHA_MODES:
        rgba = image.convert("RGBA")
        alpha = _kept_alpha(np.asarray(rgba)[..., 3])
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8)), alpha


def _kept_alpha(alpha: np.ndarray | None) -> np.ndarray | None:
    """``alpha`` as contiguous uint8, or None when it is opaque everywhere: an opaque alpha
    channel says nothing the colour does not."""
    if alpha is None or not alpha.size or int(alpha.min()) == 255:
        return None
    return np.ascontiguousarray(alpha, dtype=np.uint8)


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
