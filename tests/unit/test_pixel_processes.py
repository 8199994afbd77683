"""Comparisons without a CNN in child processes (worker.pixel_processes): the same answers as
in the worker's own threads, and the client's errors raised as they are."""

from __future__ import annotations

import pickle
from collections.abc import Iterator

import pytest

from shared.errors import ErrorCode, ServiceError
from shared.settings import Settings
from tests.support.images import astronaut, jpeg
from worker.methods.base import CompareOptions
from worker.pixel_processes import PixelProcesses
from worker.registry import build_registry
from worker.service import ComparisonService

SETTINGS = Settings(cnn_methods="", result_cache_bytes=0)


@pytest.fixture(scope="module")
def processes() -> Iterator[PixelProcesses]:
    pool = PixelProcesses(SETTINGS, 2)
    pool.warm()
    yield pool
    pool.close()


def test_a_service_error_is_pickled_whole() -> None:
    error = ServiceError(ErrorCode.CORRUPT_IMAGE, "bad", {"field": "image_a"}, {"X-A": "1"})
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.message, copy.detail, copy.headers) == (
        error.code,
        error.message,
        error.detail,
        error.headers,
    )
    assert copy.status_code == 422


@pytest.mark.parametrize("method", ["ssim", "ms_ssim", "pixel", "phash"])
def test_a_child_answers_as_the_worker_itself_would(processes: PixelProcesses, method: str) -> None:
    photo = astronaut()
    a, b = jpeg(photo, 95), jpeg(photo[8:, 5:], 60)  # a moved, recompressed copy
    here = ComparisonService(build_registry(SETTINGS), SETTINGS)
    there = ComparisonService(build_registry(SETTINGS), SETTINGS, processes.compute)
    local = here.compare(method, a, b, CompareOptions())
    remote = there.compare(method, a, b, CompareOptions())
    assert remote.score == local.score
    assert remote.verdict == local.verdict
    assert remote.heatmap == local.heatmap
    assert remote.alignment == local.alignment


def test_the_result_cache_stays_in_front_of_the_children(processes: PixelProcesses) -> None:
    settings = Settings(cnn_methods="")  # with its result cache
    calls: list[str] = []

    def counted(request):  # type: ignore[no-untyped-def]
        calls.append(request.choice)
        return processes.compute(request)

    service = ComparisonService(build_registry(settings), settings, counted)
    a, b = jpeg(astronaut(), 90), jpeg(astronaut(), 50)
    first = service.compare("ssim", a, b, CompareOptions())
    again = service.compare("ssim", a, b, CompareOptions())
    assert calls == ["ssim"]
    assert again.score == first.score and again.timings.result_cache_hit


def test_a_bad_file_is_refused_from_a_child_with_its_own_error(processes: PixelProcesses) -> None:
    service = ComparisonService(build_registry(SETTINGS), SETTINGS, processes.compute)
    good = jpeg(astronaut(), 90)
    with pytest.raises(ServiceError) as caught:
        service.compare("ssim", good, good[: len(good) // 2], CompareOptions())
    assert caught.value.code is ErrorCode.CORRUPT_IMAGE
    assert caught.value.detail["field"] == "image_b"
