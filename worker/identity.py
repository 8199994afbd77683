"""When two images are "identical": one rule for every method, decided once per pair.

Identical means the same size as uploaded, the same decoded pixels and the same transparency.
Each method compares on its own frame (cropped, scaled or registered to a common shape), where
a 50x50 and an 80x50 white image look alike; so the verdict ``identical`` is never taken from a
method's frame but from the two decoded images here, and a pair whose sizes differ says so.
"""

from __future__ import annotations

import numpy as np

from worker.decode import DecodedImage


def identical(a: DecodedImage, b: DecodedImage) -> bool:
    """Same original size, same decoded pixels, same alpha (None: opaque everywhere).

    An image decoded at reduced scale hides differences smaller than its reduction, so such a
    pair is identical only when the uploaded bytes are (the same digest)."""
    if (a.info.width, a.info.height) != (b.info.width, b.info.height):
        return False
    if a.reduced or b.reduced:
        return a.digest is not None and a.digest == b.digest
    if a.digest is not None and a.digest == b.digest:
        return True  # the same bytes decode to the same pixels and alpha
    if a.pixels.shape != b.pixels.shape or not _same_pixels(a.pixels, b.pixels):
        return False
    if a.alpha is None or b.alpha is None:
        return a.alpha is None and b.alpha is None
    return bool(np.array_equal(a.alpha, b.alpha))


def _same_pixels(a: np.ndarray, b: np.ndarray) -> bool:
    """``np.array_equal``, after a look at every 16th row: most pairs differ there already,
    and that look costs a sixteenth of the full comparison."""
    return np.array_equal(a[::16], b[::16]) and np.array_equal(a, b)


def size_note(a: DecodedImage, b: DecodedImage, quarter_turns: int = 0) -> str:
    """'' for images of one size; otherwise the sentence that says the sizes differ. B's size
    is given as uploaded and, when B was turned back by a quarter turn, compared as turned."""
    aw, ah = a.info.width, a.info.height
    bw, bh = b.info.width, b.info.height
    cw, ch = (bh, bw) if quarter_turns % 2 else (bw, bh)
    if (aw, ah) == (cw, ch):
        return ""
    return f"The sizes differ: B is {bw}x{bh} pixels, A {aw}x{ah}, so they are not identical."
