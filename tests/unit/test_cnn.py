"""The CNN path with real ImageNet weights where they exist: semantic behaviour, for real."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from shared.errors import ErrorCode, ServiceError
from shared.methods import MethodName
from shared.schemas import MethodState, WeightsSource
from shared.settings import Settings
from tests.support.images import astronaut, coffee, png
from tests.support.paths import MOBILENET_V2_WEIGHTS, photo, require
from worker.decode import decode_image
from worker.methods.base import CompareOptions
from worker.methods.cnn import CNN_SPECS, CnnMethod
from worker.methods.cnn.canvas import STRIDE, canvas_size, fit_into_canvas
from worker.methods.cnn.features import best_match_distance, cellwise_distance
from worker.registry import build_registry
from worker.service import ComparisonService


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
    assert np.nanmax(comparison.difference_map) < 1e-3
    map_h, map_w = comparison.difference_map.shape
    assert map_h / map_w == pytest.approx(929 / 512, rel=0.02)  # A's aspect ratio


def test_missing_weights_leave_the_method_unavailable_with_instructions(
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(weights_dir=tmp_path, allow_weight_download=False)
    method = CnnMethod(CNN_SPECS[MethodName.VGG16], settings)
    with caplog.at_level(logging.WARNING):
        method.load()
    availability = method.availability()
    assert availability.state is MethodState.UNAVAILABLE
    reason = availability.reason
    assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in reason
    assert "ISC_WEIGHTS_DIR" in reason and "README" in reason
    # Clients get the file name and what to do; the server's folders stay in its log.
    assert str(tmp_path) not in reason and "/" not in reason
    assert "Error" not in reason and "Exception" not in reason
    assert len(reason) < 250
    assert str(tmp_path / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5") in caplog.text
    with pytest.raises(ServiceError) as refused:  # permanent: no Retry-After
        method.feature_maps([np.zeros((64, 64, 3), np.uint8)] * 2, [None, None])
    assert refused.value.code is ErrorCode.METHOD_UNAVAILABLE
    assert refused.value.message == reason and refused.value.headers is None


def test_a_failed_download_is_explained_without_internals(tmp_path, monkeypatch, caplog) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    # Nothing can be reached from here: any address fails at once, as without internet.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    settings = Settings(weights_dir=tmp_path, allow_weight_download=True)
    method = CnnMethod(CNN_SPECS[MethodName.VGG16], settings)
    with caplog.at_level(logging.WARNING):
        method.load()
    reason = method.availability().reason
    assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in reason
    assert "download" in reason and "internet" in reason
    assert str(tmp_path) not in reason and "Error" not in reason and "Exception" not in reason
    assert "download failed" in caplog.text and str(tmp_path) in caplog.text


def test_a_model_still_loading_asks_to_retry(tmp_path) -> None:
    settings = Settings(weights_dir=tmp_path, allow_weight_download=False, retry_after_s=3)
    method = CnnMethod(CNN_SPECS[MethodName.MOBILENET_V2], settings)  # not loaded yet
    assert method.availability().state is MethodState.LOADING
    with pytest.raises(ServiceError) as refused:
        method.feature_maps([np.zeros((64, 64, 3), np.uint8)] * 2, [None, None])
    assert refused.value.code is ErrorCode.METHOD_UNAVAILABLE
    assert refused.value.headers == {"Retry-After": "3"}


def test_the_service_asks_to_retry_only_while_loading(tmp_path) -> None:
    """Through the worker's service, as the route calls it: loading is temporary, missing
    weights are not."""
    settings = Settings(
        weights_dir=tmp_path, allow_weight_download=False, cnn_methods="vgg16", retry_after_s=2
    )
    service = ComparisonService(build_registry(settings), settings)
    pair = (png(astronaut()), png(coffee()))
    with pytest.raises(ServiceError) as loading:
        service.compare("vgg16", *pair, CompareOptions())
    assert loading.value.headers == {"Retry-After": "2"}
    service.registry.cnns[0].load()
    with pytest.raises(ServiceError) as missing:
        service.compare("vgg16", *pair, CompareOptions())
    assert missing.value.code is ErrorCode.METHOD_UNAVAILABLE
    assert missing.value.headers is None
    assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in missing.value.message


def test_a_stopped_batcher_makes_the_model_unavailable(tmp_path) -> None:
    settings = Settings(
        weights_dir=tmp_path,
        allow_weight_download=False,
        cnn_random_init=True,
        cnn_methods="mobilenet_v2",
    )
    registry = build_registry(settings)
    method = registry.cnns[0]
    method.load()
    image = decode_image(photo("cat.png"), "a", 10**8)
    assert method.compare(image, image, CompareOptions()).score == pytest.approx(1.0, abs=1e-6)
    method.batcher.close()
    status = registry.status(MethodName.MOBILENET_V2)  # what /health and /methods list
    assert status.state is MethodState.UNAVAILABLE and not status.available
    assert "stopped working" in status.reason
    started = time.monotonic()
    with pytest.raises(ServiceError) as refused:
        method.compare(image, image, CompareOptions())
    assert time.monotonic() - started < 1  # at once, not after worker_timeout_s
    assert refused.value.code is ErrorCode.METHOD_UNAVAILABLE
    assert refused.value.headers is None


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
