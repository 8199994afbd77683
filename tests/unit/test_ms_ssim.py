"""MS-SSIM: agrees with TensorFlow's independent implementation on real photos and their
blurred, noised and JPEG copies, at five scales and, for small photos, at the fewer scales they
hold; 1 for identical images, lower with more blur, symmetric, and size-checked.

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

from shared.errors import ErrorCode, ServiceError
from tests.support.images import astronaut
from tests.support.paths import photo
from worker.decode import DecodedImage
from worker.methods.base import CompareOptions
from worker.methods.ms_ssim import MsSsimMethod
from worker.metrics import (
    MS_SSIM_EXPONENTS,
    ms_ssim,
    ms_ssim_exponents_for,
    ms_ssim_scales_for,
    structural_similarity,
    to_luma,
)

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


@pytest.mark.parametrize(
    ("side", "scales"),
    [(400, 5), (161, 5), (160, 4), (81, 4), (80, 3), (41, 3), (40, 2), (21, 2), (20, 1), (11, 1)],
)
def test_as_many_scales_as_the_image_holds(side: int, scales: int) -> None:
    """The coarsest scale still holds an 11x11 window; each scale is the one before halved and
    rounded up."""
    assert ms_ssim_scales_for(side, 500) == scales
    assert ms_ssim_scales_for(500, side) == scales
    assert ms_ssim_scales_for(10, 500) == 0


def test_fewer_scales_renormalise_the_published_weights() -> None:
    assert ms_ssim_exponents_for(5) == MS_SSIM_EXPONENTS  # as published, bit for bit
    four = ms_ssim_exponents_for(4)
    assert sum(four) == pytest.approx(1.0, abs=1e-12)
    assert four == pytest.approx([e / 0.8668 for e in MS_SSIM_EXPONENTS[:4]], abs=1e-12)
    assert ms_ssim_exponents_for(1) == (1.0,)


# Real photos brought down to small sizes as a thumbnailer would (area interpolation): the
# height gives the scales (172: five, since 172 -> 86 -> 43 -> 22 -> 11; 100: four; 50: three).
SMALL_HEIGHTS = {172: 5, 100: 4, 50: 3}


@pytest.mark.parametrize("height", SMALL_HEIGHTS)
def test_small_photos_agree_with_tensorflow_over_the_scales_they_hold(
    tf: ModuleType, height: int
) -> None:
    """TensorFlow's ``ssim_multiscale`` takes the number of scales from its ``power_factors``:
    given the renormalised ones, it computes the same thing independently."""
    scales = SMALL_HEIGHTS[height]
    photo_rgb = _rgb("kite_and_cold.jpg")
    width = round(photo_rgb.shape[1] * height / photo_rgb.shape[0])
    a = cv2.resize(photo_rgb, (width, height), interpolation=cv2.INTER_AREA)
    copies = _distorted(a)
    method, options = MsSsimMethod(), CompareOptions(align=False)
    results = {
        label: method.compare(DecodedImage.from_pixels(a), DecodedImage.from_pixels(b), options)
        for label, b in copies.items()
    }
    power = {"power_factors": ms_ssim_exponents_for(scales)}
    theirs = _tensorflow_ms_ssim(tf, a, list(copies.values()), **power)
    ours = [result.score for result in results.values()]
    assert ours == pytest.approx(theirs, abs=TOLERANCE)
    assert min(theirs) < 0.97
    for result in results.values():
        assert result.metrics["scales_used"] == scales
        assert f"ssim_scale_{scales}" in result.metrics
        assert (f"used {scales} of its 5 scales" in result.preparation) == (scales < 5)


def test_five_scale_scores_are_the_published_computation() -> None:
    """Large enough frames go through the five published exponents exactly as before."""
    a = _rgb("bird.png")
    b = cv2.GaussianBlur(a, (0, 0), 1.5)
    comparison = MsSsimMethod().compare(
        DecodedImage.from_pixels(a), DecodedImage.from_pixels(b), CompareOptions(align=False)
    )
    assert comparison.score == ms_ssim(a, b).value
    assert comparison.metrics["scales_used"] == 5
    assert "scales" not in comparison.preparation


def test_down_to_one_window_and_refused_below() -> None:
    """A 20x20 image is one scale (two would need 21 pixels); 8x8 holds no 11x11 window."""
    image = cv2.resize(astronaut(), (20, 20), interpolation=cv2.INTER_AREA)
    blurred = cv2.GaussianBlur(image, (0, 0), 1)
    method, options = MsSsimMethod(), CompareOptions(align=False)
    pair = DecodedImage.from_pixels(image), DecodedImage.from_pixels(blurred)
    one = method.compare(*pair, options)
    assert one.metrics["scales_used"] == 1
    assert one.score == pytest.approx(structural_similarity(image, blurred).mssim, abs=1e-6)
    tiny = DecodedImage.from_pixels(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ServiceError) as refused:
        method.compare(tiny, tiny, options)
    assert refused.value.code is ErrorCode.IMAGE_TOO_SMALL
    assert "at least 11x11" in refused.value.message


def test_the_metric_refuses_fewer_pixels_than_its_scales_need() -> None:
    small = np.zeros((160, 400, 3), np.uint8)
    with pytest.raises(ValueError, match="161x161"):
        ms_ssim(small, small)
