"""Transparency beside the colour: what the methods say about it and how the pixel method
compares it.

Decoding composites a transparent image over white (``worker.decode``) and keeps its alpha in
``DecodedImage.alpha``. Every method compares the composited colour; the pixel method also
compares the alpha itself, so that a transparent area that became opaque white (which looks the
same over white) is still counted as changed.
"""

from __future__ import annotations

import numpy as np

from worker.decode import DecodedImage

OPAQUE = 255


def either_has_alpha(a: DecodedImage, b: DecodedImage) -> bool:
    """Whether either image has transparency."""
    return a.alpha is not None or b.alpha is not None


def background_note(a: DecodedImage, b: DecodedImage) -> str:
    """For a method that compares colour only: on which background it compared, when either
    image has transparency ("" otherwise)."""
    which = [label for label, image in (("A", a), ("B", b)) if image.alpha is not None]
    if not which:
        return ""
    owners = f"{which[0]} has" if len(which) == 1 else "Both have"
    return (
        f" {owners} transparency: transparent areas were composited over white before "
        f"comparing, so this method sees them as white and does not compare the transparency "
        f"itself (the pixel method does)."
    )


def with_alpha(image: DecodedImage) -> np.ndarray:
    """The image as H x W x 4 (RGB composited over white, then alpha; opaque when it has
    none): colour and opacity travel together through the same geometry."""
    height, width = image.pixels.shape[:2]
    alpha = image.alpha if image.alpha is not None else np.full((height, width), OPAQUE, np.uint8)
    return np.ascontiguousarray(np.dstack([image.pixels, alpha]))


def transparency_change(a: DecodedImage, b: DecodedImage) -> str | None:
    """How B's transparency differs from A's: 'removed', 'added', 'changed' or None."""
    if a.alpha is None and b.alpha is None:
        return None
    if b.alpha is None:
        return "removed"
    if a.alpha is None:
        return "added"
    if a.alpha.shape != b.alpha.shape or not np.array_equal(a.alpha, b.alpha):
        return "changed"
    return None
