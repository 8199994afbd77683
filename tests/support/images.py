"""Real images for tests, encoded in whatever format or mode a test needs."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from skimage import data


def astronaut() -> np.ndarray:
    """scikit-image's astronaut photo (public domain, NASA), RGB 512x512."""
    return data.astronaut()


def coffee() -> np.ndarray:
    """scikit-image's coffee photo (CC0), RGB 400x600."""
    return data.coffee()


def logo_rgba() -> np.ndarray:
    """Matplotlib's logo (its sample data, a test dependency), RGBA 542x130: a real logo on a
    transparent background (73 % of it fully transparent, anti-aliased edges)."""
    from matplotlib import cbook

    with Image.open(cbook.get_sample_data("logo2.png", asfileobj=False)) as image:
        return np.asarray(image.convert("RGBA"))


def encode(pixels: np.ndarray | Image.Image, fmt: str, **options: object) -> bytes:
    """Encode an array or Pillow image in ``fmt``."""
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png(pixels: np.ndarray) -> bytes:
    """PNG bytes of an RGB or grey array."""
    return encode(pixels, "PNG")


def jpeg(pixels: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of an RGB array."""
    return encode(pixels, "JPEG", quality=quality)
