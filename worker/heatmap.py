"""Draw a difference map over image A as a JPEG or PNG data URL.

The colours are fixed (not stretched per image) so that they mean the same in every result:
Turbo, a perceptually ordered colormap, from blue (0, alike) to red (1, different); places of A
with no counterpart in B are shown in neutral grey.
"""

from __future__ import annotations

import base64
import io

import cv2
import numpy as np
from PIL import Image

from shared.schemas import HeatmapFormat

BLEND = 0.55  # share of the colour over the (greyed) photo
NO_COUNTERPART_GREY = 128.0


def resize_masked(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize that ignores NaN cells and stays NaN where most input was NaN."""
    valid = ~np.isnan(values)
    if valid.all():
        return cv2.resize(
            values.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR
        )
    weights = valid.astype(np.float32)
    filled = np.where(valid, values, 0.0).astype(np.float32)
    sum_values = cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR)
    sum_weights = cv2.resize(weights, (width, height), interpolation=cv2.INTER_LINEAR)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = sum_values / sum_weights
    return np.where(sum_weights >= 0.5, out, np.nan).astype(np.float32)


def output_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(height, width) with A's aspect ratio and the longest side at most ``max_side``."""
    scale = min(1.0, max_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def colorize(difference: np.ndarray) -> np.ndarray:
    """RGB uint8 Turbo colours for values in 0..1 (NaN becomes 0; mask it separately).

    OpenCV all the way (patch NaNs, clip, scale with rounding and saturation): four times
    faster than the same steps in NumPy, which made colouring the slowest part of a heatmap.
    """
    values = np.array(difference, dtype=np.float32)  # a copy: NaNs are patched in place
    cv2.patchNaNs(values, 0.0)
    _, non_negative = cv2.threshold(values, 0.0, 0.0, cv2.THRESH_TOZERO)  # max(values, 0)
    levels = cv2.convertScaleAbs(non_negative, alpha=255.0)  # rounds; above 1 -> 255
    return cv2.cvtColor(cv2.applyColorMap(levels, cv2.COLORMAP_TURBO), cv2.COLOR_BGR2RGB)


def grey_base(image_a: np.ndarray, max_side: int) -> np.ndarray:
    """Image A in grey at the heatmap's size: the background every view of one result shares."""
    height, width = output_size(image_a.shape[0], image_a.shape[1], max_side)
    # Grey first, then resized: one plane to average instead of three (half the time, within
    # one grey level of resizing the colour image).
    grey = cv2.cvtColor(image_a, cv2.COLOR_RGB2GRAY) if image_a.ndim == 3 else image_a
    # Area averaging where it matters (shrinking more than 2x, where bilinear sampling would
    # skip pixels and alias); bilinear above, five times faster (a 1024x768 A to the default
    # 768 px: 0.5 ms instead of 2.6), for a background that the colours are blended over.
    shrink = width / grey.shape[1]
    interpolation = cv2.INTER_AREA if shrink < 0.5 else cv2.INTER_LINEAR
    base = cv2.resize(grey, (width, height), interpolation=interpolation)
    return cv2.cvtColor(base, cv2.COLOR_GRAY2RGB)


def render_overlay(
    image_a: np.ndarray,
    difference: np.ndarray,
    max_side: int,
    base: np.ndarray | None = None,
) -> np.ndarray:
    """RGB uint8 picture: A in grey with the difference colours blended over it.

    ``base`` (from ``grey_base``) may be passed in when several views of one result share it;
    its size then sets the picture's size.
    """
    grey = grey_base(image_a, max_side) if base is None else base
    height, width = grey.shape[:2]
    values = resize_masked(difference.astype(np.float32, copy=False), height, width)
    blended = cv2.addWeighted(grey, 1.0 - BLEND, colorize(values), BLEND, 0.0)
    missing = np.isnan(values)
    if missing.any():
        neutral = cv2.addWeighted(grey, 0.5, np.full_like(grey, int(NO_COUNTERPART_GREY)), 0.5, 0)
        np.copyto(blended, neutral, where=missing[..., None])  # no gather-scatter copies
    return blended


def difference_png(difference: np.ndarray, height: int, width: int) -> str:
    """The difference values themselves at ``height`` x ``width``, as a PNG data URL: grey
    level = value x 255 on the heatmap's fixed scale (0 alike, 255 different), for clients that
    threshold or measure the differences themselves; where A has no counterpart in B the pixel
    is transparent (grey plus alpha), otherwise the PNG is plain grey."""
    values = resize_masked(difference.astype(np.float32, copy=False), height, width)
    missing = np.isnan(values)
    cv2.patchNaNs(values, 0.0)
    levels = cv2.convertScaleAbs(np.clip(values, 0.0, 1.0), alpha=255.0)
    if missing.any():
        alpha = np.where(missing, 0, 255).astype(np.uint8)
        picture = Image.fromarray(np.dstack([levels, alpha]), "LA")
    else:
        picture = Image.fromarray(levels, "L")
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)
    payload = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"data:image/png;base64,{payload}"


JPEG_PARAMS = [
    cv2.IMWRITE_JPEG_QUALITY,
    90,
    # Colour subsampled 4:2:0, as in photos. Measured on ten SSIM overlays of 768x576: mean
    # error 2.4 grey levels against 1.5 with full-resolution colour (4:4:4), invisible on a
    # colour scale, for 1.0 ms of encoding instead of 2.5 and 109 KB instead of 158 KB (each
    # byte is also base64-encoded, passed on by the gateway and parsed by the client).
]


def data_url(rgb: np.ndarray, image_format: HeatmapFormat) -> str:
    """Encode an RGB array as a JPEG or PNG data URL.

    JPEG suits these pictures (smooth colours over a photo) and is the default: encoding a
    768x512 overlay takes under a millisecond where PNG takes six milliseconds. PNG keeps
    OpenCV's defaults (fastest deflate level, run-length strategy), which measured fastest.
    """
    if image_format is HeatmapFormat.NONE:
        raise ValueError("heatmap_format=none draws no heatmap: nothing to encode")
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if image_format is HeatmapFormat.PNG:
        ok, encoded = cv2.imencode(".png", bgr)
    else:
        ok, encoded = cv2.imencode(".jpg", bgr, JPEG_PARAMS)
    if not ok:  # pragma: no cover - OpenCV only fails on empty arrays, which we never pass
        raise RuntimeError(f"{image_format} encoding failed")
    payload = base64.b64encode(encoded.tobytes()).decode("ascii")
    return f"data:image/{image_format.value};base64,{payload}"
