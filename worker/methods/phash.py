"""Perceptual hash distance, the field's standard fast near-duplicate check (``ImageHash``).

pHash: a 32x32 grey thumbnail, its 2-D DCT, the 8x8 lowest frequencies thresholded at their
median: 64 bits. The score is ``1 - Hamming distance / 64``; the dHash distance is reported too.
A hash has no notion of place, so the heatmap shows the difference of the two 32x32 grey
thumbnails the hash is computed from: what the hash "sees".
"""

from __future__ import annotations

import cv2
import imagehash
import numpy as np
from PIL import Image

from shared.methods import MethodName
from shared.schemas import HeatmapLegend, MethodState, WeightsSource
from worker.decode import DecodedImage
from worker.methods.base import Availability, CompareOptions, Comparison
from worker.transparency import background_note

HASH_BITS = 64
THUMBNAIL = 32

PHASH_LEGEND = HeatmapLegend(
    low="blue: the coarse brightness pattern the hash sees is the same",
    high="red: the coarse brightness pattern differs",
    no_counterpart="grey: not used (the hash looks at whole images)",
    scale="colour = absolute difference of the 32x32 grey thumbnails the hash is computed "
    "from, 0 (blue) to 50% of the brightness range or more (red)",
)


def _thumbnail(pixels: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (THUMBNAIL, THUMBNAIL), interpolation=cv2.INTER_AREA).astype(np.float32)


class PerceptualHashMethod:
    """pHash Hamming similarity."""

    name = MethodName.PHASH
    decode_side: int | None = THUMBNAIL * 8  # the hash looks at 32x32; 8x that is plenty

    def availability(self) -> Availability:
        """Needs nothing but the pixels."""
        return Availability(MethodState.READY, None, WeightsSource.NONE, "phash")

    def compare(self, a: DecodedImage, b: DecodedImage, options: CompareOptions) -> Comparison:
        """Hamming distance of the two 64-bit perceptual hashes."""
        del options  # a global hash has nothing to align
        image_a, image_b = Image.fromarray(a.pixels), Image.fromarray(b.pixels)
        p_distance = int(imagehash.phash(image_a) - imagehash.phash(image_b))
        d_distance = int(imagehash.dhash(image_a) - imagehash.dhash(image_b))
        difference = np.abs(_thumbnail(a.pixels) - _thumbnail(b.pixels)) / 127.5
        aspect_a = a.pixels.shape[1] / a.pixels.shape[0]
        target_w = 256 if aspect_a >= 1 else max(1, round(256 * aspect_a))
        target_h = max(1, round(target_w / aspect_a))
        spread = cv2.resize(
            np.clip(difference, 0.0, 1.0), (target_w, target_h), interpolation=cv2.INTER_LINEAR
        )
        return Comparison(
            score=1.0 - p_distance / HASH_BITS,
            difference_map=spread.astype(np.float32),
            legend=PHASH_LEGEND,
            preparation="Each image was reduced on its own to a 32x32 grey thumbnail (the hash "
            "ignores aspect ratio by design) and hashed; no alignment applies to a hash."
            + background_note(a, b),
            metrics={"phash_distance": float(p_distance), "dhash_distance": float(d_distance)},
        )
