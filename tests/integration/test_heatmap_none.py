"""heatmap_format=none (the numbers without the pictures) and difference_map=true (the map's
values at full size), through the real gateway and worker."""

from __future__ import annotations

import numpy as np
import pytest

from tests.integration.test_compare_api import METHODS, _compare
from tests.support.checks import decode_data_url
from tests.support.images import png
from tests.support.paths import photo
from tests.support.service import Service
from worker.decode import decode_image


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
    a = photo("cat.png")
    cat = decode_image(photo("cat_2.png"), "b", 10**8).pixels.copy()
    cat[0, 0] = 255 - cat[0, 0]  # a pair no other test sends, so no earlier answer is cached
    b = png(cat)
    bare = _compare(service, a, b, "ssim", heatmap_format="none").json()
    drawn = _compare(service, a, b, "ssim").json()
    assert bare["heatmap"] is None and drawn["heatmap"].startswith("data:image/jpeg;base64,")
    assert not drawn["timings"]["result_cache_hit"]  # the cache keeps the two apart
    assert bare["score"] == drawn["score"]


def test_difference_map_on_request_is_a_full_size_grey_png(service: Service) -> None:
    whole = decode_image(photo("cat.png"), "a", 10**8).pixels  # 512 x 341
    painted = whole.copy()
    painted[60:160, 50:150] = (255, 0, 0)
    body = _compare(
        service,
        png(whole),
        png(painted),
        "pixel",
        align="false",
        heatmap_format="none",
        difference_map="true",
    ).json()
    assert body["heatmap"] is None  # the two options are independent
    values = decode_data_url(body["difference_map"], "png")
    assert (values.size, values.mode) == ((512, 341), "L")
    grey = np.asarray(values, dtype=np.float64)
    assert grey[62:158, 52:148].mean() > 200  # the painted square (Delta E 20 is 255)
    outside = np.ones(grey.shape, bool)
    outside[55:165, 45:155] = False
    assert grey[outside].mean() < 1  # nothing else changed
    assert _compare(service, png(whole), png(painted), "pixel").json()["difference_map"] is None


def test_difference_map_is_transparent_where_a_crop_does_not_reach(service: Service) -> None:
    whole = decode_image(photo("cat.png"), "a", 10**8).pixels
    crop = whole[80:319, 120:478]  # 70 % of each side
    body = _compare(service, png(whole), png(crop), "ssim", difference_map="true").json()
    values = decode_data_url(body["difference_map"], "png")
    assert (values.size, values.mode) == ((512, 341), "LA")
    grey, alpha = np.asarray(values, dtype=np.float64).transpose(2, 0, 1)
    covered = body["alignment"]["coverage_percent"]
    assert (alpha == 255).mean() * 100 == pytest.approx(covered, abs=2)
    assert alpha[200, 300] == 255 and alpha[10, 10] == 0
    assert grey[alpha == 255].mean() < 0.05 * 255  # the same pixels where B covers A
