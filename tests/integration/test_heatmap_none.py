"""heatmap_format=none: the numbers without the pictures, through the real gateway and worker."""

from __future__ import annotations

from tests.integration.test_compare_api import METHODS, _compare
from tests.support.paths import photo
from tests.support.service import Service


def test_no_heatmaps_for_method_all_and_the_same_numbers(service: Service) -> None:
    a, b = photo("cat.png"), photo("cat_2.png")  # two 512 x 341 photos
    drawn = _compare(service, a, b, "all", align="true")
    bare = _compare(service, a, b, "all", align="true", heatmap_format="none")
    assert bare.status_code == 200, bare.text
    body = bare.json()
    assert [r["method"] for r in body["results"]] == METHODS
    for plain, full in zip(body["results"], drawn.json()["results"], strict=True):
        assert plain["heatmap"] is None and plain["extra_heatmaps"] == []
        assert plain["heatmap_legend"] == full["heatmap_legend"]  # what a map would show
        assert (plain["score"], plain["verdict"]) == (full["score"], full["verdict"])
        assert plain["metrics"] == full["metrics"]
        assert plain["timings"]["heatmap_ms"] < 0.5  # nothing drawn or encoded
    assert body["combined"] == drawn.json()["combined"]
    assert body["timings"]["total_ms"] >= body["timings"]["worker_ms"] > 0
    # Hundreds of kilobytes of heatmaps (433 KB as JPEG for this pair) become a few: the
    # explanations and legends are all that is left.
    assert len(bare.content) < 40_000 < 300_000 < len(drawn.content)


def test_no_heatmap_for_one_method_is_a_request_of_its_own(service: Service) -> None:
    a, b = photo("cat.png"), photo("cat_2.png")
    bare = _compare(service, a, b, "ssim", heatmap_format="none").json()
    drawn = _compare(service, a, b, "ssim").json()
    assert bare["heatmap"] is None and drawn["heatmap"].startswith("data:image/jpeg;base64,")
    assert not drawn["timings"]["result_cache_hit"]  # the cache keeps the two apart
    assert bare["score"] == drawn["score"]
