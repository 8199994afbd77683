"""MS-SSIM: agrees with TensorFlow's independent implementation on real photos and their
blurred, noised and JPEG copies; 1 for identical images, lower with more blur, symmetric, and
size-checked.

No published MS-SSIM value for an image we hold could be cited (the paper reports correlations
with subjective scores, not per-image values), so the published part is checked through
TensorFlow: ``tf.image.ssim_multiscale`` is called with its own default ``power_factors``, which
its documentation gives as the values of the original paper.
"""

from __future__ import annotations

import io
from types import ModuleType

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.support.images import astronaut
from tests.support.paths import photo
from worker.decode import DecodedImage
from worker.methods.base import CompareOptions
from worker.methods.ms_ssim import MIN_SIDE, MsSsimMethod
from worker.metrics import ms_ssim, structural_similarity, to_luma

# Both sides work in float32 and reach the local variances as E[x^2] - mu^2 (values up to
# 255^2), so each rounds differently in flat regions. Against a float64 computation of the same
# formula ours was within 6e-6 and TensorFlow's within 2.5e-5 on these photos (the worst:
# cat_2.png at JPEG quality 10 and 30), so 1e-4 leaves a margin of 4 for other CPUs and kernels.
TOLERANCE = 1e-4

# Odd sides at different scales exercise the padding before each 2x2 average: bird.png and
# cat_2.png are odd at scale 1, potato_chips.png (500) at scale 3, grace_hopper.png (600) at
# scale 4; kite_and_cold.jpg is the one large photo.
PHOTOS = ("bird.png", "cat_2.png", "potato_chips.png", "grace_hopper.png", "kite_and_cold.jpg")
SCALES = 5


@pytest.fixture(scope="module")
def tf() -> ModuleType:
    """TensorFlow, imported once for the module (the import takes seconds)."""
    import tensorflow

    return tensorflow


def _rgb(name: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(photo(name))).convert("RGB"))


def _jpeg(pixels: np.ndarray, quality: int) -> np.ndarray:
    ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)


def _noised(pixels: np.ndarray, sigma: float) -> np.ndarray:
    noise = np.random.default_rng(0).normal(0.0, sigma, pixels.shape)
    return np.clip(pixels + noise, 0, 255).astype(np.uint8)


def _distorted(pixels: np.ndarray) -> dict[str, np.ndarray]:
    """The photo itself and its blurred, noised and JPEG copies."""
    return {
        "identical": pixels.copy(),
        "blur sigma 1": cv2.GaussianBlur(pixels, (0, 0), 1),
        "blur sigma 2": cv2.GaussianBlur(pixels, (0, 0), 2),
        "noise sigma 5": _noised(pixels, 5),
        "noise sigma 15": _noised(pixels, 15),
        "jpeg q10": _jpeg(pixels, 10),
        "jpeg q30": _jpeg(pixels, 30),
        "jpeg q75": _jpeg(pixels, 75),
    }


def _tensorflow_ms_ssim(
    tf: ModuleType, a: np.ndarray, copies: list[np.ndarray], **power: object
) -> list[float]:
    """``tf.image.ssim_multiscale`` of ``a`` against each copy, on the same float32 luma the
    method computes on (HxWx1, 0..255), with the filter and constants of Wang et al."""
    first = np.repeat(to_luma(a)[None, ..., None], len(copies), axis=0)
    second = np.stack([to_luma(copy)[..., None] for copy in copies])
    values = tf.image.ssim_multiscale(
        first, second, max_val=255.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03, **power
    )
    return [float(value) for value in values.numpy()]


@pytest.mark.parametrize("name", PHOTOS)
def test_agrees_with_tensorflow_on_real_photos(tf: ModuleType, name: str) -> None:
    a = _rgb(name)
    copies = _distorted(a)
    # The method's own path (B in A's frame, RGB to luma), against TF with its default weights.
    method, options = MsSsimMethod(), CompareOptions(align=False)
    ours = {
        label: method.compare(
            DecodedImage.from_pixels(a), DecodedImage.from_pixels(b), options
        ).score
        for label, b in copies.items()
    }
    theirs = dict(zip(copies, _tensorflow_ms_ssim(tf, a, list(copies.values())), strict=True))
    assert ours == pytest.approx(theirs, abs=TOLERANCE)
    assert theirs["identical"] == pytest.approx(1.0, abs=1e-6)
    assert min(theirs.values()) < 0.97  # the copies differ enough for the check to mean something


@pytest.mark.parametrize("name", PHOTOS[:2])
def test_every_scale_agrees_with_tensorflow(tf: ModuleType, name: str) -> None:
    """Each scale on its own (TF with a one-hot weight gives that scale's mean), so that a
    compensating error in two scales cannot hide in the product."""
    a = _rgb(name)
    copies = [b for label, b in _distorted(a).items() if label != "identical"]
    results = [ms_ssim(a, b) for b in copies]
    for scale in range(SCALES):
        one_hot = tuple(1.0 if s == scale else 0.0 for s in range(SCALES))
        theirs = _tensorflow_ms_ssim(tf, a, copies, power_factors=one_hot)
        ours = [
            result.ssim_last if scale == SCALES - 1 else result.cs_means[scale]
            for result in results
        ]
        assert ours == pytest.approx(theirs, abs=TOLERANCE), f"scale {scale + 1}"


def test_identical_images_score_one() -> None:
    image = astronaut()
    assert ms_ssim(image, image.copy()).value == pytest.approx(1.0, abs=1e-12)


def test_decreases_with_blur() -> None:
    image = astronaut()
    scores = [ms_ssim(image, cv2.GaussianBlur(image, (0, 0), s)).value for s in (1, 2, 4)]
    assert 1.0 > scores[0] > scores[1] > scores[2] > 0.5


def test_is_symmetric_and_forgives_noise_more_than_ssim() -> None:
    image = astronaut()
    noisy = np.clip(image + np.random.default_rng(0).normal(0, 15, image.shape), 0, 255)
    noisy = noisy.astype(np.uint8)
    forward = ms_ssim(image, noisy).value
    assert forward == pytest.approx(ms_ssim(noisy, image).value, abs=1e-12)
    assert forward > structural_similarity(image, noisy).mssim


def test_refuses_images_too_small_for_five_scales() -> None:
    small = np.zeros((MIN_SIDE - 1, 400, 3), np.uint8)
    with pytest.raises(ValueError, match="176"):
        ms_ssim(small, small)
