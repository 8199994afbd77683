"""The comparison service: what a result-cache hit reports as its own cost, which answers are
kept, and the align default settled once from the method list."""

from __future__ import annotations

import numpy as np
import pytest

from shared.methods import METHOD_INFO, MethodName
from shared.schemas import CompareAllResult, CompareResult, MethodState, Timings, WeightsSource
from shared.settings import Settings
from tests.support.images import astronaut, coffee, png
from worker.decode import DecodedImage
from worker.methods.base import Availability, CompareOptions, Comparison
from worker.registry import build_registry
from worker.service import ComparisonService


def _service() -> ComparisonService:
    settings = Settings(cnn_methods="", allow_weight_download=False)
    return ComparisonService(build_registry(settings), settings)


def _own_stages(timings: Timings) -> float:
    return timings.decode_ms + timings.compute_ms + timings.heatmap_ms


def test_a_result_cache_hit_reports_its_own_cost_and_marks_the_replayed_one() -> None:
    service = _service()
    a, b = png(astronaut()), png(np.roll(astronaut(), 5, axis=1))
    first = service.compare("ssim", a, b, CompareOptions())
    again = service.compare("ssim", a, b, CompareOptions())
    assert isinstance(first, CompareResult) and isinstance(again, CompareResult)
    assert first.timings.replayed is None and not first.timings.result_cache_hit
    assert first.timings.worker_ms >= _own_stages(first.timings) > 0
    assert again.timings.result_cache_hit and again.score == first.score
    assert (again.timings.decode_ms, again.timings.compute_ms, again.timings.heatmap_ms) == (
        0,
        0,
        0,
    )
    assert again.timings.worker_ms >= _own_stages(again.timings)
    replayed = again.timings.replayed
    assert replayed is not None
    assert replayed.compute_ms == first.timings.compute_ms > 0
    assert replayed.worker_ms == first.timings.worker_ms
    assert list(Timings.model_fields)[-2:] == ["worker_ms", "total_ms"]  # the gateway's tail


def test_a_compare_all_hit_marks_every_result_as_replayed() -> None:
    service = _service()
    a, b = png(coffee()), png(coffee()[:, ::-1])
    first = service.compare("all", a, b, CompareOptions())
    again = service.compare("all", a, b, CompareOptions())
    assert isinstance(first, CompareAllResult) and isinstance(again, CompareAllResult)
    assert again.timings.result_cache_hit and again.timings.decode_ms == 0
    assert again.timings.replayed is not None
    assert again.timings.replayed.worker_ms == first.timings.worker_ms
    for before, now in zip(first.results, again.results, strict=True):
        assert now.timings.result_cache_hit and _own_stages(now.timings) == 0
        assert now.timings.replayed is not None
        assert now.timings.replayed.compute_ms == before.timings.compute_ms


class _Idle:
    """A method in a given state: it never computes anything (compare-all skips it)."""

    decode_side: int | None = None

    def __init__(self, name: MethodName, state: MethodState, reason: str) -> None:
        self.name = name
        self._availability = Availability(state, reason, WeightsSource.NONE, None)

    def availability(self) -> Availability:
        return self._availability

    def compare(self, a: DecodedImage, b: DecodedImage, options: CompareOptions) -> Comparison:
        raise AssertionError("a method that is not ready is never asked")


@pytest.mark.parametrize(
    ("state", "reason", "kept"),
    [
        (MethodState.LOADING, "warming up the network", False),
        (MethodState.UNAVAILABLE, "its weights failed while loading: file missing", True),
    ],
)
def test_compare_all_is_kept_unless_a_method_is_still_loading(
    state: MethodState, reason: str, kept: bool
) -> None:
    service = _service()
    service.registry.methods[MethodName.VGG16] = _Idle(MethodName.VGG16, state, reason)
    a, b = png(coffee()), png(coffee()[::-1])
    first = service.compare("all", a, b, CompareOptions())
    assert isinstance(first, CompareAllResult) and first.unavailable["vgg16"] == reason
    again = service.compare("all", a, b, CompareOptions())
    assert again.timings.result_cache_hit is kept


@pytest.mark.parametrize("name", list(MethodName))
def test_the_align_default_comes_from_the_method_list(name: MethodName) -> None:
    assert CompareOptions().for_method(name).align is METHOD_INFO[name].aligns_by_default
    assert CompareOptions(align=False).for_method(name).align is False


def test_the_service_applies_the_align_default_before_the_method_runs() -> None:
    service = _service()
    a = coffee()
    b = np.ascontiguousarray(a[12:, 20:])  # the same scene, shifted: alignment finds it
    result = service.compare("ssim", png(a), png(b), CompareOptions())
    assert isinstance(result, CompareResult)
    assert result.alignment is not None and result.alignment.applied
    same = service.compare("ssim", png(a), png(b), CompareOptions(align=True))
    assert same.timings.result_cache_hit  # the default and the explicit choice are one request
