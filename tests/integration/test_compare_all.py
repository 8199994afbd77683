"""method=all: every available method on one pair in one request, with a summary."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from shared.methods import METHOD_INFO, MethodName
from tests.integration.test_compare_api import METHODS, _compare
from tests.support.checks import decode_data_url
from tests.support.images import coffee, jpeg, png
from tests.support.paths import MOBILENET_V2_WEIGHTS, photo, require
from tests.support.service import Service


def test_compare_all_returns_every_available_method(service: Service) -> None:
    response = _compare(service, photo("cat.png"), photo("cat_2.png"), "all")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["method"] == "all"
    assert [r["method"] for r in body["results"]] == METHODS
    assert body["unavailable"] == {}
    for result in body["results"]:
        decode_data_url(result["heatmap"])
        assert result["image_a"] == body["image_a"]
    assert body["timings"]["total_ms"] >= body["timings"]["worker_ms"] > 0
    assert len(body["summary"]) > 40


def test_two_photos_of_one_subject_are_explained_as_such(service: Service) -> None:
    require(MOBILENET_V2_WEIGHTS)
    body = _compare(service, photo("cat.png"), photo("cat_2.png"), "all").json()
    by_method = {r["method"]: r for r in body["results"]}
    assert by_method["ssim"]["verdict"] == "different"
    assert by_method["mobilenet_v2"]["verdict"] == "same-subject"
    reading = body["summary"].split(". ", 1)[1]  # after the combined verdict's sentence
    assert reading.startswith("Structurally different but semantically the same subject")


def test_methods_that_cannot_take_the_pair_are_listed_not_fatal(service: Service) -> None:
    small = png(coffee()[:10, :10])  # below SSIM's 11x11 window, which MS-SSIM needs too
    body = _compare(service, small, small, "all").json()
    assert {"ssim", "ms_ssim"} <= set(body["unavailable"])
    assert "11x11" in body["unavailable"]["ms_ssim"]
    assert "pixel" in [r["method"] for r in body["results"]]


def test_alignment_is_reported_and_can_be_turned_off(service: Service) -> None:
    a = coffee()
    b = np.ascontiguousarray(a[25:, 40:])
    aligned = _compare(service, png(a), png(b), "ssim").json()
    plain = _compare(service, png(a), png(b), "ssim", align="false").json()
    assert aligned["alignment"]["applied"] is True
    assert aligned["alignment"]["translation_px"] == pytest.approx([40, 25], abs=2)
    assert aligned["alignment"]["inliers"] >= 15
    assert aligned["score"] > 0.95 > plain["score"]
    assert aligned["verdict"] == "near-duplicate"
    assert "aligned onto A" in aligned["explanation"]
    assert plain["alignment"] is None


def test_pixel_method_reports_the_changed_share(service: Service) -> None:
    a = coffee()
    b = a.copy()
    b[50:100, 60:160] = 0
    body = _compare(service, png(a), png(b), "pixel").json()
    assert body["metrics"]["changed_percent"] == pytest.approx(100 * 50 * 100 / 240_000, rel=0.1)
    assert body["score"] == pytest.approx(1 - body["metrics"]["changed_percent"] / 100, abs=1e-4)


def test_cnn_gives_an_aligned_second_view_when_asked(service: Service) -> None:
    a = coffee()
    b = np.ascontiguousarray(a[30:, 45:])
    aligned = _compare(service, png(a), png(b), "mobilenet_v2", align="true").json()
    views = aligned["extra_heatmaps"]
    assert aligned["alignment"]["applied"] is True
    assert [view["name"] for view in views] == ["same_place"]
    decode_data_url(views[0]["image"])
    assert "best" in aligned["heatmap_legend"]["scale"]
    plain = _compare(service, png(a), png(b), "mobilenet_v2").json()
    assert plain["extra_heatmaps"] == [] and plain["alignment"] is None


def test_unknown_method_lists_all_as_a_choice(service: Service) -> None:
    body = _compare(service, photo("cat.png"), photo("cat.png"), "everything").json()
    assert body["error"]["code"] == "unknown_method"
    assert "'all'" in body["error"]["message"]


def _driving_titles(combined: dict) -> list[str]:
    """The titles of the methods that pushed most towards the combined verdict (the response's
    own contributions, largest positive first, two at most)."""
    ranked = sorted(combined["contributions"].items(), key=lambda item: -item[1])
    names = [name for name, value in ranked if value > 0][:2] or [ranked[0][0]]
    return [METHOD_INFO[MethodName(name)].title for name in names]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("parrot.jpg", "parrot.jpg@q60", "near-duplicate"),
        ("bird.png", "potato_chips.png", "different"),
    ],
)
def test_all_gives_one_combined_verdict_and_says_what_drove_it(
    service: Service, a: str, b: str, expected: str
) -> None:
    """A JPEG q60 copy of a photo and two unrelated photos: one verdict from all the scores,
    by the model fitted on every calibrated method, with its held-out figures; the summary
    opens with it and names the methods that drove it."""
    require(MOBILENET_V2_WEIGHTS)
    name, _, quality = b.partition("@q")
    second = photo(name)
    if quality:
        second = jpeg(np.asarray(Image.open(io.BytesIO(second)).convert("RGB")), int(quality))
    body = _compare(service, photo(a), second, "all").json()
    combined = body["combined"]
    assert combined["calibrated"] is True
    assert combined["verdict"] == expected
    calibrated = sorted(r["method"] for r in body["results"] if r["calibrated"])
    assert sorted(combined["methods"]) == calibrated
    assert "mobilenet_v2" in combined["methods"]
    assert set(combined["probabilities"]) == {
        "near-duplicate",
        "same-subject",
        "related",
        "different",
    }
    assert max(combined["probabilities"], key=combined["probabilities"].get) == expected
    assert set(combined["contributions"]) == set(combined["methods"])
    held = combined["held_out"]
    assert 0.5 < held["precision"] <= 1 and 0.5 < held["recall"] <= 1
    first, rest = body["summary"].split(". ", 1)
    assert first.startswith(f"Combined verdict: {expected}, probability ")
    assert first.endswith("driven most by " + " and ".join(_driving_titles(combined)))
    assert len(rest) > 20  # the methods' own reading follows
