"""The screenshot check through the real gateway and worker, on pages rendered by headless
Chromium: a price that changed, a clock that is ignored, an anti-aliased line moved by a pixel."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser

from tests.support.checks import decode_data_url
from tests.support.images import png
from tests.support.screenshots import CLOCK_BOX, HEIGHT, WIDTH, card_html, render
from tests.support.service import Service

PRICE_BOX = (20, 130, 120, 40)
"""Where the price is drawn (x, y, w, h): its changed digit must lie inside."""


@pytest.fixture(scope="module")
def shots(browser: Browser) -> dict[str, bytes]:
    return {
        "base": render(browser, card_html()),
        "price": render(browser, card_html(price="$59.99")),
        "clock": render(browser, card_html(clock="10:42:13")),
        "line": render(browser, card_html(line_shift=1.0)),
    }


def _check(service: Service, a: bytes, b: bytes, **fields: str) -> dict:
    with service.client() as client:
        response = client.post(
            "/api/v1/compare",
            files={"image_a": ("a.png", a), "image_b": ("b.png", b)},
            data={"method": "pixel", **fields},
        )
    assert response.status_code == 200, response.text
    return response.json()


def _inside(region: dict, box: tuple[int, int, int, int]) -> bool:
    x, y, w, h = box
    return (
        region["x"] >= x
        and region["y"] >= y
        and region["x"] + region["width"] <= x + w
        and region["y"] + region["height"] <= y + h
    )


def test_a_changed_price_fails_the_check_and_is_boxed(
    service: Service, shots: dict[str, bytes]
) -> None:
    result = _check(service, shots["base"], shots["price"], max_changed_pixels="0")
    check = result["screenshot"]
    assert check["passed"] is False
    assert check["changed_pixels"] > 20
    assert check["compared_pixels"] == WIDTH * HEIGHT
    assert (check["compared_width"], check["compared_height"]) == (WIDTH, HEIGHT)
    assert check["region_count"] == len(check["regions"]) >= 1
    assert all(_inside(region, PRICE_BOX) for region in check["regions"])
    assert sum(region["pixels"] for region in check["regions"]) == check["changed_pixels"]
    assert max(region["max_delta_e2000"] for region in check["regions"]) > 20
    assert result["verdict"] != "identical"
    count = check["region_count"]
    words = "1 region changed" if count == 1 else f"{count} regions changed"
    assert result["explanation"].startswith(words), result["explanation"]
    assert result["verdict_label"].endswith(words)  # the label never hides the change
    assert "Check failed (over max_changed_pixels=0)" in result["explanation"]
    assert result["metrics"]["changed_pixels"] == check["changed_pixels"]
    # Without limits the same pair is still reported, with no verdict on passing.
    plain = _check(service, shots["base"], shots["price"])["screenshot"]
    assert plain["passed"] is None
    assert plain["changed_pixels"] == check["changed_pixels"]


def test_an_ignored_clock_passes_and_a_watched_one_fails(
    service: Service, shots: dict[str, bytes]
) -> None:
    ignored = _check(
        service,
        shots["base"],
        shots["clock"],
        ignore_regions=",".join(map(str, CLOCK_BOX)),
        max_changed_pixels="0",
    )["screenshot"]
    assert ignored["passed"] is True
    assert ignored["changed_pixels"] == 0 and ignored["regions"] == []
    assert ignored["ignored_pixels"] == CLOCK_BOX[2] * CLOCK_BOX[3]
    watched = _check(service, shots["base"], shots["clock"], max_changed_percent="0.01")
    assert watched["screenshot"]["passed"] is False
    assert all(_inside(region, CLOCK_BOX) for region in watched["screenshot"]["regions"])


def test_a_line_moved_by_one_pixel_is_anti_aliasing_unless_asked(
    service: Service, shots: dict[str, bytes]
) -> None:
    tolerant = _check(service, shots["base"], shots["line"], max_changed_pixels="0")
    assert tolerant["screenshot"]["passed"] is True
    assert tolerant["screenshot"]["antialiased_pixels"] > 100
    strict = _check(
        service, shots["base"], shots["line"], antialiasing="false", max_changed_pixels="0"
    )
    check = strict["screenshot"]
    assert check["passed"] is False and check["antialiasing"] is False
    assert check["changed_pixels"] > 100 and check["antialiased_pixels"] == 0
    box = check["regions"][0]
    assert box["width"] > 400 and 240 <= box["y"] <= 260  # along the whole line


def test_the_diff_image_is_full_size_and_red_where_changed(
    service: Service, shots: dict[str, bytes]
) -> None:
    result = _check(service, shots["base"], shots["price"], diff_image="true", threshold="1")
    check = result["screenshot"]
    assert check["threshold_delta_e2000"] == 1.0
    drawn = np.asarray(decode_data_url(check["diff_image"], "png").convert("RGB"))
    assert drawn.shape == (HEIGHT, WIDTH, 3)
    red = (drawn[..., 0] == 255) & (drawn[..., 1] == 0) & (drawn[..., 2] == 0)
    assert int(red.sum()) == check["changed_pixels"]
    yellow = (drawn[..., 0] == 255) & (drawn[..., 1] == 255) & (drawn[..., 2] == 0)
    assert int(yellow.sum()) == check["antialiased_pixels"]


def test_different_sizes_compare_the_common_area_and_fail(
    service: Service, shots: dict[str, bytes]
) -> None:
    cropped = png(np.asarray(Image.open(io.BytesIO(shots["base"])).convert("RGB"))[:300, :400])
    check = _check(service, shots["base"], cropped, max_changed_pixels="0")["screenshot"]
    assert check["sizes_differ"] is True and check["passed"] is False
    assert (check["compared_width"], check["compared_height"]) == (400, 300)
    assert check["changed_pixels"] == 0  # the common area is the same
    assert "The sizes differ" in check["summary"]


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"ignore_regions": "10,10,5"}, "four integers"),
        ({"ignore_regions": "0,0,-5,5"}, "above 0"),
        ({"threshold": "-1"}, "threshold"),
        ({"max_changed_percent": "150"}, "max_changed_percent"),
    ],
)
def test_bad_options_get_a_clear_json_error(
    service: Service, shots: dict[str, bytes], fields: dict[str, str], words: str
) -> None:
    with service.client() as client:
        response = client.post(
            "/api/v1/compare",
            files={"image_a": ("a.png", shots["base"]), "image_b": ("b.png", shots["base"])},
            data={"method": "pixel", **fields},
        )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert re.search(words, error["message"]), error["message"]


def test_method_all_carries_the_check_in_the_pixel_result_only(
    service: Service, shots: dict[str, bytes]
) -> None:
    with service.client() as client:
        response = client.post(
            "/api/v1/compare",
            files={"image_a": ("a.png", shots["base"]), "image_b": ("b.png", shots["price"])},
            data={"method": "all", "max_changed_pixels": "0", "heatmap_format": "none"},
        )
    assert response.status_code == 200, response.text
    results = {result["method"]: result for result in response.json()["results"]}
    assert results["pixel"]["screenshot"]["passed"] is False
    assert all(result["screenshot"] is None for name, result in results.items() if name != "pixel")


def test_the_check_is_documented_in_the_openapi_schema(service: Service) -> None:
    with service.client() as client:
        schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    assert {"ScreenshotCheck", "ChangedRegion"} <= set(components)
    assert "description" in components["ScreenshotCheck"]["properties"]["passed"]
    form = next(
        name for name in components if "ignore_regions" in components[name].get("properties", {})
    )
    fields = components[form]["properties"]
    for field in ("threshold", "antialiasing", "max_changed_pixels", "max_changed_percent"):
        assert fields[field]["description"], field
    assert "x,y,w,h" in fields["ignore_regions"]["description"]
