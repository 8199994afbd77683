"""One comparison, from uploaded bytes to a typed result: decode, compare, draw, explain."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from shared.errors import ErrorCode, ServiceError
from shared.methods import METHOD_INFO, MethodName
from shared.schemas import CompareResult, MethodState, Timings
from shared.settings import Settings
from worker.decode import decode_image
from worker.explain import explain
from worker.heatmap import png_data_url, render_overlay
from worker.registry import Registry
from worker.verdict import decide, thresholds_for


@contextmanager
def _stopwatch(into: dict[str, float], key: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        into[key] = round((time.perf_counter() - start) * 1000, 3)


def compare_bytes(
    registry: Registry,
    method_name: MethodName,
    data_a: bytes,
    data_b: bytes,
    settings: Settings,
) -> CompareResult:
    """Run ``method_name`` on two uploaded files; ``ServiceError`` for anything the client
    can fix (4xx) or that is not ready (503)."""
    started = time.perf_counter()
    times: dict[str, float] = {}
    availability = registry.availability(method_name)
    if availability.state is not MethodState.READY:
        title = METHOD_INFO[method_name].title
        raise ServiceError(
            503,
            ErrorCode.METHOD_UNAVAILABLE,
            availability.reason or f"{title} is not ready yet; try again shortly.",
            {"method": str(method_name), "state": str(availability.state)},
        )
    method = registry.methods[method_name]
    with _stopwatch(times, "decode"):
        image_a = decode_image(data_a, "image_a", settings.max_image_pixels)
        image_b = decode_image(data_b, "image_b", settings.max_image_pixels)
    with _stopwatch(times, "compute"):
        comparison = method.compare(image_a, image_b)
    with _stopwatch(times, "heatmap"):
        overlay = render_overlay(
            image_a.pixels, comparison.difference_map, settings.heatmap_max_side
        )
        heatmap = png_data_url(overlay)
    thresholds = thresholds_for(availability.calibration_key)
    verdict = decide(comparison.score, comparison.identical_pixels, thresholds)
    return CompareResult(
        method=method_name,
        family=METHOD_INFO[method_name].family,
        score=round(comparison.score, 6),
        similarity_percent=round(max(0.0, min(1.0, comparison.score)) * 100, 2),
        verdict=verdict,
        calibrated=thresholds is not None,
        explanation=explain(
            method_name,
            comparison.score,
            verdict,
            thresholds,
            availability.weights,
            comparison.preparation,
        ),
        heatmap=heatmap,
        heatmap_legend=comparison.legend,
        image_a=image_a.info,
        image_b=image_b.info,
        preparation=comparison.preparation,
        weights=availability.weights,
        warnings=comparison.warnings,
        timings=Timings(
            decode_ms=times["decode"],
            compute_ms=times["compute"],
            heatmap_ms=times["heatmap"],
            worker_ms=round((time.perf_counter() - started) * 1000, 3),
        ),
    )
