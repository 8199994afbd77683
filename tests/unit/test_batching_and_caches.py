"""Dynamic batching, the embedding and result caches, and reduced precision: correctness only
(speed is measured by bench/, never asserted in tests)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pytest
from pydantic import ValidationError

from shared.methods import MethodName
from shared.settings import Settings
from tests.support.images import astronaut, coffee, png
from tests.support.paths import WEIGHTS, photo
from worker.batcher import BatcherStopped, DynamicBatcher, Features, ModelOutputError
from worker.cache import ByteBoundedLRU
from worker.decode import decode_image
from worker.methods.base import CompareOptions
from worker.methods.cnn import CNN_SPECS, CnnMethod, canvas_size, fit_into_canvas
from worker.registry import build_registry
from worker.service import ComparisonService

PHOTOS = [
    "cat.png",
    "cat_2.png",
    "dog_1.png",
    "dog_2.png",
    "owl.jpg",
    "parrot.jpg",
    "bird.png",
    "pets.jpg",
]


def _settings(**overrides) -> Settings:
    values = dict(
        weights_dir=WEIGHTS,
        allow_weight_download=False,
        cnn_random_init=True,
        cnn_methods="mobilenet_v2",
        batch_max_size=16,
        batch_max_wait_ms=200.0,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="module")
def mobilenet() -> CnnMethod:
    method = CnnMethod(
        CNN_SPECS[MethodName.MOBILENET_V2], _settings(), ByteBoundedLRU(0, lambda _: 0)
    )
    method.load()
    return method


def _cosine(u: np.ndarray, v: np.ndarray) -> float:
    return float(np.dot(u.ravel(), v.ravel()) / (np.linalg.norm(u) * np.linalg.norm(v)))


def test_batched_features_equal_single_image_forward_passes(mobilenet: CnnMethod) -> None:
    images = [decode_image(photo(name), name, 10**8).pixels for name in PHOTOS]
    width, height = canvas_size(640, 480, 224 * 224)
    canvases = [fit_into_canvas(image, width, height)[0] for image in images]
    barrier = threading.Barrier(len(canvases))

    def submit(canvas: np.ndarray) -> Features:
        with mobilenet.batcher.preparing():  # as requests do: announce, then submit
            barrier.wait()  # everyone has announced before anyone submits
            future = mobilenet.batcher.submit([canvas])[0]
        return future.result()

    with ThreadPoolExecutor(len(canvases)) as pool:
        batched = list(pool.map(submit, canvases))
    assert max(result.batch_size for result in batched) == len(canvases)  # one forward pass
    assert len({result.forward_ms for result in batched}) == 1 and batched[0].forward_ms > 0
    for canvas, (features, _, _) in zip(canvases, batched, strict=True):
        single = mobilenet.forward(canvas[None])[0]
        assert _cosine(features, single) == pytest.approx(1.0, abs=1e-5)
        assert np.allclose(features, single, atol=1e-3, rtol=1e-3)


def test_batcher_separates_shapes_and_reports_errors() -> None:
    calls: list[tuple[int, ...]] = []

    def forward(batch: np.ndarray) -> np.ndarray:
        calls.append(batch.shape)
        if batch.shape[1] == 3:
            raise ValueError("bad shape")
        return batch.sum(axis=(1, 2, 3))

    batcher = DynamicBatcher(forward, "test", max_batch=8, max_wait_s=0.2)
    with batcher.preparing():
        futures = batcher.submit([np.ones((2, 2, 3)), np.ones((4, 4, 3)), np.ones((2, 2, 3))])
    assert futures[0].result()[0] == 12 and futures[2].result()[0] == 12
    assert futures[0].result()[1] == 2  # the two 2x2 images shared one pass
    assert futures[1].result()[0] == 48
    assert {shape[0] for shape in calls} == {1, 2}
    failing = batcher.submit([np.ones((3, 3, 3))])[0]
    with pytest.raises(ValueError, match="bad shape"):
        failing.result()
    assert batcher.run([np.ones((2, 2, 3))])[0][0] == 12  # the thread survived
    assert batcher.alive


def _sums(batch: np.ndarray) -> np.ndarray:
    return batch.sum(axis=(1, 2, 3))


def test_bad_batch_sizes_are_refused_not_clamped() -> None:
    for size in (0, -3):
        with pytest.raises(ValueError, match="max_batch"):
            DynamicBatcher(_sums, "bad", max_batch=size, max_wait_s=0.0)
        with pytest.raises(ValidationError, match="batch_max_size"):
            Settings(batch_max_size=size)
    with pytest.raises(ValueError, match="max_wait_s"):
        DynamicBatcher(_sums, "bad", max_batch=1, max_wait_s=-0.001)


def test_a_model_giving_the_wrong_number_of_rows_fails_those_requests_only() -> None:
    rows = {"drop": 0}

    def forward(batch: np.ndarray) -> np.ndarray:
        return _sums(batch)[rows["drop"] :]

    batcher = DynamicBatcher(forward, "rows", max_batch=8, max_wait_s=0.2)
    rows["drop"] = 1
    with batcher.preparing():
        futures = batcher.submit([np.ones((2, 2, 3)), np.ones((2, 2, 3))])
    for future in futures:
        with pytest.raises(ModelOutputError, match="for 2 images"):
            future.result(timeout=10)
    rows["drop"] = 0
    assert batcher.run([np.ones((2, 2, 3))])[0][0] == 12  # still serving
    assert batcher.alive and batcher.stats.images == 1


def test_a_result_that_cannot_be_handed_out_does_not_end_the_thread() -> None:
    outputs = iter([np.float32(7.0)])  # a scalar: there is no row to hand out

    def forward(batch: np.ndarray) -> np.ndarray:
        return next(outputs, _sums(batch))

    batcher = DynamicBatcher(forward, "scalar", max_batch=4, max_wait_s=0.0)
    with pytest.raises(ModelOutputError):
        batcher.submit([np.ones((2, 2, 3))])[0].result(timeout=10)
    # A requester's own result handler that raises is its problem, not the batcher's.
    handled = threading.Event()

    def handler(_: Future[Features]) -> None:
        handled.set()
        raise RuntimeError("the requester's handler failed")

    batcher.submit([np.ones((2, 2, 3))])[0].add_done_callback(handler)
    assert handled.wait(timeout=10)
    assert batcher.run([np.ones((2, 2, 3))])[0][0] == 12
    assert batcher.alive


def test_close_stops_the_thread_and_fails_what_is_queued() -> None:
    release = threading.Event()
    started = threading.Event()

    def stuck(batch: np.ndarray) -> np.ndarray:
        started.set()
        release.wait(timeout=30)
        return _sums(batch)

    batcher = DynamicBatcher(stuck, "closing", max_batch=1, max_wait_s=0.0)
    running = batcher.submit([np.ones((2, 2, 3))])[0]
    assert started.wait(timeout=10)
    queued = batcher.submit([np.ones((2, 2, 3))])[0]
    closer = threading.Thread(target=batcher.close)
    closer.start()
    with pytest.raises(BatcherStopped):
        queued.result(timeout=10)  # failed at once, not after the pass under way
    assert not batcher.alive
    release.set()
    closer.join(timeout=10)
    assert running.result(timeout=10)[0] == 12  # the pass under way still answers
    assert not batcher._thread.is_alive()
    late = batcher.submit([np.ones((2, 2, 3))])[0]
    assert late.done() and isinstance(late.exception(), BatcherStopped)


def test_a_dead_thread_is_reported_and_fails_requests_at_once() -> None:
    class Fatal(BaseException):
        """Not an ``Exception``: nothing in the batch loop may catch it."""

    def fatal(batch: np.ndarray) -> np.ndarray:
        raise Fatal

    batcher = DynamicBatcher(fatal, "fatal", max_batch=4, max_wait_s=0.0)
    with pytest.raises(BatcherStopped):
        batcher.submit([np.ones((2, 2, 3))])[0].result(timeout=10)
    batcher._thread.join(timeout=10)
    assert not batcher.alive
    started = time.monotonic()
    with pytest.raises(BatcherStopped):
        batcher.run([np.ones((2, 2, 3))])
    assert time.monotonic() - started < 1


def test_a_batch_waits_for_a_preparing_request_only_until_it_submits() -> None:
    batcher = DynamicBatcher(_sums, "company", max_batch=8, max_wait_s=5.0)
    started = time.monotonic()
    assert batcher.run([np.ones((2, 2, 3))])[0].batch_size == 1  # alone: no wait
    assert time.monotonic() - started < 1
    ready = threading.Event()

    def late_submitter() -> Future[Features]:
        with batcher.preparing():
            ready.set()
            time.sleep(0.2)
            return batcher.submit([np.ones((2, 2, 3))])[0]

    with ThreadPoolExecutor(1) as pool:
        late = pool.submit(late_submitter)
        assert ready.wait(timeout=10)
        started = time.monotonic()
        first = batcher.submit([np.ones((2, 2, 3))])[0].result(timeout=10)
        waited = time.monotonic() - started
        second = late.result().result(timeout=10)
    assert first.batch_size == second.batch_size == 2  # it waited for company
    assert waited < 2  # and left when the other submitted, not at max_wait_s


def test_lru_is_bounded_in_bytes_and_evicts_the_oldest() -> None:
    cache: ByteBoundedLRU[bytes] = ByteBoundedLRU(100, len)
    for index in range(5):
        cache.put(index, b"x" * 30)
    assert cache.bytes <= 100
    assert len(cache) == 3
    assert cache.get(0) is None and cache.get(1) is None
    assert cache.get(4) == b"x" * 30
    cache.get(2)  # now the most recent; 3 is the oldest
    cache.put(5, b"y" * 30)
    assert cache.get(3) is None and cache.get(2) is not None
    cache.put("huge", b"z" * 101)  # larger than the whole budget: not stored
    assert cache.get("huge") is None
    assert cache.stats.evictions == 3
    off: ByteBoundedLRU[bytes] = ByteBoundedLRU(0, len)
    off.put("a", b"a")
    assert off.get("a") is None


def test_embedding_cache_skips_the_forward_pass_and_changes_nothing() -> None:
    cache = ByteBoundedLRU(64 * 1024 * 1024, lambda entry: entry[0].nbytes)
    method = CnnMethod(CNN_SPECS[MethodName.MOBILENET_V2], _settings(batch_max_wait_ms=0), cache)
    method.load()
    a = decode_image(photo("cat.png"), "a", 10**8)
    b = decode_image(photo("cat_3.png"), "b", 10**8)
    first = method.compare(a, b, CompareOptions())
    passes = method.batcher.stats.images
    second = method.compare(a, b, CompareOptions())
    assert (first.cache_hits, second.cache_hits) == (0, 2)
    assert method.batcher.stats.images == passes  # no image went through the network again
    assert second.score == first.score
    assert np.array_equal(second.difference_map, first.difference_map, equal_nan=True)
    third = method.compare(a, decode_image(photo("owl.jpg"), "c", 10**8), CompareOptions())
    assert third.cache_hits == 1


def test_result_cache_returns_the_identical_answer_and_is_bounded() -> None:
    settings = _settings(cnn_methods="", result_cache_bytes=300_000)
    service = ComparisonService(build_registry(settings), settings)
    a, b = png(astronaut()), png(coffee())
    first = service.compare("ssim", a, b, CompareOptions())
    again = service.compare("ssim", a, b, CompareOptions())
    assert not first.timings.result_cache_hit and again.timings.result_cache_hit
    assert again.score == first.score and again.heatmap == first.heatmap
    assert again.explanation == first.explanation
    other_options = service.compare("ssim", a, b, CompareOptions(align=False))
    assert not other_options.timings.result_cache_hit
    for index in range(6):  # fill it past its budget with other pairs
        service.compare("ssim", png(np.roll(astronaut(), index + 1, axis=0)), b, CompareOptions())
    assert service.results.bytes <= 300_000
    assert service.results.stats.evictions > 0


def test_bfloat16_when_set_explicitly(mobilenet: CnnMethod) -> None:
    """An explicit precision is used from the start, without measuring (see test_precision.py
    for ``auto``, the default)."""
    assert Settings().cnn_precision == "auto"
    assert mobilenet.compute_dtype == "float32"  # auto runs float32 until measured
    reduced = CnnMethod(
        CNN_SPECS[MethodName.MOBILENET_V2],
        _settings(cnn_precision="bfloat16"),
        ByteBoundedLRU(0, lambda _: 0),
    )
    reduced.load()
    assert reduced.compute_dtype == "bfloat16"
    a = decode_image(photo("dog_1.png"), "a", 10**8)
    b = decode_image(photo("dog_2.png"), "b", 10**8)
    full = mobilenet.compare(a, b, CompareOptions())
    half = reduced.compare(a, b, CompareOptions())
    assert (full.precision, half.precision) == ("float32", "bfloat16")
    assert half.score == pytest.approx(full.score, abs=0.05)
    import keras

    assert keras.config.dtype_policy().name == "float32"  # the global policy was restored


def test_a_stuck_model_does_not_hold_up_another_model() -> None:
    release = threading.Event()

    def stuck(batch: np.ndarray) -> np.ndarray:
        release.wait(timeout=30)
        return batch.sum(axis=(1, 2, 3))

    slow = DynamicBatcher(stuck, "slow", max_batch=4, max_wait_s=0.0)
    fast = DynamicBatcher(lambda batch: batch.sum(axis=(1, 2, 3)), "fast", 4, 0.0)
    pending = slow.submit([np.ones((2, 2, 3))])[0]
    assert fast.run([np.ones((2, 2, 3))])[0][0] == 12  # answered while the other is stuck
    assert not pending.done()
    release.set()
    assert pending.result(timeout=30)[0] == 12
