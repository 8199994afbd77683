"""The CNN path with real ImageNet weights where they exist: semantic behaviour, for real."""

from __future__ import annotations

import numpy as np
import pytest

from shared.methods import MethodName
from shared.schemas import MethodState, WeightsSource
from shared.settings import Settings
from tests.support.paths import MOBILENET_V2_WEIGHTS, photo, require
from worker.decode import decode_image
from worker.methods.base import CompareOptions
from worker.methods.cnn import (
    CNN_SPECS,
    STRIDE,
    CnnMethod,
    canvas_size,
    cellwise_distance,
    fit_into_canvas,
)


def test_canvas_follows_the_aspect_ratio_in_stride_multiples() -> None:
    assert canvas_size(640, 480, 224 * 224) == (256, 192)
    assert canvas_size(500, 500, 224 * 224) == (224, 224)
    width, height = canvas_size(10_000, 10, 224 * 224)  # clamped to 4:1, then rounded
    assert 3 <= width / height <= 4.5


def test_fit_into_canvas_never_stretches() -> None:
    pixels = np.zeros((100, 300, 3), dtype=np.uint8)
    canvas, placement = fit_into_canvas(pixels, 224, 224)
    assert canvas.shape == (224, 224, 3)
    assert placement.width / placement.height == pytest.approx(3, rel=0.02)
    assert placement.cells.shape == (224 // STRIDE, 224 // STRIDE)
    assert placement.cells[3].all() and not placement.cells[0].any()


def test_cellwise_distance_is_zero_for_equal_features_and_nan_outside() -> None:
    features = np.random.default_rng(0).random((3, 4, 8)).astype(np.float32)
    valid = np.ones((3, 4), dtype=bool)
    valid[0, 0] = False
    distance = cellwise_distance(features, features, valid)
    assert np.isnan(distance[0, 0])
    assert np.allclose(distance[valid], 0.0, atol=1e-6)


@pytest.fixture(scope="module")
def mobilenet() -> CnnMethod:
    weights = require(MOBILENET_V2_WEIGHTS).parent
    settings = Settings(weights_dir=weights, allow_weight_download=False)
    method = CnnMethod(CNN_SPECS[MethodName.MOBILENET_V2], settings)
    method.load()
    assert method.availability().state is MethodState.READY
    assert method.availability().weights is WeightsSource.IMAGENET
    return method


def _score(method: CnnMethod, a: str, b: str) -> float:
    return method.compare(
        decode_image(photo(a), "a", 10**8), decode_image(photo(b), "b", 10**8), CompareOptions()
    ).score


def test_same_subject_scores_above_different_subjects(mobilenet: CnnMethod) -> None:
    same = [("cat.png", "cat_2.png"), ("dog_1.png", "dog_2.png"), ("hot_dog.jpg", "hot_dog_2.png")]
    different = [
        ("cat.png", "hot_dog.jpg"),
        ("dog_1.png", "sunflower.png"),
        ("owl.jpg", "hot_dog_3.png"),
    ]
    same_scores = [_score(mobilenet, a, b) for a, b in same]
    different_scores = [_score(mobilenet, a, b) for a, b in different]
    assert min(same_scores) > max(different_scores)


def test_identical_images_score_one_and_the_map_is_blue(mobilenet: CnnMethod) -> None:
    image = decode_image(photo("parrot.jpg"), "a", 10**8)
    comparison = mobilenet.compare(image, image, CompareOptions())
    assert comparison.score == pytest.approx(1.0, abs=1e-6)
    assert comparison.identical_pixels
    assert np.nanmax(comparison.difference_map) < 1e-3
    map_h, map_w = comparison.difference_map.shape
    assert map_h / map_w == pytest.approx(929 / 512, rel=0.02)  # A's aspect ratio


def test_missing_weights_leave_the_method_unavailable_with_instructions(tmp_path) -> None:
    settings = Settings(weights_dir=tmp_path, allow_weight_download=False)
    method = CnnMethod(CNN_SPECS[MethodName.VGG16], settings)
    method.load()
    availability = method.availability()
    assert availability.state is MethodState.UNAVAILABLE
    assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in availability.reason
    assert "ISC_WEIGHTS_DIR" in availability.reason


def test_random_init_is_deterministic_and_marked(tmp_path) -> None:
    settings = Settings(weights_dir=tmp_path, allow_weight_download=False, cnn_random_init=True)
    scores = []
    for _ in range(2):
        method = CnnMethod(CNN_SPECS[MethodName.MOBILENET_V2], settings)
        method.load()
        assert method.availability().weights is WeightsSource.RANDOM_INIT
        scores.append(_score(method, "cat.png", "owl.jpg"))
    assert scores[0] == pytest.approx(scores[1], abs=1e-6)


def test_the_shared_weights_have_calibrated_thresholds(mobilenet: CnnMethod) -> None:
    from worker.verdict import load_calibration

    assert mobilenet.availability().calibration_key in load_calibration()


def test_best_match_map_follows_a_subject_that_moved(mobilenet: CnnMethod) -> None:
    """B shows A's left half on the right: the best-match map finds it, while the distance at
    the same place does not."""
    from worker.methods.cnn import best_match_distance

    a = decode_image(photo("hot_dog.jpg"), "a", 10**8).pixels
    width = a.shape[1]
    half = a[:, : width // 2]
    b = np.full_like(a, 255)
    b[:, width - half.shape[1] :] = half
    maps = mobilenet.feature_maps([a, b], [None, None])
    fa, fb = maps.features
    cells_a, cells_b = maps.placements[0].cells, maps.placements[1].cells
    best = best_match_distance(fa, fb, cells_a, cells_b)
    same = cellwise_distance(fa, fb, cells_a & cells_b)
    left = slice(0, fa.shape[1] // 2)
    assert np.nanmean(best[:, left]) < np.nanmean(same[:, left]) - 0.1


def test_aligned_same_place_view_only_when_alignment_succeeds(mobilenet: CnnMethod) -> None:
    from worker.decode import DecodedImage

    a = decode_image(photo("parrot.jpg"), "a", 10**8).pixels
    crop = np.ascontiguousarray(a[40:, 30:])
    aligned = mobilenet.compare(
        DecodedImage.from_pixels(a), DecodedImage.from_pixels(crop), CompareOptions(align=True)
    )
    assert aligned.alignment is not None and aligned.alignment.applied
    assert [view.name for view in aligned.extra_views] == ["same_place"]
    plain = mobilenet.compare(
        DecodedImage.from_pixels(a), DecodedImage.from_pixels(crop), CompareOptions()
    )
    assert plain.alignment is None and plain.extra_views == []
    assert plain.score == pytest.approx(aligned.score, abs=1e-6)  # the score never changes
