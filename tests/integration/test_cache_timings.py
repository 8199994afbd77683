"""A repeated request through the real gateway and worker: its timings are its own cost (the
result-cache hit's), the stored computation's are marked as replayed, and the gateway's total
still lands in its place."""

from __future__ import annotations

import numpy as np

from tests.support.images import coffee, png
from tests.support.service import Service


def _post(service: Service, a: bytes, b: bytes, method: str) -> dict:
    with service.client() as client:
        response = client.post(
            "/api/v1/compare",
            files={"image_a": ("a.png", a), "image_b": ("b.png", b)},
            data={"method": method},
        )
    assert response.status_code == 200, response.text
    return response.json()


def test_a_repeated_request_reports_its_own_cost(service: Service) -> None:
    pair = png(coffee()), png(np.ascontiguousarray(coffee()[:, ::-1]))
    first = _post(service, *pair, "ms_ssim")["timings"]
    again = _post(service, *pair, "ms_ssim")["timings"]
    assert first["replayed"] is None and not first["result_cache_hit"]
    assert again["result_cache_hit"]
    stages = again["decode_ms"] + again["compute_ms"] + again["heatmap_ms"]
    assert again["total_ms"] >= again["worker_ms"] >= stages == 0
    assert again["replayed"]["compute_ms"] == first["compute_ms"] > 0
    assert again["replayed"]["worker_ms"] == first["worker_ms"]
    assert list(again)[-2:] == ["worker_ms", "total_ms"]


def test_a_repeated_compare_all_marks_every_result(service: Service) -> None:
    pair = png(coffee()), png(np.ascontiguousarray(coffee()[::-1]))
    first = _post(service, *pair, "all")
    again = _post(service, *pair, "all")
    timings = again["timings"]
    assert timings["result_cache_hit"] and timings["decode_ms"] == 0
    assert timings["total_ms"] >= timings["worker_ms"]
    assert timings["replayed"]["decode_ms"] == first["timings"]["decode_ms"]
    for computed, result in zip(first["results"], again["results"], strict=True):
        assert result["method"] == computed["method"]
        assert result["timings"]["result_cache_hit"] and result["timings"]["compute_ms"] == 0
        assert result["timings"]["replayed"]["compute_ms"] == computed["timings"]["compute_ms"]
        assert result["timings"]["replayed"]["heatmap_ms"] == computed["timings"]["heatmap_ms"]
